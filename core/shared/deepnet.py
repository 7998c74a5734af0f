"""Deep fully connected networks measured layer by layer: the core that the weight-initialisation and
vanishing-gradient lessons share.

A `Race` trains K copies of one architecture that differ only in how their weights were initialised,
in lockstep on the same mini-batches: one jitted loop, `jax.vmap`ped over the copies, so a comparison
differs only in what the student chose. `Race.measure()` looks inside every copy: each hidden layer's
activations h, the gradient that flows back into it (∂L/∂h, Glorot & Bengio 2010, figures 6–7) and
the gradient its weights get (‖∂L/∂W‖), as numbers and as histograms. ∂L/∂h comes from a probe model
that shares the network's layers and adds a zero "tap" input after every hidden layer: the gradient of
the loss with respect to a tap is the gradient with respect to that layer's output.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from core.engine.jobs import RunRefused, TrainingContext, TrainingTask, thin_by_half
from core.engine.loop import MiniBatchLoop
from core.engine.pacing import train_in_chunks
from core.shared.points import PointSet, concentric_circles

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "gelu")

SCHEMES = {
    "zeros": "every weight 0",
    "small": "N(0, 0.01²)",
    "large": "N(0, 10²), the course's ×10",
    "LeCun normal": "truncated N(0, 1/fan_in)",
    "Glorot uniform": "U(−a, a), a = √(6/(fan_in + fan_out)); Keras' default",
    "Glorot normal": "truncated N(0, 2/(fan_in + fan_out))",
    "He normal": "truncated N(0, 2/fan_in)",
    "He uniform": "U(−a, a), a = √(6/fan_in)",
    "orthogonal": "a random orthogonal matrix (gain 1)",
}
"""Initialisation schemes a student can race, with what each draws. Biases always start at 0."""

_VARIANCE_SCALING = {
    "LeCun normal": (1.0, "fan_in", "truncated_normal"),
    "Glorot uniform": (1.0, "fan_avg", "uniform"),
    "Glorot normal": (1.0, "fan_avg", "truncated_normal"),
    "He normal": (2.0, "fan_in", "truncated_normal"),
    "He uniform": (2.0, "fan_in", "uniform"),
}

_NUMPY_STD = {
    "zeros": lambda fan_in, fan_out: 0.0,
    "small": lambda fan_in, fan_out: 0.01,
    "large": lambda fan_in, fan_out: 10.0,
    "LeCun normal": lambda fan_in, fan_out: math.sqrt(1 / fan_in),
    "Glorot normal": lambda fan_in, fan_out: math.sqrt(2 / (fan_in + fan_out)),
    "He normal": lambda fan_in, fan_out: math.sqrt(2 / fan_in),
}
"""The normal schemes as the course notebook draws them: a plain (untruncated) standard normal times
the scheme's standard deviation."""


def numpy_kernels(widths: Sequence[int], scheme: str, seed: int) -> list[np.ndarray] | None:
    """The course notebook's own draw: one `np.random.seed(seed)`, then `randn(n_l, n_l−1) × std` layer
    after layer (the output layer last), as Keras kernels (n_l−1, n_l). None for a scheme the notebook
    has no such draw for (uniform and orthogonal ones), which keeps its Keras initialiser."""
    if scheme not in _NUMPY_STD:
        return None
    rng = np.random.RandomState(int(seed))
    dims = (2, *widths, 1)
    return [
        (rng.randn(fan_out, fan_in) * _NUMPY_STD[scheme](fan_in, fan_out)).T.astype("float32")
        for fan_in, fan_out in zip(dims[:-1], dims[1:])
    ]


RESIDUAL_SCALE = 0.5**0.5
"""A residual layer outputs (h + f(Wh)) / √2: two parts of equal spread add to √2 times it, so without
the rescale the signal doubles its variance at every layer and a 20-layer ReLU network explodes."""

