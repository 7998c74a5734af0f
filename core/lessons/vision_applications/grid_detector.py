"""A YOLO-style detector trained live: canvases of SIZE×SIZE pixels with 1–3 handwritten digits from the MNIST
sample, each at a random size and place; the network divides the canvas into GRID×GRID cells, and each cell predicts,
for each of ANCHORS.shape[0] anchor boxes, an objectness score, the box (its centre inside the cell, its width and
height relative to the anchor's) and the digit's class, as in YOLO v2 (Redmon and Farhadi, 2016).

A true box is assigned to the cell holding its centre and the anchor whose shape it overlaps most; that anchor alone
learns the box and its class, every other anchor learns to say "nothing here". Boxes are (x0, y0, x1, y1) in pixels.

Each epoch's row: the losses, and on held-out canvases after NMS (score ≥ SCORE, IoU > NMS_IOU suppressed) the
precision and recall at IoU ≥ 0.5 (a detection counts when its box overlaps a true box that no better detection
took), of the boxes alone and with the digit right too.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.loop import MiniBatchLoop
from core.engine.pacing import speed_control, train_in_chunks
from core.engine.params import Control, ControlBox, fixed_values, live_rate, live_values
from core.lessons.vision_applications import boxes
from core.shared import imagedata

RUN = "vision_applications/detector"
SIZE, GRID = 64, 4
CELL = SIZE // GRID
CLASSES = 10
DIGIT_SIZES = (14, 30)
"""The smallest and largest side of a placed digit, in pixels."""
TEST_CANVASES = 200
EXAMPLES = 4
SCORE, NMS_IOU, MATCH_IOU = 0.5, 0.4, 0.5
SHOWN_SCORE = 0.1
"""Raw proposals scoring under this are not kept in the snapshot (the page's score slider starts here)."""
COORD_WEIGHT, EMPTY_WEIGHT = 5.0, 0.5
SPEEDS = {"slow motion": 0.5, "steady": 2.0, "full speed": None}
METRICS = ("loss", "val_loss", "val_precision", "val_recall", "val_digit_precision", "val_digit_recall")
TARGET_RECALL = 0.8

CONTROLS = (
    Control("canvases", "Training canvases", "select", 4000, options=(1000, 2000, 4000)),
    Control("epochs", "Epochs", "int", 20, min=1, max=200),
    Control("seed", "Seed", "int", 0, min=0, max=9999),
    live_rate("Learning rate (Adam)", 0.003, (0.001, 0.003, 0.01)),
    speed_control(SPEEDS),
)
BOX = ControlBox("detector", "Canvases and training", CONTROLS, flat=False)


@dataclass(frozen=True)
class Canvases:
    images: np.ndarray
    """(n, SIZE, SIZE, 1) in 0…1."""
    boxes: tuple[np.ndarray, ...]
    """Each canvas's true boxes, (k, 4)."""
    classes: tuple[np.ndarray, ...]


def ink_box(digit: np.ndarray, threshold: float = 0.3) -> tuple[int, int, int, int]:
    """The tight box of a digit's ink (pixels over `threshold`): (x0, y0, x1, y1), x1 and y1 one past the last."""
    rows, columns = np.flatnonzero(digit.max(axis=1) > threshold), np.flatnonzero(digit.max(axis=0) > threshold)
    return int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1


def make_canvases(n: int, seed: int, digits: np.ndarray, labels: np.ndarray) -> Canvases:
    """`n` canvases of 1–3 digits drawn from `digits` (28×28), each resized to a side in DIGIT_SIZES and placed so that
    no two placed squares overlap; a digit's box is its ink's."""
    from skimage.transform import resize

    rng = np.random.default_rng(seed)
    images = np.zeros((n, SIZE, SIZE, 1), "float32")
    all_boxes, all_classes = [], []
    for index in range(n):
        placed, found, classes = [], [], []
        for _ in range(rng.integers(1, 4)):
            side = int(rng.integers(DIGIT_SIZES[0], DIGIT_SIZES[1] + 1))
            for _attempt in range(20):
                x, y = (int(v) for v in rng.integers(0, SIZE - side + 1, size=2))
                square = (x, y, x + side, y + side)
                if not placed or boxes.iou(square, np.array(placed)).max() == 0:
                    break
            else:
                continue
            pick = int(rng.integers(len(digits)))
            digit = resize(digits[pick], (side, side), order=1, anti_aliasing=True)
            images[index, y : y + side, x : x + side, 0] = np.maximum(
                images[index, y : y + side, x : x + side, 0], digit
            )
            x0, y0, x1, y1 = ink_box(digit)
            placed.append(square)
            found.append((x + x0, y + y0, x + x1, y + y1))
            classes.append(int(labels[pick]))
        all_boxes.append(np.array(found, dtype=float).reshape(-1, 4))
        all_classes.append(np.array(classes, dtype="int32"))
    return Canvases(images, tuple(all_boxes), tuple(all_classes))


def anchor_shapes(truth: Sequence[np.ndarray]) -> np.ndarray:
    """Two anchors from the training boxes, as YOLO v2 chooses them by clustering: the median (width, height) of the
    smaller half and of the larger half of the boxes by area."""
    every = np.concatenate(truth)
    sizes = every[:, 2:] - every[:, :2]
    order = np.argsort(sizes[:, 0] * sizes[:, 1], kind="stable")
    halves = np.array_split(sizes[order], 2)
    return np.array([np.median(half, axis=0) for half in halves])


def shape_iou(size: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """IoU of a (w, h) with each anchor's, both centred at the same point."""
    shared = np.minimum(size[0], anchors[:, 0]) * np.minimum(size[1], anchors[:, 1])
    return shared / (size[0] * size[1] + anchors[:, 0] * anchors[:, 1] - shared)


def encode(truth: np.ndarray, classes: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """The training target of one canvas, (GRID, GRID, anchors, 6): per responsible anchor the centre's offset in
    its cell (x, y in 0…1), log(width / anchor width), log(height / anchor height), 1 (an object), its class."""
    target = np.zeros((GRID, GRID, len(anchors), 6), "float32")
    for box, label in zip(np.asarray(truth).reshape(-1, 4), classes):
        centre = (box[:2] + box[2:]) / 2
        size = box[2:] - box[:2]
        column, row = (min(int(v), GRID - 1) for v in centre // CELL)
        anchor = int(np.argmax(shape_iou(size, anchors)))
        offset = centre / CELL - (column, row)
        target[row, column, anchor] = (*offset, *np.log(size / anchors[anchor]), 1.0, label)
    return target


def boxes_from(offsets: np.ndarray, log_sizes: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Boxes (GRID, GRID, anchors, 4) from each anchor's centre offset in its cell and log size ratio."""
    rows, columns = np.meshgrid(np.arange(GRID), np.arange(GRID), indexing="ij")
    centre_x = (columns[..., None] + offsets[..., 0]) * CELL
    centre_y = (rows[..., None] + offsets[..., 1]) * CELL
    sizes = anchors * np.exp(log_sizes)
    half_w, half_h = sizes[..., 0] / 2, sizes[..., 1] / 2
    return np.stack([centre_x - half_w, centre_y - half_h, centre_x + half_w, centre_y + half_h], axis=-1)


def decode_target(target: np.ndarray, anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The true boxes and classes a target holds (the inverse of `encode`), in grid order."""
    found = target[..., 4] > 0.5
    return boxes_from(target[..., :2], target[..., 2:4], anchors)[found], target[..., 5][found].astype("int32")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


@dataclass(frozen=True)
class Proposals:
    boxes: np.ndarray
    """(k, 4), best score first."""
    scores: np.ndarray
    """Objectness × the likeliest class's probability."""
    classes: np.ndarray


def proposals(raw: np.ndarray, anchors: np.ndarray, floor: float = 0.0) -> Proposals:
    """Every anchor's box, score and class from the network's raw output for one canvas, (GRID, GRID, anchors, 5 +
    CLASSES), those scoring at least `floor`, best first."""
    found = boxes_from(sigmoid(raw[..., :2]), raw[..., 2:4], anchors).reshape(-1, 4)
    logits = raw[..., 5:].reshape(-1, CLASSES)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    scores = sigmoid(raw[..., 4]).ravel() * probabilities.max(axis=1)
    order = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] >= floor]
    return Proposals(np.clip(found[order], 0, SIZE), scores[order], probabilities.argmax(axis=1)[order])


def detect(found: Proposals, score: float = SCORE, overlap: float = NMS_IOU) -> tuple[list[int], list[boxes.Fate]]:
    return boxes.non_max_suppression(found.boxes, found.scores, score, overlap)


@dataclass(frozen=True)
class Scores:
    """Precision and recall after NMS at IoU ≥ MATCH_IOU: of the boxes alone, and with the digit right too."""

    precision: float
    recall: float
    digit_precision: float
    digit_recall: float


def scores(raws: np.ndarray, data: Canvases, anchors: np.ndarray) -> Scores:
    totals = np.zeros((2, 3))
    for raw, truth, classes in zip(raws, data.boxes, data.classes):
        found = proposals(raw, anchors, SCORE)
        kept, _ = detect(found)
        totals[0] += boxes.match(found.boxes[kept], truth, MATCH_IOU)
        totals[1] += boxes.match(found.boxes[kept], truth, MATCH_IOU, found.classes[kept], classes)
    (right, wrong, missed), (digit_right, digit_wrong, digit_missed) = totals
    return Scores(
        right / max(right + wrong, 1),
        right / max(right + missed, 1),
        digit_right / max(digit_right + digit_wrong, 1),
        digit_right / max(digit_right + digit_missed, 1),
    )


def build_model(anchors: int):
    """Four strided convolutions (64 → 4 pixels), one more, and a 1×1 convolution writing each cell's anchors."""
    from core.engine.backend import load_keras

    keras = load_keras()
    layers = keras.layers
    image = keras.Input((SIZE, SIZE, 1), name="canvas")
    h = image
    for index, channels in enumerate((16, 32, 64, 64)):
        h = layers.Conv2D(channels, 3, strides=2, padding="same", activation="relu", name=f"conv{index + 1}")(h)
    h = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv5")(h)
    h = layers.Conv2D(anchors * (5 + CLASSES), 1, name="anchors")(h)
    return keras.Model(image, layers.Reshape((GRID, GRID, anchors, 5 + CLASSES))(h), name="grid_detector")


def yolo_loss(raw, target):
    """Per canvas: objectness cross-entropy (anchors without an object weighted EMPTY_WEIGHT), and for the anchors
    responsible for an object the squared error of the centre offset (after the sigmoid) and of the log size ratio
    (weighted COORD_WEIGHT) and the class's cross-entropy."""
    import jax
    import jax.numpy as jnp

    has = target[..., 4]
    objectness = raw[..., 4]
    bce = jnp.logaddexp(0.0, objectness) - has * objectness
    object_loss = jnp.sum(bce * (has + EMPTY_WEIGHT * (1 - has)))
    centre = jnp.sum(has[..., None] * (jax.nn.sigmoid(raw[..., :2]) - target[..., :2]) ** 2)
    size = jnp.sum(has[..., None] * (raw[..., 2:4] - target[..., 2:4]) ** 2)
    log_probabilities = jax.nn.log_softmax(raw[..., 5:])
    label = target[..., 5].astype("int32")
    class_loss = -jnp.sum(has * jnp.take_along_axis(log_probabilities, label[..., None], axis=-1)[..., 0])
    return (object_loss + COORD_WEIGHT * (centre + size) + class_loss) / raw.shape[0]


@dataclass(frozen=True)
class DetectorData:
    train: Canvases
    test: Canvases
    anchors: np.ndarray
    targets: np.ndarray
    test_targets: np.ndarray


@functools.lru_cache(maxsize=1)
def detector_data(canvases: int, seed: int) -> DetectorData:
    """Training canvases from the MNIST sample's training digits, held-out ones from its held-out digits."""
    digits = imagedata.load(imagedata.MNIST_SAMPLE)
    train = make_canvases(canvases, seed, digits.x_train[..., 0], digits.y_train)
    test = make_canvases(TEST_CANVASES, seed + 10_000, digits.x_test[..., 0], digits.y_test)
    anchors = anchor_shapes(train.boxes)
    targets = np.stack([encode(b, c, anchors) for b, c in zip(train.boxes, train.classes)])
    test_targets = np.stack([encode(b, c, anchors) for b, c in zip(test.boxes, test.classes)])
    return DetectorData(train, test, anchors, targets, test_targets)


class DetectorLoop(MiniBatchLoop):
    def __init__(self, data: DetectorData, seed: int):
        import jax.numpy as jnp

        from core.engine.backend import load_keras

        keras = load_keras()
        keras.utils.set_random_seed(int(seed))
        model = build_model(len(data.anchors))
        optimizer = keras.optimizers.Adam(0.003)
        optimizer.build(model.trainable_variables)
        self.x_test, self.y_test = jnp.asarray(data.test.images), jnp.asarray(data.test_targets)
        super().__init__(model, optimizer, data.train.images, data.targets, 32, seed, 1, (2,), host_loop=True)

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        raw, non_trainable = self.model.stateless_call(trainable, non_trainable, x)
        return yolo_loss(raw, y), non_trainable

    def epoch_row(self, trainable, non_trainable, batch_losses):
        import jax.numpy as jnp

        raw, _ = self.model.stateless_call(trainable, non_trainable, self.x_test)
        return jnp.stack([jnp.mean(batch_losses), yolo_loss(raw, self.y_test)])

    def test_outputs(self) -> np.ndarray:
        trainable, non_trainable, *_ = self.state
        return np.asarray(self.model.stateless_call(trainable, non_trainable, self.x_test)[0], "float64")


def example_indices(data: Canvases) -> list[int]:
    """The held-out canvases the page shows: the first with the most digits."""
    digits = np.array([len(b) for b in data.boxes])
    return [int(i) for i in np.argsort(-digits, kind="stable")[:EXAMPLES]]


@dataclass(frozen=True)
class DetectorSnapshot:
    epoch: int
    anchors: np.ndarray
    images: np.ndarray
    """The example held-out canvases, (EXAMPLES, SIZE, SIZE)."""
    truth: tuple[np.ndarray, ...]
    true_classes: tuple[np.ndarray, ...]
    found: tuple[Proposals, ...]
    """Each example's proposals scoring at least SHOWN_SCORE, before NMS."""


@task_factory
def task(config: Mapping[str, Any]) -> TrainingTask:
    fixed, live = fixed_values(CONTROLS, config), live_values(CONTROLS, config)

    def train(ctx: TrainingContext):
        import jax.numpy as jnp

        data = detector_data(int(fixed["canvases"]), int(fixed["seed"]))
        loop = DetectorLoop(data, int(fixed["seed"]))
        latest = {"epochs": 0, "raw": loop.test_outputs()}

        examples = example_indices(data.test)

        def snapshot() -> DetectorSnapshot:
            raw = latest["raw"]
            return DetectorSnapshot(
                latest["epochs"],
                data.anchors,
                data.test.images[examples, :, :, 0],
                tuple(data.test.boxes[i] for i in examples),
                tuple(data.test.classes[i] for i in examples),
                tuple(proposals(raw[i], data.anchors, SHOWN_SCORE) for i in examples),
            )

        ctx.replace_snapshot(snapshot())

        def step(n: int, values) -> list[dict[str, float]]:
            rows = loop.advance(n, jnp.float32(values["learning_rate"]))
            latest["epochs"] += n
            latest["raw"] = loop.test_outputs()
            found = scores(latest["raw"], data.test, data.anchors)
            measured = {
                "val_precision": found.precision,
                "val_recall": found.recall,
                "val_digit_precision": found.digit_precision,
                "val_digit_recall": found.digit_recall,
            }
            return [{"loss": float(row[0]), "val_loss": float(row[1]), **measured} for row in rows]

        train_in_chunks(ctx, step, snapshot, lambda values: SPEEDS[values["speed"]], 1)

    return TrainingTask(run=RUN, config=fixed, train=train, epochs=int(fixed["epochs"]), live=live)


def findings(history: Sequence[Mapping[str, float]], shot: DetectorSnapshot | None) -> list[str]:
    if not history or shot is None:
        return []
    last = history[-1]
    reached = next((row for row in history if row["val_recall"] >= TARGET_RECALL), None)
    notes = [
        f"After epoch {int(last['epoch'])}, on {TEST_CANVASES} held-out canvases (digits never trained on), after NMS, "
        f"at IoU ≥ {MATCH_IOU}: precision **{last['val_precision']:.1%}** (boxes that found a digit), recall "
        f"**{last['val_recall']:.1%}** (digits found). Asking for the right digit too: precision "
        f"{last['val_digit_precision']:.1%}, recall {last['val_digit_recall']:.1%}.",
        (
            f"Recall reached {TARGET_RECALL:.0%} at epoch {int(reached['epoch'])} ({reached['time_s']:.1f} s)."
            if reached
            else f"Recall has not reached {TARGET_RECALL:.0%} yet."
        ),
        f"The anchors, from the training boxes: {shot.anchors[0, 0]:.0f}×{shot.anchors[0, 1]:.0f} and "
        f"{shot.anchors[1, 0]:.0f}×{shot.anchors[1, 1]:.0f} pixels (width × height): digits are taller than wide.",
    ]
    raw_counts = [int(np.sum(found.scores >= SCORE)) for found in shot.found]
    kept_counts = [len(detect(found)[0]) for found in shot.found]
    notes.append(
        f"On the {len(shot.found)} examples, {sum(raw_counts)} anchors score ≥ {SCORE} before NMS and "
        f"{sum(kept_counts)} boxes are left after it, for {sum(len(t) for t in shot.truth)} digits."
    )
    return notes
