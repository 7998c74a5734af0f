"""Face verification's method on digits: an embedding network trained live with the triplet loss (FaceNet, Schroff et
al., 2015), tested on digits of classes it never saw, as face verification is tested on people it never saw.

The network maps a picture to EMBEDDING numbers of length 1. The triplet loss asks an anchor to be closer to a
positive (same class) than to a negative (another class) by a margin: max(‖a − p‖² − ‖a − n‖² + MARGIN, 0). Two
copies train side by side on the same batches from the same start: one averages the loss over every triplet in the
batch, as random triplets do in expectation; the other picks for each anchor and positive a semi-hard negative (the
closest negative still farther than the positive; where there is none, the farthest negative), as FaceNet does. Most
random triplets are already satisfied and give no gradient; the share of triplets still active is measured each epoch.

Each epoch's row per copy: the loss it trains on, the share of its triplets with a loss over 0, and on held-out digits
of TEST_CLASSES, for every pair, the verification accuracy at the best threshold (balanced: the mean of the two kinds
of pair's accuracies) and the ROC curve's area; and the ROC area on held-out digits of the classes it trains on (new
digits of known classes), for comparison.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.loop import MiniBatchLoop
from core.engine.pacing import speed_control, train_in_chunks
from core.engine.params import Control, ControlBox, fixed_values, live_rate, live_values
from core.shared import imagedata
from core.shared.copies import row_key

RUN = "vision_applications/triplet"
ALL, SEMI_HARD = "every triplet", "semi-hard negatives"
STRATEGIES = (ALL, SEMI_HARD)
TRAIN_CLASSES, TEST_CLASSES = tuple(range(7)), (7, 8, 9)
EMBEDDING = 16
MARGIN = 0.2
BATCH_SIZE = 64
TEST_DIGITS = 300
SPEEDS = {"slow motion": 0.5, "steady": 2.0, "full speed": None}
METRICS = ("loss", "active", "val_accuracy", "val_auc", "seen_auc")

CONTROLS = (
    Control("epochs", "Epochs", "int", 15, min=1, max=200),
    Control("seed", "Seed", "int", 0, min=0, max=9999),
    live_rate("Learning rate (Adam, both)", 0.002, (0.0005, 0.001, 0.002, 0.005)),
    speed_control(SPEEDS),
)
BOX = ControlBox("triplet", "Training", CONTROLS, flat=False)


@dataclass(frozen=True)
class VerificationData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    """TEST_DIGITS held-out digits of TEST_CLASSES: classes the network never trains on."""
    y_test: np.ndarray
    x_seen: np.ndarray
    """TEST_DIGITS held-out digits of TRAIN_CLASSES: new digits of the classes it trains on."""
    y_seen: np.ndarray


def verification_data() -> VerificationData:
    data = imagedata.load(imagedata.MNIST_SAMPLE)
    train = np.isin(data.y_train, TRAIN_CLASSES)
    test = np.flatnonzero(np.isin(data.y_test, TEST_CLASSES))[:TEST_DIGITS]
    seen = np.flatnonzero(np.isin(data.y_test, TRAIN_CLASSES))[:TEST_DIGITS]
    return VerificationData(
        data.x_train[train],
        data.y_train[train],
        data.x_test[test],
        data.y_test[test],
        data.x_test[seen],
        data.y_test[seen],
    )


def build_network(seed: int):
    """Three strided convolutions, average pooling, EMBEDDING numbers scaled to length 1."""
    from core.engine.backend import load_keras

    keras = load_keras()
    layers = keras.layers
    keras.utils.set_random_seed(int(seed))
    image = keras.Input((28, 28, 1), name="digit")
    h = image
    for index, channels in enumerate((16, 32, 64), start=1):
        h = layers.Conv2D(channels, 3, strides=2, padding="same", activation="relu", name=f"conv{index}")(h)
    h = layers.GlobalAveragePooling2D()(h)
    h = layers.Dense(EMBEDDING, name="embedding")(h)
    return keras.Model(image, layers.UnitNormalization(name="unit_length")(h), name="embedder")


def squared_distances(embeddings):
    """‖eᵢ − eⱼ‖² for every pair (traced or NumPy), never below 0."""
    import jax.numpy as jnp

    norms = jnp.sum(embeddings**2, axis=1)
    return jnp.maximum(norms[:, None] - 2 * embeddings @ embeddings.T + norms[None, :], 0.0)


def all_triplet_loss(embeddings, labels, margin: float = MARGIN):
    """The mean loss over every (anchor, positive, negative) of the batch, and the share of them over 0."""
    import jax.numpy as jnp

    d = squared_distances(embeddings)
    same = labels[:, None] == labels[None, :]
    positive = same & ~jnp.eye(len(labels), dtype=bool)
    valid = positive[:, :, None] & ~same[:, None, :]
    losses = jnp.maximum(d[:, :, None] - d[:, None, :] + margin, 0.0) * valid
    count = jnp.maximum(jnp.sum(valid), 1)
    return jnp.sum(losses) / count, jnp.sum((losses > 0) & valid) / count


def semi_hard_negatives(d, labels):
    """For every (anchor, positive), the squared distance to its semi-hard negative: the closest negative farther
    from the anchor than the positive; where no negative is farther, the farthest negative."""
    import jax.numpy as jnp

    negative = labels[:, None] != labels[None, :]
    farther = negative[:, None, :] & (d[:, None, :] > d[:, :, None])
    closest_farther = jnp.min(jnp.where(farther, d[:, None, :], jnp.inf), axis=2)
    farthest = jnp.max(jnp.where(negative, d, -jnp.inf), axis=1)
    return jnp.where(jnp.isfinite(closest_farther), closest_farther, farthest[:, None])


def semi_hard_loss(embeddings, labels, margin: float = MARGIN):
    """The mean loss over every (anchor, positive) with its semi-hard negative, and the share of them over 0."""
    import jax.numpy as jnp

    d = squared_distances(embeddings)
    same = labels[:, None] == labels[None, :]
    positive = same & ~jnp.eye(len(labels), dtype=bool)
    losses = jnp.maximum(d - semi_hard_negatives(d, labels) + margin, 0.0) * positive
    count = jnp.maximum(jnp.sum(positive), 1)
    return jnp.sum(losses) / count, jnp.sum((losses > 0) & positive) / count


LOSSES = {ALL: all_triplet_loss, SEMI_HARD: semi_hard_loss}


class Embedder(MiniBatchLoop):
    def __init__(self, name: str, data: VerificationData, seed: int):
        import jax.numpy as jnp

        from core.engine.backend import load_keras

        keras = load_keras()
        self.name, self.triplet_loss = name, LOSSES[name]
        model = build_network(seed)
        optimizer = keras.optimizers.Adam(0.002)
        optimizer.build(model.trainable_variables)
        self.x_test, self.x_seen = jnp.asarray(data.x_test), jnp.asarray(data.x_seen)
        super().__init__(model, optimizer, data.x_train, data.y_train, BATCH_SIZE, seed, 1, (2,), host_loop=True)

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        embeddings, non_trainable = self.model.stateless_call(trainable, non_trainable, x)
        loss, _ = self.triplet_loss(embeddings, y)
        return loss, non_trainable

    def train_step(self, variables, x, y, hyper):
        """The step, its loss (before the step) and the share of its triplets still active after it."""
        import jax.numpy as jnp

        variables, loss = super().train_step(variables, x, y, hyper)
        embeddings, _ = self.model.stateless_call(variables[0], variables[1], x)
        _, active = self.triplet_loss(embeddings, y)
        return variables, jnp.stack([loss, active])

    def epoch_row(self, trainable, non_trainable, batch_losses):
        import jax.numpy as jnp

        return jnp.mean(batch_losses, axis=0)

    def embed(self, pictures) -> np.ndarray:
        trainable, non_trainable, *_ = self.state
        return np.asarray(self.model.stateless_call(trainable, non_trainable, pictures)[0], "float64")


@dataclass(frozen=True)
class Verification:
    accuracy: float
    """Balanced accuracy at the best threshold."""
    threshold: float
    auc: float
    false_positive_rate: np.ndarray
    true_positive_rate: np.ndarray


def verification(embeddings: np.ndarray, labels: np.ndarray) -> Verification:
    """Every pair of held-out digits judged "same class" when their squared distance is at most a threshold: the ROC
    curve over thresholds, its area, and the best balanced accuracy with its threshold."""
    from sklearn.metrics import roc_auc_score, roc_curve

    first, second = np.triu_indices(len(labels), k=1)
    distance = np.sum((embeddings[first] - embeddings[second]) ** 2, axis=1)
    same = labels[first] == labels[second]
    false_positive, true_positive, thresholds = roc_curve(same, -distance)
    balanced = (true_positive + 1 - false_positive) / 2
    best = int(np.argmax(balanced))
    return Verification(
        float(balanced[best]),
        float(-thresholds[best]),
        float(roc_auc_score(same, -distance)),
        false_positive,
        true_positive,
    )


def projection(embeddings: np.ndarray) -> np.ndarray:
    """The embeddings' first two principal components, each signed so that its largest loading is positive (the map
    does not flip from one epoch to the next)."""
    centred = embeddings - embeddings.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    components = components[:2]
    signs = np.sign(components[np.arange(2), np.argmax(np.abs(components), axis=1)])
    return centred @ (components * signs[:, None]).T


@dataclass(frozen=True)
class TripletSnapshot:
    epoch: int
    maps: Mapping[str, np.ndarray]
    """Each copy's held-out embeddings (classes never trained on, then known classes) projected to 2-D together."""
    embeddings: Mapping[str, np.ndarray]
    """Each copy's embeddings of the held-out digits of classes never trained on."""
    checks: Mapping[str, Verification]
    seen: Mapping[str, Verification]
    """Verification among held-out digits of the classes trained on."""
    labels: np.ndarray
    seen_labels: np.ndarray
    pictures: np.ndarray
    """The held-out digits of classes never trained on, (n, 28, 28)."""
    start: Mapping[str, Verification]
    """Before training, on classes never trained on."""


