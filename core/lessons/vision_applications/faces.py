"""Face proposals by MTCNN's first stage (Zhang et al., 2016), its real trained weights: P-Net, a 12×12-pixel face
detector written as a fully convolutional network, so that one pass over a picture scores every 12×12 window two
pixels apart. Run over an image pyramid (the picture shrunk by SCALE_STEP again and again), it proposes faces of every
size; each window's score is the chance of a face, and four more numbers move the window's corners onto the face.
NMS within each scale and then across scales leaves the proposals MTCNN's later stages would check.

The weights ship inside the `mtcnn` package (MIT) as a joblib file, read here without TensorFlow; the network is
rebuilt in Keras layer for layer (conv 3×3 → PReLU → max pool → conv 3×3 → PReLU → conv 3×3 → PReLU → two 1×1 heads).
"""

from __future__ import annotations

import functools
import importlib.util
import pathlib
from dataclasses import dataclass

import numpy as np

from core.lessons.vision_applications import boxes

WINDOW, STRIDE = 12, 2
SCALE_STEP = 0.709
SCALE_NMS_IOU = 0.5
"""MTCNN's NMS within one scale."""
MAX_SIDE = 640
"""Pictures larger than this are shrunk first (the pyramid's cost grows with the area)."""
PICTURES = {"astronaut (scikit-image)": "astronaut", "coffee (scikit-image)": "coffee"}
MTCNN_THRESHOLD = 0.6
"""The face threshold MTCNN itself uses for P-Net: low, because two more networks check what it proposes."""
SHOWN_THRESHOLD = 0.9
"""The page's default, so that a picture of P-Net's proposals stays readable."""
LABELLED = 5


class MissingWeights(RuntimeError):
    """The mtcnn package is not installed: the message says how to get it."""


def weights_file() -> pathlib.Path:
    spec = importlib.util.find_spec("mtcnn")
    if spec is None or spec.origin is None:
        raise MissingWeights(
            "The face detector's weights come with the `mtcnn` package, which is not installed here: "
            "`pip install mtcnn==1.0.0` (it is in requirements.txt)."
        )
    return pathlib.Path(spec.origin).parent / "assets" / "weights" / "pnet.lz4"


@functools.lru_cache(maxsize=1)
def pnet_weights() -> tuple[np.ndarray, ...]:
    """P-Net's 13 weight arrays, in its layers' order."""
    import joblib

    return tuple(np.asarray(w, "float32") for w in joblib.load(weights_file()))


@functools.lru_cache(maxsize=1)
def pnet():
    """P-Net in Keras with the shipped weights: (picture normalised to −1…1) → (corner moves, face probability) at
    every window; and its jitted call, one compile per picture size."""
    import jax

    from core.engine.backend import load_keras

    keras = load_keras()
    layers = keras.layers
    picture = keras.Input((None, None, 3), name="picture")
    h = picture
    for index, channels in enumerate((10, 16, 32), start=1):
        h = layers.Conv2D(channels, 3, name=f"conv{index}")(h)
        h = layers.PReLU(shared_axes=[1, 2], name=f"prelu{index}")(h)
        if index == 1:
            h = layers.MaxPooling2D(2, 2, padding="same", name="pool1")(h)
    moves = layers.Conv2D(4, 1, name="corner_moves")(h)
    face = layers.Conv2D(2, 1, activation="softmax", name="face")(h)
    model = keras.Model(picture, [moves, face], name="p_net")
    model.set_weights(list(pnet_weights()))
    trainable = [v.value for v in model.trainable_variables]
    call = jax.jit(lambda x: model.stateless_call(trainable, [], x)[0])
    return model, call


