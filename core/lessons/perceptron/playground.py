"""The playground: a real Keras network learning 2-D points live, TensorFlow Playground's exercise on JAX.

The data sets follow the Playground's own generators (points in the square −6…6, noise as a share of
the spread), with three- and four-class sets and the student's own CSV besides. The model is a Keras
MLP. Training runs on the shared jitted loop (`core.engine.loop.MiniBatchLoop`), many epochs per
call: the learning rate and the regularisation rates are arguments of that call, so they change
mid-run without recompiling, and the speed a student sees is limited by the speed they chose, not by
Python's overhead per batch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from core.engine.csvinput import DataError, digest, read_table
from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.loop import MiniBatchLoop
from core.engine.pacing import speed_control, train_in_chunks
from core.engine.params import Control, ControlBox
from core.engine.text import clipped
from core.shared.points import PointSet, half_moons, surface_grid

LESSON = "perceptron"
EXTENT = 6.0
"""Points and decision surfaces live in the square [−EXTENT, EXTENT]²."""
N_POINTS = 500

DATASETS = ("circle", "XOR", "two Gaussians", "spiral", "moons", "three arms", "four blobs")
UPLOADED = "your CSV"
FEATURES = ("x1", "x2", "x1²", "x2²", "x1x2", "sin x1", "sin x2")
ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear", "leaky_relu")
LOSSES = ("cross-entropy", "squared error")
REGULARISERS = ("none", "L1", "L2")
SPEEDS = {"slow motion": 10.0, "steady": 200.0, "full speed": None}
"""Epochs per second the run is held to (None: as fast as the machine goes)."""

CONTROLS = (
    Control(
        "data",
        "Data",
        "select",
        "spiral",
        options=DATASETS + (UPLOADED,),
        help="'your CSV' trains on the file loaded under **Your own data**.",
    ),
    Control("noise", "Noise", "select", 0.0, options=tuple(round(0.05 * i, 2) for i in range(11))),
    Control(
        "train_share",
        "Share of points for training",
        "select",
        0.5,
        options=tuple(round(0.1 * i, 1) for i in range(1, 10)),
    ),
    Control("data_seed", "Data seed", "int", 0, min=0, max=9999, help="**Regenerate** draws new points."),
    Control("features", "Input features", "multi", ("x1", "x2"), options=FEATURES, min=1),
    Control(
        "layers",
        "Hidden layers (neurons in each)",
        "ints",
        (16, 16, 16),
        min=1,
        max=16,
        max_items=6,
        help="Neurons per hidden layer, separated by commas: '4, 2' is two layers of 4 and 2. "
        "Up to 6 layers of 1–16 neurons; 'none' for no hidden layer.",
    ),
    Control("activation", "Activation", "select", "relu", options=ACTIVATIONS),
    Control("loss", "Loss", "select", "cross-entropy", options=LOSSES),
    Control("batch_size", "Batch size", "int", 10, min=1, max=100),
    Control("dropout", "Dropout", "select", 0.0, options=(0.0, 0.1, 0.2, 0.3, 0.5)),
    Control("epochs", "Epochs", "int", 1000, min=1, max=5000),
    Control("model_seed", "Weights seed", "int", 0, min=0, max=9999),
    Control(
        "learning_rate",
        "Learning rate",
        "select",
        0.1,
        options=(0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0),
        live=True,
    ),
    Control("regulariser", "Regularisation", "select", "none", options=REGULARISERS, live=True),
    Control(
        "regularisation_rate",
        "Regularisation rate",
        "select",
        0.001,
        options=(0.0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0),
        live=True,
    ),
    speed_control(SPEEDS),
)

LIVE = tuple(c.key for c in CONTROLS if c.live)

DISPLAY_CONTROLS = (
    Control("show_test", "Show test data", "toggle", False),
    Control("discretise", "Discretise output", "toggle", False),
)
BOX = ControlBox("playground", "Playground settings", CONTROLS)
DISPLAY_BOX = ControlBox("show", "Show", DISPLAY_CONTROLS)

SURFACE_SIZE = 80
THUMBNAIL_SIZE = 24
MAX_CHUNK = 512


def _generate(name: str, noise: float, rng: np.random.Generator, n: int = N_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Points and integer labels, after TensorFlow Playground's `dataset.ts` (class 1 is its +1)."""
    half = n // 2
    if name == "circle":
        radius = 5.0
        r = np.concatenate([rng.uniform(0, radius * 0.5, half), rng.uniform(radius * 0.7, radius, n - half)])
        angle = rng.uniform(0, 2 * np.pi, n)
        points = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
        jitter = rng.uniform(-radius, radius, (n, 2)) * noise
        labels = (np.linalg.norm(points + jitter, axis=1) < radius * 0.5).astype(int)
    elif name == "XOR":
        points = rng.uniform(-5, 5, (n, 2))
        points += np.where(points > 0, 0.3, -0.3)
        jitter = rng.uniform(-5, 5, (n, 2)) * noise
        labels = ((points + jitter).prod(axis=1) >= 0).astype(int)
    elif name == "two Gaussians":
        variance = 0.5 + (4 - 0.5) * noise / 0.5
        labels = np.repeat([1, 0], [half, n - half])
        centres = np.where(labels[:, None] == 1, 2.0, -2.0)
        points = centres + rng.normal(0, math.sqrt(variance), (n, 2))
    elif name in ("spiral", "three arms"):
        arms = 2 if name == "spiral" else 3
        labels = np.repeat(np.arange(arms), int(math.ceil(n / arms)))[:n]
        share = np.concatenate([np.arange(np.sum(labels == k)) / np.sum(labels == k) for k in range(arms)])
        r = share * 5
        t = 1.75 * share * 2 * np.pi + labels * 2 * np.pi / arms
        points = np.stack([r * np.sin(t), r * np.cos(t)], axis=1) + rng.uniform(-1, 1, (n, 2)) * noise
        if arms == 2:
            labels = 1 - labels  # the Playground's positive arm starts at angle 0
    elif name == "moons":
        moons, labels = half_moons(n, noise, int(rng.integers(2**31)))
        points = (moons - [0.5, 0.25]) * 2.5
    elif name == "four blobs":
        labels = np.arange(n) % 4
        centres = np.array([[-2.5, 2.5], [2.5, 2.5], [-2.5, -2.5], [2.5, -2.5]])[labels]
        points = centres + rng.normal(0, 0.8 + 4 * noise, (n, 2))
    else:
        raise DataError(f"Unknown data set '{name}': choose one of {', '.join(DATASETS)}.")
    return points, labels


