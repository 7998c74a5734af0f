"""Convolution by hand: classic kernels on real photos, the arithmetic of output sizes, and pooling.

Everything here is plain NumPy, written to be read: `conv2d` is the same cross-correlation that a
Keras `Conv2D` layer computes (the tests check it against Keras for valid and same padding and
stride 2), so what the student sees a Sobel kernel do to a photo is exactly what a convolutional
network's first layer does with the kernels it learns.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from core.engine.params import Control, ControlBox

KERNELS = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "box blur": [[1 / 9] * 3] * 3,
    "Gaussian blur": [[1 / 16, 2 / 16, 1 / 16], [2 / 16, 4 / 16, 2 / 16], [1 / 16, 2 / 16, 1 / 16]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "Sobel x (vertical edges)": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "Sobel y (horizontal edges)": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "outline (Laplacian)": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
    "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
}
"""3×3 kernels, as Keras applies them (cross-correlation: no flip)."""
YOUR_KERNEL = "your own kernel"
DEFAULT_CUSTOM_KERNEL = "1 0 -1\n1 0 -1\n1 0 -1"
MAX_KERNEL_SIZE = 7
MAX_KERNEL_VALUE = 1000.0
PADDINGS = ("valid", "same", "1", "2", "3")
PHOTO_SIDE = 256
"""Photos are shrunk so that their longer side is at most this many pixels: quick to filter, and the
pixels stay large enough to see what a 3×3 kernel does."""


def parse_kernel(text: str) -> np.ndarray:
    """A square kernel typed as rows of numbers (rows on lines or split by ';', numbers split by
    spaces or commas). ValueError with a reason a student can act on."""
    rows = [row.replace(",", " ").split() for row in text.replace(";", "\n").splitlines() if row.strip()]
    if not rows:
        raise ValueError("Type the kernel as rows of numbers, e.g. '1 0 -1' on each of three lines.")
    try:
        values = [[float(v) for v in row] for row in rows]
    except ValueError as error:
        bad = str(error).split(": ")[-1]
        raise ValueError(f"{bad} is not a number: use digits, '.', '-' and spaces or commas between numbers.") from None
    size = len(values)
    if size > MAX_KERNEL_SIZE:
        raise ValueError(f"{size} rows: kernels here are at most {MAX_KERNEL_SIZE}×{MAX_KERNEL_SIZE}.")
    if any(len(row) != size for row in values):
        lengths = ", ".join(str(len(row)) for row in values)
        raise ValueError(f"A kernel is square: {size} rows need {size} numbers each (these rows have {lengths}).")
    kernel = np.asarray(values, dtype="float64")
    if not np.all(np.isfinite(kernel)) or np.max(np.abs(kernel)) > MAX_KERNEL_VALUE:
        raise ValueError(f"Keep every number between −{MAX_KERNEL_VALUE:g} and {MAX_KERNEL_VALUE:g}.")
    return kernel


def kernel_note(kernel: np.ndarray) -> str:
    """What a kernel's weights sum to says what it keeps: 1 keeps the brightness, 0 keeps only change."""
    total = float(np.sum(kernel))
    if abs(total) < 1e-9:
        return (
            "Its weights sum to 0: on a flat patch of colour it gives 0, so it answers only where the image changes "
            "(edges)."
        )
    if abs(total - 1) < 1e-9:
        return "Its weights sum to 1: a flat patch keeps its brightness; only what varies within the window changes."
    return f"Its weights sum to {total:.3g}: a flat patch comes out {total:.3g} times as bright."


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """Keras' (TensorFlow's) 'same' padding: ceil(size/stride) outputs, the extra pixel after."""
    reach = dilation * (kernel - 1) + 1
    total = max((math.ceil(size / stride) - 1) * stride + reach - size, 0)
    return total // 2, total - total // 2


def output_size(size: int, kernel: int, stride: int = 1, padding: str | int = "valid", dilation: int = 1) -> int:
    """Outputs along one side: floor((n + padding - d·(k−1) − 1) / s) + 1, with 'valid' = no padding,
    'same' = Keras' padding and an integer p = p zeros on each side. 0 when the window does not fit."""
    before, after = padding_of(size, kernel, stride, padding, dilation)
    span = size + before + after - dilation * (kernel - 1) - 1
    return span // stride + 1 if span >= 0 else 0


