"""Vanishing (and exploding) gradients: through depth and through time.

Through depth: one deep fully connected network (the `deepnet` core, one copy) whose every layer's
weight gradient is measured while it trains, with the remedies as switches: a ReLU-family
activation, He initialisation, batch normalisation, residual connections and gradient clipping.
Why: backprop multiplies one activation derivative per layer, and sigmoid's is never above 0.25.
Through time: a SimpleRNN and an LSTM learn to recall the sign of a marked input k steps back,
by SGD with momentum (Adam would rescale each weight's step and hide how small the gradient is);
the gradient of the loss with respect to each step's input, against its distance from the end,
shows the plain RNN's memory fading geometrically while the LSTM's cell keeps a path open. (With
an unmarked position both must count steps, which the SimpleRNN does better than the LSTM.)
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np

from core.engine.jobs import TrainingTask, task_factory
from core.engine.pacing import speed_control
from core.engine.params import Control, ControlBox, fixed_values, live_values
from core.shared import deepnet, recurrent
from core.shared.recurrent import CLIP_NORM

LESSON = "vanishing_gradients"
DEPTH_RUN = "vanishing_gradients/depth"
TIME_RUN = "vanishing_gradients/time"

DEPTH_CONTROLS = (
    Control("activation", "Activation", "select", "sigmoid", options=deepnet.ACTIVATIONS),
    Control("depth", "Hidden layers", "select", 20, options=tuple(range(2, 51))),
    Control("width", "Neurons per layer", "select", 32, options=(16, 32, 64, 128)),
    Control(
        "he_init",
        "He initialisation",
        "toggle",
        False,
        help="Off: Glorot uniform, Keras' default. On: He normal, scaled for ReLU-like activations.",
    ),
    Control(
        "batch_norm", "Batch normalisation", "toggle", False, help="Normalise every layer's input to its activation."
    ),
    Control(
        "residual",
        "Residual connections",
        "toggle",
        False,
        help="Each layer adds its input to its output (and scales the sum by 1/√2, so the signal keeps its size).",
    ),
    Control(
        "clipping",
        "Gradient clipping",
        "toggle",
        False,
        help=f"Scale every update down so that the gradient's global norm is at most {CLIP_NORM:g}.",
    ),
    Control(
        "weight_scale",
        "Initial weights ×",
        "select",
        1.0,
        options=(0.5, 1.0, 1.5, 2.0, 3.0),
        help="Multiply the initial weights: above 1 makes gradients explode in a deep network.",
    ),
    Control("epochs", "Epochs", "int", 200, min=1, max=2000),
    Control("seed", "Weights seed", "int", 0, min=0, max=9999),
    Control(
        "learning_rate",
        "Learning rate",
        "select",
        0.03,
        options=(0.001, 0.01, 0.03, 0.1, 0.3, 1.0),
        live=True,
        help="Plain SGD. At 0.1 a 20-layer ReLU network with He initialisation fails to learn on some seeds.",
    ),
    speed_control(deepnet.DEEP_SPEEDS),
)
DEPTH_BOX = ControlBox("depth", "Network and remedies", DEPTH_CONTROLS)
TIME_BOX = ControlBox("time", "Sequence task", recurrent.TIME_CONTROLS)


DERIVATIVE_GRID = np.linspace(-6.0, 6.0, 1201)


@functools.cache
def activation_derivative(name: str) -> tuple[np.ndarray, float, float]:
    """A Keras activation's derivative over DERIVATIVE_GRID (by `jax.grad`), its largest value and where."""
    import jax
    import jax.numpy as jnp

    from core.engine.backend import load_keras

    function = load_keras().activations.get(name)
    derivative = np.asarray(jax.vmap(jax.grad(function))(jnp.asarray(DERIVATIVE_GRID, dtype="float32")))
    peak = int(np.argmax(derivative))
    return derivative, float(derivative[peak]), float(DERIVATIVE_GRID[peak])


def depth_network(config: Mapping[str, Any]) -> deepnet.Network:
    return deepnet.Network(
        (int(config["width"]),) * int(config["depth"]), config["activation"], config["batch_norm"], config["residual"]
    )


def depth_scheme(config: Mapping[str, Any]) -> str:
    return "He normal" if config["he_init"] else "Glorot uniform"


def depth_race(config: Mapping[str, Any]) -> deepnet.Race:
    return deepnet.Race(
        deepnet.circles(),
        depth_network(config),
        (depth_scheme(config),),
        32,
        config["seed"],
        gain=config["weight_scale"],
        clipnorm=CLIP_NORM if config["clipping"] else None,
    )


@task_factory
def depth_task(config: Mapping[str, Any]) -> TrainingTask:
    fixed, live = fixed_values(DEPTH_CONTROLS, config), live_values(DEPTH_CONTROLS, config)
    return deepnet.race_task(
        DEPTH_RUN,
        fixed,
        lambda: depth_race(fixed),
        fixed["epochs"],
        live,
        lambda values: values["learning_rate"],
        lambda values: deepnet.DEEP_SPEEDS[values["speed"]],
    )


def depth_findings(shot: deepnet.RaceSnapshot) -> list[str]:
    """What the run's own numbers say: the first layer's gradient against the last hidden layer's,
    at the start and now, and the bound the activation's largest derivative puts on it."""
    start, now = shot.gradient_history[0][1][0], shot.stats["weight_gradient_norm"][0]
    depth, activation = shot.network.depth, shot.network.activation
    measured = [("At the start", start)] + ([(f"After epoch {shot.epoch}", now)] if shot.epoch else [])
    lines = []
    for label, norms in measured:
        first, last = float(norms[0]), float(norms[depth - 1])
        sizes = f"{label} layer 1 gets ‖∂L/∂W‖ = {first:.2g} and layer {depth} gets {last:.2g}"
        if not (np.isfinite(first) and np.isfinite(last)) or last == 0:
            lines.append(f"{sizes}.")
        elif first == 0:
            lines.append(f"{label} layer 1 gets exactly 0 gradient while layer {depth} gets {last:.2g}.")
        elif last >= first:
            lines.append(f"{sizes}: the first layer learns {last / first:.2g} times slower.")
        else:
            lines.append(f"{sizes}: the first layer's gradient is {first / last:.2g} times larger.")
    if shot.diverged_at:
        lines.append(
            f"The loss stopped being a finite number at epoch {next(iter(shot.diverged_at.values()))}: "
            "the gradients exploded. Try gradient clipping, or smaller initial weights."
        )
    _, peak, _ = activation_derivative(activation)
    if peak < 1:
        lines.append(
            f"{activation}'s derivative is never above {peak:.3g}, so through {depth - 1} layers backprop "
            f"can shrink the gradient by up to {peak:.3g}^{depth - 1} = {peak ** (depth - 1):.2g}."
        )
    return lines


@task_factory
def time_task(config: Mapping[str, Any]) -> TrainingTask:
    """The lesson's race through time (`recurrent.TIME_CONTROLS`): a SimpleRNN against an LSTM."""
    return recurrent.time_task(config, TIME_RUN)
