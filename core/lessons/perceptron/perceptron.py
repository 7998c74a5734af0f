"""Rosenblatt's perceptron: one neuron with a step activation, trained by the perceptron rule.

On each misclassified point (y·(w·x + b) ≤ 0, labels ±1) the rule adds η·y·x to the weights and η·y
to the bias, which turns the line towards that point. On linearly separable data it stops making
mistakes after finitely many updates (Novikoff's theorem); on XOR no line exists, and it never does.
That failure is why networks need hidden layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.engine.params import Control, ControlBox

DATASETS = ("separable", "XOR")

CONTROLS = (
    Control("data", "Data", "select", "separable", options=DATASETS, was="perceptron_data"),
    Control("rate", "Learning rate η", "select", 0.1, options=(0.01, 0.1, 0.5, 1.0), was="perceptron_rate"),
    Control("epochs", "Passes over the data (epochs)", "int", 10, min=1, max=50, was="perceptron_epochs"),
    Control("seed", "Random seed", "int", 0, min=0, max=9999, was="perceptron_seed"),
)
BOX = ControlBox("perceptron", "Perceptron settings", CONTROLS)


def make_points(dataset: str, seed: int, n: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """2D points with labels ±1: two separated clouds, or the four clouds of XOR."""
    rng = np.random.default_rng(seed)
    if dataset == "separable":
        centres, labels = np.array([[0.2, 1.4], [1.5, 0.4]]), np.array([-1, 1])  # off-centre: the bias must move too
    elif dataset == "XOR":
        centres, labels = np.array([[-1, -1], [1, 1], [-1, 1], [1, -1]], dtype=float), np.array([-1, -1, 1, 1])
    else:
        raise ValueError(f"unknown data set {dataset!r}; choose one of {', '.join(DATASETS)}")
    which = rng.integers(0, len(centres), size=n)
    return centres[which] + rng.normal(0.0, 0.35, size=(n, 2)), labels[which]


@dataclass(frozen=True)
class Update:
    """The state right after one update of the rule (the first entry is the starting state)."""

    epoch: int
    point: int | None  # the misclassified point that caused it
    w: np.ndarray
    b: float
    mistakes: np.ndarray  # boolean mask: points this line misclassifies


@dataclass(frozen=True)
class PerceptronRun:
    updates: tuple[Update, ...]
    epoch_accuracy: tuple[float, ...]  # after each epoch
    converged_at: int | None  # first epoch with no mistake, if any

    @property
    def final_accuracy(self) -> float:
        return self.epoch_accuracy[-1]


def predict(w: np.ndarray, b: float, x: np.ndarray) -> np.ndarray:
    return np.where(x @ w + b > 0, 1, -1)


def misclassified(w: np.ndarray, b: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The rule's own test: a point on the line (score 0) counts as wrong."""
    return y * (x @ w + b) <= 0


def train(x: np.ndarray, y: np.ndarray, learning_rate: float, epochs: int, seed: int = 0) -> PerceptronRun:
    """The perceptron rule, visiting the points in a fresh random order each epoch."""
    rng = np.random.default_rng(seed)
    w, b = np.zeros(2), 0.0
    updates = [Update(0, None, w.copy(), b, misclassified(w, b, x, y))]
    accuracy, converged_at = [], None
    for epoch in range(1, epochs + 1):
        mistakes_this_epoch = 0
        for i in rng.permutation(len(x)):
            if y[i] * (x[i] @ w + b) <= 0:
                w, b = w + learning_rate * y[i] * x[i], b + learning_rate * y[i]
                mistakes_this_epoch += 1
                updates.append(Update(epoch, int(i), w.copy(), b, misclassified(w, b, x, y)))
        accuracy.append(float(np.mean(~misclassified(w, b, x, y))))
        if mistakes_this_epoch == 0:
            converged_at = epoch
            break
    return PerceptronRun(tuple(updates), tuple(accuracy), converged_at)
