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


def surface_grid(size: int = GRID_SIZE, extent: float = 2.5) -> tuple[np.ndarray, np.ndarray]:
    """The axis values and the flattened (size², 2) points where the decision surface is evaluated."""
    axis = np.linspace(-extent, extent, size, dtype="float32")
    xx, yy = np.meshgrid(axis, axis)
    return axis, np.stack([xx.ravel(), yy.ravel()], axis=1)
