"""The two-dimensional teaching data made without scikit-learn is scikit-learn's, to the last bit."""

import numpy as np
import pytest
from sklearn.datasets import make_circles, make_moons

from core.shared.points import concentric_circles, half_moons


@pytest.mark.parametrize("n_samples", [1, 2, 7, 600])
@pytest.mark.parametrize("noise", [0.0, 0.2])
@pytest.mark.parametrize("seed", [0, 42, 2**31 - 1])
def test_half_moons_and_circles_are_scikit_learns(n_samples, noise, seed):
    for ours, theirs in (
        (half_moons(n_samples, noise, seed), make_moons(n_samples=n_samples, noise=noise, random_state=seed)),
        (
            concentric_circles(n_samples, noise, seed),
            make_circles(n_samples=n_samples, noise=noise, random_state=seed, factor=0.8),
        ),
    ):
        for mine, reference in zip(ours, theirs, strict=True):
            assert mine.dtype == reference.dtype
            np.testing.assert_array_equal(mine, reference)
