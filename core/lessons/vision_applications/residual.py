"""Residual networks (He et al., 2015): the same deep convolutional network on scikit-learn's 8×8 digits trained twice,
side by side and live, from the same seed on the same batches: once plain, once with a skip connection around every
pair of convolutions.

The network: a stem convolution (16 channels), a stage of `blocks` blocks at 8×8 with 16 channels, a stage at 4×4
with 32 channels (its first block has stride 2: the course's "convolutional block", whose skip connection is a 1×1
convolution with the same stride), global average pooling and 10 logits. A block is conv 3×3 → (batch norm) → ReLU →
conv 3×3 → (batch norm), then, in the residual network, + the block's input, then ReLU. Without batch normalisation a
plain network of 34 layers barely learns where the residual one does (the degradation problem); the page measures it.

Each epoch's row per network: the mean training loss of its batches, the held-out loss and accuracy, and the norm of
the loss's gradient for each block's first kernel on PROBE training digits: how much each block is told to change.
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
from core.shared.copies import advance_copies, named_rows, refuse_once_all_diverged, row_key, softmax_cross_entropy

RUN = "vision_applications/residual"
PLAIN, RESIDUAL = "plain", "residual"
NETWORKS = (PLAIN, RESIDUAL)
STAGE_WIDTHS = (16, 32)
BATCH_SIZE = 32
PROBE = 256
TARGET_ACCURACY = 0.9
SPEEDS = {"slow motion": 0.5, "steady": 2.0, "full speed": None}
MAX_CHUNK = 5
METRICS = ("loss", "val_loss", "val_accuracy")

CONTROLS = (
    Control(
        "blocks",
        "Blocks per stage",
        "select",
        8,
        options=(1, 2, 4, 8),
        help="Each block is two convolutions: 1, 2, 4 or 8 blocks per stage make 6, 10, 18 or 34 layers with weights.",
    ),
    Control(
        "batch_norm",
        "Batch normalisation in every block",
        "toggle",
        False,
        help="The course's ResNet normalises after every convolution; off, the skip connections alone are compared.",
    ),
    Control("epochs", "Epochs", "int", 15, min=1, max=200),
    Control("seed", "Seed", "int", 0, min=0, max=9999),
    live_rate("Learning rate (Adam, both networks)", 0.002, (0.0005, 0.001, 0.002, 0.005)),
    speed_control(SPEEDS),
)
BOX = ControlBox("residual", "Depth and training", CONTROLS, flat=False)


def weight_layers(blocks: int) -> int:
    """Layers with weights of the network with `blocks` per stage (the stem, two per block, the logits); the 1×1
    projection on the convolutional block's skip connection is not counted, as in the ResNet paper."""
    return 2 + 2 * len(STAGE_WIDTHS) * int(blocks)


def block_count(blocks: int) -> int:
    return len(STAGE_WIDTHS) * int(blocks)


def build_network(blocks: int, residual: bool, batch_norm: bool, seed: int):
    """The Keras network; block k's first convolution is the layer named f'block{k}_conv1'."""
    from core.engine.backend import load_keras

    keras = load_keras()
    layers = keras.layers
    keras.utils.set_random_seed(int(seed))

    def conv(h, channels: int, stride: int = 1, name: str | None = None, size: int = 3):
        h = layers.Conv2D(
            channels,
            size,
            strides=stride,
            padding="same",
            use_bias=not batch_norm,
            kernel_initializer="he_normal",
            name=name,
        )(h)
        return layers.BatchNormalization(name=f"{name}_bn" if name else None)(h) if batch_norm else h

    def block(h, index: int, channels: int, stride: int):
        out = layers.Activation("relu")(conv(h, channels, stride, f"block{index}_conv1"))
        out = conv(out, channels, 1, f"block{index}_conv2")
        if residual:
            shortcut = h
            if stride != 1 or h.shape[-1] != channels:
                shortcut = conv(h, channels, stride, f"block{index}_shortcut", size=1)
            out = layers.Add(name=f"block{index}_add")([out, shortcut])
        return layers.Activation("relu", name=f"block{index}_out")(out)

    image = keras.Input((8, 8, 1), name="digit")
    h = layers.Activation("relu")(conv(image, STAGE_WIDTHS[0], 1, "stem"))
    index = 0
    for stage, channels in enumerate(STAGE_WIDTHS):
        for position in range(int(blocks)):
            h = block(h, index, channels, 2 if stage and not position else 1)
            index += 1
    h = layers.GlobalAveragePooling2D()(h)
    name = "residual" if residual else "plain"
    return keras.Model(image, layers.Dense(10, name="logits")(h), name=f"{name}_{weight_layers(blocks)}_layers")


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    output: str
    parameters: int