def split(
    points: np.ndarray, labels: np.ndarray, train_share: float, seed: int, classes: tuple[str, ...], description: str
) -> PointSet:
    """Shuffle, then cut into training and test sets (each keeps at least one point)."""
    order = np.random.default_rng(seed + 1).permutation(len(points))
    n_train = min(len(points) - 1, max(1, int(round(train_share * len(points)))))
    x, y = points[order].astype("float32"), labels[order].astype("int32")
    return PointSet(x[:n_train], y[:n_train], x[n_train:], y[n_train:], classes, description)


@lru_cache(maxsize=32)
def make_dataset(name: str, noise: float, train_share: float, seed: int) -> PointSet:
    """One of the generated data sets (nothing to download); cached because pages redraw it often."""
    points, labels = _generate(name, float(noise), np.random.default_rng(seed))
    n_classes = int(labels.max()) + 1
    return split(
        points, labels, train_share, seed, tuple(f"class {k}" for k in range(n_classes)), f"{name}, noise {noise:.0%}"
    )


def feature_matrix(points: np.ndarray, names) -> np.ndarray:
    """The chosen input features of each point, in the order of `FEATURES`."""
    x1, x2 = points[:, 0], points[:, 1]
    columns = {
        "x1": x1,
        "x2": x2,
        "x1²": x1**2,
        "x2²": x2**2,
        "x1x2": x1 * x2,
        "sin x1": np.sin(x1),
        "sin x2": np.sin(x2),
    }
    return np.stack([columns[name] for name in FEATURES if name in names], axis=1).astype("float32")


