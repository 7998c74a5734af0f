"""Perceptron & backprop: the perceptron rule, the live playground (with your own data and export
to Keras code), backprop step by step, and the gradient check. Each section is a fragment: a click
reruns only its own section."""

import streamlit as st

from core.charts.backprop import backprop_graph, gradient_check_bars
from core.charts.perceptron import perceptron_animation
from core.charts.playground import network_graph, output_surface
from core.charts.training import metric_curves
from core.engine import pacing
from core.engine.text import clipped, markdown_literal
from core.lessons import lesson
from core.lessons.perceptron import backprop, perceptron, playground
from core.ui.controls import lesson_controls, widget_key
from core.ui.figures import show_figure, show_run_figure
from core.ui.layout import lesson_header
from core.ui.live import live_panel, run_controls

LESSON = lesson("perceptron")
lesson_header(
    LESSON,
    "Where neural networks began: one neuron that draws a line, and the rule that teaches it. "
    "Then what a line cannot do, and how a hidden layer learns by **backpropagation**.",
)


@st.fragment
def perceptron_section():
    st.header("The perceptron")
    st.markdown(
        "A perceptron outputs +1 if w₁x₁ + w₂x₂ + b > 0 and −1 otherwise: everything on one side of a line is "
        "one class. Its learning rule is simple: for each point it gets wrong, add η·y·x to the weights and η·y "
        "to the bias. That tilts and shifts the line towards the point. Press **Play**."
    )
    config = lesson_controls(LESSON.slug, perceptron.BOX)
    points, labels = perceptron.make_points(config["data"], config["seed"])
    run = perceptron.train(points, labels, config["rate"], config["epochs"], config["seed"])
    updates = len(run.updates) - 1
    if run.converged_at is not None:
        st.success(
            f"Every point is on the right side after {updates} update{'s' if updates != 1 else ''}: "
            f"the pass of epoch {run.converged_at} made no mistake.",
            icon=":material/check_circle:",
        )
    else:
        st.warning(
            f"After {len(run.epoch_accuracy)} epochs and {updates} updates it still gets points wrong: "
            f"best accuracy {max(run.epoch_accuracy):.0%}, final {run.final_accuracy:.0%}. "
            + (
                "No straight line separates XOR, so the rule never stops."
                if config["data"] == "XOR"
                else "Give it more epochs."
            ),
            icon=":material/warning:",
        )
    show_figure(
        perceptron_animation(points, labels, run.updates, "The neuron's line, update by update"), key="perceptron"
    )
    with st.expander("What to notice", expanded=True):
        st.markdown(
            "- Only mistakes move the line (the star marks the point that caused each update); once every point is "
            "on its side, learning stops for good.\n"
            "- On **XOR** the red rings never all disappear: no single line puts both blue corners on one side and "
            "both orange corners on the other. A network needs a hidden layer for that: which is where backprop comes "
            "in.\n"
            "- A larger η makes bigger jumps, but on separable data the rule still gets there."
        )


