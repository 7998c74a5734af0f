"""Transfer learning: a small convolutional network pretrained in the app on the MNIST sample's digits 0–4, then reused
on a new task with few labels, digits 5–9: its convolutional features frozen and a new head trained on them, every
weight fine-tuned from the pretrained ones, or the same network trained from scratch. All three train side by side,
live, on the same few labelled digits and are tested on the same held-out ones.

The live run trains the three on the labels chosen; the sweep repeats that for each number of labels in
LABELS_PER_CLASS (SWEEP_EPOCHS each), a row per number: the course's point in one chart, that what a network learned
on one task is worth the most when the new task has the fewest labels.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.loop import MiniBatchLoop
from core.engine.pacing import speed_control, train_in_chunks
from core.engine.params import Control, ControlBox, fixed_values, live_rate, live_values
from core.shared import imagedata
from core.shared.copies import advance_copies, named_rows, refuse_once_all_diverged, row_key, softmax_cross_entropy

RUN = "vision_applications/transfer"
SWEEP_RUN = "vision_applications/transfer_sweep"
FROZEN, FINE_TUNED, SCRATCH = "frozen features", "fine-tuned", "from scratch"
STRATEGIES = (FROZEN, FINE_TUNED, SCRATCH)
SOURCE_CLASSES, TARGET_CLASSES = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)
FEATURE_LAYERS = ("conv1", "conv2", "conv3")
PRETRAIN_EPOCHS = 8
DATA = imagedata.MNIST_SAMPLE
PRETRAIN_RATE = 0.003
LABELS_PER_CLASS = (1, 2, 5, 10, 20, 50)
SWEEP_EPOCHS = 40
BATCH_SIZE = 16
SHOWN_PER_CLASS = 2
SPEEDS = {"slow motion": 2.0, "steady": 8.0, "full speed": None}
MAX_CHUNK = 10
METRICS = ("loss", "val_loss", "val_accuracy")

SEED = Control("seed", "Seed", "int", 0, min=0, max=9999)
LEARNING_RATE = live_rate("Learning rate (Adam, all three)", 0.003, (0.0003, 0.001, 0.003, 0.01))
CONTROLS = (
    Control(
        "labels",
        "Labelled digits per class (5–9)",
        "select",
        5,
        options=LABELS_PER_CLASS,
        help="How many labelled examples of each new digit the three networks may learn from.",
    ),
    Control("epochs", "Epochs", "int", 40, min=1, max=300),
    SEED,
    LEARNING_RATE,
    speed_control(SPEEDS),
)
BOX = ControlBox("transfer", "Labels and training", CONTROLS, flat=False)
SWEEP_CONTROLS = (SEED, LEARNING_RATE)
SWEEP_BOX = ControlBox("transfer_sweep", "Sweep", SWEEP_CONTROLS, flat=False)


@dataclass(frozen=True)
class Task:
    """One task's digits, labels renumbered 0…4."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _task(x_train, y_train, x_test, y_test, classes: Sequence[int]) -> Task:
    train, test = np.isin(y_train, classes), np.isin(y_test, classes)
    offset = classes[0]
    return Task(
        x_train[train], (y_train[train] - offset).astype("int32"), x_test[test], (y_test[test] - offset).astype("int32")
    )


def source_task() -> Task:
    """Every training digit 0–4, and the held-out ones."""
    data = imagedata.load(DATA)
    return _task(data.x_train, data.y_train, data.x_test, data.y_test, SOURCE_CLASSES)


def target_task(per_class: int, seed: int) -> Task:
    """`per_class` labelled training digits of each of 5–9 (drawn by seed), and every held-out 5–9."""
    data = imagedata.load(DATA)
    full = _task(data.x_train, data.y_train, data.x_test, data.y_test, TARGET_CLASSES)
    order = np.random.default_rng(seed).permutation(len(full.y_train))
    chosen = np.sort(np.concatenate([order[full.y_train[order] == c][:per_class] for c in range(len(TARGET_CLASSES))]))
    return Task(full.x_train[chosen], full.y_train[chosen], full.x_test, full.y_test)


