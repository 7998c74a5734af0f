"""Weight initialisation: race schemes on the same data, network and seed, and look inside each network.

Two runs. The course's experiment (the 2-10-5-1 ReLU network of the deep-learning course's
initialisation notebook, trained by full-batch gradient descent on two circles) shows the three
classic outcomes: all-zero weights never leave loss ln 2, huge weights start with a huge loss, He
learns. The deep run (up to 40 layers, with the activation of the student's choice) shows why the
scheme must match the activation: layer by layer, the activations and gradients of a badly matched
scheme shrink or grow geometrically (Glorot & Bengio 2010; He et al. 2015).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from core.engine.jobs import task_factory
from core.engine.pacing import speed_control
from core.engine.params import Control, ControlBox, fixed_values, live_values
from core.shared import deepnet

LESSON = "initialisation"
COURSE_RUN = "initialisation/course"
DEEP_RUN = "initialisation/deep"

COURSE_NETWORK = deepnet.Network((10, 5), "relu")
COURSE_SPEEDS = {"slow motion": 100.0, "steady": 1000.0, "full speed": None}
"""Full-batch steps per second."""
LOSS_AT_CHANCE = math.log(2)
"""Cross-entropy of a network that answers p = 0.5 for every point."""

SCHEME_NAMES = tuple(deepnet.SCHEMES)
NUMPY_DRAW, KERAS_DRAW = "NumPy, as the course notebook", "Keras initialisers"
COURSE_NOTEBOOK_SEED = 3
"""The notebook's `np.random.seed(3)` before drawing the weights."""
LEARNING_RATES = (0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)

COURSE_CONTROLS = (
    Control(
        "schemes",
        "Schemes to race",
        "multi",
        ("zeros", "large", "He normal"),
        options=SCHEME_NAMES,
        min=2,
        max_items=4,
        help="Two to four. Every network starts from the same seed; only the scheme differs.",
        was="course_schemes",
    ),
    Control(
        "steps",
        "Gradient-descent steps",
        "int",
        15000,
        min=100,
        max=30000,
        help="Each step uses all 300 training points (full-batch gradient descent), as in the course.",
        was="course_steps",
    ),
    Control(
        "draw",
        "Draw the starting weights with",
        "select",
        NUMPY_DRAW,
        options=(NUMPY_DRAW, KERAS_DRAW),
        help="NumPy: the notebook's plain randn × the scheme's standard deviation, layer after layer from one seed, "
        "so seed 3 gives the notebook's exact weights and numbers (uniform and orthogonal schemes have no "
        "such draw and use Keras'). Keras: its initialisers, He and Glorot normal truncated at 2 standard "
        "deviations, one seed per layer.",
        was="course_draw",
    ),
    Control("seed", "Weights seed", "int", COURSE_NOTEBOOK_SEED, min=0, max=9999, was="course_seed"),
    Control(
        "learning_rate", "Learning rate", "select", 0.01, options=LEARNING_RATES, live=True, was="course_learning_rate"
    ),
    speed_control(COURSE_SPEEDS, "steps", was="course_speed"),
)
COURSE_BOX = ControlBox("course", "Experiment settings", COURSE_CONTROLS)

DEEP_CONTROLS = (
    Control(
        "schemes",
        "Schemes to race",
        "multi",
        ("Glorot uniform", "He normal"),
        options=SCHEME_NAMES,
        min=2,
        max_items=4,
        help="Two to four. Every network starts from the same seed; only the scheme differs.",
        was="deep_schemes",
    ),
    Control("activation", "Activation", "select", "relu", options=("tanh", "sigmoid", "relu")),
    Control("depth", "Hidden layers", "select", 30, options=tuple(range(1, 41))),
    Control("width", "Neurons per layer", "select", 64, options=(16, 32, 64, 128, 256)),
    Control("batch_size", "Batch size", "select", 32, options=(8, 16, 32, 64, 300)),
    Control("epochs", "Epochs", "int", 300, min=1, max=3000, was="deep_epochs"),
    Control("seed", "Weights seed", "int", 0, min=0, max=9999, was="deep_seed"),
    Control(
        "learning_rate", "Learning rate", "select", 0.01, options=LEARNING_RATES, live=True, was="deep_learning_rate"
    ),
    speed_control(deepnet.DEEP_SPEEDS, was="deep_speed"),
)
DEEP_BOX = ControlBox("deep", "Deep network settings", DEEP_CONTROLS)


def course_race(schemes, seed: int, draw: str = NUMPY_DRAW) -> deepnet.Race:
    """The course's setup: two circles (300 training and 100 test points, noise 0.05), 2-10-5-1 ReLU,
    full-batch gradient descent, and (with the NumPy draw) the notebook's own starting weights."""
    data = deepnet.circles()
    race = deepnet.Race(data, COURSE_NETWORK, schemes, batch_size=len(data.x_train), seed=seed)
    if draw == NUMPY_DRAW:
        for copy, scheme in enumerate(race.schemes):
            kernels = deepnet.numpy_kernels(COURSE_NETWORK.widths, scheme, seed)
            if kernels is not None:
                race.start_from(copy, kernels)
    return race


