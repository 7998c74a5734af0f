"""Weight initialisation: the course's experiment (zeros, large, He), then deep networks where the
scheme must match the activation. Each section is a fragment with its own live run."""

import streamlit as st

from core.charts.layers import layer_histograms, layer_profile, race_curves, race_surfaces
from core.lessons import lesson
from core.lessons.initialisation import initialisation
from core.shared import deepnet
from core.ui.figures import show_run_figure
from core.ui.layout import bullet_list, lesson_header
from core.ui.live import run_section

LESSON = lesson("initialisation")
lesson_header(
    LESSON,
    "Before a network learns anything, its weights need starting values. Which values looks like a detail; "
    "it decides whether a network learns at all. Race initialisation schemes on the same data, network and "
    "seed, and look inside every layer while they train.",
)


def scheme_table():
    with st.expander("What each scheme draws", icon=":material/casino:"):
        st.dataframe([{"scheme": name, "weights": text} for name, text in deepnet.SCHEMES.items()], hide_index=True)
        st.caption("fan_in and fan_out are a layer's numbers of inputs and outputs. Biases start at 0 in every scheme.")


def _notes(shot: deepnet.RaceSnapshot) -> dict[str, str]:
    return {scheme: f" (diverged at epoch {epoch})" for scheme, epoch in shot.diverged_at.items()}


def draw_race(view, section: str, findings) -> None:
    """Everything a race shows, for either section (chart keys are prefixed by `section`)."""
    shot, data = view.snapshot, view.snapshot.data
    last = view.history[-1] if view.history else None
    st.markdown(bullet_list(findings(shot, last)))
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            f"{section}:loss",
            lambda view: race_curves(
                view.history,
                view.snapshot.schemes,
                ("train_loss", "test_loss"),
                "Loss (log scale): solid training, dotted test",
                log_y=True,
            ),
        )
    with right:
        show_run_figure(
            view,
            f"{section}:accuracy",
            lambda view: race_curves(
                view.history,
                view.snapshot.schemes,
                ("train_accuracy", "test_accuracy"),
                "Accuracy: solid training, dotted test",
            ),
        )
    show_run_figure(
        view,
        f"{section}:surfaces",
        lambda view: race_surfaces(
            view.snapshot.surface_axis,
            view.snapshot.surfaces,
            view.snapshot.data.x_train,
            view.snapshot.data.y_train,
            view.snapshot.data.classes,
            view.snapshot.schemes,
            _notes(view.snapshot),
            f"What each network predicts after epoch {view.snapshot.epoch}",
        ),
        snapshot_only=True,
    )
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            f"{section}:std",
            lambda view: layer_profile(
                view.snapshot.stats["activation_std"],
                view.snapshot.schemes,
                "Spread of each layer's activations",
                "std of h",
            ),
            snapshot_only=True,
        )
    with right:
        show_run_figure(
            view,
            f"{section}:norm",
            lambda view: layer_profile(
                view.snapshot.stats["weight_gradient_norm"],
                view.snapshot.schemes,
                "Gradient each layer's weights get (last = output layer)",
                "‖∂L/∂W‖",
            ),
            snapshot_only=True,
        )
    show_run_figure(
        view,
        f"{section}:activations",
        lambda view: layer_histograms(
            view.snapshot.stats["activation_edges"],
            view.snapshot.stats["activation_histogram"],
            view.snapshot.schemes,
            "Activations h of every layer: how they spread (each row shaded against its fullest bin)",
            "h",
        ),
        snapshot_only=True,
    )
    show_run_figure(
        view,
        f"{section}:gradients",
        lambda view: layer_histograms(
            view.snapshot.stats["gradient_edges"],
            view.snapshot.stats["gradient_histogram"],
            view.snapshot.schemes,
            "Gradients ∂L/∂h flowing back into every layer, by size",
            "|∂L/∂h|",
            log_values=True,
            zero_share=view.snapshot.stats["gradient_zero_share"],
        ),
        snapshot_only=True,
    )
    st.caption(
        f"Measured at epoch {shot.epoch} on {min(len(data.x_train), deepnet.MEASURE_POINTS)} training points. "
        "On log scales an exact 0 is drawn a decade below the smallest value."
    )


@st.fragment
def course_section():
    st.header("The classic experiment")
    st.markdown(
        "The deep-learning course's initialisation exercise: a network with two hidden layers (10 and 5 ReLU units) "
        "learns to tell two circles apart, by full-batch gradient descent. Start its weights at **zero**, "
        "**large** (×10 a standard normal) and **He** (scaled to the layer's inputs), and watch which of them learns."
    )
    scheme_table()
    run_section(
        LESSON.slug,
        initialisation.COURSE_BOX,
        initialisation.course_task,
        lambda view: draw_race(view, "course", initialisation.course_findings),
        waiting="The networks appear once their weights are made.",
    )
    with st.expander("What to notice", expanded=True):
        st.markdown(
            "- **Zeros** never move: every unit of a layer computes the same output and receives the same gradient, so "
            "the units stay copies of each other (the table counts distinct units). The loss stays at ln 2 because the "
            "network answers 0.5 for every point.\n"
            "- **Large** weights start with a loss hundreds of times ln 2: the output is very sure and often wrong. "
            "It learns slowly and ends worse than He.\n"
            "- **He** breaks the symmetry with small random numbers of the right size for ReLU, and learns the "
            "circles.\n"
            "- With the NumPy draw and seed 3 (the defaults) every network starts from the notebook's own weights, so "
            "the final accuracies can be set against those the notebook prints: He 0.993 train and 0.96 test, "
            "large 0.83 and 0.86, zeros 0.5 and 0.5.\n"
            "- Race the others too: too **small** weights and **orthogonal** ones; each run starts from the same seed."
        )


@st.fragment
def deep_section():
    st.header("Deep networks: match the scheme to the activation")
    st.markdown(
        "In a deep network every layer multiplies the spread of the signal by a factor that depends on the "
        "weights' scale and on the activation. A factor a little below 1 shrinks it geometrically with depth, "
        "a little above 1 blows it up. **Glorot** (Xavier) scales for tanh-like activations, **He** for ReLU, "
        "which zeroes half its inputs and so needs twice the variance. Pick an activation and a depth, and compare."
    )
    run_section(
        LESSON.slug,
        initialisation.DEEP_BOX,
        initialisation.deep_task,
        lambda view: draw_race(view, "deep", lambda shot, last: initialisation.deep_findings(shot)),
        waiting="The networks appear once their weights are made.",
    )
    with st.expander("What to notice", expanded=True):
        st.markdown(
            "- With **ReLU** at depth 30, Glorot's activations shrink layer after layer (the spread line falls by "
            "orders "
            "of magnitude and the histograms collapse onto 0), while He's keep their scale: the first thing to look "
            "at, "
            "before training even starts (press **Train**, then **Pause**).\n"
            "- The gradients tell the same story backwards: where the signal dies going forward, the first layers get "
            "almost no gradient and learn nothing.\n"
            "- With **tanh**, Glorot is the right match; with **sigmoid**, neither keeps the early layers' gradients "
            "alive in a deep network: that is the next lesson, vanishing gradients.\n"
            "- Narrow layers make every scheme's scale wander from layer to layer (try 16 against 256 neurons): "
            "the schemes keep the scale on average, not exactly."
        )


course_section()
deep_section()
