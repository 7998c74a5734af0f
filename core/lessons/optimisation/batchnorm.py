"""Batch normalisation: one deep network on scikit-learn's digits trained twice, side by side and live, from the
same first weights on the same batches by plain SGD: as it is, and with a Keras `BatchNormalization` between every
Dense layer and its activation (the Dense then has no bias: the normalisation's β takes its place).

What the page shows of it, all measured: what each layer's activation function receives (its inputs' spread, layer
by layer, as training goes); the range of learning rates each network trains at (a sweep of short runs); and that a
normalised network behaves differently when it trains (each batch normalised by its own statistics) and when it
predicts (by moving averages of those statistics, which lag at first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.loop import MiniBatchLoop
from core.engine.pacing import speed_control, train_in_chunks
from core.engine.params import Control, ControlBox, fixed_values, live_rate, live_values
from core.lessons.optimisation.network import TRAIN_SIZE, Digits, digits
from core.shared.copies import advance_copies, named_rows, refuse_once_all_diverged, row_key, softmax_cross_entropy

RUN = "optimisation/batchnorm"
PLAIN, NORMALISED = "plain", "batch norm"
NETWORKS = (PLAIN, NORMALISED)
ACTIVATIONS = ("relu", "sigmoid", "tanh")
RATES = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
SWEEP_RATES = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
SWEEP_EPOCHS = 10
USABLE_ACCURACY = 0.9
"""A learning rate is usable if the network reaches this accuracy on the held-out digits in SWEEP_EPOCHS."""
GUESSING_ACCURACY = 0.2
"""At or below this held-out accuracy (a guess among ten digits scores 0.1) a network has learned nothing."""
BATCH_SIZE = 32
STEPS_PER_EPOCH = TRAIN_SIZE // BATCH_SIZE
PROBE_DIGITS = 256
"""The training digits whose pass through each network is measured (as one batch, in training mode)."""
HISTOGRAM_BINS = 40
SPEEDS = {"slow motion": 2.0, "steady": 8.0, "full speed": None}
MAX_CHUNK = 20
METRICS = ("loss", "val_loss", "val_accuracy", "val_accuracy_batch")
"""A copy's row after each epoch: training loss, held-out loss and accuracy (as it predicts: moving statistics),
and the held-out accuracy with the held-out digits normalised by their own statistics, as in training."""

CONTROLS = (
    Control("activation", "Activation", "select", "relu", options=ACTIVATIONS),
    Control("depth", "Hidden layers", "select", 8, options=(2, 4, 8, 12, 16)),
    Control("width", "Units per layer", "select", 64, options=(32, 64, 128)),
    live_rate("Learning rate (plain SGD, both networks)", 1.0, RATES),
    Control("epochs", "Epochs", "int", 20, min=1, max=300),
    Control("seed", "Random seed", "int", 0, min=0, max=9999),
    speed_control(SPEEDS),
)
BOX = ControlBox("batchnorm", "Network and learning rate", CONTROLS, flat=False)


def build_network(activation: str, depth: int, width: int, seed: int, normalised: bool):
    """The Keras network: `depth` hidden layers of Dense → (BatchNormalization) → activation, then 10 logits. It
    outputs the logits and, for every hidden layer, what its activation function receives."""
    from core.engine.backend import load_keras

    keras = load_keras()
    keras.utils.set_random_seed(seed)  # both networks draw the same kernels (normalisation draws nothing)
    inputs = keras.Input((64,))
    hidden, received = inputs, []
    for index in range(1, depth + 1):
        z = keras.layers.Dense(width, use_bias=not normalised, name=f"dense_{index}")(hidden)
        if normalised:
            z = keras.layers.BatchNormalization(name=f"norm_{index}")(z)
        received.append(z)
        hidden = keras.layers.Activation(activation, name=f"{activation}_{index}")(z)
    logits = keras.layers.Dense(10, name="logits")(hidden)
    return keras.Model(inputs, [logits, *received], name=NORMALISED.replace(" ", "_") if normalised else PLAIN)


class NetworkCopy(MiniBatchLoop):
    """One of the two networks, trained by SGD at the rate the run passes in. Its row after each epoch: METRICS."""

    def __init__(self, name: str, config: Mapping[str, Any], data: Digits):
        import jax
        import jax.numpy as jnp

        from core.engine.backend import load_keras

        keras = load_keras()
        seed = int(config["seed"])
        model = build_network(
            config["activation"], int(config["depth"]), int(config["width"]), seed, name == NORMALISED
        )
        optimizer = keras.optimizers.SGD()
        optimizer.build(model.trainable_variables)
        super().__init__(model, optimizer, data.x_train, data.y_train, BATCH_SIZE, seed, MAX_CHUNK, (len(METRICS),))
        self.name = name
        self.x_test, self.y_test = jnp.asarray(data.x_test), jnp.asarray(data.y_test)
        self._received = jax.jit(lambda trainable, non_trainable: self._outputs(trainable, non_trainable, True)[1])
        norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
        self.momentum = float(norms[0].momentum) if norms else None

    def _outputs(self, trainable, non_trainable, training: bool, x=None):
        outputs, non_trainable = self.model.stateless_call(
            trainable, non_trainable, self.x[:PROBE_DIGITS] if x is None else x, training=training
        )
        return outputs[0], outputs[1:], non_trainable

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        logits, _, non_trainable = self._outputs(trainable, non_trainable, True, x)
        return softmax_cross_entropy(logits, y), non_trainable

    def evaluate(self, trainable, non_trainable):
        import jax.numpy as jnp

        train_logits, _, _ = self._outputs(trainable, non_trainable, False, self.x)
        test_logits, _, _ = self._outputs(trainable, non_trainable, False, self.x_test)
        batch_logits, _, _ = self._outputs(trainable, non_trainable, True, self.x_test)
        return jnp.stack(
            [
                softmax_cross_entropy(train_logits, self.y),
                softmax_cross_entropy(test_logits, self.y_test),
                jnp.mean(jnp.argmax(test_logits, axis=1) == self.y_test),
                jnp.mean(jnp.argmax(batch_logits, axis=1) == self.y_test),
            ]
        )

    @property
    def steps(self) -> int:
        """Optimiser steps taken so far."""
        return int(self.state[2][self.step_slot])

    def received(self) -> np.ndarray:
        """(layers, PROBE_DIGITS, width): what each hidden layer's activation receives, on the first training digits
        as one batch in training mode (each normalised by that batch's statistics)."""
        return np.asarray(self._received(self.state[0], self.state[1]))


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 × 10^k at or above `value` (> 0): histogram ranges that do not jitter."""
    decade = 10.0 ** np.floor(np.log10(value))
    return float(next(step * decade for step in (1.0, 2.0, 5.0, 10.0) if step * decade >= value * (1 - 1e-9)))


@dataclass(frozen=True)
class LayerSpread:
    """How the inputs to each hidden layer's activation spread: shared bin edges, each layer's share per bin, and
    each layer's standard deviation."""

    edges: np.ndarray
    shares: np.ndarray
    std: np.ndarray


def layer_spread(received: np.ndarray) -> LayerSpread:
    """Histograms of (layers, examples, units) values over one symmetric range for all layers, wide enough for
    99 % of them (values beyond it count in the end bins)."""
    values = received.reshape(len(received), -1)
    reach = nice_ceiling(max(float(np.quantile(np.abs(values), 0.99)), 1e-6))
    edges = np.linspace(-reach, reach, HISTOGRAM_BINS + 1)
    index = np.clip(((values + reach) / (2 * reach) * HISTOGRAM_BINS).astype(int), 0, HISTOGRAM_BINS - 1)
    shares = np.stack([np.bincount(row, minlength=HISTOGRAM_BINS) / row.size for row in index])
    return LayerSpread(edges, shares, values.std(axis=1))


@dataclass(frozen=True)
class BatchNormSnapshot:
    epoch: int
    spreads: Mapping[str, LayerSpread]
    """Each network's latest measured spread (a network that diverged keeps its last finite one)."""
    diverged: Mapping[str, int]
    steps: int
    """Optimiser steps taken so far."""
    momentum: float
    """The normalisation's moving-average momentum (Keras' default)."""
    activation: str


@task_factory
def batchnorm_task(config: Mapping[str, Any]) -> TrainingTask:
    """The live run: the plain and the normalised network trained epoch for epoch, at the chosen rate and speed."""
    fixed, live = fixed_values(CONTROLS, config), live_values(CONTROLS, config)

    def train(ctx: TrainingContext):
        import jax.numpy as jnp

        data = digits(int(fixed["seed"]))
        copies = [NetworkCopy(name, fixed, data) for name in NETWORKS]
        diverged: dict[str, int] = {}
        spreads = {copy.name: layer_spread(copy.received()) for copy in copies}
        done = {"epochs": 0}

        def snapshot() -> BatchNormSnapshot:
            return BatchNormSnapshot(
                done["epochs"], dict(spreads), dict(diverged), copies[1].steps, copies[1].momentum, fixed["activation"]
            )

        ctx.replace_snapshot(snapshot())

        def step(n: int, values) -> list[dict[str, float]]:
            rate = jnp.float32(values["learning_rate"])
            training, results = advance_copies(copies, n, rate, diverged, done["epochs"])
            for copy in training:
                if copy.name not in diverged:
                    spreads[copy.name] = layer_spread(copy.received())
            done["epochs"] += n
            refuse_once_all_diverged(
                ctx,
                copies,
                diverged,
                snapshot,
                "Both networks' losses stopped being finite numbers (the first at epoch {first}), so the run ended: "
                "try a smaller learning rate.",
            )
            return named_rows(training, results, METRICS)

        train_in_chunks(ctx, step, snapshot, lambda values: SPEEDS[values["speed"]], MAX_CHUNK)

    return TrainingTask(run=RUN, config=fixed, train=train, epochs=int(fixed["epochs"]), live=live)


@dataclass(frozen=True)
class RateSweep:
    rates: tuple[float, ...]
    accuracy: Mapping[str, np.ndarray]
    """Each network's held-out accuracy after SWEEP_EPOCHS at each rate; NaN where its loss stopped being finite."""

    def usable(self, network: str) -> tuple[float, ...]:
        """The rates at which the network reached USABLE_ACCURACY."""
        return tuple(rate for rate, value in zip(self.rates, self.accuracy[network]) if value >= USABLE_ACCURACY)

    def diverged(self, network: str) -> tuple[float, ...]:
        return tuple(rate for rate, value in zip(self.rates, self.accuracy[network]) if np.isnan(value))


@lru_cache(maxsize=16)
def rate_sweep(activation: str, depth: int, width: int, seed: int) -> RateSweep:
    """Both networks trained SWEEP_EPOCHS at each of SWEEP_RATES, each time from the same first weights and on the
    same batches (each network's loop is compiled once; the rate is an argument of its call)."""
    import jax.numpy as jnp

    config = {"activation": activation, "depth": depth, "width": width, "seed": seed}
    data = digits(seed)
    accuracy = {}
    for name in NETWORKS:
        copy = NetworkCopy(name, config, data)
        start, found = copy.state, []
        for rate in SWEEP_RATES:
            copy.state = start
            final = copy.advance(SWEEP_EPOCHS, jnp.float32(rate))[-1]
            found.append(float(final[2]) if np.isfinite(final).all() else np.nan)
        accuracy[name] = np.asarray(found)
    return RateSweep(SWEEP_RATES, accuracy)


@dataclass(frozen=True)
class BatchNormNotice:
    final: dict[str, tuple[float, float]]
    """Each network's latest (training loss, held-out accuracy)."""
    learned_nothing: tuple[str, ...]
    """Networks whose held-out accuracy is still no better than GUESSING_ACCURACY."""
    first_epoch: tuple[float, float] | None
    """The normalised network's held-out accuracy after epoch 1: with moving statistics, with the batch's own."""
    spread: dict[str, tuple[float, float]]
    """Each network's standard deviation of what the first and the last hidden layer's activation receives."""


def batchnorm_notice(history: Sequence[Mapping[str, float]], shot: BatchNormSnapshot) -> BatchNormNotice:
    final = {}
    for name in NETWORKS:
        last = next((row for row in reversed(history) if row_key("loss", name) in row), None)
        if last is not None:
            final[name] = (last[row_key("loss", name)], last[row_key("val_accuracy", name)])
    nothing = tuple(name for name, (_, accuracy) in final.items() if accuracy <= GUESSING_ACCURACY)
    first = next((row for row in history if row["epoch"] == 1 and row_key("val_accuracy", NORMALISED) in row), None)
    first_epoch = (
        (first[row_key("val_accuracy", NORMALISED)], first[row_key("val_accuracy_batch", NORMALISED)])
        if first
        else None
    )
    spread = {name: (float(s.std[0]), float(s.std[-1])) for name, s in shot.spreads.items()}
    return BatchNormNotice(final, nothing, first_epoch, spread)