@st.fragment
def backprop_sections():
    st.header("Backprop, step by step")
    st.markdown(
        "A network with a hidden layer learns by **backpropagation**: run an example forward, measure the "
        "loss, then send the blame for the loss backwards, one local derivative at a time (the chain rule), "
        "and nudge every weight against its gradient. Here it is for the smallest such network (2 inputs, "
        "2 hidden neurons, 1 output), with every number shown."
    )
    config = lesson_controls(LESSON.slug, backprop.BOX)
    params = backprop.init_params(seed=config["seed"])
    x, y = [config["x1"], config["x2"]], float(config["y"])
    walk = backprop.walkthrough(params, x, y, config["activation"], config["learning_rate"])
    stage = walk.stages[config["stage"] - 1]

    st.subheader(f"Step {config['stage']} of {len(walk.stages)} · {stage.title}")
    show_figure(
        backprop_graph(
            params,
            walk.forward,
            walk.gradients,
            stage.forward_nodes,
            stage.backward_nodes,
            "Blue: values going forward · orange: gradients coming back",
        ),
        key="graph",
    )
    st.latex(stage.latex)
    with st.expander("What to notice", expanded=True):
        st.markdown(
            "- Every backward step multiplies the gradient that arrived by one **local** derivative: "
            "that product of local pieces is the whole chain rule.\n"
            "- At the output, sigmoid and cross-entropy cancel neatly: ∂L/∂z₂ is simply ŷ − y.\n"
            "- A weight's gradient is (gradient at its destination) × (value at its source): "
            "an input of 0 means its weights get no gradient at all.\n"
            "- Try **relu** with a seed where a hidden z₁ is negative: that neuron passes no gradient back."
        )

    st.header("Gradient checking")
    st.markdown(
        "How do you know a hand-written backward pass is right? Compare it with two references that share "
        "none of its code: **`jax.grad`** (automatic differentiation of the same loss) and **centred finite "
        f"differences**, (L(θ+ε) − L(θ−ε)) / 2ε with ε = {backprop.FINITE_DIFFERENCE_EPS:g}. Their relative "
        f"difference ‖a − b‖ / (‖a‖ + ‖b‖) must be below {backprop.CHECK_THRESHOLD:g}. "
        "Plant a bug above and watch the check catch it."
    )
    check = backprop.gradient_check(params, x, y, config["activation"], config["bug"])
    clean = check if config["bug"] == "none" else backprop.gradient_check(params, x, y, config["activation"])
    verdict = (
        f"relative difference {check.overall_vs_jax:.1e} against jax.grad and "
        f"{check.overall_vs_numerical:.1e} against finite differences"
    )
    if check.on_kink:
        st.warning(
            "A hidden ReLU sits on its kink here (its input z₁ is within one step ε of 0, as with input "
            "(0, 0), where z₁ equals the bias 0). A finite difference across a kink averages the slopes on "
            "both sides and is not a gradient, so only jax.grad judges this check.",
            icon=":material/warning:",
        )
    if check.passed:
        st.success(f"The gradients pass: {verdict}.", icon=":material/check_circle:")
    else:
        st.error(f"The gradients fail (bug: {config['bug']}): {verdict}.", icon=":material/bug_report:")
    show_figure(
        gradient_check_bars(
            check.rows,
            backprop.CHECK_THRESHOLD,
            "Relative difference per parameter (a difference of 0 is drawn at 10⁻¹⁸)",
        ),
        key="check",
    )
    st.dataframe(
        [
            {
                "parameter": r["parameter"],
                "hand-written": ", ".join(f"{v:.6f}" for v in r["hand-written"]),
                "jax.grad": ", ".join(f"{v:.6f}" for v in r["jax.grad"]),
                "finite differences": ", ".join(f"{v:.6f}" for v in r["finite differences"]),
                "vs jax.grad": f"{r['vs jax.grad']:.1e}",
                "vs finite differences": f"{r['vs finite differences']:.1e}",
            }
            for r in check.rows
        ],
        hide_index=True,
        key="check_table",
        column_config={
            name: st.column_config.TextColumn(name, width="medium")  # headers never cut off
            for name in ("vs jax.grad", "vs finite differences")
        },
    )
    with st.expander("What to notice", expanded=True):
        st.markdown(
            f"- Without a bug, on these numbers, the backward pass differs from jax.grad by {clean.overall_vs_jax:.1e} "
            f"(at most rounding error) and from finite differences by {clean.overall_vs_numerical:.1e}"
            + (
                " (across a ReLU kink, so not a fair comparison).\n"
                if clean.on_kink
                else ": far below the threshold.\n"
            )
            + "- A bug does not make the check a little worse: it makes it wrong by orders of magnitude, and the "
            "per-parameter bars point at the parameter whose gradient is broken.\n"
            "- Finite differences need two forward passes per parameter: fine for checking, far too slow for training."
        )


UPLOAD_KEY = f"{LESSON.slug}:upload"


def _regenerate():
    key = widget_key(LESSON.slug, playground.BOX, "data_seed")
    st.session_state[key] = (st.session_state[key] + 1) % 10000


def own_data() -> playground.UploadedPoints | None:
    """The upload box: a valid CSV replaces the kept one; a bad one gets a message and changes nothing."""
    with st.expander("Your own data", icon=":material/upload_file:"):
        st.markdown(
            "A CSV with columns **x1**, **x2** and **label** (numbers or words; 2 to "
            f"{playground.MAX_CLASSES} classes), at most {playground.MAX_UPLOAD_ROWS:,} rows. The points are "
            "rescaled to fit the playground's square. Then choose **your CSV** as the data."
        )
        file = st.file_uploader("CSV file", type=None, key=f"{UPLOAD_KEY}:file", label_visibility="collapsed")
        if file is not None and st.session_state.get(f"{UPLOAD_KEY}:seen") != file.file_id:
            st.session_state[f"{UPLOAD_KEY}:seen"] = file.file_id
            try:
                st.session_state[UPLOAD_KEY] = playground.read_points_csv(file.getvalue(), file.name)
                st.session_state.pop(f"{UPLOAD_KEY}:error", None)
            except playground.DataError as error:
                st.session_state[f"{UPLOAD_KEY}:error"] = markdown_literal(
                    f"'{clipped(file.name)}' was not loaded. {error}", None
                )
        if f"{UPLOAD_KEY}:error" in st.session_state:
            st.error(st.session_state[f"{UPLOAD_KEY}:error"], icon=":material/error:")
        upload = st.session_state.get(UPLOAD_KEY)
        if upload is not None:
            counts = ", ".join(
                f"{clipped(name)}: {int((upload.labels == k).sum())}" for k, name in enumerate(upload.classes)
            )
            st.success(
                markdown_literal(f"Loaded '{clipped(upload.name)}': {len(upload.points)} points ({counts}).", None),
                icon=":material/check_circle:",
            )
    return upload