def layer_table(model) -> list[LayerRow]:
    """Every layer of a built network with its output shape and its number of parameters, as `model.summary()`."""
    return [
        LayerRow(layer.name, type(layer).__name__, str(tuple(layer.output.shape[1:])), int(layer.count_params()))
        for layer in model.layers
    ]


class NetworkCopy(MiniBatchLoop):
    """One of the two networks on the shared loop, with Adam at the live rate."""

    def __init__(self, name: str, config: Mapping[str, Any], data: imagedata.ImageSet):
        import jax.numpy as jnp

        from core.engine.backend import load_keras

        keras = load_keras()
        self.name = name
        model = build_network(int(config["blocks"]), name == RESIDUAL, bool(config["batch_norm"]), int(config["seed"]))
        optimizer = keras.optimizers.Adam(0.002)
        optimizer.build(model.trainable_variables)
        paths = [v.path for v in model.trainable_variables]
        self.first_kernels = [paths.index(f"block{k}_conv1/kernel") for k in range(block_count(int(config["blocks"])))]
        self.x_test, self.y_test = jnp.asarray(data.x_test), jnp.asarray(data.y_test)
        self.x_probe, self.y_probe = jnp.asarray(data.x_train[:PROBE]), jnp.asarray(data.y_train[:PROBE])
        row = (len(METRICS) + len(self.first_kernels),)
        super().__init__(
            model,
            optimizer,
            data.x_train,
            data.y_train,
            BATCH_SIZE,
            int(config["seed"]),
            MAX_CHUNK,
            row,
            host_loop=True,
        )

    def _loss(self, trainable, non_trainable, x, y, training: bool):
        logits, non_trainable = self.model.stateless_call(trainable, non_trainable, x, training=training)
        return softmax_cross_entropy(logits, y), (logits, non_trainable)

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        loss, (_, non_trainable) = self._loss(trainable, non_trainable, x, y, True)
        return loss, non_trainable

    def block_gradient_norms(self, trainable, non_trainable):
        """‖∂L/∂W‖ of each block's first kernel, on the probe digits (in training mode, as the optimiser sees it)."""
        import jax
        import jax.numpy as jnp

        grads = jax.grad(lambda t: self._loss(t, non_trainable, self.x_probe, self.y_probe, True)[0])(trainable)
        return jnp.stack([jnp.linalg.norm(grads[i]) for i in self.first_kernels])

    def epoch_row(self, trainable, non_trainable, batch_losses):
        import jax.numpy as jnp

        val_loss, (logits, _) = self._loss(trainable, non_trainable, self.x_test, self.y_test, False)
        accuracy = jnp.mean(jnp.argmax(logits, axis=1) == self.y_test)
        norms = self.block_gradient_norms(trainable, non_trainable)
        return jnp.concatenate([jnp.stack([jnp.mean(batch_losses), val_loss, accuracy]), norms])

    def initial_norms(self) -> np.ndarray:
        trainable, non_trainable, *_ = self.state
        return np.asarray(self.block_gradient_norms(trainable, non_trainable))


@dataclass(frozen=True)
class ResidualSnapshot:
    epoch: int
    blocks: int
    profiles: tuple[tuple[int, np.ndarray], ...]
    """(epoch, (2, blocks) gradient norms of PLAIN and RESIDUAL) at the start and after every epoch."""
    diverged: Mapping[str, int]


def norms_of(rows: np.ndarray) -> np.ndarray:
    return rows[:, len(METRICS) :]