def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The axis values and the (size², 2) points, row by row from the bottom, where surfaces are drawn."""
    return surface_grid(size, EXTENT)


def regularisation_rates(regulariser: str, rate: float) -> tuple[float, float]:
    """(L1 rate, L2 rate): both are arguments of the jitted step, so switching costs no recompile."""
    return (float(rate), 0.0) if regulariser == "L1" else (0.0, float(rate)) if regulariser == "L2" else (0.0, 0.0)


def build_model(n_features: int, layers, activation: str, dropout: float, n_classes: int, seed: int):
    """The Keras MLP (sigmoid output for two classes, softmax for more) and a probe model sharing its
    layers that returns every hidden layer's output as well, for the per-neuron pictures."""
    from core.engine.backend import load_keras

    keras = load_keras()
    keras.utils.set_random_seed(int(seed))  # thread-local: call in the job's thread
    inputs = keras.Input(shape=(n_features,), name="features")
    hidden, tensor = [], inputs
    for index, units in enumerate(layers, start=1):
        tensor = keras.layers.Dense(int(units), activation=activation, name=f"hidden_{index}")(tensor)
        hidden.append(tensor)
        if dropout:
            tensor = keras.layers.Dropout(float(dropout), name=f"dropout_{index}")(tensor)
    two = n_classes == 2
    outputs = keras.layers.Dense(1 if two else n_classes, activation="sigmoid" if two else "softmax", name="output")(
        tensor
    )
    model = keras.Model(inputs, outputs, name="playground")
    return model, keras.Model(inputs, hidden + [outputs], name="probe")


def class_probabilities(outputs):
    """(n, K) class probabilities from the output layer (a sigmoid's p becomes [1 − p, p])."""
    import jax.numpy as jnp

    return jnp.concatenate([1 - outputs, outputs], axis=1) if outputs.shape[1] == 1 else outputs


def data_loss(loss: str, labels, outputs):
    """Mean loss over a batch, with Keras' own loss functions."""
    import jax.numpy as jnp

    from core.engine.backend import load_keras

    keras = load_keras()
    if outputs.shape[1] == 1:
        target = labels[:, None].astype(outputs.dtype)
        per_point = (
            keras.losses.binary_crossentropy(target, outputs)
            if loss == "cross-entropy"
            else keras.losses.mean_squared_error(target, outputs)
        )
    elif loss == "cross-entropy":
        per_point = keras.losses.sparse_categorical_crossentropy(labels, outputs)
    else:
        per_point = keras.losses.mean_squared_error(jnp.eye(outputs.shape[1], dtype=outputs.dtype)[labels], outputs)
    return jnp.mean(per_point)


def penalty(kernels, l1: float, l2: float):
    """The regularisation term as Keras' L1(l1) and L2(l2) kernel regularisers compute it."""
    import jax.numpy as jnp

    return sum(l1 * jnp.sum(jnp.abs(w)) + l2 * jnp.sum(jnp.square(w)) for w in kernels)


def accuracy(labels, outputs):
    import jax.numpy as jnp

    return jnp.mean(jnp.argmax(class_probabilities(outputs), axis=1) == labels)


@dataclass(frozen=True)
class PlaygroundSnapshot:
    """What the playground draws after an epoch: the output over the plane, every neuron's picture,
    and the weights (the network diagram and the Keras code)."""

    epoch: int
    data: PointSet
    features: tuple[str, ...]
    surface_axis: np.ndarray
    surface: np.ndarray
    """(SURFACE_SIZE, SURFACE_SIZE, classes): class probabilities, rows from the bottom."""
    neurons: list[np.ndarray]
    """Per hidden layer, (units, THUMBNAIL_SIZE, THUMBNAIL_SIZE): each neuron's output over the plane."""
    output_thumbnail: np.ndarray
    weights: list[tuple[np.ndarray, np.ndarray]]


