"""A convolutional network trained live, and a look inside it.

The model is a plain Keras `Sequential`: blocks of Conv2D (ReLU, 'same' padding, the filters
doubling each block) and pooling, then dropout and one Dense layer of class logits. It trains with
`model.fit` and the job's callback; the callback's snapshot reads the first layer's kernels, the
feature maps of every conv and pool layer (through a functional probe over the same layers) for one
test image of each class, and the weights. From those weights an `Inspector` rebuilds the model
anywhere (a page, a test, a notebook) to measure it: confusion matrix, per-class accuracy, the most
confident mistakes, saliency maps by `jax.grad`, and the class probabilities of an uploaded image.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.engine.backend import keras_in_use
from core.engine.jobs import RunRefused, TrainingContext, TrainingTask, task_factory
from core.engine.pacing import keras_pace_callback, speed_control
from core.engine.params import Control, ControlBox, fixed_values, live_values
from core.shared import imagedata
from core.shared.pictures import open_picture

LESSON = "cnn_filters"
TRAIN_RUN = "cnn_filters/train"
SNAPSHOT_EVERY_S = 0.3
SPEEDS = {"slow motion": 4.0, "steady": 20.0, "full speed": None}
"""Training batches per second: slow enough to watch the filters change, or as fast as it goes."""
MAX_MAPS_PER_LAYER = 32
"""Feature maps drawn per layer: a deeper layer's 64 maps would be too small to see."""

TRAIN_CONTROLS = (
    Control(
        "dataset",
        "Data set",
        "select",
        imagedata.MNIST_SAMPLE,
        options=imagedata.DATASETS,
        help="The first two ship with the app's packages; the others need a package or a download (the page says). "
        "The 28×28 MNIST sample leaves feature maps of 28×28 and 14×14 to look at; the 8×8 digits train "
        "faster but shrink to 4×4 and 2×2.",
    ),
    Control(
        "blocks",
        "Conv blocks",
        "select",
        2,
        options=(1, 2, 3),
        help="Each block is a convolution (ReLU) followed by pooling; the number of filters doubles each block.",
    ),
    Control("filters", "Filters in block 1", "select", 32, options=(4, 8, 16, 32)),
    Control("kernel_size", "Kernel size", "select", 3, options=(3, 5)),
    Control(
        "pooling",
        "Pooling",
        "select",
        "max",
        options=("max", "average", "none"),
        help="2×2 pooling after each convolution halves the picture's width and height.",
    ),
    Control(
        "dropout",
        "Dropout",
        "select",
        0.25,
        options=(0.0, 0.1, 0.25, 0.5),
        help="Share of the flattened features switched off at random in each training step.",
    ),
    Control(
        "train_images",
        "Training images (at most)",
        "select",
        4000,
        options=(1000, 2000, 4000, 10000, 20000),
        help="A cap for the larger data sets: fewer images train faster on a shared CPU.",
    ),
    Control("batch_size", "Batch size", "select", 32, options=(16, 32, 64, 128)),
    Control(
        "epochs",
        "Epochs",
        "int",
        2,
        min=1,
        max=200,
        help="An epoch of the MNIST sample takes several times as long as one of the small digits.",
    ),
    Control("seed", "Seed", "int", 0, min=0, max=9999),
    Control(
        "learning_rate",
        "Learning rate (Adam)",
        "select",
        0.003,
        options=(0.0001, 0.0003, 0.001, 0.003, 0.01),
        live=True,
    ),
    speed_control(SPEEDS, unit="batches"),
)
TRAIN_BOX = ControlBox("train", "Data and network", TRAIN_CONTROLS)


def architecture(config: Mapping[str, Any], image_shape: Sequence[int]) -> list[tuple[str, dict]]:
    """The layers as (kind, settings), pooling only while the picture is at least 2 pixels wide."""
    layers, side = [], int(image_shape[0])
    for block in range(int(config["blocks"])):
        layers.append(
            (
                "conv",
                {
                    "filters": int(config["filters"]) * 2**block,
                    "kernel_size": int(config["kernel_size"]),
                    "name": f"conv{block + 1}",
                },
            )
        )
        if config["pooling"] != "none" and side >= 2:
            layers.append((config["pooling"], {"name": f"pool{block + 1}"}))
            side //= 2
    return layers