MAX_CHUNK = 256
HISTOGRAM_BINS = 40
SURFACE_SIZE = 50
SURFACE_EXTENT = 1.5
"""make_circles' points lie within about ±1.2; surfaces cover ±SURFACE_EXTENT."""
MEASURE_POINTS = 300
QUANTILE_SAMPLE = 20_000
HISTORY_LIMIT = 300
"""Measurements of every layer's gradient norm kept over a run (thinned by half when full)."""
DEEP_SPEEDS = {"slow motion": 5.0, "steady": 30.0, "full speed": None}
"""A deep network's live speeds, in epochs per second."""
MEASURE_EVERY_S = 0.3
"""A live run looks inside its networks at most this often (and whenever it pauses or ends)."""


@lru_cache(maxsize=16)
def circles(n_train: int = 300, n_test: int = 100, noise: float = 0.05, seed: int = 1) -> PointSet:
    """The course's data: two concentric circles (scikit-learn's `make_circles`, factor 0.8), training
    and test sets drawn separately as in the course notebook (seeds 1 and 2 there)."""
    x_train, y_train = concentric_circles(n_train, noise, seed)
    x_test, y_test = concentric_circles(n_test, noise, seed + 1)
    return PointSet(
        x_train.astype("float32"),
        y_train.astype("int32"),
        x_test.astype("float32"),
        y_test.astype("int32"),
        ("outer circle", "inner circle"),
        f"two circles, noise {noise:g}",
    )


def initializer(scheme: str, seed: int, gain: float = 1.0):
    """The Keras initializer for a scheme; `gain` multiplies the standard deviation of what it draws."""
    from core.engine.backend import load_keras

    keras = load_keras()
    if scheme == "zeros":
        return keras.initializers.Zeros()
    if scheme in ("small", "large"):
        return keras.initializers.RandomNormal(stddev=(0.01 if scheme == "small" else 10.0) * gain, seed=seed)
    if scheme == "orthogonal":
        return keras.initializers.Orthogonal(gain=gain, seed=seed)
    scale, mode, distribution = _VARIANCE_SCALING[scheme]
    return keras.initializers.VarianceScaling(scale=scale * gain**2, mode=mode, distribution=distribution, seed=seed)


@dataclass(frozen=True)
class Network:
    """A fully connected binary classifier on 2-D points: hidden layers of `widths`, each Dense →
    (BatchNormalization) → activation, (+ the layer's input, the sum × 1/√2, when `residual` and the widths match),
    then one Dense unit that outputs the logit."""

    widths: tuple[int, ...]
    activation: str = "relu"
    batch_norm: bool = False
    residual: bool = False

    @property
    def depth(self) -> int:
        return len(self.widths)


def build(network: Network, scheme: str, seed: int, gain: float = 1.0):
    """(model, probe) with shared layers: the model maps points to logits; the probe takes the points
    and one zero tap per hidden layer and returns every hidden layer's output and the logit."""
    from core.engine.backend import load_keras

    keras = load_keras()
    points = keras.Input((2,), name="points")
    taps = [keras.Input((width,), name=f"tap_{index}") for index, width in enumerate(network.widths, start=1)]
    plain, tapped, hidden = points, points, []
    for index, width in enumerate(network.widths, start=1):
        layers = [
            keras.layers.Dense(
                width, kernel_initializer=initializer(scheme, 1000 * seed + index, gain), name=f"dense_{index}"
            )
        ]
        if network.batch_norm:
            layers.append(keras.layers.BatchNormalization(name=f"norm_{index}"))
        layers.append(keras.layers.Activation(network.activation, name=f"{network.activation}_{index}"))
        skip = (
            keras.layers.Add(name=f"skip_{index}")
            if network.residual and index > 1 and network.widths[index - 2] == width
            else None
        )
        keep_size = keras.layers.Rescaling(RESIDUAL_SCALE, name=f"residual_scale_{index}") if skip else None
        outputs = []
        for tensor in (plain, tapped):
            out = tensor
            for layer in layers:
                out = layer(out)
            outputs.append(keep_size(skip([tensor, out])) if skip else out)
        plain = outputs[0]
        tapped = keras.layers.Add(name=f"tapped_{index}")([outputs[1], taps[index - 1]])
        hidden.append(tapped)
    logit_layer = keras.layers.Dense(1, kernel_initializer=initializer(scheme, 1000 * seed, gain), name="logit")
    model = keras.Model(points, logit_layer(plain), name="deep_network")
    probe = keras.Model([points, *taps], [*hidden, logit_layer(tapped)], name="probe")
    return model, probe


