"""Vanishing (and exploding) gradients: through depth, with the remedies as switches, and through
time, a SimpleRNN against an LSTM. Each section is a fragment with its own live run."""

import numpy as np
import streamlit as st

from core.charts.layers import derivative_curves, derivative_products, gradient_norm_history, layer_profile, race_curves
from core.lessons import lesson
from core.lessons.vanishing_gradients import vanishing
from core.shared import deepnet, recurrent
from core.ui.figures import show_figure, show_run_figure
from core.ui.layout import bullet_list, lesson_header
from core.ui.live import run_section
from core.ui.recurrent import draw_recurrent_race

ALL_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "gelu")

LESSON = lesson("vanishing_gradients")
lesson_header(
    LESSON,
    "Backpropagation multiplies one factor per layer on its way back to the first layer. Factors below 1 "
    "shrink the gradient geometrically with depth, factors above 1 blow it up. Watch every layer's gradient "
    "while a deep network trains, switch on the remedies one by one, then see the same thing happen through "
    "time in a recurrent network.",
)


def draw_depth(view) -> None:
    shot = view.snapshot
    st.markdown(bullet_list(vanishing.depth_findings(shot)))
    left, right = st.columns(2)
    with left:
        show_run_figure(view, "depth:norm", _gradient_profile, snapshot_only=True)
    with right:
        show_run_figure(
            view,
            "depth:history",
            lambda view: gradient_norm_history(
                view.snapshot.gradient_history, 0, "Every layer's gradient over the run (dark: starved)"
            ),
        )
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "depth:loss",
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
            "depth:accuracy",
            lambda view: race_curves(
                view.history,
                view.snapshot.schemes,
                ("train_accuracy", "test_accuracy"),
                "Accuracy: solid training, dotted test",
            ),
        )
    st.caption(
        f"Measured at epoch {shot.epoch} on {deepnet.MEASURE_POINTS} training points of the two circles. "
        "On log scales an exact 0 is drawn a decade below the smallest value."
    )


def _gradient_profile(view):
    """Each layer's weight gradient at the start and now."""
    shot = view.snapshot
    start, now = shot.gradient_history[0][1][0], shot.stats["weight_gradient_norm"][0]
    profiles, names = (
        (np.stack([start, now]), ("at the start", f"after epoch {shot.epoch}"))
        if shot.epoch
        else (start[None], ("at the start",))
    )
    return layer_profile(
        profiles,
        names,
        f"Gradient each layer's weights get (layer {shot.network.depth + 1} is the output layer)",
        "‖∂L/∂W‖ (log scale)",
    )


def why_section(config) -> None:
    """The derivative curves and what their largest values do over the chosen depth."""
    derivatives = {name: vanishing.activation_derivative(name) for name in ALL_ACTIVATIONS}
    st.subheader("Why: one derivative per layer")
    st.markdown(
        "Going back through a layer, the gradient is multiplied by the layer's weights and by the derivative "
        "of its activation at the layer's input. Sigmoid's derivative is never above a quarter, so even at its "
        "best each layer cuts the gradient to a quarter or less."
    )
    left, right = st.columns(2)
    with left:
        show_figure(
            derivative_curves(
                vanishing.DERIVATIVE_GRID, derivatives, "Each activation's derivative (computed by jax.grad)"
            ),
            key="why:derivatives",
        )
    with right:
        peaks = {name: peak for name, (_, peak, _) in derivatives.items()}
        show_figure(
            derivative_products(
                peaks,
                int(config["depth"]),
                f"The most that survives n activations, up to your depth of {config['depth']}",
            ),
            key="why:products",
        )
    sigmoid = peaks["sigmoid"]
    st.caption(
        f"Through {config['depth']} sigmoid layers the activations alone can leave at most "
        f"{sigmoid:.3g}^{config['depth']} "
        f"= {sigmoid ** int(config['depth']):.2g} of the gradient. ReLU's derivative is exactly 1 wherever the unit "
        "is active, so the weights decide: He initialisation keeps their factor near 1."
    )


@st.fragment
def depth_section():
    st.header("Through depth")
    st.markdown(
        "A deep network of equal-width layers learns to tell two circles apart. Its default is the classic trap: "
        "**sigmoid** units, Glorot's initialisation, 20 hidden layers. Press **Train** and look at the gradient "
        "of layer 1 against the last layers, then turn on the remedies one at a time."
    )
    config = run_section(
        LESSON.slug,
        vanishing.DEPTH_BOX,
        vanishing.depth_task,
        lambda view: draw_depth(view),
        waiting="The network appears once its weights are made.",
    )
    with st.expander("What to notice", expanded=True):
        st.markdown(
            "- With **sigmoid** at depth 20, layer 1's gradient is many orders of magnitude below the last layer's "
            "(the left chart's line falls steeply towards layer 1): the first layers hardly learn, and the loss stalls "
            "at ln 2 ≈ 0.69, the loss of guessing.\n"
            "- **ReLU** (or leaky ReLU, GELU) with **He initialisation** keeps the gradient's size through all the "
            "layers.\n"
            "- **Batch normalisation** rescales every layer's input, so the signal keeps its size whatever the "
            "weights.\n"
            "- **Residual connections** give the gradient a path that skips every activation: layer 1's gradient "
            "rises by many orders of magnitude. With sigmoid that is still too little to learn in a few hundred "
            "epochs; "
            "with ReLU and He it learns.\n"
            "- The exploding case: ReLU with the initial weights ×3 (or ×2 at depth 30+) multiplies the gradient at "
            "every layer and the loss stops being a number. **Gradient clipping** caps each step and keeps training "
            "finite."
        )
    why_section(config)


@st.fragment
def time_section():
    st.header("Through time")
    st.markdown(
        f"A recurrent network is a deep network in time: one layer per step, the same weights at every step. "
        f"Each sequence has {recurrent.SEQUENCE_LENGTH} values of ±1, one of them marked; the network must answer "
        "the marked value's sign at the end. A **SimpleRNN** and an **LSTM** "
        f"({recurrent.RECURRENT_UNITS} units "
        "each) train side by side on the same batches, by SGD with momentum. The chart shows how much gradient "
        "each step's input receives: the marked step's is the one that teaches the network the task."
    )
    run_section(
        LESSON.slug,
        vanishing.TIME_BOX,
        vanishing.time_task,
        lambda view: draw_recurrent_race(view),
        waiting="The networks appear once their weights are made.",
    )
    with st.expander("What to notice", expanded=True):
        st.markdown(
            "- At the start each step back multiplies a network's gradient by a factor (the findings above give it): "
            "below 1, the gradient falls geometrically with distance.\n"
            "- A network that has learned the task answers the marked value: its test accuracy leaves 50 %, the "
            "chance level (the findings say which network did, on this run). The LSTM's cell is carried back "
            "through time multiplied only by its forget gate, so its gradient can reach further than the SimpleRNN's, "
            "whose every step passes a saturating tanh.\n"
            "- Compare 5 steps back with 20 on the same seed, then change the seed: where the gradient from the "
            "marked step is tiny, learning depends on luck.\n"
            "- Raise the **forget-gate bias** and watch the LSTM's factor per step move towards 1.\n"
            "- Once a network has learned, its loss is near 0 and every gradient shrinks with it: then look at the "
            "shape of its line, not its height.\n"
            "- Try a smaller learning rate: long memories are slow and fragile to learn with a vanishing gradient, "
            "not impossible."
        )


depth_section()
time_section()
