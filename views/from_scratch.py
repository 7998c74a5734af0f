"""A network from scratch: a deep-learning framework in one screen, a graph the student writes, stepped through
node by node (sort, forward, backward) beside jax.grad, and trained on real data. The section is a fragment."""

import streamlit as st

from core.charts.backprop import node_graph
from core.charts.theme import OKABE_ITO
from core.charts.training import metric_curves
from core.engine.text import markdown_literal, plotly_literal
from core.lessons import lesson
from core.lessons.from_scratch import framework, miniflow
from core.ui.controls import lesson_controls
from core.ui.figures import show_figure
from core.ui.layout import bullet_list, lesson_header

LESSON = lesson("from_scratch")
PHASE_COLOURS = {framework.SORT: OKABE_ITO[2], framework.FORWARD: OKABE_ITO[0], framework.BACKWARD: OKABE_ITO[3]}
STAGE_KEY = "from_scratch:stage"
PHASE_WORDS = {framework.SORT: "Sorting", framework.FORWARD: "Forward", framework.BACKWARD: "Backward"}
lesson_header(
    LESSON,
    "Keras, PyTorch and JAX look enormous, but at their heart is something you can write in an afternoon: a graph "
    "of nodes, each of which can compute its value from its inputs and pass the gradient of the cost back to "
    "them. Here is such a framework, all of it, then a network you write in it, run one node at a time, checked "
    "against JAX and trained. Coming next on this page: a regression network in NumPy, and logistic regression "
    "as the smallest network.",
)


def what_to_notice(lines: list[str]) -> None:
    with st.expander("What to notice", expanded=True):
        st.markdown(bullet_list(lines))


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


framework_section()