def mean_loss(labels, logits):
    """Binary cross-entropy from the logit (stable even when a huge initialisation saturates the output)."""
    import jax.numpy as jnp

    from core.engine.backend import load_keras

    keras = load_keras()
    return jnp.mean(keras.losses.binary_crossentropy(labels[:, None].astype(logits.dtype), logits, from_logits=True))


def _nice_ceiling(value):
    """The smallest of 1, 2, 5 × 10^k at or above `value` (> 0): histogram ranges that do not jitter."""
    import jax.numpy as jnp

    decade = 10.0 ** jnp.floor(jnp.log10(value))
    steps = jnp.array([1.0, 2.0, 5.0, 10.0])
    return decade * steps[jnp.argmax(steps * decade >= value * (1 - 1e-6))]


def _layer_statistics(hidden, back, kernel_grads):
    """Per-layer numbers and histograms of one network (runs inside jit, vmapped over the copies)."""
    import jax.numpy as jnp

    finite = lambda a: jnp.where(jnp.isfinite(a), a, 0.0)
    hidden = [finite(h).ravel() for h in hidden]
    back = [finite(g).ravel() for g in back]
    everything = jnp.concatenate(hidden)
    sample = everything[:: max(1, everything.size // QUANTILE_SAMPLE)]  # quantiles of a sample: sorting all is slow
    low, high = jnp.quantile(sample, 0.005), jnp.quantile(sample, 0.995)
    spread = jnp.maximum(jnp.abs(low), jnp.abs(high))
    reach = jnp.where(spread > 0, _nice_ceiling(jnp.maximum(spread, 1e-30)), 1.0)  # all zero: any range will do
    low = jnp.where(low >= 0, 0.0, -reach)
    activation_edges = jnp.linspace(low, reach, HISTOGRAM_BINS + 1)

    gradients = jnp.concatenate(back)
    magnitudes = jnp.log10(jnp.where(gradients != 0, jnp.abs(gradients), jnp.nan))[
        :: max(1, gradients.size // QUANTILE_SAMPLE)
    ]
    any_nonzero = jnp.any(jnp.isfinite(magnitudes))
    g_low = jnp.where(any_nonzero, jnp.floor(jnp.nanquantile(magnitudes, 0.005)), -12.0)
    g_high = jnp.where(any_nonzero, jnp.ceil(jnp.nanquantile(magnitudes, 0.995)), 0.0)
    g_high = jnp.maximum(g_high, g_low + 1)
    gradient_edges = jnp.linspace(g_low, g_high, HISTOGRAM_BINS + 1)

    def counts(values, edges, weights=None):
        """Share of the values in each of the equal bins (values beyond the range count in the end bins)."""
        index = jnp.clip(
            jnp.floor((values - edges[0]) / (edges[-1] - edges[0]) * HISTOGRAM_BINS), 0, HISTOGRAM_BINS - 1
        )
        ones = jnp.ones_like(values) if weights is None else weights
        return jnp.zeros(HISTOGRAM_BINS, values.dtype).at[index.astype("int32")].add(ones) / values.size

    def magnitude_counts(g):
        """Share of the gradients by decade of |g|; exact zeros are left out (counted apart)."""
        return counts(jnp.log10(jnp.where(g != 0, jnp.abs(g), 1.0)), gradient_edges, (g != 0).astype(g.dtype))

    return {
        "activation_mean": jnp.stack([jnp.mean(h) for h in hidden]),
        "activation_std": jnp.stack([jnp.std(h) for h in hidden]),
        "gradient_std": jnp.stack([jnp.std(g) for g in back]),
        "weight_gradient_norm": jnp.stack([jnp.linalg.norm(finite(g)) for g in kernel_grads]),
        "activation_edges": activation_edges,
        "activation_histogram": jnp.stack([counts(h, activation_edges) for h in hidden]),
        "gradient_edges": gradient_edges,
        "gradient_histogram": jnp.stack([magnitude_counts(g) for g in back]),
        "gradient_zero_share": jnp.stack([jnp.mean(g == 0) for g in back]),
    }


class Race(MiniBatchLoop):
    """K copies of one network, each initialised by its own scheme from the same seed, trained in
    lockstep on the same shuffled mini-batches by plain SGD (optionally with global-norm gradient
    clipping) on the shared jitted loop. `run(n, lr)` trains n epochs in one call; `measure()` looks
    inside every copy."""

    def __init__(
        self,
        data: PointSet,
        network: Network,
        schemes: Sequence[str],
        batch_size: int,
        seed: int,
        gain: float = 1.0,
        clipnorm: float | None = None,
    ):
        import jax
        import jax.numpy as jnp

        from core.engine.backend import load_keras

        keras = load_keras()
        self.data, self.network, self.schemes = data, network, tuple(schemes)
        pairs = [build(network, scheme, seed, gain) for scheme in self.schemes]
        model, probe = pairs[0]
        optimizer = keras.optimizers.SGD(learning_rate=0.01, global_clipnorm=clipnorm)
        optimizer.build(model.trainable_variables)
        super().__init__(
            model, optimizer, data.x_train, data.y_train, batch_size, seed, MAX_CHUNK, (len(self.schemes), 4), True
        )
        position = {id(v): i for i, v in enumerate(model.trainable_variables)}
        probe_order = [position[id(v)] for v in probe.trainable_variables]
        non_position = {id(v): i for i, v in enumerate(model.non_trainable_variables)}
        probe_non_order = [non_position[id(v)] for v in probe.non_trainable_variables]
        self.kernel_index = [i for i, v in enumerate(model.trainable_variables) if v.path.endswith("kernel")]
        kernel_index = self.kernel_index
        self.x_test, self.y_test = jnp.asarray(data.x_test), jnp.asarray(data.y_test)
        x_measure, y_measure = self.x[:MEASURE_POINTS], self.y[:MEASURE_POINTS]
        axis = np.linspace(-SURFACE_EXTENT, SURFACE_EXTENT, SURFACE_SIZE, dtype="float32")
        surface_points = jnp.asarray(np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2))
        self.surface_axis = axis
        widths = network.widths

        def inside(trainable, non_trainable):
            taps = [jnp.zeros((x_measure.shape[0], width)) for width in widths]
            probe_vars = [trainable[i] for i in probe_order]
            probe_non = [non_trainable[i] for i in probe_non_order]

            def loss_of(probe_vars, taps):
                outputs, _ = probe.stateless_call(probe_vars, probe_non, [x_measure, *taps], training=True)
                return mean_loss(y_measure, outputs[-1]), outputs[:-1]

            (_, hidden), (grads, back) = jax.value_and_grad(loss_of, argnums=(0, 1), has_aux=True)(probe_vars, taps)
            by_model_order = {index: grad for index, grad in zip(probe_order, grads)}
            return _layer_statistics(hidden, back, [by_model_order[i] for i in kernel_index])

        def surfaces(trainable, non_trainable):
            logits, _ = model.stateless_call(trainable, non_trainable, surface_points, training=False)
            return jax.nn.sigmoid(logits[:, 0]).reshape(SURFACE_SIZE, SURFACE_SIZE)

        self._measure = jax.jit(jax.vmap(inside))
        self._surfaces = jax.jit(jax.vmap(surfaces))
        self._evaluate = jax.jit(jax.vmap(self.evaluate))
        stack = lambda lists: [jnp.stack(values) for values in zip(*lists)]
        self.state = (
            stack([[v.value for v in m.trainable_variables] for m, _ in pairs]),
            stack([[v.value for v in m.non_trainable_variables] for m, _ in pairs]),
            stack([[v.value for v in optimizer.variables] for _ in pairs]),
            self.state[3],
        )
        self.epoch = 0
        self.initial = np.asarray(self._evaluate(self.state[0], self.state[1]))
        """(K, 4): train loss, train accuracy, test loss, test accuracy before any training."""
        self.diverged_at: dict[str, int] = {}
        self.gradient_history: list[tuple[int, np.ndarray]] = []

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        logits, non_trainable = self.model.stateless_call(trainable, non_trainable, x, training=True)
        return mean_loss(y, logits), non_trainable

    def evaluate(self, trainable, non_trainable):
        """Train loss and accuracy, then test loss and accuracy (of one copy)."""
        import jax.numpy as jnp

        row = []
        for x, y in ((self.x, self.y), (self.x_test, self.y_test)):
            logits, _ = self.model.stateless_call(trainable, non_trainable, x, training=False)
            row += [mean_loss(y, logits), jnp.mean((logits[:, 0] > 0) == (y == 1))]
        return jnp.stack(row)

    def run(self, n_epochs: int, learning_rate: float) -> np.ndarray:
        """Train `n_epochs` (≤ MAX_CHUNK) more epochs; (n, K, 4) rows of train loss, train accuracy,
        test loss and test accuracy per copy. A copy whose loss stops being finite is noted in
        `diverged_at` (its numbers are NaN from then on; the others race on)."""
        rows = self.advance(n_epochs, np.float32(learning_rate))
        for k, scheme in enumerate(self.schemes):
            bad = np.flatnonzero(~np.isfinite(rows[:, k, 0]) | ~np.isfinite(rows[:, k, 2]))
            if bad.size and scheme not in self.diverged_at:
                self.diverged_at[scheme] = self.epoch + int(bad[0]) + 1
        self.epoch += n_epochs
        return rows

    def measure(self) -> dict[str, np.ndarray]:
        """Inside every copy now, on the first MEASURE_POINTS training points (in training mode):
        per hidden layer (K, L) the mean and standard deviation of its output h and of ∂L/∂h, and
        histograms of h and of log10|∂L/∂h| with their edges; per Dense layer (K, L + 1) ‖∂L/∂W‖.
        Also appends the gradient norms to `gradient_history`."""
        stats = {name: np.asarray(value) for name, value in self._measure(self.state[0], self.state[1]).items()}
        self.gradient_history.append((self.epoch, stats["weight_gradient_norm"]))
        if len(self.gradient_history) > HISTORY_LIMIT:
            self.gradient_history = thin_by_half(self.gradient_history)
        return stats

    def surfaces(self) -> np.ndarray:
        """(K, SURFACE_SIZE, SURFACE_SIZE): each copy's P(inner circle) over the plane, rows from the bottom."""
        return np.asarray(self._surfaces(self.state[0], self.state[1]))

    def start_from(self, copy: int, kernels: Sequence[np.ndarray]) -> None:
        """Replace one copy's starting kernels (before any training; biases stay 0), e.g. with the
        course notebook's NumPy draw, and re-evaluate where it starts."""
        import jax.numpy as jnp

        if self.epoch:
            raise RuntimeError("start_from is for a race that has not trained yet")
        trainable = list(self.state[0])
        for index, kernel in zip(self.kernel_index, kernels, strict=True):
            trainable[index] = trainable[index].at[copy].set(jnp.asarray(kernel, dtype=trainable[index].dtype))
        self.state = (trainable, *self.state[1:])
        self.initial = np.asarray(self._evaluate(self.state[0], self.state[1]))

    def weights(self, copy: int) -> list[np.ndarray]:
        """The trainable values of one copy, in the Keras model's order."""
        return [np.asarray(values[copy]) for values in self.state[0]]

    def distinct_units(self) -> np.ndarray:
        """(K, L): in each hidden layer, how many units differ from one another (incoming weights and
        bias, to 6 decimals). Units that start identical get identical gradients and stay identical:
        with all-zero weights every layer has 1, whatever its width."""
        trainable = [np.asarray(values) for values in self.state[0]]
        variables = self.model.trainable_variables
        counts = np.zeros((len(self.schemes), self.network.depth), dtype=int)
        for layer in range(1, self.network.depth + 1):
            kernel = next(i for i, v in enumerate(variables) if v.path == f"dense_{layer}/kernel")
            bias = next(i for i, v in enumerate(variables) if v.path == f"dense_{layer}/bias")
            for k in range(len(self.schemes)):
                units = np.concatenate([trainable[kernel][k].T, trainable[bias][k][:, None]], axis=1)
                counts[k, layer - 1] = len(np.unique(np.round(units, 6), axis=0))
        return counts


def race_metrics(schemes: Sequence[str], row: np.ndarray) -> dict[str, float]:
    """One epoch's row of the live curves: '<scheme>: <metric>' for every copy whose numbers are finite
    (a copy that diverged drops out of the curves; the race goes on)."""
    metrics = {}
    for scheme, values in zip(schemes, row):
        if np.all(np.isfinite(values)):
            metrics.update({f"{scheme}: {name}": float(v) for name, v in zip(METRICS, values)})
    return metrics


METRICS = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")


@dataclass(frozen=True)
class RaceSnapshot:
    """Everything a page draws of a race, as plain data."""

    epoch: int
    schemes: tuple[str, ...]
    data: PointSet
    network: Network
    surface_axis: np.ndarray
    surfaces: np.ndarray
    """(K, SURFACE_SIZE, SURFACE_SIZE): each copy's P(inner circle) over the plane."""
    stats: dict[str, np.ndarray]
    """The last look inside (`Race.measure`): per copy and layer, activations' and gradients' statistics."""
    gradient_history: list[tuple[int, np.ndarray]]
    diverged_at: dict[str, int]
    distinct_units: np.ndarray
    initial: np.ndarray
    """(K, 4): train loss, train accuracy, test loss, test accuracy before any training."""


def race_snapshot(race: Race, stats: Mapping[str, np.ndarray]) -> RaceSnapshot:
    return RaceSnapshot(
        epoch=race.epoch,
        schemes=race.schemes,
        data=race.data,
        network=race.network,
        surface_axis=race.surface_axis,
        surfaces=race.surfaces(),
        stats=dict(stats),
        gradient_history=list(race.gradient_history),
        diverged_at=dict(race.diverged_at),
        distinct_units=race.distinct_units(),
        initial=race.initial,
    )


def race_task(
    run: str,
    config: Mapping[str, Any],
    make_race: Callable[[], Race],
    epochs: int,
    live: Mapping[str, Any],
    learning_rate: Callable[[Mapping[str, Any]], float],
    speed: Callable[[Mapping[str, Any]], float | None],
) -> TrainingTask:
    """A live run of the race `make_race()` builds (in the job's thread): `config` keys the run,
    `live` holds the hyperparameters that may change mid-run, read through `learning_rate(live)`
    and `speed(live)`. It looks inside the networks at most every MEASURE_EVERY_S."""

    def train(ctx: TrainingContext):
        race = make_race()
        measured = {"at": time.perf_counter(), "stats": race.measure()}
        ctx.replace_snapshot(race_snapshot(race, measured["stats"]))  # the networks as initialised

        def snapshot():
            if ctx.pause_pending or race.epoch >= ctx.epochs or time.perf_counter() - measured["at"] >= MEASURE_EVERY_S:
                measured.update(at=time.perf_counter(), stats=race.measure())
            return race_snapshot(race, measured["stats"])

        def step(n: int, values) -> list[dict[str, float]]:
            rows = [race_metrics(race.schemes, row) for row in race.run(n, learning_rate(values))]
            if len(race.diverged_at) == len(race.schemes):  # nothing left to train: free the slot
                ctx.replace_snapshot(race_snapshot(race, measured["stats"]))
                first = min(race.diverged_at.values())
                raise RunRefused(
                    f"The loss stopped being a finite number at epoch {first} for every network, so the "
                    "run ended: try a smaller learning rate or a smaller weight scale."
                )
            return rows

        train_in_chunks(ctx, step, snapshot, speed, MAX_CHUNK)
        return {"diverged_at": dict(race.diverged_at)}

    return TrainingTask(run=run, config=dict(config), train=train, epochs=int(epochs), live=dict(live))