def padding_of(size: int, kernel: int, stride: int, padding: str | int, dilation: int = 1) -> tuple[int, int]:
    if padding == "valid":
        return 0, 0
    if padding == "same":
        return same_padding(size, kernel, stride, dilation)
    return int(padding), int(padding)


def window_cells(row: int, column: int, kernel: int, stride: int, dilation: int) -> list[tuple[int, int]]:
    """The padded-input cells that output (row, column) reads: where the sliding window sits."""
    return [(row * stride + i * dilation, column * stride + j * dilation) for i in range(kernel) for j in range(kernel)]


def arithmetic_cells(
    size: int, kernel: int, stride: int, padding: str | int, dilation: int, row: int, column: int
) -> tuple[np.ndarray, np.ndarray]:
    """The explorer's two grids for a square input: the padded input (0 padding, 1 input, 2 read by
    the window of output (row, column)) and the output (1, with 3 at (row, column))."""
    before, after = padding_of(size, kernel, stride, padding, dilation)
    padded = np.zeros((size + before + after,) * 2, dtype=int)
    padded[before : before + size, before : before + size] = 1
    outputs = output_size(size, kernel, stride, padding, dilation)
    result = np.ones((outputs, outputs), dtype=int)
    if outputs:
        result[row, column] = 3
        for i, j in window_cells(row, column, kernel, stride, dilation):
            padded[i, j] = 2
    return padded, result


def conv2d(
    x: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | None = None,
    stride: int = 1,
    padding: str | int = "valid",
    dilation: int = 1,
) -> np.ndarray:
    """Keras' Conv2D by hand: x (H, W, C_in), kernel (k_h, k_w, C_in, C_out) → (H', W', C_out).
    Each output is the sum, over the window, of input × weight (no flip), plus the bias."""
    kh, kw = kernel.shape[:2]
    (top, bottom), (left, right) = (
        padding_of(x.shape[0], kh, stride, padding, dilation),
        padding_of(x.shape[1], kw, stride, padding, dilation),
    )
    padded = np.pad(x, ((top, bottom), (left, right), (0, 0)))
    out_h = output_size(x.shape[0], kh, stride, padding, dilation)
    out_w = output_size(x.shape[1], kw, stride, padding, dilation)
    out = np.zeros((out_h, out_w, kernel.shape[3]), dtype=np.result_type(x, kernel))
    for i in range(kh):
        for j in range(kw):
            window = padded[
                i * dilation : i * dilation + stride * (out_h - 1) + 1 : stride,
                j * dilation : j * dilation + stride * (out_w - 1) + 1 : stride,
            ]
            out += window @ kernel[i, j]
    return out if bias is None else out + bias


def filter_image(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: str | int = "same") -> np.ndarray:
    """One kernel over a grayscale image (H, W) → (H', W')."""
    return conv2d(image[:, :, None], kernel[:, :, None, None], stride=stride, padding=padding)[:, :, 0]


def pool2d(image: np.ndarray, size: int = 2, stride: int | None = None, mode: str = "max") -> np.ndarray:
    """Max or average pooling of (H, W) with 'valid' windows, as Keras' MaxPooling2D/AveragePooling2D."""
    stride = stride or size
    windows = np.lib.stride_tricks.sliding_window_view(image, (size, size))[::stride, ::stride]
    return windows.max(axis=(-2, -1)) if mode == "max" else windows.mean(axis=(-2, -1))


def _grayscale(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma, as PIL's 'L' mode: what a grayscale photo of the scene would show."""
    rgb = np.asarray(rgb, dtype="float64")
    if rgb.ndim == 2:
        return rgb
    return rgb[..., :3] @ np.array([0.299, 0.587, 0.114])


def shrink(image: np.ndarray, side: int = PHOTO_SIDE) -> np.ndarray:
    """Resize (H, W) in [0, 1] so the longer side is at most `side` (area averaging)."""
    from PIL import Image

    height, width = image.shape
    scale = side / max(height, width)
    if scale >= 1:
        return image
    picture = Image.fromarray((np.clip(image, 0, 1) * 255).astype("uint8"))
    picture = picture.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BOX)
    return np.asarray(picture, dtype="float64") / 255.0


def _sklearn_photo(name: str) -> np.ndarray:
    from sklearn.datasets import load_sample_image

    return _grayscale(load_sample_image(name)) / 255.0