def deep_network(config: Mapping[str, Any]) -> deepnet.Network:
    return deepnet.Network((int(config["width"]),) * int(config["depth"]), config["activation"])


def deep_race(config: Mapping[str, Any]) -> deepnet.Race:
    return deepnet.Race(
        deepnet.circles(), deep_network(config), config["schemes"], config["batch_size"], config["seed"]
    )


@task_factory
def course_task(config: Mapping[str, Any]):
    fixed, live = fixed_values(COURSE_CONTROLS, config), live_values(COURSE_CONTROLS, config)
    return deepnet.race_task(
        COURSE_RUN,
        fixed,
        lambda: course_race(fixed["schemes"], fixed["seed"], fixed["draw"]),
        fixed["steps"],
        live,
        lambda values: values["learning_rate"],
        lambda values: COURSE_SPEEDS[values["speed"]],
    )


@task_factory
def deep_task(config: Mapping[str, Any]):
    fixed, live = fixed_values(DEEP_CONTROLS, config), live_values(DEEP_CONTROLS, config)
    return deepnet.race_task(
        DEEP_RUN,
        fixed,
        lambda: deep_race(fixed),
        fixed["epochs"],
        live,
        lambda values: values["learning_rate"],
        lambda values: deepnet.DEEP_SPEEDS[values["speed"]],
    )


def scale_change(stds: np.ndarray) -> np.ndarray:
    """Per copy, the last hidden layer's activation standard deviation over the first's (1: scale kept)."""
    return stds[:, -1] / np.maximum(stds[:, 0], 1e-30)


def _latest(history_row: Mapping[str, float] | None, scheme: str, metric: str) -> float | None:
    return None if history_row is None else history_row.get(f"{scheme}: {metric}")


def course_findings(shot: deepnet.RaceSnapshot, last: Mapping[str, float] | None) -> list[str]:
    """One sentence per scheme of the course's race, from the run's own numbers."""
    lines = []
    widths = ", ".join(map(str, shot.network.widths))
    for k, scheme in enumerate(shot.schemes):
        start = shot.initial[k][0]
        loss, accuracy = _latest(last, scheme, "train_loss"), _latest(last, scheme, "train_accuracy")
        if scheme in shot.diverged_at:
            lines.append(f"**{scheme}**: the loss stopped being a finite number at step {shot.diverged_at[scheme]}.")
        elif all(count == 1 for count in shot.distinct_units[k]):
            stuck = (
                f"; the loss is {loss:.4f} (ln 2 = {LOSS_AT_CHANCE:.4f}) and training accuracy {accuracy:.1%}"
                if loss is not None
                else ""
            )
            lines.append(
                f"**{scheme}**: each hidden layer ({widths} units) holds a single distinct unit{stuck}. "
                "Units that start equal get equal gradients and stay equal: symmetry is never broken, so each "
                "layer is as good as one unit."
            )
        elif start > 10 * LOSS_AT_CHANCE:
            now = f" and is {loss:.3f} now (training accuracy {accuracy:.1%})" if loss is not None else ""
            lines.append(
                f"**{scheme}**: the first loss was {start:,.1f}, {start / LOSS_AT_CHANCE:,.0f} × ln 2{now}. "
                "Huge weights make confident answers, and a confident wrong answer costs a lot."
            )
        else:
            now = f", now {loss:.3f}, training accuracy {accuracy:.1%}" if loss is not None else ""
            distinct = ", ".join(map(str, shot.distinct_units[k]))
            lines.append(f"**{scheme}**: loss {start:.3f} at the start{now}; distinct units per layer: {distinct}.")
    return lines


def deep_findings(shot: deepnet.RaceSnapshot) -> list[str]:
    """Per scheme: how the activations' spread and the weights' gradients change from the first layer
    to the last, now."""
    stats, lines = shot.stats, []
    depth = shot.network.depth
    for k, scheme in enumerate(shot.schemes):
        stds, norms = stats["activation_std"][k], stats["weight_gradient_norm"][k]
        first_norm, last_norm = norms[0], norms[-2]
        gradient = (
            f"‖∂L/∂W‖ is {first_norm:.2g} in layer 1 and {last_norm:.2g} in layer {depth}"
            if first_norm > 0 or last_norm > 0
            else "every hidden layer's weight gradient is exactly 0"
        )
        lines.append(
            f"**{scheme}**: the activations' standard deviation goes from {stds[0]:.3g} in layer 1 to "
            f"{stds[-1]:.3g} in layer {depth} (× {scale_change(stds[None])[0]:.2g}); {gradient}."
        )
    return lines
