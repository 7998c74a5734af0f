"""The optimisers training one real network: the same Keras MLP, from the same first weights, on the same
shuffled mini-batches of scikit-learn's handwritten digits, one copy per optimiser, side by side and live.

Each copy is a `MiniBatchLoop` with its own Keras optimiser; the run advances every copy by the same epochs in
turn. The learning rate follows a schedule, applied per optimiser step inside the jitted epoch (Keras' own
optimiser step counter drives it), so the base rates stay live without compiling again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.loop import MiniBatchLoop
from core.engine.pacing import speed_control, train_in_chunks
from core.engine.params import Control, ControlBox, fixed_values, live_rate, live_values
from core.lessons.optimisation.surfaces import ADAM, ADAPTIVE, GD, MOMENTUM, OPTIMISERS, RMSPROP, keras_optimiser
from core.shared.copies import advance_copies, refuse_once_all_diverged, softmax_cross_entropy

RUN = "optimisation/network"
TARGET_ACCURACY = 0.95
CONSTANT, STEP, EXPONENTIAL, COSINE, WARM_UP = "constant", "step", "exponential", "cosine", "warm-up"
SCHEDULES = (CONSTANT, STEP, EXPONENTIAL, COSINE, WARM_UP)
SCHEDULE_FLOOR = 0.02
"""Where the exponential schedule ends, as a share of the base rate."""
SPEEDS = {"slow motion": 2.0, "steady": 10.0, "full speed": None}
MAX_CHUNK = 50
TRAIN_SIZE = 1437
"""The digits kept for training (the other 360 are held out): the size of a full batch."""
METRICS = ("loss", "val_loss", "val_accuracy")
"""What a copy measures after each epoch; its row then carries the loss of each batch of the epoch."""

SGD_RATES = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
ADAPTIVE_RATES = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)


CONTROLS = (
    Control(
        "optimisers",
        "Optimisers",
        "multi",
        (GD, MOMENTUM, RMSPROP, ADAM),
        options=OPTIMISERS,
        min=1,
        max_items=len(OPTIMISERS),
    ),
    live_rate("Learning rate α (gradient descent, momentum, Nesterov)", 0.1, SGD_RATES, key="alpha"),
    live_rate("Learning rate η (RMSprop, Adam, AdaGrad)", 0.003, ADAPTIVE_RATES, key="eta"),
    Control("beta", "Momentum β (and Adam's β₁)", "select", 0.9, options=(0.5, 0.9, 0.99)),
    Control(
        "batch_size",
        "Batch size",
        "select",
        32,
        options=(1, 8, 32, 256, TRAIN_SIZE),
        help=f"1: stochastic gradient descent, a step per digit. {TRAIN_SIZE}: every training digit in one batch, "
        "one step an epoch (batch gradient descent). Between: mini-batches.",
    ),
    Control(
        "schedule",
        "Learning-rate schedule",
        "select",
        CONSTANT,
        options=SCHEDULES,
        help="How the rate changes over the run: halved every quarter (step), shrinking by the same factor every "
        "step (exponential), along half a cosine (cosine), or rising from 0 over the first tenth (warm-up).",
    ),
    Control("epochs", "Epochs", "int", 40, min=2, max=300),
    Control("hidden", "Hidden units", "select", 32, options=(16, 32, 64, 128)),
    Control("seed", "Random seed", "int", 0, min=0, max=9999),
    speed_control(SPEEDS),
)
BOX = ControlBox("network", "Network, optimisers and schedule", CONTROLS, flat=False)


def schedule_factor(schedule: str, progress):
    """The learning rate's multiplier at `progress` (epochs done ÷ epochs, 0…1, NumPy or traced JAX)."""
    import jax.numpy as jnp

    progress = jnp.clip(progress, 0.0, 1.0)
    if schedule == STEP:
        return 0.5 ** jnp.floor(jnp.minimum(progress, 0.999) * 4)
    if schedule == EXPONENTIAL:
        return SCHEDULE_FLOOR**progress
    if schedule == COSINE:
        return 0.5 * (1 + jnp.cos(math.pi * progress))
    if schedule == WARM_UP:
        return jnp.minimum(1.0, progress / 0.1)
    return jnp.ones_like(progress)