def _skimage_photo(filename: str) -> np.ndarray:
    """One of the pictures in scikit-image's wheel, read with PIL."""
    from PIL import Image

    from core.shared.imagedata import skimage_file

    with Image.open(skimage_file(filename)) as picture:
        return _grayscale(np.asarray(picture.convert("RGB"))) / 255.0


def _digit() -> np.ndarray:
    from core.shared import imagedata

    data = imagedata.load("MNIST sample (28×28)")
    return data.x_test[0, :, :, 0].astype("float64")


PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "cameraman (scikit-image)": lambda: _skimage_photo("camera.png"),
    "cat (scikit-image)": lambda: _skimage_photo("chelsea.png"),
    "coins (scikit-image)": lambda: _skimage_photo("coins.png"),
    "astronaut (scikit-image)": lambda: _skimage_photo("astronaut.png"),
    "text (scikit-image)": lambda: _skimage_photo("text.png"),
    "brick wall (scikit-image)": lambda: _skimage_photo("brick.png"),
    "temple in China (scikit-learn)": lambda: _sklearn_photo("china.jpg"),
    "flower (scikit-learn)": lambda: _sklearn_photo("flower.jpg"),
    "a handwritten digit (MNIST sample)": _digit,
}
"""Real pictures that ship inside installed packages: no download."""


@functools.lru_cache(maxsize=len(PHOTOS))
def photo(name: str) -> np.ndarray:
    """A grayscale picture in [0, 1], its longer side at most PHOTO_SIDE pixels."""
    return shrink(PHOTOS[name]())


FILTER_CONTROLS = (
    Control("photo", "Picture", "select", "cameraman (scikit-image)", options=tuple(PHOTOS)),
    Control("kernel", "Kernel", "select", "Sobel x (vertical edges)", options=(*KERNELS, YOUR_KERNEL)),
    Control("stride", "Stride", "select", 1, options=(1, 2, 3, 4)),
    Control(
        "padding",
        "Padding",
        "select",
        "same",
        options=("same", "valid"),
        help="same: zeros around the picture keep its size (at stride 1); valid: the window stays inside the picture.",
    ),
    Control("pool_size", "Pooling window", "select", 2, options=(2, 3, 4)),
)
FILTER_BOX = ControlBox("filter", "Picture and kernel", FILTER_CONTROLS)
ARITHMETIC_CONTROLS = (
    Control("size", "Input size", "select", 7, options=tuple(range(3, 13)), was="arith_size"),
    Control("kernel", "Kernel size", "select", 3, options=tuple(range(1, 8)), was="arith_kernel"),
    Control("stride", "Stride", "select", 2, options=(1, 2, 3, 4), was="arith_stride"),
    Control(
        "padding",
        "Padding",
        "select",
        "1",
        options=PADDINGS,
        help="valid: none; same: as Keras pads to keep ceil(n / stride) outputs; a number: that many zeros on every "
        "side.",
        was="arith_padding",
    ),
    Control(
        "dilation",
        "Dilation",
        "select",
        1,
        options=(1, 2, 3),
        help="Gaps between the kernel's taps: dilation d spreads a k-wide kernel over d·(k−1)+1 pixels.",
        was="arith_dilation",
    ),
)
ARITHMETIC_BOX = ControlBox("sizes", "Sizes", ARITHMETIC_CONTROLS)


def padding_value(text: str) -> str | int:
    """A padding choice as `output_size` takes it: 'valid', 'same' or a number of zeros."""
    return text if text in ("valid", "same") else int(text)


def arithmetic_formula(size: int, kernel: int, stride: int, padding: str | int, dilation: int) -> str:
    """The output-size formula with this setting's numbers filled in."""
    before, after = padding_of(size, kernel, stride, padding, dilation)
    out = output_size(size, kernel, stride, padding, dilation)
    reach = dilation * (kernel - 1) + 1
    if out == 0:
        return (
            f"The kernel reaches over {reach} pixels but the padded input is only {size + before + after} wide: "
            "the window does not fit, so there is no output. Add padding or shrink the kernel."
        )
    return (
        f"output = ⌊(n + padding − d·(k − 1) − 1) / s⌋ + 1 = ⌊({size} + {before + after} − {dilation}·({kernel} − 1) − "
        f"1)"
        f" / {stride}⌋ + 1 = **{out}**"
    )
