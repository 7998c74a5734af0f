"""The perceptron rule converges on separable data and cannot reach 100 % on XOR."""

import numpy as np
import pytest

from core.lessons.perceptron import perceptron


@pytest.mark.parametrize("seed", range(5))
def test_the_rule_converges_on_separable_points(seed):
    x, y = perceptron.make_points("separable", seed)
    run = perceptron.train(x, y, learning_rate=0.1, epochs=50, seed=seed)
    assert run.converged_at is not None and run.final_accuracy == 1.0
    last = run.updates[-1]
    assert not last.mistakes.any() and np.all(perceptron.predict(last.w, last.b, x) == y)


@pytest.mark.parametrize("seed", range(5))
def test_no_line_solves_xor(seed):
    x, y = perceptron.make_points("XOR", seed)
    run = perceptron.train(x, y, learning_rate=0.1, epochs=50, seed=seed)
    assert run.converged_at is None
    assert max(run.epoch_accuracy) < 1.0
    assert all(update.mistakes.any() for update in run.updates)


def test_each_update_moves_towards_the_misclassified_point():
    x, y = perceptron.make_points("separable", 3)
    run = perceptron.train(x, y, learning_rate=0.5, epochs=5, seed=3)
    for before, after in zip(run.updates, run.updates[1:]):
        i = after.point
        assert before.mistakes[i]  # only a misclassified point triggers an update
        np.testing.assert_allclose(after.w - before.w, 0.5 * y[i] * x[i])
        assert y[i] * (x[i] @ after.w + after.b) > y[i] * (x[i] @ before.w + before.b)  # its score improves


def test_an_unknown_data_set_is_a_clear_error():
    with pytest.raises(ValueError, match="choose one of separable, XOR"):
        perceptron.make_points("spiral", 0)
