"""A network from scratch: a deep-learning framework in one screen, a graph the student writes, stepped through
node by node (sort, forward, backward) beside jax.grad, and trained on real data. The section is a fragment."""

import math

import streamlit as st

from core.charts.backprop import node_graph
from core.charts.theme import OKABE_ITO
from core.charts.training import iteration_curves, metric_curves, series_against_truth
from core.charts.vision import gallery, pictures_side_by_side
from core.engine.text import markdown_literal, plotly_literal
from core.lessons import lesson
from core.lessons.from_scratch import framework, logistic, miniflow, regression
from core.ui.controls import lesson_controls
from core.ui.figures import show_figure
from core.ui.layout import lesson_header, what_to_notice

LESSON = lesson("from_scratch")
PHASE_COLOURS = {framework.SORT: OKABE_ITO[2], framework.FORWARD: OKABE_ITO[0], framework.BACKWARD: OKABE_ITO[3]}
STAGE_KEY = "from_scratch:stage"
PHASE_WORDS = {framework.SORT: "Sorting", framework.FORWARD: "Forward", framework.BACKWARD: "Backward"}
lesson_header(
    LESSON,
    "Keras, PyTorch and JAX look enormous, but at their heart is something you can write in an afternoon: a graph "
    "of nodes, each of which can compute its value from its inputs and pass the gradient of the cost back to "
    "them. Here is such a framework, all of it, then a network you write in it, run one node at a time, checked "
    "against JAX and trained. Then the smallest network of all, one sigmoid unit, learning to tell faces from other "
    "pictures; and a two-layer network in NumPy predicting bike rentals, beside its Keras twin.",
)


def stage_table(graph: miniflow.Graph, stages: list[framework.Stage], upto: int) -> list[dict]:
    """Every node with what the walk has computed of it by stage `upto` (1-based)."""
    seen = stages[:upto]
    forward = {s.node for s in seen if s.phase == framework.FORWARD}
    backward = {s.node for s in seen if s.phase == framework.BACKWARD}
    return [
        {
            "node": node.name,
            "line": graph.lines[node.name],
            "value": framework.summary(node.value) if node.name in forward else "",
            "∂cost/∂value": framework.summary(node.grad) if node.name in backward else "",
        }
        for node in graph.order
    ]


def training_section(text: str) -> None:
    st.subheader("Train it")
    st.markdown(
        "The same graph, trained by mini-batch SGD on all 353 training patients (89 held out): every step feeds a "
        "batch, runs forward and backward, and moves each Linear's W and b against its gradient. The cost is in "
        "standard units of the target: 1 is what always predicting the average patient costs."
    )
    config = lesson_controls(LESSON.slug, framework.BOX)
    with st.spinner("Training in NumPy…"):
        result = framework.train(
            text, config["learning_rate"], int(config["epochs"]), int(config["batch_size"]), int(config["seed"])
        )
    rows = [
        {"epoch": epoch, "training": train, "held out": test}
        for epoch, (train, test) in enumerate(zip(result.train_cost, result.test_cost), start=1)
    ]
    show_figure(
        metric_curves(rows, ["training", "held out"], "Mean squared error, after each epoch", log_y=True),
        key="from_scratch:costs",
    )
    baseline = framework.linear_regression_r2(int(config["seed"]))
    if result.diverged_at is not None:
        lines = [
            f"The cost stopped being a finite number at epoch {result.diverged_at}: the learning rate "
            f"{config['learning_rate']:g} is too large for this graph. Try a smaller one."
        ]
    else:
        lines = [
            f"After {len(rows)} epochs: training cost {result.train_cost[-1]:.3f}, held out "
            f"{result.test_cost[-1]:.3f}.",
            f"Held-out R² = 1 − cost ÷ variance = **{result.r2:.3f}** (0 is always guessing the average; 1 is "
            f"perfect). Least squares on the same split (scikit-learn's LinearRegression) reaches {baseline:.3f}.",
        ]
        best = int(result.test_cost.argmin()) + 1
        if best < len(rows):
            lines.append(
                f"The held-out cost was lowest at epoch {best} ({result.test_cost.min():.3f}); after that the network "
                "fits the training patients better and the others worse."
            )
    what_to_notice(lines)