def build_network(seed: int):
    """Three convolutions (two with stride 2: 28×28 → 14×14 → 7×7), the part that transfers, then a head of 5 logits
    reading all 7×7×32 of their outputs."""
    from core.engine.backend import load_keras

    keras = load_keras()
    layers = keras.layers
    keras.utils.set_random_seed(int(seed))
    image = keras.Input((28, 28, 1), name="digit")
    h = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="conv1")(image)
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="conv2")(h)
    h = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv3")(h)
    h = layers.Flatten(name="features")(h)
    return keras.Model(image, layers.Dense(len(TARGET_CLASSES), name="head")(h), name="small_cnn")


class Classifier(MiniBatchLoop):
    """A network trained on one task's training digits by Adam at the live rate; its row after each epoch: the mean
    loss of its batches, the held-out loss and accuracy."""

    def __init__(self, name: str, model, task: Task, seed: int, max_chunk: int = MAX_CHUNK):
        import jax.numpy as jnp

        from core.engine.backend import load_keras

        keras = load_keras()
        self.name = name
        optimizer = keras.optimizers.Adam(PRETRAIN_RATE)
        optimizer.build(model.trainable_variables)
        self.x_test, self.y_test = jnp.asarray(task.x_test), jnp.asarray(task.y_test)
        super().__init__(
            model, optimizer, task.x_train, task.y_train, BATCH_SIZE, seed, max_chunk, (len(METRICS),), host_loop=True
        )

    def _loss(self, trainable, non_trainable, x, y):
        logits, non_trainable = self.model.stateless_call(trainable, non_trainable, x)
        return softmax_cross_entropy(logits, y), (logits, non_trainable)

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        loss, (_, non_trainable) = self._loss(trainable, non_trainable, x, y)
        return loss, non_trainable

    def epoch_row(self, trainable, non_trainable, batch_losses):
        import jax.numpy as jnp

        val_loss, (logits, _) = self._loss(trainable, non_trainable, self.x_test, self.y_test)
        accuracy = jnp.mean(jnp.argmax(logits, axis=1) == self.y_test)
        return jnp.stack([jnp.mean(batch_losses), val_loss, accuracy])

    def layer_weights(self) -> dict[str, list[np.ndarray]]:
        """The trained weights by layer name."""
        for variable, value in zip(self.model.trainable_variables, self.state[0]):
            variable.assign(value)
        for variable, value in zip(self.model.non_trainable_variables, self.state[1]):
            variable.assign(value)
        return {layer.name: [np.asarray(w) for w in layer.get_weights()] for layer in self.model.layers}


@dataclass(frozen=True)
class Pretrained:
    weights: Mapping[str, list[np.ndarray]]
    """The feature layers' weights after pretraining on digits 0–4."""
    accuracy: float
    """Held-out accuracy on digits 0–4."""
    seconds: float
    examples: int


PRETRAINING = threading.Lock()
"""Runs that start together wait for one pretraining instead of each doing it."""


def pretrained(seed: int) -> Pretrained:
    """The network trained PRETRAIN_EPOCHS on every training digit 0–4 (once per seed and process)."""
    with PRETRAINING:
        return _pretrained(int(seed))


@functools.lru_cache(maxsize=4)
def _pretrained(seed: int) -> Pretrained:
    started = time.perf_counter()
    task = source_task()
    source = Classifier("source", build_network(seed), task, seed, PRETRAIN_EPOCHS)
    rows = source.advance(PRETRAIN_EPOCHS, np.float32(PRETRAIN_RATE))
    weights = source.layer_weights()
    return Pretrained(
        {name: weights[name] for name in FEATURE_LAYERS},
        float(rows[-1][2]),
        time.perf_counter() - started,
        len(task.y_train),
    )


