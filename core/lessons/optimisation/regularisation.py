"""Overfitting and what stops it: one network big enough to memorise a small, noisy training set, trained as
several copies side by side, live: with nothing, with an L2 penalty (weight decay), with dropout, and with early
stopping (each copy keeps the weights of its best epoch on the held-out points; early stopping ends its copy
`patience` epochs after the best one and shows those weights).

Every copy starts from the same weights and meets the same batches; each is a `MiniBatchLoop` whose state also
carries its best epoch so far (its weights, held-out loss and epoch), updated inside the jitted epoch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from core.engine.jobs import RunRefused, TrainingContext, TrainingTask, task_factory
from core.engine.loop import MiniBatchLoop
from core.engine.pacing import speed_control, train_in_chunks
from core.engine.params import Control, ControlBox, fixed_values, live_values
from core.shared.points import PointSet, half_moons, surface_grid

RUN = "optimisation/regularisation"
NONE, L2, DROPOUT, EARLY = "no regularisation", "L2 penalty", "dropout", "early stopping"
REMEDIES = (NONE, L2, DROPOUT, EARLY)
SPEEDS = {"slow motion": 10.0, "steady": 60.0, "full speed": None}
MAX_CHUNK = 50
METRICS = ("loss", "val_loss", "accuracy", "val_accuracy")

CONTROLS = (
    Control("remedies", "Copies", "multi", REMEDIES, options=REMEDIES, min=1, max_items=len(REMEDIES)),
    Control("l2", "L2 strength λ", "select", 0.003, options=(0.0003, 0.001, 0.003, 0.01, 0.03), live=True),
    Control("dropout", "Dropout rate", "select", 0.3, options=(0.1, 0.2, 0.3, 0.5)),
    Control("patience", "Early-stopping patience (epochs)", "int", 30, min=1, max=200),
    Control("noise", "Noise in the data", "select", 0.35, options=(0.2, 0.3, 0.35, 0.45)),
    Control("n_train", "Training points", "select", 60, options=(30, 60, 120, 400)),
    Control("hidden", "Hidden units (two layers)", "select", 128, options=(32, 64, 128, 256)),
    Control("epochs", "Epochs", "int", 400, min=10, max=2000),
    Control("seed", "Random seed", "int", 0, min=0, max=9999),
    speed_control(SPEEDS),
)
BOX = ControlBox("overfit", "Data, network and remedies", CONTROLS, flat=False)
LEARNING_RATE = 0.01
BATCH_SIZE = 16
N_TEST = 500


@lru_cache(maxsize=8)
def moons(noise: float, n_train: int, seed: int) -> PointSet:
    """Two noisy half-moons (generated): a few training points, N_TEST held out from the same distribution."""
    x, y = half_moons(n_train + N_TEST, noise, seed)
    x = ((x - x.mean(axis=0)) / x.std(axis=0)).astype("float32")
    y = y.astype("float32")
    description = f"{n_train} training points, {N_TEST} held out, noise {noise:g}"
    return PointSet(x[:n_train], y[:n_train], x[n_train:], y[n_train:], ("class 0", "class 1"), description)


class RemedyCopy(MiniBatchLoop):
    """One copy of the network under one remedy. Its row after each epoch: METRICS. Its state also carries its
    best epoch so far on the held-out points: (weights, held-out loss, epoch)."""

    def __init__(self, remedy: str, config: Mapping[str, Any], data: PointSet):
        import jax.numpy as jnp

        from core.engine.backend import load_keras

        keras = load_keras()
        keras.utils.set_random_seed(int(config["seed"]))  # every copy starts from the same weights
        dropout = float(config["dropout"]) if remedy == DROPOUT else 0.0
        layers = [keras.Input((2,))]
        for _ in range(2):
            layers.append(keras.layers.Dense(int(config["hidden"]), activation="relu"))
            if dropout:
                layers.append(keras.layers.Dropout(dropout))
        layers.append(keras.layers.Dense(1))
        model = keras.Sequential(layers)
        optimizer = keras.optimizers.Adam(LEARNING_RATE)
        optimizer.build(model.trainable_variables)
        super().__init__(
            model,
            optimizer,
            data.x_train,
            data.y_train,
            BATCH_SIZE,
            int(config["seed"]),
            MAX_CHUNK,
            (len(METRICS) + 1,),
        )
        self.remedy = remedy
        self.patience = int(config["patience"]) if remedy == EARLY else None
        self.x_test, self.y_test = jnp.asarray(data.x_test), jnp.asarray(data.y_test)
        self.kernels = [i for i, v in enumerate(model.trainable_variables) if v.path.endswith("kernel")]
        trainable = self.state[0]
        self.state = (self.state, (list(trainable), jnp.float32(jnp.inf), jnp.int32(0), jnp.int32(0)))

    def _logits(self, trainable, non_trainable, x, training: bool):
        logits, non_trainable = self.model.stateless_call(trainable, non_trainable, x, training=training)
        return logits[:, 0], non_trainable

    def penalty(self, trainable, strength):
        """L2 on the kernels: λ Σ w² (the L2 copy only)."""
        import jax.numpy as jnp

        if self.remedy != L2:
            return 0.0
        return strength * sum(jnp.sum(trainable[i] ** 2) for i in self.kernels)

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        logits, non_trainable = self._logits(trainable, non_trainable, x, training=True)
        return cross_entropy(logits, y) + self.penalty(trainable, hyper[1]), non_trainable

    def learning_rate(self, hyper):
        return hyper[0]

    def evaluate(self, trainable, non_trainable):
        import jax.numpy as jnp

        row = []
        for x, y in ((self.x, self.y), (self.x_test, self.y_test)):
            logits, _ = self._logits(trainable, non_trainable, x, training=False)
            row += [cross_entropy(logits, y), jnp.mean((logits > 0) == (y == 1))]
        train_loss, train_accuracy, test_loss, test_accuracy = row
        return jnp.stack([train_loss, test_loss, train_accuracy, test_accuracy])

    def iterate(self, state, hyper, variant):
        """An epoch, then the best epoch so far updated if this one did better on the held-out points. With a
        patience, once that many epochs have passed without a better one the copy stops: its state stays, and
        its rows say so (their last number, 1)."""
        import jax
        import jax.numpy as jnp

        def keep(condition, new, old):
            return jax.tree_util.tree_map(lambda a, b: jnp.where(condition, a, b), new, old)

        inner, (best, best_loss, best_epoch, epoch) = state
        stopped = jnp.bool_(False) if self.patience is None else epoch - best_epoch >= self.patience
        trained, row = MiniBatchLoop.iterate(self, inner, hyper, variant)
        inner = keep(stopped, inner, trained)
        better = ~stopped & (row[1] < best_loss)
        best = keep(better, list(trained[0]), best)
        best_loss = jnp.where(better, row[1], best_loss)
        best_epoch = jnp.where(better, epoch + 1, best_epoch)
        epoch = jnp.where(stopped, epoch, epoch + 1)
        return (inner, (best, best_loss, best_epoch, epoch)), jnp.append(row, stopped.astype(row.dtype))

    @property
    def best_epoch(self) -> int:
        return int(self.state[1][2])

    def _weights_logits(self, points, best: bool):
        inner, (best_weights, *_) = self.state
        logits, _ = self._logits(best_weights if best else inner[0], inner[1], points, training=False)
        return logits

    def probabilities(self, points: np.ndarray, best: bool = False) -> np.ndarray:
        """P(class 1) at `points`, with the current weights or the best epoch's."""
        import jax

        return np.asarray(jax.nn.sigmoid(self._weights_logits(points, best)))

    def held_out_loss(self, best: bool = False) -> float:
        """The loss on the held-out points, with the current weights or the best epoch's."""
        return float(cross_entropy(self._weights_logits(self.x_test, best), self.y_test))


