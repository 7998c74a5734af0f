"""Two-dimensional teaching data shared by lessons: labelled point sets and the grid of points where a
decision surface is evaluated."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRID_SIZE = 60


@dataclass(frozen=True)
class PointSet:
    """Labelled 2-D points split into training and test sets; labels are 0…K−1 naming `classes`."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    description: str

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def half_moons(n_samples: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half-moons: the points and labels of scikit-learn's `make_moons(n_samples, noise=noise,
    random_state=seed)`, to the last bit (a test holds them equal), without importing scikit-learn. A worker process
    that trains a lesson on these imports Keras without it: 48 MB less of its memory."""
    outer, inner = n_samples // 2, n_samples - n_samples // 2
    x = np.concatenate([np.cos(np.linspace(0, np.pi, outer)), 1 - np.cos(np.linspace(0, np.pi, inner))])
    y = np.concatenate([np.sin(np.linspace(0, np.pi, outer)), 1 - np.sin(np.linspace(0, np.pi, inner)) - 0.5])
    return _shuffled_with_noise(np.stack([x, y], axis=1), outer, inner, noise, seed)


def concentric_circles(n_samples: int, noise: float, seed: int, factor: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles, the inner `factor` times the outer: scikit-learn's `make_circles(n_samples,
    noise=noise, random_state=seed, factor=factor)`, to the last bit, without importing scikit-learn."""
    outer, inner = n_samples // 2, n_samples - n_samples // 2
    around_out = np.linspace(0, 2 * np.pi, outer, endpoint=False)
    around_in = np.linspace(0, 2 * np.pi, inner, endpoint=False)
    x = np.concatenate([np.cos(around_out), np.cos(around_in) * factor])
    y = np.concatenate([np.sin(around_out), np.sin(around_in) * factor])
    return _shuffled_with_noise(np.stack([x, y], axis=1), outer, inner, noise, seed)


def _shuffled_with_noise(points, outer: int, inner: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """What scikit-learn's generators do last, with the same random draws in the same order: shuffle, then noise."""
    labels = np.concatenate([np.zeros(outer, dtype=np.intp), np.ones(inner, dtype=np.intp)])
    generator = np.random.RandomState(seed)
    order = np.arange(len(points))
    generator.shuffle(order)
    points, labels = points[order], labels[order]
    return points + generator.normal(scale=noise, size=points.shape), labels


def surface_grid(size: int = GRID_SIZE, extent: float = 2.5) -> tuple[np.ndarray, np.ndarray]:
    """The axis values and the flattened (size², 2) points where the decision surface is evaluated."""
    axis = np.linspace(-extent, extent, size, dtype="float32")
    xx, yy = np.meshgrid(axis, axis)
    return axis, np.stack([xx.ravel(), yy.ravel()], axis=1)