def build_model(config: Mapping[str, Any], image_shape: Sequence[int], n_classes: int):
    """The Keras model (class logits out), with its weights drawn from `config['seed']`."""
    from core.engine.backend import load_keras

    keras = load_keras()
    keras.utils.set_random_seed(int(config["seed"]))  # thread-local: call in the thread that trains
    layers = [keras.Input(tuple(image_shape))]
    for kind, settings in architecture(config, image_shape):
        if kind == "conv":
            layers.append(keras.layers.Conv2D(padding="same", activation="relu", **settings))
        elif kind == "max":
            layers.append(keras.layers.MaxPooling2D(2, **settings))
        else:
            layers.append(keras.layers.AveragePooling2D(2, **settings))
    layers += [
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dropout(float(config["dropout"]), name="dropout"),
        keras.layers.Dense(n_classes, name="logits"),
    ]
    return keras.Sequential(layers, name="cnn")


def compile_model(model, learning_rate: float) -> None:
    from core.engine.backend import load_keras

    keras = load_keras()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def evaluation_batch(n: int, largest: int = 256) -> int:
    """The largest divisor of n up to `largest`: the test images in equal batches, so the evaluation
    step compiles once, with a bounded memory peak."""
    return max(d for d in range(1, min(n, largest) + 1) if n % d == 0)


def feature_layers(model) -> list:
    """The conv and pool layers, in order: the ones whose outputs are pictures."""
    return [layer for layer in model.layers if layer.name.startswith(("conv", "pool"))]


