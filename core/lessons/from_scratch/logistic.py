"""Logistic regression as the smallest network: one sigmoid unit that tells faces from other pictures, written in
NumPy as the first programming exercise of Coursera's deep-learning course (propagate, then optimise by gradient
descent), on scikit-image's `lfw_subset` (100 faces and 100 non-faces, 25×25 pixels, shipped with scikit-image).

Each picture is flattened to a vector of 625 numbers; the unit computes a = σ(wᵀx + b), the cost is the mean
cross-entropy, and its gradients are dw = X(a − y)ᵀ/m and db = mean(a − y).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from core.engine.params import Control, ControlBox

SIDE = 25
RATES = (0.0001, 0.001, 0.01, 0.1, 1.0, 10.0)
TEST_SHARE = 0.25

CONTROLS = (
    Control(
        "learning_rate",
        "Learning rate",
        "select",
        0.01,
        options=RATES,
        help="Every rate is trained for comparison; this one is drawn bold.",
    ),
    Control("iterations", "Iterations of gradient descent", "int", 2000, min=10, max=10000),
    Control("seed", "Split seed", "int", 0, min=0, max=9999, help="Which quarter of the pictures is held out."),
)
BOX = ControlBox("logistic", "Gradient descent", CONTROLS, flat=False)


@dataclass(frozen=True)
class Faces:
    x_train: np.ndarray
    """(625, m_train): one flattened picture a column, as the course writes it."""
    y_train: np.ndarray
    """(1, m_train): 1 for a face, 0 for anything else."""
    x_test: np.ndarray
    y_test: np.ndarray


@lru_cache(maxsize=4)
def faces(seed: int) -> Faces:
    """scikit-image's 200 pictures (the first 100 faces), pixels in 0…1, a quarter held out (stratified by seed)."""
    from skimage.data import lfw_subset
    from sklearn.model_selection import train_test_split

    images = lfw_subset()
    labels = np.r_[np.ones(100), np.zeros(100)]
    x_train, x_test, y_train, y_test = train_test_split(
        images.reshape(len(images), -1), labels, test_size=TEST_SHARE, stratify=labels, random_state=seed
    )
    return Faces(x_train.T, y_train[None, :], x_test.T, y_test[None, :])


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^−z), without overflow warnings for large |z| (SciPy's expit)."""
    from scipy.special import expit

    return expit(z)


def propagate(w: np.ndarray, b: float, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, float]:
    """The cost and its gradients (dw, db) for all m pictures at once. The cost is computed from z (log σ(z) =
    −log(1 + e^−z)), so a saturated unit gives a large finite cost, not log 0."""
    m = x.shape[1]
    z = w.T @ x + b
    a = sigmoid(z)
    cost = float(np.mean(y * np.logaddexp(0.0, -z) + (1 - y) * np.logaddexp(0.0, z)))
    dw = x @ (a - y).T / m
    db = float(np.mean(a - y))
    return cost, dw, db


def accuracy(w: np.ndarray, b: float, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((sigmoid(w.T @ x + b) > 0.5) == (y == 1)))


@dataclass(frozen=True)
class Fit:
    learning_rate: float
    costs: np.ndarray
    """The training cost at every iteration (before its step)."""
    w: np.ndarray
    b: float
    train_accuracy: float
    test_accuracy: float

    @property
    def rises(self) -> int:
        """How many steps made the training cost larger: a rate too large overshoots the minimum."""
        return int(np.sum(np.diff(self.costs) > 0))


@lru_cache(maxsize=64)
def fit(learning_rate: float, iterations: int, seed: int) -> Fit:
    """Gradient descent from w = 0, b = 0 (one unit has no symmetry to break)."""
    data = faces(seed)
    w, b = np.zeros((data.x_train.shape[0], 1)), 0.0
    costs = np.empty(iterations)
    for step in range(iterations):
        costs[step], dw, db = propagate(w, b, data.x_train, data.y_train)
        w, b = w - learning_rate * dw, b - learning_rate * db
    return Fit(
        learning_rate,
        costs,
        w,
        b,
        accuracy(w, b, data.x_train, data.y_train),
        accuracy(w, b, data.x_test, data.y_test),
    )


def pictures(x: np.ndarray) -> np.ndarray:
    """Columns of flattened pixels back to (m, 25, 25) pictures."""
    return x.T.reshape(-1, SIDE, SIDE)


def examples(seed: int, each: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The first `each` training faces and the last `each` other training pictures, with their labels."""
    data = faces(seed)
    chosen = np.r_[np.flatnonzero(data.y_train[0] == 1)[:each], np.flatnonzero(data.y_train[0] == 0)[-each:]]
    return pictures(data.x_train[:, chosen]), data.y_train[0, chosen]


def average_pictures(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The average training face and the average other training picture, as 25×25 pictures."""
    data = faces(seed)
    return tuple(pictures(data.x_train[:, data.y_train[0] == label].mean(axis=1, keepdims=True))[0] for label in (1, 0))