@task_factory
def task(config: Mapping[str, Any]) -> TrainingTask:
    """Both networks trained epoch for epoch at the live rate and speed."""
    fixed, live = fixed_values(CONTROLS, config), live_values(CONTROLS, config)

    def train(ctx: TrainingContext):
        import jax.numpy as jnp

        data = imagedata.load(imagedata.DIGITS)
        copies = [NetworkCopy(name, fixed, data) for name in NETWORKS]
        diverged: dict[str, int] = {}
        profiles = [(0, np.stack([copy.initial_norms() for copy in copies]))]
        done = {"epochs": 0}

        def snapshot() -> ResidualSnapshot:
            return ResidualSnapshot(done["epochs"], int(fixed["blocks"]), tuple(profiles), dict(diverged))

        ctx.replace_snapshot(snapshot())

        def step(n: int, values) -> list[dict[str, float]]:
            training, results = advance_copies(
                copies, n, jnp.float32(values["learning_rate"]), diverged, done["epochs"]
            )
            by_name = {copy.name: norms_of(rows) for copy, rows in zip(training, results)}
            blank = np.full((n, block_count(fixed["blocks"])), np.nan)
            for offset in range(n):
                profiles.append(
                    (done["epochs"] + offset + 1, np.stack([by_name.get(name, blank)[offset] for name in NETWORKS]))
                )
            done["epochs"] += n
            refuse_once_all_diverged(
                ctx,
                copies,
                diverged,
                snapshot,
                "Both networks' losses stopped being finite numbers, so the run ended: try a smaller learning rate.",
            )
            return named_rows(training, [rows[:, : len(METRICS)] for rows in results], METRICS)

        train_in_chunks(ctx, step, snapshot, lambda values: SPEEDS[values["speed"]], MAX_CHUNK)

    return TrainingTask(run=RUN, config=fixed, train=train, epochs=int(fixed["epochs"]), live=live)


def first_reaching(history: Sequence[Mapping[str, float]], name: str, target: float = TARGET_ACCURACY):
    """The first row where the network's held-out accuracy reached `target`, or None."""
    key = row_key("val_accuracy", name)
    return next((row for row in history if row.get(key, 0.0) >= target), None)


def findings(history: Sequence[Mapping[str, float]], shot: ResidualSnapshot | None) -> list[str]:
    if not history or shot is None:
        return []
    last = history[-1]
    notes = []
    losses = {name: last.get(row_key("loss", name)) for name in NETWORKS}
    accuracy = {name: last.get(row_key("val_accuracy", name)) for name in NETWORKS}
    layers = weight_layers(shot.blocks)
    if None not in losses.values():
        better = min(NETWORKS, key=lambda name: losses[name])
        notes.append(
            f"After epoch {int(last['epoch'])} at {layers} layers: training loss **{losses[PLAIN]:.3f}** plain, "
            f"**{losses[RESIDUAL]:.3f}** residual; held-out accuracy **{accuracy[PLAIN]:.1%}** plain, "
            f"**{accuracy[RESIDUAL]:.1%}** residual. The {better} network fits its own training digits better."
        )
    reached = {name: first_reaching(history, name) for name in NETWORKS}
    notes.append(
        f"{TARGET_ACCURACY:.0%} held-out accuracy: "
        + "; ".join(
            f"{name} at epoch {int(row['epoch'])} ({row['time_s']:.1f} s)" if row else f"{name} not yet"
            for name, row in reached.items()
        )
        + "."
    )
    (_, start), (epoch, norms) = shot.profiles[0], shot.profiles[-1]
    notes.append(
        f"At the start the first block's ‖∂L/∂W‖ was {start[0, 0]:.3g} plain and {start[1, 0]:.3g} residual: "
        + (
            f"{start[1, 0] / start[0, 0]:,.0f}× more reaches it through the skip connections."
            if start[0, 0] > 0 and start[1, 0] > start[0, 0]
            else "the plain network's first block was told to change at least as much."
        )
    )
    if epoch and np.all(np.isfinite(norms[:, 0])):
        if norms[0, 0] == 0 and norms[1, 0] > 0:
            notes.append(
                f"After epoch {epoch} the plain network's first block gets no gradient at all (‖∂L/∂W‖ = 0): its "
                f"ReLUs give 0 for every probe digit, so nothing flows back and it has stopped learning. The "
                f"residual one's gets {norms[1, 0]:.3g}."
            )
        else:
            notes.append(
                f"After epoch {epoch} the first block's ‖∂L/∂W‖ is {norms[0, 0]:.3g} plain and {norms[1, 0]:.3g} "
                "residual."
            )
    for name, epoch_lost in shot.diverged.items():
        notes.append(
            f"The {name} network's loss stopped being a finite number at epoch {epoch_lost}: it trains no more."
        )
    return notes