def feature_probe(model):
    """A functional model over the same layers (same weights) that returns every conv/pool output."""
    from core.engine.backend import load_keras

    keras = load_keras()
    return keras.Model(model.inputs[0], [layer.output for layer in feature_layers(model)], name="feature_probe")


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def example_indices(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """The first test image of each class (a class with no test image is left out)."""
    return np.array([int(np.flatnonzero(labels == k)[0]) for k in range(n_classes) if np.any(labels == k)])


@dataclass(frozen=True)
class CnnSnapshot:
    """What the page draws while training: the first layer's kernels (and where they started), each
    conv/pool layer's maps for one test image per class (at most MAX_MAPS_PER_LAYER each), their
    class probabilities, and the weights (for the Inspector)."""

    epoch: int
    filters: np.ndarray
    initial_filters: np.ndarray
    layer_names: list[str]
    layer_shapes: list[tuple[int, ...]]
    examples: np.ndarray
    """Indices into the test images: the first of each class."""
    feature_maps: list[np.ndarray]
    probabilities: np.ndarray
    weights: list[np.ndarray]
    dataset: str
    source: str
    images: np.ndarray
    class_names: tuple[str, ...]
    image_shape: tuple[int, ...]
    batches_note: str
    """How an epoch batches the training images (and what it leaves out)."""


def snapshot_of(
    model,
    probe,
    data: imagedata.ImageSet,
    examples: np.ndarray,
    epoch: int,
    initial_filters: np.ndarray,
    batches_note: str = "",
) -> CnnSnapshot:
    images = data.x_test[examples]
    maps = [np.asarray(m)[..., :MAX_MAPS_PER_LAYER] for m in probe(images, training=False)]
    return CnnSnapshot(
        epoch=epoch,
        filters=np.asarray(model.get_layer("conv1").kernel),
        initial_filters=initial_filters,
        layer_names=[layer.name for layer in feature_layers(model)],
        layer_shapes=[tuple(layer.output.shape[1:]) for layer in feature_layers(model)],
        examples=examples,
        feature_maps=maps,
        probabilities=softmax(np.asarray(model(images, training=False))),
        weights=[np.asarray(w) for w in model.get_weights()],
        dataset=data.name,
        source=data.source,
        images=images,
        class_names=data.class_names,
        image_shape=data.image_shape,
        batches_note=batches_note,
    )


@task_factory
def train_task(config: Mapping[str, Any]) -> TrainingTask:
    fixed, live = fixed_values(TRAIN_CONTROLS, config), live_values(TRAIN_CONTROLS, config)

    def train(ctx: TrainingContext):
        try:
            data = imagedata.load(fixed["dataset"], int(fixed["train_images"]))
        except imagedata.DatasetUnavailable as error:
            raise RunRefused(str(error)) from None
        model = build_model(fixed, data.image_shape, data.n_classes)
        compile_model(model, float(live["learning_rate"]))
        probe, examples = feature_probe(model), example_indices(data.y_test, data.n_classes)
        initial_filters = np.asarray(model.get_layer("conv1").kernel)
        batch = int(fixed["batch_size"])
        whole = len(data.x_train) - len(data.x_train) % batch  # a smaller last batch would compile a second step
        note = f"Each epoch trains on {whole} images in batches of {batch}" + (
            f" (the last {len(data.x_train) - whole}, less than a batch, are left out)."
            if whole < len(data.x_train)
            else "."
        )

        def snapshot(current_model, epoch):
            return snapshot_of(current_model, probe, data, examples, epoch, initial_filters, note)

        ctx.replace_snapshot(snapshot(model, 0))
        model.fit(
            data.x_train[:whole],
            data.y_train[:whole],
            batch_size=batch,
            epochs=ctx.epochs,
            validation_data=(data.x_test, data.y_test),
            validation_batch_size=evaluation_batch(len(data.x_test)),
            verbose=0,
            callbacks=[ctx.keras_callback(snapshot, SNAPSHOT_EVERY_S), keras_pace_callback(ctx, SPEEDS)],
        )
        return {"weights": [np.asarray(w) for w in model.get_weights()]}

    return TrainingTask(run=TRAIN_RUN, config=fixed, train=train, epochs=int(fixed["epochs"]), live=live)


def filter_change(shot: CnnSnapshot) -> float:
    """How far the first layer's kernels have moved from their random start: ‖W − W₀‖ / ‖W₀‖."""
    start = shot.initial_filters
    return float(np.linalg.norm(shot.filters - start) / max(np.linalg.norm(start), 1e-12))


def training_findings(shot: CnnSnapshot, last: Mapping[str, float] | None) -> list[str]:
    """What the run's numbers say so far: accuracy on held-out images against chance, and how much
    the first layer's filters have changed."""
    n_classes = len(shot.class_names)
    lines = []
    if last is not None and "val_accuracy" in last:
        lines.append(
            f"After epoch {int(last['epoch'])}: {last['val_accuracy']:.1%} of the held-out test images are "
            f"classified correctly ({last['accuracy']:.1%} of the training images; guessing would get "
            f"{1 / n_classes:.0%})."
        )
    filters = shot.filters.shape[-1]
    lines.append(
        f"The first layer's {filters} filters have moved {filter_change(shot):.0%} of their size away from "
        "their random start."
        if shot.epoch or last is not None
        else f"The first layer's {filters} filters as drawn are the random ones it starts with: the pictures show "
        "the network after each finished epoch (or where a pause holds it)."
    )
    return lines


def inspection_findings(inspector: Inspector) -> list[str]:
    """The test accuracy, the best and worst classes, and the pair of classes most often confused."""
    names, per_class = inspector.data.class_names, inspector.per_class_accuracy()
    matrix = inspector.confusion().copy()
    np.fill_diagonal(matrix, 0)
    true, predicted = np.unravel_index(int(np.argmax(matrix)), matrix.shape)
    lines = [
        f"{inspector.accuracy:.1%} of the {len(inspector.data.y_test):,} test images are classified correctly.",
        f"Best class: {names[int(np.argmax(per_class))]} ({per_class.max():.0%}); hardest: "
        f"{names[int(np.argmin(per_class))]} ({per_class.min():.0%}).",
    ]
    if matrix[true, predicted]:
        lines.append(
            f"The most common mistake: {names[true]} taken for {names[predicted]} "
            f"({matrix[true, predicted]} image{'s' if matrix[true, predicted] > 1 else ''})."
        )
    else:
        lines.append("No test image is misclassified.")
    return lines


class Inspector:
    """A trained (or half-trained) network rebuilt from its config and weights, measured on its data
    set's test images."""

    def __init__(self, config: Mapping[str, Any], weights: Sequence[np.ndarray]):
        import jax

        self.data = imagedata.load(config["dataset"], int(config["train_images"]))
        with keras_in_use():  # a page's thread builds it: no clear_session meanwhile
            self.model = build_model(config, self.data.image_shape, self.data.n_classes)
            self.model.set_weights(list(weights))
            self.probe = feature_probe(self.model)
        trainable = [v.value for v in self.model.trainable_variables]
        non_trainable = [v.value for v in self.model.non_trainable_variables]

        def logits(images):
            return self.model.stateless_call(trainable, non_trainable, images, training=False)[0]

        self._logits = jax.jit(logits)
        self._saliency = jax.jit(jax.grad(lambda image, k: logits(image[None])[0, k]))
        self.probabilities = softmax(np.asarray(self._logits(self.data.x_test)))
        self.predicted = self.probabilities.argmax(axis=1)

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.predicted == self.data.y_test))

    def confusion(self) -> np.ndarray:
        """(classes, classes): row = true class, column = predicted class, counts of test images."""
        n = self.data.n_classes
        return np.bincount(self.data.y_test * n + self.predicted, minlength=n * n).reshape(n, n)

    def per_class_accuracy(self) -> np.ndarray:
        matrix = self.confusion()
        return np.diag(matrix) / np.maximum(matrix.sum(axis=1), 1)

    def confident_mistakes(self, n: int = 8) -> np.ndarray:
        """Indices of the wrongly classified test images the model was surest of, surest first."""
        wrong = np.flatnonzero(self.predicted != self.data.y_test)
        confidence = self.probabilities[wrong, self.predicted[wrong]]
        return wrong[np.argsort(-confidence)][:n]

    def classify(self, image: np.ndarray) -> np.ndarray:
        """Class probabilities of one image (H, W, C) in [0, 1]."""
        return softmax(np.asarray(self._logits(image[None].astype("float32"))))[0]

    def feature_maps(self, image: np.ndarray) -> list[np.ndarray]:
        """Every conv/pool layer's maps for one image: (h, w, channels) each."""
        return [np.asarray(m)[0] for m in self.probe(image[None].astype("float32"), training=False)]

    def saliency(self, image: np.ndarray, class_index: int) -> np.ndarray:
        """|∂ logit_k / ∂ pixel| (Simonyan et al. 2014), the largest over colour channels: which pixels
        would change the class score most if they changed."""
        gradient = np.asarray(self._saliency(image.astype("float32"), int(class_index)))
        return np.abs(gradient).max(axis=-1)