def strategy_network(strategy: str, seed: int):
    """The network a strategy starts from: pretrained features (frozen or not) and a new head, or all new."""
    model = build_network(seed + 1)  # the new head (and the scratch network) from a seed of its own
    if strategy != SCRATCH:
        weights = pretrained(seed).weights
        for name in FEATURE_LAYERS:
            layer = model.get_layer(name)
            layer.set_weights(weights[name])
            layer.trainable = strategy != FROZEN
    return model


def classifiers(task: Task, seed: int, max_chunk: int = MAX_CHUNK) -> list[Classifier]:
    return [Classifier(name, strategy_network(name, seed), task, seed, max_chunk) for name in STRATEGIES]


@dataclass(frozen=True)
class TransferSnapshot:
    epoch: int
    labels: int
    """Labelled digits in all."""
    pretrained_accuracy: float
    pretrained_seconds: float
    pretrained_examples: int
    examples: np.ndarray
    """Some of the labelled digits the networks learn from (up to SHOWN_PER_CLASS of each), as (n, 28, 28, 1)."""
    example_labels: np.ndarray
    diverged: Mapping[str, int]


@task_factory
def task(config: Mapping[str, Any]) -> TrainingTask:
    """The three strategies trained on the chosen labels, epoch for epoch, at the live rate and speed."""
    fixed, live = fixed_values(CONTROLS, config), live_values(CONTROLS, config)

    def train(ctx: TrainingContext):
        seed = int(fixed["seed"])
        base = pretrained(seed)
        data = target_task(int(fixed["labels"]), seed)
        copies = classifiers(data, seed)
        diverged: dict[str, int] = {}
        done = {"epochs": 0}
        shown = np.concatenate(
            [np.flatnonzero(data.y_train == c)[:SHOWN_PER_CLASS] for c in range(len(TARGET_CLASSES))]
        )

        def snapshot() -> TransferSnapshot:
            return TransferSnapshot(
                done["epochs"],
                len(data.y_train),
                base.accuracy,
                base.seconds,
                base.examples,
                data.x_train[shown],
                data.y_train[shown] + TARGET_CLASSES[0],
                dict(diverged),
            )

        ctx.replace_snapshot(snapshot())

        def step(n: int, values) -> list[dict[str, float]]:
            import jax.numpy as jnp

            training, results = advance_copies(
                copies, n, jnp.float32(values["learning_rate"]), diverged, done["epochs"]
            )
            done["epochs"] += n
            refuse_once_all_diverged(
                ctx,
                copies,
                diverged,
                snapshot,
                "Every network's loss stopped being a finite number: try a smaller learning rate.",
            )
            return named_rows(training, results, METRICS)

        train_in_chunks(ctx, step, snapshot, lambda values: SPEEDS[values["speed"]], MAX_CHUNK)

    return TrainingTask(run=RUN, config=fixed, train=train, epochs=int(fixed["epochs"]), live=live)


@dataclass(frozen=True)
class SweepSnapshot:
    epoch: int
    pretrained_accuracy: float


@task_factory
def sweep_task(config: Mapping[str, Any]) -> TrainingTask:
    """A row per number of labels in LABELS_PER_CLASS: each strategy's held-out accuracy after SWEEP_EPOCHS on them."""
    fixed, live = fixed_values(SWEEP_CONTROLS, config), live_values(SWEEP_CONTROLS, config)

    def train(ctx: TrainingContext):
        import jax.numpy as jnp

        seed = int(fixed["seed"])
        base = pretrained(seed)
        for index, per_class in enumerate(LABELS_PER_CLASS):
            ctx.checkpoint()
            _, values = ctx.hyperparams()
            rate = jnp.float32(values["learning_rate"])
            row = {"labels_per_class": float(per_class)}
            for copy in classifiers(target_task(per_class, seed), seed, SWEEP_EPOCHS):
                final = copy.advance(SWEEP_EPOCHS, rate)[-1]
                if np.isfinite(final).all():
                    row[row_key("val_accuracy", copy.name)] = float(final[2])
            ctx.publish(row, SweepSnapshot(index + 1, base.accuracy))

    return TrainingTask(
        run=SWEEP_RUN, config=fixed, train=train, epochs=len(LABELS_PER_CLASS), live=live, unit="label count"
    )


