"""Hyperparameter search: grid search against random search with the same budget (Bergstra & Bengio, 2012), as one
live run of many short trials on scikit-learn's digits, each trial published as it finishes.

Every hyperparameter is a position u in [0, 1] on its own scale: the learning rate log-uniform in 1e-4…1e-1, the
batch size and the hidden units powers of two in 16…256 (log-uniform, rounded), the dropout rate uniform in 0…0.5. A
grid puts two positions on each (the centres of two equal cells) and tries all 2⁴ = 16 combinations; random search
draws 16 positions uniformly, so it tries 16 distinct learning rates and dropout rates where the grid tries 2. When
one hyperparameter matters most (here the learning rate), that is what random search gains.

Each trial builds and compiles its own network (most of its second or two); the training itself takes a few
hundredths of a second.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.loop import MiniBatchLoop
from core.engine.params import Control, ControlBox, fixed_values, live_values
from core.lessons.optimisation.network import Digits, digits
from core.shared.copies import softmax_cross_entropy

RUN = "optimisation/search"
GRID, RANDOM = "grid", "random"
STRATEGIES = (GRID, RANDOM)
LEARNING_RATE, BATCH_SIZE, DROPOUT, WIDTH = "learning rate", "batch size", "dropout", "hidden units"
HYPERPARAMETERS = (LEARNING_RATE, BATCH_SIZE, DROPOUT, WIDTH)
LEVELS = 2
"""The values of each hyperparameter the grid tries."""
TRIALS = LEVELS**4
"""Trials per strategy: the grid's every combination, and as many random draws."""
ACCURACY, LOSS, SECONDS = "held-out accuracy", "held-out loss", "seconds"
MAX_EPOCHS = 40
MIN_TRIALS_FOR_CORRELATION = 8
"""Fewer trials than this say too little to rank the hyperparameters by."""

CONTROLS = (
    Control("strategies", "Strategies", "multi", STRATEGIES, options=STRATEGIES, min=1, max_items=2),
    Control("trial_epochs", "Epochs per trial", "select", 10, options=(5, 10, 20, MAX_EPOCHS)),
    Control(
        "seed", "Random seed", "int", 0, min=0, max=9999, help="Draws the random trials, the weights, the batches."
    ),
)
BOX = ControlBox("search", "Search", CONTROLS, flat=False)


def hyperparameters(u: Sequence[float]) -> dict[str, float]:
    """The hyperparameters at positions u (each in [0, 1]) on their scales."""
    rate, batch, dropout, width = (float(value) for value in u)
    return {
        LEARNING_RATE: 10.0 ** (-4 + 3 * rate),
        BATCH_SIZE: float(2 ** round(4 + 4 * batch)),
        DROPOUT: 0.5 * dropout,
        WIDTH: float(2 ** round(4 + 4 * width)),
    }


def grid_positions(levels: int) -> np.ndarray:
    """(levels⁴, 4): every combination of the centres of `levels` equal cells on each scale."""
    centres = (np.arange(levels) + 0.5) / levels
    return np.asarray(list(itertools.product(centres, repeat=len(HYPERPARAMETERS))))


def random_positions(trials: int, seed: int) -> np.ndarray:
    """(trials, 4): positions drawn uniformly, so the learning rate and hidden units are log-uniform."""
    return np.random.default_rng(seed).uniform(size=(trials, len(HYPERPARAMETERS)))


def trial_plan(strategies: Sequence[str], seed: int) -> list[tuple[str, dict[str, float]]]:
    """The trials in the order they run: the strategies take turns, so both are as far along at any moment (the
    grid's in a shuffled order, so that its first trials are not all at the smallest learning rate)."""
    plans = {
        GRID: [hyperparameters(u) for u in np.random.default_rng(seed).permutation(grid_positions(LEVELS))],
        RANDOM: [hyperparameters(u) for u in random_positions(TRIALS, seed)],
    }
    chosen = [strategy for strategy in STRATEGIES if strategy in strategies]
    return [(strategy, plans[strategy][index]) for index in range(TRIALS) for strategy in chosen]