def prepare_upload(content: bytes, image_shape: Sequence[int]) -> tuple[np.ndarray, list[str]]:
    """A student's picture as the model sees it: (H, W, C) in [0, 1] at the model's input size, and
    notes on what was done to it. ValueError with a clear reason for anything that is not a usable image."""
    from PIL import Image

    picture = open_picture(content)
    height, width, channels = (int(s) for s in image_shape)
    notes = [
        f"Your picture is {picture.size[0]}×{picture.size[1]} pixels; the model reads {width}×{height}"
        + (" in grayscale." if channels == 1 else " in colour.")
    ]
    picture = picture.convert("L" if channels == 1 else "RGB")
    pixels = np.asarray(picture, dtype="float32") / 255.0
    if channels == 1:
        border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
        if np.median(border) > 0.5:
            pixels = 1.0 - pixels
            notes.append("Its background is light, so it was inverted: the training digits are light on black.")
        side = max(pixels.shape)
        square = np.zeros((side, side), dtype="float32")
        top, left = (side - pixels.shape[0]) // 2, (side - pixels.shape[1]) // 2
        square[top : top + pixels.shape[0], left : left + pixels.shape[1]] = pixels
        picture = Image.fromarray((square * 255).astype("uint8"))
    small = picture.resize(
        (width, height), Image.Resampling.LANCZOS if max(picture.size) > 4 * width else Image.Resampling.BOX
    )
    array = np.asarray(small, dtype="float32") / 255.0
    return (array[..., None] if channels == 1 else array), notes