@st.fragment
def framework_section():
    st.header("A framework in one screen")
    with st.expander("The whole framework (NumPy, about 150 lines)", expanded=False):
        st.code(framework.framework_source(), language="python")
    st.markdown(
        "Write a network as lines `name = operation(inputs)`: `input(width)`, `linear(x, units)`, `sigmoid(x)`, "
        "`relu(x)`, `add(a, b)` and one cost, `mse(y, prediction)`. Its inputs must be `x` (a patient's ten "
        "measurements from scikit-learn's diabetes data) and `y` (how far their disease progressed a year later). "
        "Lines may come in any order: the framework sorts them."
    )
    text = st.text_area("Your graph", framework.DEFAULT_GRAPH, height=170, key="from_scratch:graph")
    try:
        graph, stages = framework.walk_graph(text, seed=0)
    except miniflow.GraphError as error:
        st.error(markdown_literal(error, None), icon=":material/error:")
        return
    if st.session_state.get(STAGE_KEY, 1) > len(stages):  # a shorter graph than the last: its last step
        st.session_state[STAGE_KEY] = len(stages)
    upto = st.slider(
        "Step through: sort, then forward, then backward",
        1,
        len(stages),
        1,
        key=STAGE_KEY,
        help=f"{len(graph.order)} steps each: Kahn's sort, the forward pass, the backward pass.",
    )
    stage = stages[upto - 1]
    hover = {node.name: plotly_literal(graph.lines[node.name]) for node in graph.order}
    show_figure(
        node_graph(
            framework.layout(graph),
            framework.edges(graph),
            {node.name: framework.label(node) for node in graph.order},
            stage.done,
            stage.node,
            PHASE_COLOURS[stage.phase],
            hover,
            f"{PHASE_WORDS[stage.phase]}, step {upto} of {len(stages)}: {stage.node}",
        ),
        key="from_scratch:graph-figure",
    )
    st.markdown(f"**{stage.node}**: {stage.detail}")
    st.dataframe(stage_table(graph, stages, upto), hide_index=True)
    check = framework.jax_check(graph)
    what_to_notice(
        [
            f"Fed {framework.WALK_ROWS} patients, the cost is {float(graph.cost.value):.4f}.",
            "The hand-written backward passes agree with `jax.grad` of the same graph: the largest difference in "
            + ", ".join(f"{name}'s W and b is {gap:.1e}" for name, gap in check.items())
            + " (float64).",
            "Backward runs in exactly the reverse of the sorted order: each node passes its gradient back only once "
            "everything it feeds has passed theirs to it.",
        ]
    )
    training_section(text)


def rate_text(rate: float) -> str:
    return f"rate {rate:g}"


@st.fragment
def logistic_section():
    st.header("Logistic regression: the smallest network")
    st.markdown(
        "One unit: it multiplies each of a picture's 625 pixels by a weight, adds them and a bias b, and squashes "
        "the sum with a sigmoid into a probability that the picture is a face: a = σ(wᵀx + b). The cost is the "
        "mean cross-entropy; its gradients are dw = X(a − y)ᵀ/m and db = mean(a − y), and gradient descent "
        "steps w and b against them. The pictures are scikit-image's 100 faces and 100 other pictures, 25×25; "
        "a quarter are held out."
    )
    sample, labels = logistic.examples(0)
    show_figure(
        gallery(sample[..., None], ["face" if y else "not a face" for y in labels], "Some training pictures", 8),
        key="from_scratch:faces",
    )
    config = lesson_controls(LESSON.slug, logistic.BOX)
    iterations, seed = int(config["iterations"]), int(config["seed"])
    with st.spinner("Gradient descent at every learning rate…"):
        fits = {rate: logistic.fit(rate, iterations, seed) for rate in logistic.RATES}
    chosen = fits[config["learning_rate"]]
    show_figure(
        iteration_curves(
            {rate_text(rate): result.costs for rate, result in fits.items()},
            rate_text(chosen.learning_rate),
            "Training cost (cross-entropy) at every learning rate",
            "cost",
        ),
        key="from_scratch:logistic-costs",
    )
    faces_mean, others_mean = logistic.average_pictures(seed)
    show_figure(
        pictures_side_by_side(
            [faces_mean, others_mean, logistic.pictures(chosen.w)[0]],
            [
                "the average face",
                "the average other picture",
                f"the learned weights ({rate_text(chosen.learning_rate)})",
            ],
            [False, False, True],
            "What the unit learned: blue pixels push towards 'face', orange away",
            height=320,
        ),
        key="from_scratch:weights",
    )
    lines = [
        f"At {rate_text(chosen.learning_rate)}, after {iterations:,} iterations: cost {chosen.costs[-1]:.4f}; "
        f"{chosen.train_accuracy:.1%} of the training pictures and **{chosen.test_accuracy:.1%}** of the held-out "
        "ones are classified right.",
    ]
    if chosen.rises:
        peak = int(chosen.costs.argmax())
        lines.append(
            f"The rate overshoots: {chosen.rises} steps made the cost larger, which gradient descent with a small "
            f"enough rate never does; at iteration {peak + 1} it reached {chosen.costs[peak]:.3g} (from "
            f"{chosen.costs[0]:.3f})."
        )
    slowest = min(logistic.RATES)
    lines.append(
        f"At {rate_text(slowest)} the cost is still {fits[slowest].costs[-1]:.3f} after {iterations:,} iterations: "
        "too small a rate wastes them."
    )
    what_to_notice(lines)