@task_factory
def task(config: Mapping[str, Any]) -> TrainingTask:
    fixed, live = fixed_values(CONTROLS, config), live_values(CONTROLS, config)

    def train(ctx: TrainingContext):
        import jax.numpy as jnp

        data = verification_data()
        copies = [Embedder(name, data, int(fixed["seed"])) for name in STRATEGIES]
        done = {"epochs": 0}

        def measured() -> dict[str, Any]:
            unseen = {copy.name: copy.embed(copy.x_test) for copy in copies}
            known = {copy.name: copy.embed(copy.x_seen) for copy in copies}
            return {
                "embeddings": unseen,
                "maps": {name: projection(np.concatenate([unseen[name], known[name]])) for name in unseen},
                "checks": {name: verification(e, data.y_test) for name, e in unseen.items()},
                "seen": {name: verification(e, data.y_seen) for name, e in known.items()},
            }

        latest = measured()
        start = latest["checks"]

        def snapshot() -> TripletSnapshot:
            return TripletSnapshot(
                done["epochs"],
                latest["maps"],
                latest["embeddings"],
                latest["checks"],
                latest["seen"],
                data.y_test,
                data.y_seen,
                data.x_test[..., 0],
                start,
            )

        ctx.replace_snapshot(snapshot())

        def step(n: int, values) -> list[dict[str, float]]:
            rate = jnp.float32(values["learning_rate"])
            rows = {copy.name: copy.advance(n, rate)[-1] for copy in copies}
            done["epochs"] += n
            latest.update(measured())
            row = {}
            for name, (loss, active) in rows.items():
                check, seen = latest["checks"][name], latest["seen"][name]
                row |= {
                    row_key("loss", name): float(loss),
                    row_key("active", name): float(active),
                    row_key("val_accuracy", name): check.accuracy,
                    row_key("val_auc", name): check.auc,
                    row_key("seen_auc", name): seen.auc,
                }
            return [row]

        train_in_chunks(ctx, step, snapshot, lambda values: SPEEDS[values["speed"]], 1)

    return TrainingTask(run=RUN, config=fixed, train=train, epochs=int(fixed["epochs"]), live=live)