class Trainer(MiniBatchLoop):
    """A playground network on the shared jitted loop. `run(n, ...)` trains n epochs (shuffled,
    mini-batches of `batch_size`, the last partial batch dropped) in one call and returns each epoch's
    train and test loss and accuracy; `snapshot()` evaluates everything the page draws."""

    @classmethod
    def from_config(cls, data: PointSet, config: Mapping[str, Any]) -> Trainer:
        """The network a page's (or a test's) playground settings describe."""
        return cls(
            data,
            config["features"],
            config["layers"],
            config["activation"],
            config["dropout"],
            config["loss"],
            config["batch_size"],
            config["model_seed"],
        )

    def __init__(
        self, data: PointSet, features, layers, activation: str, dropout: float, loss: str, batch_size: int, seed: int
    ):
        import jax
        import jax.numpy as jnp

        from core.engine.backend import load_keras

        keras = load_keras()
        self.data, self.features, self.layers = data, tuple(features), tuple(int(u) for u in layers)
        self.activation, self.dropout, self.loss = activation, float(dropout), loss
        model, probe = build_model(len(self.features), self.layers, activation, dropout, data.n_classes, seed)
        optimizer = keras.optimizers.SGD(learning_rate=0.01)
        optimizer.build(model.trainable_variables)
        x_train = feature_matrix(data.x_train, self.features)
        super().__init__(model, optimizer, x_train, data.y_train, batch_size, seed, MAX_CHUNK, (4,))
        self.probe, self.epoch = probe, 0
        self.kernel_index = [i for i, v in enumerate(model.trainable_variables) if v.path.endswith("kernel")]
        position = {id(v): i for i, v in enumerate(model.trainable_variables)}
        probe_order = [position[id(v)] for v in probe.trainable_variables]
        self.x_test = jnp.asarray(feature_matrix(data.x_test, self.features))
        self.y_test = jnp.asarray(data.y_test)
        self.surface_axis, surface_points = grid(SURFACE_SIZE)
        self.thumbnail_axis, thumbnail_points = grid(THUMBNAIL_SIZE)
        surface_x = jnp.asarray(feature_matrix(surface_points, self.features))
        thumbnail_x = jnp.asarray(feature_matrix(thumbnail_points, self.features))

        @jax.jit
        def pictures(trainable, non_trainable):
            probe_vars = [trainable[i] for i in probe_order]
            surface, _ = probe.stateless_call(probe_vars, non_trainable, surface_x, training=False)
            thumbnails, _ = probe.stateless_call(probe_vars, non_trainable, thumbnail_x, training=False)
            return class_probabilities(surface[-1]), [t.T for t in thumbnails[:-1]], class_probabilities(thumbnails[-1])

        self._pictures = pictures

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        """The data loss plus the L1/L2 penalty on the kernels; hyper is (learning rate, l1, l2)."""
        outputs, non_trainable = self.model.stateless_call(trainable, non_trainable, x, training=True)
        kernels = [trainable[i] for i in self.kernel_index]
        return data_loss(self.loss, y, outputs) + penalty(kernels, hyper[1], hyper[2]), non_trainable

    def learning_rate(self, hyper):
        return hyper[0]

    def evaluate(self, trainable, non_trainable):
        """Train loss and accuracy, then test loss and accuracy."""
        import jax.numpy as jnp

        row = []
        for x, y in ((self.x, self.y), (self.x_test, self.y_test)):
            outputs, _ = self.model.stateless_call(trainable, non_trainable, x, training=False)
            row += [data_loss(self.loss, y, outputs), accuracy(y, outputs)]
        return jnp.stack(row)

    def run(self, n_epochs: int, learning_rate: float, l1: float = 0.0, l2: float = 0.0) -> np.ndarray:
        """Train `n_epochs` (≤ MAX_CHUNK) more epochs; rows of (train loss, train acc, test loss, test acc)."""
        rows = self.advance(n_epochs, np.array([learning_rate, l1, l2], dtype="float32"))
        self.epoch += n_epochs
        return rows

    def weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(kernel, bias) of every Dense layer, input side first."""
        values = [np.asarray(v) for v in self.state[0]]
        return list(zip(values[0::2], values[1::2]))

    def sync_model(self):
        """Copy the trained values into the Keras model's own variables (to predict or save with it)."""
        for variable, value in zip(self.model.trainable_variables, self.state[0]):
            variable.assign(value)
        return self.model

    def snapshot(self) -> PlaygroundSnapshot:
        surface, neurons, output = self._pictures(self.state[0], self.state[1])
        thumb = (THUMBNAIL_SIZE, THUMBNAIL_SIZE)
        return PlaygroundSnapshot(
            epoch=self.epoch,
            data=self.data,
            features=self.features,
            surface_axis=self.surface_axis,
            surface=np.asarray(surface).reshape((SURFACE_SIZE, SURFACE_SIZE, -1)),
            neurons=[np.asarray(layer).reshape((-1,) + thumb) for layer in neurons],
            output_thumbnail=np.asarray(output).reshape(thumb + (-1,)),
            weights=self.weights(),
        )


@lru_cache(maxsize=8)
def feature_thumbnails(features: tuple[str, ...]) -> np.ndarray:
    """Each input feature over the plane (features × size × size), scaled to −1…1 for drawing."""
    _, points = grid(THUMBNAIL_SIZE)
    values = feature_matrix(points, features).T.reshape(len(features), THUMBNAIL_SIZE, THUMBNAIL_SIZE)
    return values / np.maximum(np.abs(values).max(axis=(1, 2), keepdims=True), 1e-9)