@st.fragment
def regression_section():
    st.header("Regression from scratch: bike rentals")
    data = regression.rentals()
    st.markdown(
        "How many bikes will be rented from one Citi Bike station in New York in the next three hours? The data: "
        f"every trip started there in August 2015 (shipped with mglearn), counted per three hours. The network sees "
        f"only the time of day and the day of the week, each **one-hot encoded** (a column per value, 1 in the "
        f"right one), and predicts the count **scaled** to mean 0 and spread 1 (the training days' mean "
        f"{data.mean:.1f} trips and spread {data.std:.1f}). It learns from the first {regression.TRAIN_DAYS} days "
        "and is judged on the last 8. Written in NumPy: 15 inputs → hidden sigmoid units → one output, the mean "
        "squared error, and gradient descent with the backward pass written out."
    )
    st.dataframe(regression.encoding_rows(), hide_index=True)
    config = lesson_controls(LESSON.slug, regression.BOX)
    arguments = (config["learning_rate"], int(config["hidden"]), int(config["iterations"]), int(config["seed"]))
    with st.spinner("Training in NumPy…"):
        result = regression.fit(*arguments)
    rows = [
        {"epoch": step, "training": train, "held out": held_out}
        for step, (train, held_out) in enumerate(zip(result.train_cost, result.validation_cost), start=1)
    ]
    show_figure(
        metric_curves(
            rows,
            ["training", "held out"],
            "Mean squared error (scaled counts), by iteration",
            log_y=True,
            x_title="iteration",
        ),
        key="from_scratch:rental-costs",
    )
    show_figure(
        series_against_truth(
            data.times,
            data.counts,
            result.prediction,
            data.train,
            "Trips every three hours: what happened and what the network predicts",
            "trips",
        ),
        key="from_scratch:rentals",
    )
    r2, baseline = result.r2(data), regression.least_squares_r2()
    lines = []
    if not all(map(math.isfinite, (result.train_cost[-1], r2))):
        lines.append("The cost stopped being a finite number: the learning rate is too large. Try a smaller one.")
    else:
        lines.append(
            f"On the 8 held-out days: R² = **{r2:.3f}** (mean squared error {result.validation_cost[-1]:.3f} in scaled "
            f"counts). A linear model on the same columns reaches {baseline:.3f}: the hidden layer lets the network "
            "combine hour and day (a Saturday morning is not a Monday morning)."
        )
        best = int(result.validation_cost.argmin()) + 1
        if best < len(rows):
            lines.append(
                f"The held-out cost was lowest at iteration {best:,} ({result.validation_cost.min():.3f}); it ends "
                f"at {result.validation_cost[-1]:.3f}."
            )
    what_to_notice(lines)
    st.subheader("The same network in Keras")
    st.code(regression.twin_source(), language="python")
    with st.spinner("Training the Keras twin on the shared jitted loop…"):
        twin = regression.keras_fit(*arguments)
    st.markdown(
        f"Trained from the NumPy network's first weights by Keras' `SGD` at the same rate, on the whole training "
        f"month at once: after {len(twin):,} iterations its training cost is **{twin[-1]:.5f}**; the NumPy "
        f"network's is **{result.train_cost[-1]:.5f}**. The same mathematics, in float32 instead of float64."
    )


framework_section()
logistic_section()
regression_section()
