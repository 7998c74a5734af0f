"""The image GAN: a small DCGAN (Radford et al. 2016) on embedded images, trained live with the same
alternating loop as the 2D GAN. The page watches a grid of samples from fixed latent vectors (the
same vectors every redraw, so change is the generator's), the losses and D's outputs, and walks
between two latent vectors once trained.

Generator: Dense → a (size/4)² × 32 map → two stride-2 transposed convolutions → one channel,
tanh (data scaled to −1…1) or sigmoid (data left in 0…1). Discriminator: two stride-2
convolutions → one logit. Batch normalisation, when on, sits in the hidden layers only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.pacing import speed_control, train_in_chunks
from core.engine.params import Control, ControlBox
from core.lessons.gan import gan
from core.shared import imagedata

RUN = "gan/images"
TANH, SIGMOID = "tanh, data in −1…1", "sigmoid, data in 0…1"
LATENT = 32
WIDTH = 16
"""Channels of the generator's last hidden map and the discriminator's first (the others have twice
as many): DCGAN's shape at a width a shared CPU trains MNIST-sized images with, ~0.1 s per batch."""
BATCH = 64
GRID = 16
MAX_ITERATIONS_PER_CALL = 200
MAX_CHUNK = 20
"""Epochs per call at most (the faces' epoch is 3 iterations)."""
SPEEDS = {"slow motion": 0.5, "steady": 2.0, "full speed": None}
"""Epochs per second."""

DEFAULTS = {
    "label_smoothing": True,
    "activation": gan.LEAKY_RELU,
    "batchnorm": True,
    "beta_1": 0.5,
    "from_logits": True,
    "generator_loss": gan.NON_SATURATING,
    "d_steps": 1,
    "lr_d": 0.0005,
    "lr_g": 0.001,
}
CONTROLS = (
    Control("images", "Images", "select", imagedata.DIGITS, options=imagedata.GAN_IMAGE_SETS),
    Control("epochs", "Epochs", "int", 30, min=1, max=500, was="image_epochs"),
    Control(
        "output",
        "Generator output",
        "select",
        TANH,
        options=(TANH, SIGMOID),
        help="tanh centred on 0 with data scaled to −1…1 (DCGAN's choice), or a sigmoid on 0…1.",
    ),
    Control("seed", "Seed", "int", 0, min=0, max=9999, was="image_seed"),
    *[dataclasses.replace(c, was=f"image_{c.key}") for c in gan.trick_controls(DEFAULTS)],
    speed_control(SPEEDS, "epochs", was="image_speed"),
)
BOX = ControlBox("images", "Images, networks and tricks", CONTROLS)
LIVE = tuple(c.key for c in CONTROLS if c.live)


def scaled(images: np.ndarray, output: str) -> np.ndarray:
    return images * 2 - 1 if output == TANH else images


def to_pixels(samples: np.ndarray, output: str) -> np.ndarray:
    """Generated samples back to 0…1 pixels for drawing."""
    return np.clip((samples + 1) / 2 if output == TANH else samples, 0, 1)


def build_models(config: Mapping[str, Any], size: int):
    from core.engine.backend import load_keras

    keras = load_keras()
    keras.utils.set_random_seed(int(config["seed"]))
    activation, base = config["activation"], size // 4

    def normalise(layers):
        if config["batchnorm"]:
            layers.append(keras.layers.BatchNormalization())
        layers.append(gan.hidden_activation(activation))

    g_layers = [keras.Input(shape=(LATENT,)), keras.layers.Dense(base * base * WIDTH * 2)]
    normalise(g_layers)
    g_layers.append(keras.layers.Reshape((base, base, WIDTH * 2)))
    g_layers.append(keras.layers.Conv2DTranspose(WIDTH, 4, strides=2, padding="same"))
    normalise(g_layers)
    g_layers.append(
        keras.layers.Conv2DTranspose(
            1, 4, strides=2, padding="same", activation="tanh" if config["output"] == TANH else "sigmoid"
        )
    )
    d_layers = [
        keras.Input(shape=(size, size, 1)),
        keras.layers.Conv2D(WIDTH, 4, strides=2, padding="same"),
        gan.hidden_activation(activation),
        keras.layers.Conv2D(WIDTH * 2, 4, strides=2, padding="same"),
    ]
    normalise(d_layers)
    d_layers += [keras.layers.Flatten(), keras.layers.Dense(1)]
    return keras.Sequential(g_layers, name="generator"), keras.Sequential(d_layers, name="discriminator")


def fixed_latents(seed: int, n: int = GRID) -> np.ndarray:
    return np.random.default_rng(seed + 1).normal(size=(n, LATENT)).astype("float32")