def cross_entropy(logits, y):
    import jax.numpy as jnp
    from jax.nn import log_sigmoid

    return -jnp.mean(y * log_sigmoid(logits) + (1 - y) * log_sigmoid(-logits))


def key(metric: str, remedy: str) -> str:
    return f"{metric} · {remedy}"


@dataclass(frozen=True)
class RemedySnapshot:
    epoch: int
    remedies: tuple[str, ...]
    axis: np.ndarray
    surfaces: Mapping[str, np.ndarray]
    """Each copy's P(class 1) over the plane (rows: y); early stopping's with its best epoch's weights."""
    best_epochs: Mapping[str, int]
    stopped_at: int | None
    """The epoch early stopping ended its copy (None: not yet, or not chosen)."""
    data: tuple[float, int, int]
    """The arguments of `moons` for the run's data (noise, training points, seed)."""


@task_factory
def remedies_task(config: Mapping[str, Any]) -> TrainingTask:
    fixed, live = fixed_values(CONTROLS, config), live_values(CONTROLS, config)
    chosen = tuple(remedy for remedy in REMEDIES if remedy in fixed["remedies"])

    def train(ctx: TrainingContext):
        import jax.numpy as jnp

        data_args = (float(fixed["noise"]), int(fixed["n_train"]), int(fixed["seed"]))
        data = moons(*data_args)
        copies = [RemedyCopy(remedy, fixed, data) for remedy in chosen]
        axis, grid = surface_grid()
        state = {"epochs": 0, "stopped_at": None}

        def snapshot() -> RemedySnapshot:
            size = len(axis)
            surfaces = {
                copy.remedy: copy.probabilities(grid, best=copy.remedy == EARLY).reshape(size, size) for copy in copies
            }
            best = {copy.remedy: copy.best_epoch for copy in copies}
            return RemedySnapshot(state["epochs"], chosen, axis, surfaces, best, state["stopped_at"], data_args)

        ctx.replace_snapshot(snapshot())

        def step(n: int, values) -> list[dict[str, float]]:
            hyper = jnp.asarray([LEARNING_RATE, float(values["l2"])], "float32")
            results = {copy.remedy: copy.advance(n, hyper) for copy in copies}
            if not all(np.isfinite(result).all() for result in results.values()):
                raise RunRefused("A loss stopped being a finite number: try a smaller L2 strength.")
            rows = []
            for offset in range(n):
                row = {}
                for remedy, result in results.items():
                    *numbers, stopped = result[offset]
                    if stopped:
                        state["stopped_at"] = state["stopped_at"] or state["epochs"] + offset
                        continue
                    row.update({key(metric, remedy): float(value) for metric, value in zip(METRICS, numbers)})
                rows.append(row)
            state["epochs"] += n
            return rows

        train_in_chunks(ctx, step, snapshot, lambda values: SPEEDS[values["speed"]], MAX_CHUNK)

    return TrainingTask(run=RUN, config=fixed, train=train, epochs=int(fixed["epochs"]), live=live)


@dataclass(frozen=True)
class RemedyNotice:
    final: dict[str, tuple[float, float]]
    """Each copy's (training, held-out) loss: its latest, or early stopping's at the epoch it keeps."""
    best: dict[str, tuple[int, float]]
    """Each copy's best held-out epoch and loss."""
    lowest: str | None
    """The copy whose latest held-out loss is lowest (early stopping counted at its kept epoch)."""


def remedy_notice(history, remedies) -> RemedyNotice:
    final, best = {}, {}
    for remedy in remedies:
        rows = [row for row in history if key("val_loss", remedy) in row]
        if not rows:
            continue
        kept = min(rows, key=lambda row: row[key("val_loss", remedy)])
        best[remedy] = (int(kept["epoch"]), kept[key("val_loss", remedy)])
        shown = kept if remedy == EARLY else rows[-1]
        final[remedy] = (shown[key("loss", remedy)], shown[key("val_loss", remedy)])
    standing = {remedy: held_out for remedy, (_, held_out) in final.items()}
    return RemedyNotice(final, best, min(standing, key=standing.get) if standing else None)