@task_factory
def task(config, data: PointSet) -> TrainingTask:
    """The live run for a config (from `CONTROLS`) on `data`."""
    config = dict(config)

    def train(ctx: TrainingContext):
        trainer = Trainer.from_config(data, config)
        ctx.replace_snapshot(trainer.snapshot())  # the untrained network, while the loop compiles

        def run(n: int, live) -> list[dict]:
            rows = trainer.run(
                n, live["learning_rate"], *regularisation_rates(live["regulariser"], live["regularisation_rate"])
            )
            return [dict(zip(("train_loss", "train_accuracy", "test_loss", "test_accuracy"), row)) for row in rows]

        rows = train_in_chunks(ctx, run, trainer.snapshot, lambda live: SPEEDS[live["speed"]], MAX_CHUNK)
        return {"weights": trainer.weights(), "test_accuracy": float(rows[-1]["test_accuracy"])}

    guessing = float(np.bincount(data.y_train, minlength=data.n_classes).max() / len(data.y_train))
    chance = (guessing, math.log(data.n_classes)) if config["loss"] == "cross-entropy" else None  # MSE is bounded
    return TrainingTask(
        run=LESSON,
        config={k: v for k, v in config.items() if k not in LIVE},
        train=train,
        epochs=int(config["epochs"]),
        live={key: config[key] for key in LIVE},
        chance=chance,
    )


MAX_UPLOAD_ROWS = 5000
MAX_UPLOAD_BYTES = 2_000_000
MIN_UPLOAD_ROWS = 10
MAX_CLASSES = 6


@dataclass(frozen=True)
class UploadedPoints:
    """A student's validated CSV: points rescaled into the playground's square, labels 0…K−1."""

    points: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    name: str
    digest: str

    def split(self, train_share: float, seed: int) -> PointSet:
        return split(self.points, self.labels, train_share, seed, self.classes, f"your CSV '{self.name}'")


def read_points_csv(raw: bytes, name: str = "upload.csv") -> UploadedPoints:
    """Parse and check a CSV with columns x1, x2 and label; a `DataError` says what is wrong in words
    a student can act on. Coordinates are rescaled per axis into −5…5; labels may be numbers or words."""
    import pandas as pd

    if not raw.strip():
        raise DataError("The file is empty. It needs a header line 'x1,x2,label' and one line per point.")
    table = read_table(raw, MAX_UPLOAD_BYTES)
    columns = {str(c).strip().lower(): c for c in table.columns}
    missing = [c for c in ("x1", "x2", "label") if c not in columns]
    if missing:
        found = clipped(", ".join(str(c) for c in table.columns) or "none")
        raise DataError(f"The CSV needs columns named x1, x2 and label; it has: {found}.")
    if len(table) > MAX_UPLOAD_ROWS:
        raise DataError(
            f"The file has {len(table):,} points; the playground takes at most {MAX_UPLOAD_ROWS:,} "
            "(it trains live in your browser's time). Take a sample of your data."
        )
    if len(table) < MIN_UPLOAD_ROWS:
        raise DataError(
            f"The file has {len(table)} point{'s' if len(table) != 1 else ''}; the playground needs at least "
            f"{MIN_UPLOAD_ROWS} to split into training and test sets."
        )
    coordinates = []
    for column in ("x1", "x2"):
        cells = table[columns[column]].str.strip()
        values = pd.to_numeric(cells, errors="coerce")
        bad = values.isna() | ~np.isfinite(values.fillna(0))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"Line {row + 2}: {column} is '{clipped(cells.iloc[row])}', which is not a number. "
                "x1 and x2 must be numbers on every line."
            )
        coordinates.append(values.to_numpy(dtype=float))
    raw_labels = table[columns["label"]].fillna("").str.strip()
    if (raw_labels == "").any():
        row = int(np.flatnonzero((raw_labels == "").to_numpy())[0])
        raise DataError(f"Line {row + 2} has no label. Every point needs one.")
    numeric = pd.to_numeric(raw_labels, errors="coerce")
    keys = numeric if not numeric.isna().any() else raw_labels
    classes = sorted(keys.unique())
    if len(classes) < 2:
        raise DataError(
            f"Every point has the label '{clipped(raw_labels.iloc[0])}': a classifier needs at least 2 classes."
        )
    if len(classes) > MAX_CLASSES:
        raise DataError(
            f"The file has {len(classes)} different labels; the playground draws at most {MAX_CLASSES} classes."
        )
    names = tuple(raw_labels[keys == c].iloc[0] for c in classes)
    labels = keys.map({c: k for k, c in enumerate(classes)}).to_numpy(dtype=int)
    points = np.stack(coordinates, axis=1)
    low, high = points.min(axis=0), points.max(axis=0)
    scale = np.where(high > low, (high - low) / 2, 1.0)
    points = (points - (low + high) / 2) / scale * 5.0
    return UploadedPoints(points.astype("float32"), labels, tuple(f"class {n}" for n in names), name, digest(raw))