def draw_run(view, display):
    shot = view.snapshot
    last = view.history[-1] if view.history else None
    speed = pacing.epochs_per_second(view.history)
    numbers = st.columns(5)
    numbers[0].metric("Epoch", shot.epoch)
    numbers[1].metric("Training loss", f"{last['train_loss']:.3f}" if last else "–")
    numbers[2].metric("Test loss", f"{last['test_loss']:.3f}" if last else "–")
    numbers[3].metric("Test accuracy", f"{last['test_accuracy']:.1%}" if last else "–")
    numbers[4].metric("Epochs per second", f"{speed:,.0f}" if speed else "–")
    left, right = st.columns([3, 2])
    with left:
        show_run_figure(
            view,
            "network",
            lambda view: network_graph(
                view.snapshot.features,
                playground.feature_thumbnails(view.snapshot.features),
                view.snapshot.neurons,
                view.snapshot.output_thumbnail,
                view.snapshot.data.classes,
                view.snapshot.weights,
                "The network: what every neuron computes over the plane",
            ),
            snapshot_only=True,
        )
    with right:
        show_run_figure(
            view,
            "surface",
            lambda view: output_surface(
                view.snapshot.data,
                playground.EXTENT,
                view.snapshot.surface,
                display["show_test"],
                display["discretise"],
                f"Output after epoch {view.snapshot.epoch}",
            ),
            choices=(display["show_test"], display["discretise"]),
            snapshot_only=True,
        )
        show_run_figure(view, "loss", lambda view: metric_curves(view.history, ("train_loss", "test_loss"), "Loss"))
        show_run_figure(
            view,
            "accuracy",
            lambda view: metric_curves(view.history, ("train_accuracy", "test_accuracy"), "Accuracy"),
        )


@st.fragment
def playground_section():
    st.header("The playground")
    st.markdown(
        "Now a real network: a Keras model, trained live on JAX while you watch. Pick a data set, the inputs "
        "it sees, how many hidden layers and neurons, and press **Train**. Each small picture shows what one "
        "neuron computes over the plane (blue positive, orange negative); lines are weights, blue positive, "
        "orange negative, thicker for larger. Settings marked :material/bolt: change the running network."
    )
    upload = own_data()
    config = lesson_controls(LESSON.slug, playground.BOX)
    st.button(
        "Regenerate the points",
        icon=":material/refresh:",
        on_click=_regenerate,
        key=f"{LESSON.slug}:regenerate",
        help="Draw new points of the same data set (a new data seed).",
    )
    if config["data"] == playground.UPLOADED:
        if upload is None:
            st.warning(
                "There is no CSV loaded yet: open **Your own data** above and choose a file, "
                "or pick one of the generated data sets.",
                icon=":material/upload_file:",
            )
            return
        data = upload.split(config["train_share"], config["data_seed"])
        config = {**config, "upload": upload.digest}
    else:
        data = playground.make_dataset(config["data"], config["noise"], config["train_share"], config["data_seed"])
    job = run_controls(playground.task(config, data), playground.BOX)
    display = lesson_controls(LESSON.slug, playground.DISPLAY_BOX)
    if job is None:
        show_figure(
            output_surface(
                data,
                playground.EXTENT,
                None,
                display["show_test"],
                False,
                f"The data: {len(data.x_train)} training and {len(data.x_test)} test points",
            ),
            key="preview",
        )
    live_panel(job, lambda view: draw_run(view, display), waiting="The network appears once its weights are made.")
    view = job.view() if job is not None else None
    if view is not None and view.snapshot is not None:
        shot = view.snapshot
        code = playground.keras_code({**job.task.config, **view.hyperparams}, shot.weights, shot.data.classes)
        with st.expander(f"This network as Keras code (weights after epoch {shot.epoch})", icon=":material/code:"):
            st.download_button(
                "Download the .py file",
                data=code,
                file_name="playground_network.py",
                mime="text/x-python",
                icon=":material/download:",
                key=f"{LESSON.slug}:code",
            )
            st.code(code, language="python")
    with st.expander("What to notice", expanded=True):
        st.markdown(
            "- The first layer's neurons can only draw straight lines (with x1 and x2 as inputs); each later layer "
            "combines the pictures before it into curves. Hover a picture to see which neuron it is.\n"
            "- Take the hidden layers away (type *none*) and the spiral is hopeless: that is the perceptron again. "
            "Add **sin x1** and **sin x2** as inputs and a small network gets it easily: good features do the work.\n"
            "- Push the learning rate to 3 or 10 **while it trains**: the loss jumps and the picture shatters. "
            "Turn on L2 regularisation with a large rate: weights shrink (thinner lines) and the surface smooths.\n"
            "- With **Show test data**, compare training and test loss: where they part, the network is memorising.\n"
            "- Every figure has a camera button in its toolbar that saves it as a PNG."
        )


perceptron_section()
playground_section()
backprop_sections()
