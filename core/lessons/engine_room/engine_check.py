"""The engine room's check run: a small Keras MLP learning two moons, trained live.

Small enough to finish in seconds on one CPU core, real enough to show everything a lesson's run
shows: live loss curves, a decision surface redrawn as it learns, a learning rate that can change
mid-run. Teachers start it before class to see the machine (and the GPU, if any) at work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.params import Control, ControlBox, fixed_values, live_values
from core.shared.points import half_moons, surface_grid

LESSON = "engine_room"
STEPS_PER_EXECUTION = 8
"""Batches Keras runs per call of its training function. A batch of this small network takes tens of
microseconds; the Python around each call (callbacks, logs) took as long again, so in batches of 8 the run
goes twice as fast (53 → 108 epochs/s here, the same accuracy), and it leaves the server's pages more time.
Pause, Stop and a new learning rate act within 8 batches."""
SNAPSHOT_EVERY_S = 0.05
"""The decision surface is measured twenty times a second (a 60×60 grid, under a millisecond), so that each of
the run's states the page in control plays back, ten a second (`Job.frames_between`), has a new one."""

CONTROLS = (
    Control("hidden", "Hidden neurons per layer", "select", 16, options=(4, 8, 16, 32, 64)),
    Control("layers", "Hidden layers", "int", 2, min=1, max=6),
    Control(
        "learning_rate",
        "Learning rate",
        "select",
        0.03,
        options=(0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0),
        live=True,
        help="Change it while the run trains: the next batch uses the new rate.",
    ),
    Control("epochs", "Epochs", "int", 200, min=1, max=5000),
    Control("batch_size", "Batch size", "select", 32, options=(8, 16, 32, 64, 128)),
    Control("noise", "Noise in the data", "float", 0.2, min=0.0, max=0.5, step=0.05),
    Control("seed", "Random seed", "int", 0, min=0, max=9999),
)
BOX = ControlBox("check", "Settings", CONTROLS)


@dataclass(frozen=True)
class MoonsData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@lru_cache(maxsize=8)
def moons_data(noise: float, seed: int, n_train: int = 400, n_test: int = 200) -> MoonsData:
    """Two interleaved half-moons, generated (nothing to download), standardised to mean 0, sd 1.
    Cached: the page redraws the same points on every tick."""
    x, y = half_moons(n_train + n_test, noise, seed)
    x = ((x - x.mean(axis=0)) / x.std(axis=0)).astype("float32")
    y = y.astype("float32")
    return MoonsData(x[:n_train], y[:n_train], x[n_train:], y[n_train:])


def build_model(config):
    """An MLP with ReLU hidden layers and a sigmoid output, compiled with Adam and cross-entropy."""
    from core.engine.backend import load_keras

    keras = load_keras()
    keras.utils.set_random_seed(int(config["seed"]))  # thread-local: must run in the job's thread
    model = keras.Sequential([keras.Input(shape=(2,))])
    for _ in range(int(config["layers"])):
        model.add(keras.layers.Dense(int(config["hidden"]), activation="relu"))
    model.add(keras.layers.Dense(1, activation="sigmoid"))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=float(config["learning_rate"])),
        loss="binary_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model


@dataclass(frozen=True)
class SurfaceSnapshot:
    """What the page draws during the check run: P(class 1) over the plane after an epoch."""

    epoch: int
    axis: np.ndarray
    probabilities: np.ndarray
    """(len(axis), len(axis)), rows from the bottom."""


@task_factory
def task(config) -> TrainingTask:
    """The training job for a config (as produced from `CONTROLS`)."""
    config = dict(config)

    def train(ctx: TrainingContext):
        data = moons_data(float(config["noise"]), int(config["seed"]))
        model = build_model(config)
        axis, grid = surface_grid()

        def snapshot(model, epoch):
            probabilities = model.predict_on_batch(grid).reshape(len(axis), len(axis))
            return SurfaceSnapshot(epoch, axis, np.asarray(probabilities))

        model.fit(
            data.x_train,
            data.y_train,
            validation_data=(data.x_test, data.y_test),
            epochs=ctx.epochs,
            batch_size=int(config["batch_size"]),
            verbose=0,
            callbacks=[ctx.keras_callback(snapshot, SNAPSHOT_EVERY_S)],
        )
        return {"test_accuracy": float(model.evaluate(data.x_test, data.y_test, verbose=0)[1])}

    return TrainingTask(
        run=LESSON,
        config=fixed_values(CONTROLS, config),
        train=train,
        epochs=int(config["epochs"]),
        live=live_values(CONTROLS, config),
        chance=(0.5, math.log(2)),
    )  # two moons of equal size