def pnet_outputs(picture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P-Net's (corner moves, face probabilities) at every window of one picture in 0…1. A page's thread runs it
    while other sessions' reruns clear Keras' state, so the build and the trace hold Keras in use."""
    from core.engine.backend import keras_in_use

    with keras_in_use():
        _, call = pnet()
        moves, face = (np.asarray(a)[0] for a in call(normalise(picture)[None]))
    return moves, face


def parameter_count() -> int:
    return int(sum(w.size for w in pnet_weights()))


def normalise(picture: np.ndarray) -> np.ndarray:
    """RGB in 0…1 to MTCNN's input: (value × 255 − 127.5) / 128."""
    return ((np.asarray(picture, "float32") * 255.0 - 127.5) / 128.0).astype("float32")


def pyramid_scales(height: int, width: int, min_face: int) -> np.ndarray:
    """The scales at which the picture is read: the first makes a face of `min_face` pixels fill the 12-pixel window,
    each next one SCALE_STEP smaller, while the picture still holds a window."""
    scales, scale = [], WINDOW / min_face
    while min(height, width) * scale >= WINDOW:
        scales.append(scale)
        scale *= SCALE_STEP
    return np.array(scales)


def window_boxes(moves: np.ndarray, face: np.ndarray, scale: float, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The windows scoring over `threshold` at one scale, moved by P-Net's corner offsets (in window sizes) and taken
    back to the picture's pixels: (boxes, scores)."""
    rows, columns = np.nonzero(face > threshold)
    x0, y0 = columns * STRIDE, rows * STRIDE
    corners = np.stack([x0, y0, x0 + WINDOW, y0 + WINDOW], axis=1).astype(float)
    corners += moves[rows, columns] * WINDOW
    return corners / scale, face[rows, columns]


@dataclass(frozen=True)
class Proposals:
    picture: np.ndarray
    """The picture read, RGB in 0…1 (shrunk to MAX_SIDE at most)."""
    scales: np.ndarray
    raw: np.ndarray
    """Every window over the threshold at every scale, before any NMS: (k, 4)."""
    raw_scores: np.ndarray
    boxes: np.ndarray
    """After NMS within each scale, best first: what the final NMS across scales chooses from."""
    scores: np.ndarray
    face_map: np.ndarray
    """The face probability of every window at the scale with the best window."""
    map_scale: float


def shrink(picture: np.ndarray) -> np.ndarray:
    from skimage.transform import rescale

    largest = max(picture.shape[:2])
    if largest <= MAX_SIDE:
        return picture
    return rescale(picture, MAX_SIDE / largest, channel_axis=2, anti_aliasing=True).astype("float32")


def propose(picture: np.ndarray, min_face: int = 20, threshold: float = 0.6) -> Proposals:
    """P-Net over the picture's pyramid."""
    from skimage.transform import resize

    picture = shrink(np.asarray(picture, "float32"))
    height, width = picture.shape[:2]
    scales = pyramid_scales(height, width, min_face)
    raw, raw_scores, kept, kept_scores = [], [], [], []
    best = (-1.0, np.zeros((1, 1)), 1.0)
    for scale in scales:
        size = (max(WINDOW, int(np.ceil(height * scale))), max(WINDOW, int(np.ceil(width * scale))))
        small = resize(picture, size, order=1, anti_aliasing=True)
        moves, face = pnet_outputs(small)
        face = face[..., 1]
        if face.max() > best[0]:
            best = (float(face.max()), face, float(scale))
        found, found_scores = window_boxes(moves, face, float(scale), threshold)
        raw.append(found)
        raw_scores.append(found_scores)
        chosen, _ = boxes.non_max_suppression(found, found_scores, threshold, SCALE_NMS_IOU)
        kept.append(found[chosen])
        kept_scores.append(found_scores[chosen])
    merged = np.concatenate(kept) if kept else np.zeros((0, 4))
    merged_scores = np.concatenate(kept_scores) if kept_scores else np.zeros(0)
    order = np.argsort(-merged_scores, kind="stable")
    return Proposals(
        picture,
        scales,
        np.concatenate(raw) if raw else np.zeros((0, 4)),
        np.concatenate(raw_scores) if raw_scores else np.zeros(0),
        merged[order],
        merged_scores[order],
        best[1],
        best[2],
    )


def sample_picture(name: str) -> np.ndarray:
    from skimage import data

    return (getattr(data, PICTURES[name])() / 255.0).astype("float32")


def read_upload(content: bytes, name: str = "") -> tuple[np.ndarray, list[str]]:
    """A student's picture as RGB in 0…1, and notes on what was done to it (ValueError with the reason for anything
    that cannot be read, or is too small to hold a face)."""
    from core.shared.pictures import open_picture

    picture = open_picture(content)
    notes = []
    if picture.mode == "L":
        notes.append("It is grayscale: its gray was copied into red, green and blue.")
    elif picture.mode != "RGB":
        notes.append(f"Its {picture.mode} pixels were converted to RGB (transparency dropped).")
    width, height = picture.size
    if min(width, height) < WINDOW * 2:
        raise ValueError(f"The picture is {width}×{height} pixels: at least {WINDOW * 2} on each side are needed.")
    pixels = np.asarray(picture.convert("RGB"), "float32") / 255.0
    if max(width, height) > MAX_SIDE:
        notes.append(f"It is {width}×{height} pixels; it was shrunk to {MAX_SIDE} on its longer side.")
    return shrink(pixels), notes


def findings(found: Proposals, kept: list[int], min_face: int, threshold: float, overlap: float) -> list[str]:
    height, width = found.picture.shape[:2]
    notes = [
        f"P-Net ({parameter_count():,} weights) read the {width}×{height} picture at {len(found.scales)} scales, "
        f"from {found.scales[0]:.3f} (a {min_face}-pixel face fills its 12-pixel window) down to "
        f"{found.scales[-1]:.3f}: {len(found.raw)} windows scored over {threshold:.2f}.",
        f"NMS within each scale (IoU > {SCALE_NMS_IOU}) left {len(found.boxes)}; across scales (IoU > {overlap:.2f}) "
        f"**{len(kept)}** remain.",
    ]
    if len(found.scores):
        notes.append(
            f"The best window scores {found.scores[0]:.4f} (the {LABELLED} best are labelled). P-Net is only the first "
            f"of MTCNN's three stages: MTCNN keeps every window over {MTCNN_THRESHOLD}, so as to miss little, and its "
            "next two networks reject most of them."
        )
    else:
        notes.append("No window scored over the threshold: lower it, or the smallest face size.")
    return notes