def findings(history: Sequence[Mapping[str, float]], shot: TransferSnapshot | None) -> list[str]:
    if not history or shot is None:
        return []
    last = history[-1]
    accuracy = {name: last.get(row_key("val_accuracy", name)) for name in STRATEGIES}
    shown = {name: value for name, value in accuracy.items() if value is not None}
    best = max(shown, key=shown.get)
    notes = [
        f"The network was pretrained on {shot.pretrained_examples} digits 0–4 in {shot.pretrained_seconds:.1f} s "
        f"({shot.pretrained_accuracy:.1%} right on held-out 0–4). It has never seen a 5, 6, 7, 8 or 9.",
        f"After epoch {int(last['epoch'])} on {shot.labels} labelled digits: "
        + ", ".join(f"{name} **{value:.1%}**" for name, value in shown.items())
        + f" of the held-out 5–9 right. Best: {best}.",
    ]
    first = history[0]
    early = {name: first.get(row_key("val_accuracy", name)) for name in STRATEGIES}
    if None not in early.values():
        notes.append(
            f"After the first epoch: {early[FROZEN]:.1%} with frozen features, {early[FINE_TUNED]:.1%} fine-tuned, "
            f"{early[SCRATCH]:.1%} from scratch: the pretrained features start ahead."
            if min(early[FROZEN], early[FINE_TUNED]) > early[SCRATCH]
            else f"After the first epoch: {early[FROZEN]:.1%} frozen, {early[FINE_TUNED]:.1%} fine-tuned, "
            f"{early[SCRATCH]:.1%} from scratch."
        )
    losses = {name: last.get(row_key("loss", name)) for name in STRATEGIES}
    if losses[SCRATCH] is not None and accuracy[SCRATCH] is not None and losses[SCRATCH] < 0.05:
        notes.append(
            f"From scratch the network fits its {shot.labels} labelled digits almost perfectly (training loss "
            f"{losses[SCRATCH]:.3f}) yet gets {accuracy[SCRATCH]:.1%} of new ones right: with so few labels it "
            "memorises them."
        )
    for name, epoch in shot.diverged.items():
        notes.append(f"The {name} network's loss stopped being a finite number at epoch {epoch}: it trains no more.")
    return notes


def sweep_findings(history: Sequence[Mapping[str, float]]) -> list[str]:
    if not history:
        return []
    notes = []
    for row in history:
        values = {name: row.get(row_key("val_accuracy", name)) for name in STRATEGIES}
        if None in values.values():
            continue
        best = max(values, key=values.get)
        notes.append(
            f"{int(row['labels_per_class'])} per class ({int(row['labels_per_class']) * len(TARGET_CLASSES)} labels): "
            + ", ".join(f"{name} {value:.1%}" for name, value in values.items())
            + f"; best {best}."
        )
    first, last = history[0], history[-1]

    def gap(row: Mapping[str, float]) -> float:
        return row.get(row_key("val_accuracy", FROZEN), np.nan) - row.get(row_key("val_accuracy", SCRATCH), np.nan)

    if len(history) > 1 and np.isfinite(gap(first)) and np.isfinite(gap(last)):
        notes.append(
            f"Frozen pretrained features against learning from scratch: {gap(first):+.1%} with "
            f"{int(first['labels_per_class'])} label per class, {gap(last):+.1%} with "
            f"{int(last['labels_per_class'])}. "
            + (
                "The fewer the labels, the more what was learned on 0–4 is worth."
                if gap(first) > gap(last)
                else "Here transfer did not matter more with fewer labels."
            )
        )
    return notes