def schedule_curve(schedule: str, epochs: int, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """The schedule over the run, for its picture: (epoch, multiplier)."""
    epoch = np.linspace(0, epochs, points)
    return epoch, np.asarray(schedule_factor(schedule, epoch / epochs))


@dataclass(frozen=True)
class Digits:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@lru_cache(maxsize=4)
def digits(seed: int) -> Digits:
    """scikit-learn's 1,797 8×8 digits (shipped with it), pixels scaled to 0…1, 360 held out (by seed)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    order = np.random.default_rng(seed).permutation(len(data.target))
    x, y = (data.data[order] / 16.0).astype("float32"), data.target[order].astype("int32")
    return Digits(x[:TRAIN_SIZE], y[:TRAIN_SIZE], x[TRAIN_SIZE:], y[TRAIN_SIZE:])


class OptimiserCopy(MiniBatchLoop):
    """One optimiser's copy of the network. Its row after each epoch: training loss, held-out loss and accuracy."""

    def __init__(self, optimiser: str, config: Mapping[str, Any], data: Digits, epochs: int):
        from core.engine.backend import load_keras

        keras = load_keras()
        keras.utils.set_random_seed(int(config["seed"]))  # every copy starts from the same weights
        model = keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(int(config["hidden"]), activation="relu"),
                keras.layers.Dense(10),
            ]
        )
        self.name, self.schedule, self.epochs = optimiser, config["schedule"], epochs
        self.adaptive = optimiser in ADAPTIVE
        rate = float(config["eta"] if self.adaptive else config["alpha"])
        optimizer = keras_optimiser(optimiser, rate, float(config["beta"]))
        optimizer.build(model.trainable_variables)
        batch, seed = int(config["batch_size"]), int(config["seed"])
        batches = len(data.x_train) // max(1, min(batch, len(data.x_train)))
        row = (len(METRICS) + batches,)  # the epoch's numbers, then the loss of each of its batches
        super().__init__(model, optimizer, data.x_train, data.y_train, batch, seed, MAX_CHUNK, row)
        self.x_test, self.y_test = data.x_test, data.y_test

    def _loss(self, trainable, non_trainable, x, y):
        logits, non_trainable = self.model.stateless_call(trainable, non_trainable, x)
        return softmax_cross_entropy(logits, y), (logits, non_trainable)

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        loss, (_, non_trainable) = self._loss(trainable, non_trainable, x, y)
        return loss, non_trainable

    def learning_rate(self, hyper):
        return hyper[1] if self.adaptive else hyper[0]

    def rate_factor(self, step):
        return schedule_factor(self.schedule, step / (self.n_batches * self.epochs))

    def evaluate(self, trainable, non_trainable):
        import jax.numpy as jnp

        train_loss, _ = self._loss(trainable, non_trainable, self.x, self.y)
        test_loss, (logits, _) = self._loss(trainable, non_trainable, self.x_test, self.y_test)
        accuracy = jnp.mean(jnp.argmax(logits, axis=1) == self.y_test)
        return jnp.stack([train_loss, test_loss, accuracy])

    def epoch_row(self, trainable, non_trainable, batch_losses):
        import jax.numpy as jnp

        return jnp.concatenate([self.evaluate(trainable, non_trainable), batch_losses])


def batch_noise(batch_losses: np.ndarray) -> float | None:
    """How much the loss jumps from one batch to the next within an epoch: the standard deviation of consecutive
    differences over √2 (a trend down the epoch does not count). None with a single batch (no noise to see)."""
    if len(batch_losses) < 2:
        return None
    return float(np.std(np.diff(batch_losses)) / math.sqrt(2))


def loss_key(optimiser: str) -> str:
    return f"loss · {optimiser}"


def val_loss_key(optimiser: str) -> str:
    return f"val_loss · {optimiser}"


def accuracy_key(optimiser: str) -> str:
    return f"val_accuracy · {optimiser}"


def noise_key(optimiser: str) -> str:
    return f"batch noise · {optimiser}"