def same_class(shot: TripletSnapshot, strategy: str, first: int, second: int) -> tuple[float, bool]:
    """The squared distance between two held-out digits' embeddings, and whether it is within the copy's best
    threshold (the network says: the same class)."""
    embeddings = shot.embeddings[strategy]
    distance = float(np.sum((embeddings[first] - embeddings[second]) ** 2))
    return distance, distance <= shot.checks[strategy].threshold


def findings(history: Sequence[Mapping[str, float]], shot: TripletSnapshot | None) -> list[str]:
    if not history or shot is None:
        return []
    first, last = history[0], history[-1]
    notes = [
        f"After epoch {int(last['epoch'])}, on every pair of {len(shot.labels)} held-out digits of classes "
        f"{', '.join(map(str, TEST_CLASSES))} (never trained on): "
        + "; ".join(
            f"{name}: **{shot.checks[name].accuracy:.1%}** verified right at the best threshold, ROC area "
            f"{shot.checks[name].auc:.3f} (untrained: {shot.start[name].auc:.3f})"
            for name in STRATEGIES
        )
        + "."
    ]
    seen = {name: shot.seen[name].auc for name in STRATEGIES}
    unseen = {name: shot.checks[name].auc for name in STRATEGIES}
    notes.append(
        "On new digits of the classes it trained on, the ROC area is "
        + ", ".join(f"{seen[name]:.3f} ({name})" for name in STRATEGIES)
        + ": "
        + (
            "far better than on classes it never saw. Seven classes teach features for those seven; FaceNet trained "
            "on millions of people, so that a new face looks like many it has seen."
            if min(seen.values()) > max(unseen.values()) + 0.05
            else "close to its area on classes it never saw."
        )
    )
    notes.append(
        "Triplets still giving a gradient: "
        + "; ".join(
            f"{name} {first[row_key('active', name)]:.0%} in epoch 1, {last[row_key('active', name)]:.0%} in epoch "
            f"{int(last['epoch'])}"
            for name in STRATEGIES
        )
        + ". Averaged over every triplet, most are already right by the margin and teach nothing; semi-hard "
        "negatives keep each step on the triplets that still do."
    )
    return notes