def keras_code(config, weights, classes) -> str:
    """A self-contained Python script that rebuilds the network with Keras, with its trained weights,
    and the training setup that produced them. Running it prints predictions for two points. Text that
    came from a user (the data's name, class labels) appears only as Python literals (repr), never in
    a docstring or comment, so no label can add a statement to the script."""
    n_classes = len(classes)
    features = [name for name in FEATURES if name in config["features"]]
    expressions = {
        "x1": "x1",
        "x2": "x2",
        "x1²": "x1**2",
        "x2²": "x2**2",
        "x1x2": "x1 * x2",
        "sin x1": "np.sin(x1)",
        "sin x2": "np.sin(x2)",
    }
    l1, l2 = regularisation_rates(config["regulariser"], config["regularisation_rate"])
    regulariser = (
        f", kernel_regularizer=keras.regularizers.L1({l1!r})"
        if l1
        else f", kernel_regularizer=keras.regularizers.L2({l2!r})"
        if l2
        else ""
    )
    layers = [f"    keras.Input(shape=({len(features)},)),"]
    for units in config["layers"]:
        layers.append(f"    keras.layers.Dense({units}, activation={config['activation']!r}{regulariser}),")
        if config["dropout"]:
            layers.append(f"    keras.layers.Dropout({config['dropout']!r}),")
    two = n_classes == 2
    layers.append(
        f"    keras.layers.Dense({1 if two else n_classes}, "
        f"activation={'sigmoid' if two else 'softmax'!r}{regulariser}),"
    )
    loss = (
        ("binary_crossentropy" if two else "sparse_categorical_crossentropy")
        if config["loss"] == "cross-entropy"
        else "mean_squared_error"
    )
    labels_note = (
        "labels 0/1, shape (n, 1)"
        if two
        else f"labels 0…{n_classes - 1}"
        if config["loss"] == "cross-entropy"
        else f"one-hot labels, shape (n, {n_classes})"
    )

    def array(values) -> str:
        return (
            "np.array("
            + np.array2string(
                np.asarray(values, dtype=np.float32),
                separator=", ",
                threshold=10**9,
                max_line_width=110,
                floatmode="unique",
            )
            + ", dtype='float32')"
        )

    weight_lines = ",\n".join(f"    {array(values)}" for kernel, bias in weights for values in (kernel, bias))
    return f'''"""A network trained in Explorable Deep Learning's playground, on the data named in DATA, with the
classes named in CLASSES (label k is CLASSES[k]).
Points live in the square -6...6 (an uploaded CSV was rescaled per axis into -5...5).
Run it to print the network's predictions for two points; train further with
model.fit(features(points), labels, batch_size={config["batch_size"]}, epochs=...) on {labels_note}.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np

DATA = {str(config["data"])!r}
CLASSES = {tuple(str(name) for name in classes)!r}


def features(points):
    """The input features the network reads ({", ".join(features)}) from points of shape (n, 2)."""
    x1, x2 = points[:, 0], points[:, 1]
    return np.stack([{", ".join(expressions[name] for name in features)}], axis=1).astype("float32")


model = keras.Sequential([
{chr(10).join(layers)}
])
model.compile(
    optimizer=keras.optimizers.SGD(learning_rate={float(config["learning_rate"])!r}),
    loss={loss!r},
    metrics=["accuracy"],
)
model.set_weights([
{weight_lines},
])

if __name__ == "__main__":
    points = np.array([[0.0, 0.0], [3.0, -2.0]], dtype="float32")
    print(model.predict(features(points), verbose=0))
'''