def rows_of(copies: Sequence[OptimiserCopy], results: Sequence[np.ndarray]) -> list[dict[str, float]]:
    """Each epoch's row of the run: every copy's numbers under its optimiser's name (and the noise of its batches'
    losses), none for a copy whose numbers stopped being finite (it diverged: its curves stop there)."""
    rows = []
    for epoch_rows in zip(*results):
        row = {}
        for copy, numbers in zip(copies, epoch_rows):
            if not np.isfinite(numbers).all():
                continue
            train_loss, test_loss, accuracy = numbers[: len(METRICS)]
            row[loss_key(copy.name)] = float(train_loss)
            row[val_loss_key(copy.name)] = float(test_loss)
            row[accuracy_key(copy.name)] = float(accuracy)
            noise = batch_noise(numbers[len(METRICS) :])
            if noise is not None:
                row[noise_key(copy.name)] = noise
        rows.append(row)
    return rows


@dataclass(frozen=True)
class RaceSnapshot:
    epoch: int
    optimisers: tuple[str, ...]
    diverged: Mapping[str, int]
    """Optimisers whose loss stopped being finite: the epoch it did (they train no more)."""
    schedule: str
    batch_losses: Mapping[str, np.ndarray]
    """Each training copy's loss on every batch of the latest epoch, in the order it met them."""


@task_factory
def race_task(config: Mapping[str, Any]) -> TrainingTask:
    """The live run: every chosen optimiser's copy trained epoch for epoch, at the chosen speed."""
    fixed, live = fixed_values(CONTROLS, config), live_values(CONTROLS, config)
    chosen = tuple(name for name in OPTIMISERS if name in fixed["optimisers"])

    def train(ctx: TrainingContext):
        data = digits(int(fixed["seed"]))
        copies = [OptimiserCopy(name, {**fixed, **live}, data, ctx.epochs) for name in chosen]
        diverged: dict[str, int] = {}
        latest: dict[str, np.ndarray] = {}
        done = {"epochs": 0}

        def snapshot() -> RaceSnapshot:
            return RaceSnapshot(done["epochs"], chosen, dict(diverged), fixed["schedule"], dict(latest))

        ctx.replace_snapshot(snapshot())

        def step(n: int, values) -> list[dict[str, float]]:
            import jax.numpy as jnp

            rates = jnp.asarray([float(values["alpha"]), float(values["eta"])], "float32")
            training, results = advance_copies(copies, n, rates, diverged, done["epochs"])
            for copy, result in zip(training, results):
                if copy.name in diverged:
                    latest.pop(copy.name, None)
                else:
                    latest[copy.name] = result[-1, len(METRICS) :].astype("float32")
            done["epochs"] += n
            refuse_once_all_diverged(
                ctx,
                copies,
                diverged,
                snapshot,
                "Every optimiser's loss stopped being a finite number (the first at epoch {first}), so the run ended: "
                "try smaller learning rates.",
            )
            return rows_of(training, results)

        train_in_chunks(
            ctx,
            step,
            snapshot,
            lambda values: SPEEDS[values["speed"]],
            MAX_CHUNK,
        )

    return TrainingTask(run=RUN, config=fixed, train=train, epochs=int(fixed["epochs"]), live=live)


@dataclass(frozen=True)
class RaceNotice:
    to_target: dict[str, int]
    """Optimisers that reached TARGET_ACCURACY held out: the first epoch they did."""
    best: dict[str, float]
    """Each optimiser's best held-out accuracy so far."""
    last_loss: dict[str, float]
    noise: dict[str, float]
    """Each optimiser's batch-to-batch noise in the latest epoch (none with a single batch an epoch)."""


def race_notice(history: Sequence[Mapping[str, float]], optimisers: Sequence[str]) -> RaceNotice:
    to_target, best, last_loss, noise = {}, {}, {}, {}
    for name in optimisers:
        accuracies = [row[accuracy_key(name)] for row in history if accuracy_key(name) in row]
        if not accuracies:
            continue
        best[name] = max(accuracies)
        reached = next((row["epoch"] for row in history if row.get(accuracy_key(name), 0) >= TARGET_ACCURACY), None)
        if reached is not None:
            to_target[name] = int(reached)
        last = next(row for row in reversed(history) if loss_key(name) in row)
        last_loss[name] = last[loss_key(name)]
        if noise_key(name) in last:
            noise[name] = last[noise_key(name)]
    return RaceNotice(to_target, best, last_loss, noise)
