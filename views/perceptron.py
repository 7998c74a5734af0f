"""Perceptron & backprop: the perceptron rule, backprop step by step, and the gradient check
(the sections built so far). Each section is a fragment: a click reruns only its own section."""

import streamlit as st

from core import backprop, perceptron
from core.charts.backprop import backprop_graph, gradient_check_bars
from core.charts.perceptron import perceptron_animation
from core.charts.theme import style
from core.lessons import lesson
from core.ui.controls import lesson_controls
from core.ui.layout import lesson_header
from core.ui.projector import projector_enabled

LESSON = lesson("perceptron")
lesson_header(LESSON, "Where neural networks began: one neuron that draws a line, and the rule that teaches it. "
              "Then what a line cannot do, and how a hidden layer learns by **backpropagation**.")
st.info("This lesson is being built. Here now: the perceptron, backprop step by step, and the gradient check. "
        "Coming next on this page: the live playground, your own data and export to Keras code.",
        icon=":material/construction:")


@st.fragment
def perceptron_section():
    st.header("The perceptron")
    st.markdown("A perceptron outputs +1 if w₁x₁ + w₂x₂ + b > 0 and −1 otherwise: everything on one side of a line is "
                "one class. Its learning rule is simple: for each point it gets wrong, add η·y·x to the weights and η·y "
                "to the bias. That tilts and shifts the line towards the point. Press **Play**.")
    config = lesson_controls(LESSON.slug, perceptron.CONTROLS, title="Perceptron settings")
    points, labels = perceptron.make_points(config["perceptron_data"], config["perceptron_seed"])
    run = perceptron.train(points, labels, config["perceptron_rate"], config["perceptron_epochs"], config["perceptron_seed"])
    updates = len(run.updates) - 1
    if run.converged_at is not None:
        st.success(f"Every point is on the right side after {updates} update{'s' if updates != 1 else ''}: "
                   f"the pass of epoch {run.converged_at} made no mistake.", icon=":material/check_circle:")
    else:
        st.warning(f"After {len(run.epoch_accuracy)} epochs and {updates} updates it still gets points wrong: "
                   f"best accuracy {max(run.epoch_accuracy):.0%}, final {run.final_accuracy:.0%}. "
                   + ("No straight line separates XOR, so the rule never stops." if config["perceptron_data"] == "XOR"
                      else "Give it more epochs."), icon=":material/warning:")
    st.plotly_chart(style(perceptron_animation(points, labels, run.updates, "The neuron's line, update by update"),
                          projector_enabled()), key="perceptron", config={"displaylogo": False})
    with st.expander("What to notice", expanded=True):
        st.markdown(
            "- Only mistakes move the line (the star marks the point that caused each update); once every point is "
            "on its side, learning stops for good.\n"
            "- On **XOR** the red rings never all disappear: no single line puts both blue corners on one side and "
            "both orange corners on the other. A network needs a hidden layer for that: which is where backprop comes in.\n"
            "- A larger η makes bigger jumps, but on separable data the rule still gets there."
        )


@st.fragment
def backprop_sections():
    st.header("Backprop, step by step")
    st.markdown("A network with a hidden layer learns by **backpropagation**: run an example forward, measure the "
                "loss, then send the blame for the loss backwards, one local derivative at a time (the chain rule), "
                "and nudge every weight against its gradient. Here it is for the smallest such network (2 inputs, "
                "2 hidden neurons, 1 output), with every number shown.")
    config = lesson_controls(LESSON.slug, backprop.CONTROLS, title="Backprop settings")
    projector = projector_enabled()
    params = backprop.init_params(seed=config["seed"])
    x, y = [config["x1"], config["x2"]], float(config["y"])
    walk = backprop.walkthrough(params, x, y, config["activation"], config["learning_rate"])
    stage = walk.stages[config["stage"] - 1]

    st.subheader(f"Step {config['stage']} of {len(walk.stages)} · {stage.title}")
    st.plotly_chart(style(backprop_graph(params, walk.forward, walk.gradients, stage.forward_nodes, stage.backward_nodes,
                                         "Blue: values going forward · orange: gradients coming back"), projector),
                    key="graph", config={"displaylogo": False})
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
    st.markdown("How do you know a hand-written backward pass is right? Compare it with two references that share "
                "none of its code: **`jax.grad`** (automatic differentiation of the same loss) and **centred finite "
                f"differences**, (L(θ+ε) − L(θ−ε)) / 2ε with ε = {backprop.FINITE_DIFFERENCE_EPS:g}. Their relative "
                f"difference ‖a − b‖ / (‖a‖ + ‖b‖) must be below {backprop.CHECK_THRESHOLD:g}. "
                "Plant a bug above and watch the check catch it.")
    check = backprop.gradient_check(params, x, y, config["activation"], config["bug"])
    clean = check if config["bug"] == "none" else backprop.gradient_check(params, x, y, config["activation"])
    verdict = (f"relative difference {check.overall_vs_jax:.1e} against jax.grad and "
               f"{check.overall_vs_numerical:.1e} against finite differences")
    if check.passed:
        st.success(f"The gradients pass: {verdict}.", icon=":material/check_circle:")
    else:
        st.error(f"The gradients fail (bug: {config['bug']}): {verdict}.", icon=":material/bug_report:")
    st.plotly_chart(style(gradient_check_bars(check.rows, backprop.CHECK_THRESHOLD,
                                              "Relative difference per parameter (a difference of 0 is drawn at 10⁻¹⁸)"),
                          projector), key="check", config={"displaylogo": False})
    st.dataframe([{"parameter": r["parameter"],
                   "hand-written": ", ".join(f"{v:.6f}" for v in r["hand-written"]),
                   "jax.grad": ", ".join(f"{v:.6f}" for v in r["jax.grad"]),
                   "finite differences": ", ".join(f"{v:.6f}" for v in r["finite differences"]),
                   "vs jax.grad": f"{r['vs jax.grad']:.1e}", "vs finite differences": f"{r['vs finite differences']:.1e}"}
                  for r in check.rows], hide_index=True)
    with st.expander("What to notice", expanded=True):
        st.markdown(
            f"- Without a bug, on these numbers, the backward pass differs from jax.grad by {clean.overall_vs_jax:.1e} "
            f"(at most rounding error) and from finite differences by {clean.overall_vs_numerical:.1e}: "
            "far below the threshold.\n"
            "- A bug does not make the check a little worse: it makes it wrong by orders of magnitude, and the "
            "per-parameter bars point at the parameter whose gradient is broken.\n"
            "- Finite differences need two forward passes per parameter: fine for checking, far too slow for training."
        )


perceptron_section()
backprop_sections()