class Trial(MiniBatchLoop):
    """One trial: an MLP (64 pixels → hidden ReLU units → dropout → 10 digits) trained by Adam. Its row after each
    epoch: held-out loss and accuracy."""

    def __init__(self, settings: Mapping[str, float], data: Digits, seed: int, epochs: int):
        import jax.numpy as jnp

        from core.engine.backend import load_keras

        keras = load_keras()
        keras.utils.set_random_seed(seed)
        model = keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(int(settings[WIDTH]), activation="relu"),
                keras.layers.Dropout(settings[DROPOUT]),
                keras.layers.Dense(10),
            ]
        )
        optimizer = keras.optimizers.Adam()
        optimizer.build(model.trainable_variables)
        super().__init__(model, optimizer, data.x_train, data.y_train, int(settings[BATCH_SIZE]), seed, epochs, (2,))
        self.x_test, self.y_test = jnp.asarray(data.x_test), jnp.asarray(data.y_test)

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        logits, non_trainable = self.model.stateless_call(trainable, non_trainable, x, training=True)
        return softmax_cross_entropy(logits, y), non_trainable

    def evaluate(self, trainable, non_trainable):
        import jax.numpy as jnp

        logits, _ = self.model.stateless_call(trainable, non_trainable, self.x_test, training=False)
        return jnp.stack([softmax_cross_entropy(logits, self.y_test), jnp.mean(jnp.argmax(logits, 1) == self.y_test)])


def run_trial(settings: Mapping[str, float], data: Digits, seed: int, epochs: int) -> dict[str, float]:
    """Train one trial; its row: the settings, its held-out accuracy after the last epoch, its held-out loss (left
    out if it stopped being finite: the trial diverged) and its seconds."""
    import jax.numpy as jnp

    started = time.perf_counter()
    trial = Trial(settings, data, seed, epochs)
    loss, accuracy = trial.advance(epochs, jnp.float32(settings[LEARNING_RATE]))[-1]
    row = {**settings, ACCURACY: float(accuracy) if math.isfinite(loss) else 0.0}
    if math.isfinite(loss):
        row[LOSS] = float(loss)
    return row | {SECONDS: time.perf_counter() - started}


def strategy_key(strategy: str) -> str:
    return f"is {strategy}"


@task_factory
def search_task(config: Mapping[str, Any]) -> TrainingTask:
    """The live run: one row a trial, in `trial_plan`'s order; its 'is grid' (1 or 0) says which strategy ran it."""
    fixed = fixed_values(CONTROLS, config)
    plan = trial_plan(fixed["strategies"], int(fixed["seed"]))

    def train(ctx: TrainingContext):
        data = digits(int(fixed["seed"]))
        for index, (strategy, settings) in enumerate(plan):
            ctx.checkpoint()
            ctx.progress(index, len(plan))
            row = run_trial(settings, data, int(fixed["seed"]), int(fixed["trial_epochs"]))
            ctx.publish(row | {strategy_key(GRID): float(strategy == GRID)}, snapshot=tuple(fixed["strategies"]))

    return TrainingTask(
        run=RUN, config=fixed, train=train, epochs=len(plan), live=live_values(CONTROLS, config), unit="trial"
    )


def strategy_of(row: Mapping[str, float]) -> str:
    return GRID if row[strategy_key(GRID)] else RANDOM


@dataclass(frozen=True)
class SearchNotice:
    best: dict[str, Mapping[str, float]]
    """Each strategy's best trial so far."""
    distinct: dict[str, dict[str, int]]
    """How many distinct values of each hyperparameter each strategy has tried."""
    diverged: dict[str, int]
    """How many trials of each strategy diverged."""
    rank_correlation: dict[str, float]
    """Over every finished trial: the rank correlation of held-out accuracy with each hyperparameter."""


def rank_correlation(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's ρ (ties given their mean rank); 0 where either side does not vary."""
    from scipy.stats import spearmanr

    if len(set(a)) < 2 or len(set(b)) < 2:
        return 0.0
    return float(spearmanr(a, b).statistic)


def search_notice(history: Sequence[Mapping[str, float]]) -> SearchNotice:
    best, distinct, diverged = {}, {}, {}
    for strategy in STRATEGIES:
        rows = [row for row in history if strategy_of(row) == strategy]
        if not rows:
            continue
        best[strategy] = max(rows, key=lambda row: row[ACCURACY])
        distinct[strategy] = {name: len({row[name] for row in rows}) for name in HYPERPARAMETERS}
        diverged[strategy] = sum(LOSS not in row for row in rows)
    accuracies = [row[ACCURACY] for row in history]
    correlation = {name: rank_correlation([row[name] for row in history], accuracies) for name in HYPERPARAMETERS}
    return SearchNotice(best, distinct, diverged, correlation)