@dataclass(frozen=True)
class ImageSnapshot:
    """The image GAN after an epoch: 16 samples from fixed latent vectors, D on them, and the
    generator's weights (for the latent walk)."""

    epoch: int
    iteration: int
    size: int
    samples: np.ndarray
    real: np.ndarray
    d_on_samples: np.ndarray
    generator_weights: list[np.ndarray]
    generator_state: list[np.ndarray]
    finite: bool


class ImageDuel:
    """An image GAN in training; `run(n)` trains n epochs and returns one averaged row per epoch."""

    def __init__(self, config: Mapping[str, Any]):
        self.config = dict(config)
        images = imagedata.unlabelled_images(config["images"])
        self.size = images.shape[1]
        self.real = scaled(images, config["output"]).astype("float32")
        generator, discriminator = build_models(config, self.size)
        self.trainer = gan.GanTrainer(
            generator,
            discriminator,
            self.real,
            LATENT,
            BATCH,
            gan.LossSettings.from_config(config),
            float(config["beta_1"]),
            int(config["seed"]),
            MAX_ITERATIONS_PER_CALL,
        )
        self.per_epoch = max(1, len(self.real) // BATCH)
        self.z = fixed_latents(int(config["seed"]))
        self.epoch = 0
        self.real_grid = images[np.random.default_rng(0).choice(len(images), GRID, replace=False)]

    def run(self, n: int, live: Mapping[str, Any]) -> list[dict[str, float]]:
        rows = []
        for _ in range(n):
            epoch_rows, left = [], self.per_epoch
            while left:
                step = min(left, MAX_ITERATIONS_PER_CALL)
                epoch_rows += self.trainer.run(step, live["lr_d"], live["lr_g"])
                left -= step
            rows.append({key: float(np.mean([r[key] for r in epoch_rows])) for key in gan.ROW_KEYS})
            self.epoch += 1
        return rows

    def snapshot(self) -> ImageSnapshot:
        samples = self.trainer.generate(self.z)
        weights, state = self.trainer.generator_variables()
        return ImageSnapshot(
            epoch=self.epoch,
            iteration=self.trainer.iteration,
            size=self.size,
            samples=to_pixels(samples, self.config["output"]),
            real=self.real_grid,
            d_on_samples=self.trainer.discriminate(samples),
            generator_weights=[np.asarray(v) for v in weights],
            generator_state=[np.asarray(v) for v in state],
            finite=bool(np.all(np.isfinite(samples))),
        )


@task_factory
def train_task(config: Mapping[str, Any]) -> TrainingTask:
    config = {c.key: config[c.key] for c in CONTROLS}

    def train(ctx: TrainingContext):
        duel = ImageDuel(config)
        ctx.replace_snapshot(duel.snapshot())
        train_in_chunks(ctx, duel.run, duel.snapshot, lambda live: SPEEDS[live["speed"]], MAX_CHUNK)
        return {"epochs": duel.epoch}

    fixed = {k: v for k, v in config.items() if k not in LIVE}
    return TrainingTask(
        run=RUN,
        config=fixed,
        train=train,
        epochs=int(config["epochs"]),
        live={key: config[key] for key in LIVE},
    )


def findings(shot: ImageSnapshot, last: Mapping[str, float] | None) -> list[str]:
    lines = [f"Epoch {shot.epoch} ({shot.iteration:,} iterations of batches of {BATCH})."]
    if not shot.finite:
        lines.append("The generator's output is no longer a number (NaN): the run has broken down.")
    if last is not None:
        lines.append(
            f"Over the last epoch D(real) = {last['d_real']:.2f} and D(generated) = {last['d_fake']:.2f}; "
            f"on the 16 samples shown D says {float(np.mean(shot.d_on_samples)):.2f} on average."
        )
    return lines


class Walker:
    """A trained generator rebuilt from a snapshot, to walk the latent space."""

    def __init__(
        self, config: Mapping[str, Any], size: int, weights: Sequence[np.ndarray], state: Sequence[np.ndarray]
    ):
        self.generator, _ = build_models(config, size)
        self.variables, self.output = (list(weights), list(state)), config["output"]

    def images(self, z: np.ndarray) -> np.ndarray:
        out, _ = self.generator.stateless_call(*self.variables, np.asarray(z, dtype="float32"), training=False)
        return to_pixels(np.asarray(out), self.output)

    def interpolate(self, start: np.ndarray, end: np.ndarray, steps: int = 9) -> np.ndarray:
        """Images along the straight line from one latent vector to another."""
        shares = np.linspace(0, 1, steps)[:, None]
        return self.images((1 - shares) * start[None] + shares * end[None])
