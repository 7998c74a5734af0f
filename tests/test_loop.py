"""The shared jitted training loop (core/engine/loop.py): a linear model trained on it against plain
gradient descent written in NumPy, K copies in lockstep against K separate runs, the rows buffer and
range check, and that changing the chunk length or a hyperparameter does not compile again."""

import numpy as np
import pytest

from core.engine.backend import load_keras
from core.engine.loop import MiniBatchLoop


class LinearRegression(MiniBatchLoop):
    """y ≈ x·w + b by plain SGD on the mean squared error; each row is (loss, w₀) after an epoch."""

    traces = 0

    def __init__(self, x, y, batch_size, seed=0, copies=False, starts=None):
        keras = load_keras()
        model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(1, kernel_initializer="zeros")])
        optimizer = keras.optimizers.SGD(learning_rate=0.1)
        optimizer.build(model.trainable_variables)
        super().__init__(model, optimizer, x, y, batch_size, seed, 16, (len(starts), 2) if copies else (2,), copies)
        if copies:
            import jax.numpy as jnp

            trainable = [jnp.stack([jnp.full(v.shape, s, dtype=v.dtype) for s in starts]) for v in self.state[0]]
            optimizer_vars = [jnp.stack([v] * len(starts)) for v in self.state[2]]
            self.state = (trainable, self.state[1], optimizer_vars, self.state[3])

    def loss(self, trainable, non_trainable, x, y):
        import jax.numpy as jnp

        prediction, _ = self.model.stateless_call(trainable, non_trainable, x)
        return jnp.mean((prediction[:, 0] - y) ** 2)

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        LinearRegression.traces += 1
        return self.loss(trainable, non_trainable, x, y), non_trainable

    def evaluate(self, trainable, non_trainable):
        import jax.numpy as jnp

        return jnp.stack([self.loss(trainable, non_trainable, self.x, self.y), trainable[0][0, 0]])


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, (x @ np.array([1.5, -2.0, 0.5], dtype="float32") + 0.3).astype("float32")


def test_full_batch_training_is_plain_gradient_descent():
    x, y = _data()
    loop = LinearRegression(x, y, batch_size=len(x))
    rows = np.concatenate([loop.advance(5, np.float32(0.1)), loop.advance(3, np.float32(0.05))])
    w, b, expected = np.zeros(3), 0.0, []
    for rate in [0.1] * 5 + [0.05] * 3:
        error = x @ w + b - y
        w, b = w - rate * 2 * x.T @ error / len(x), b - rate * 2 * error.mean()
        expected.append((np.mean((x @ w + b - y) ** 2), w[0]))
    np.testing.assert_allclose(rows, np.array(expected), rtol=1e-4, atol=1e-6)


def test_an_epoch_is_whole_mini_batches_the_partial_one_dropped_and_the_loss_falls():
    x, y = _data(70)
    loop = LinearRegression(x, y, batch_size=32)
    assert (loop.batch, loop.n_batches) == (32, 2)
    first = loop.advance(4, np.float32(0.1))
    assert first.shape == (4, 2) and np.all(np.diff(first[:, 0]) < 0)  # the loss falls every epoch


def test_copies_in_lockstep_equal_separate_runs_from_the_same_starts():
    x, y = _data()
    together = LinearRegression(x, y, batch_size=16, copies=True, starts=(0.0, 0.5))
    rows = together.advance(6, np.float32(0.05))
    assert rows.shape == (6, 2, 2)
    for k, start in enumerate((0.0, 0.5)):
        alone = LinearRegression(x, y, batch_size=16, copies=True, starts=(start,))
        np.testing.assert_allclose(rows[:, k], alone.advance(6, np.float32(0.05))[:, 0], rtol=1e-5, atol=1e-7)


def test_chunk_length_and_learning_rate_change_without_compiling_again():
    x, y = _data()
    loop = LinearRegression(x, y, batch_size=16)
    LinearRegression.traces = 0
    loop.advance(3, np.float32(0.1))
    traced = LinearRegression.traces
    loop.advance(7, np.float32(0.01))
    loop.advance(16, np.float32(0.2))
    assert traced > 0 and LinearRegression.traces == traced
    with pytest.raises(ValueError, match="1…16"):
        loop.advance(17, np.float32(0.1))
    with pytest.raises(ValueError):
        loop.advance(0, np.float32(0.1))


class SmallConvNet(MiniBatchLoop):
    """A convolution and a logistic output on random 6×6 images; each row is (loss, a kernel weight)."""

    def __init__(self, host_loop: bool):
        keras = load_keras()
        keras.utils.set_random_seed(3)
        model = keras.Sequential(
            [
                keras.Input((6, 6, 1)),
                keras.layers.Conv2D(4, 3, activation="relu"),
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(1),
            ]
        )
        optimizer = keras.optimizers.Adam(0.01)
        optimizer.build(model.trainable_variables)
        rng = np.random.default_rng(1)
        x = rng.normal(size=(40, 6, 6, 1)).astype("float32")
        y = (x[:, :3].mean(axis=(1, 2, 3)) > 0).astype("float32")
        super().__init__(model, optimizer, x, y, 8, 5, 4, (2,), host_loop=host_loop)

    def compute_loss_and_updates(self, trainable, non_trainable, x, y, hyper):
        import jax.numpy as jnp

        logits, non_trainable = self.model.stateless_call(trainable, non_trainable, x)
        return jnp.mean(jnp.logaddexp(0.0, logits[:, 0]) - y * logits[:, 0]), non_trainable

    def epoch_row(self, trainable, non_trainable, batch_losses):
        import jax.numpy as jnp

        return jnp.stack([jnp.mean(batch_losses), trainable[0][1, 1, 0, 2]])


def test_the_host_loop_trains_exactly_as_the_jitted_epochs_do():
    """The Python loop over batches (for convolutions on CPU) shuffles, steps and measures as the scan does."""
    scanned, hosted = SmallConvNet(host_loop=False), SmallConvNet(host_loop=True)
    rows = [loop.advance(3, np.float32(0.01)) for loop in (scanned, hosted)]
    rows = [np.concatenate([r, loop.advance(2, np.float32(0.02))]) for r, loop in zip(rows, (scanned, hosted))]
    assert rows[0].shape == rows[1].shape == (5, 2) and rows[0][-1, 0] < rows[0][0, 0]
    np.testing.assert_allclose(rows[1], rows[0], rtol=1e-4, atol=1e-6)
    for a, b in zip(scanned.state[0], hosted.state[0]):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="1…4"):
        hosted.advance(5, np.float32(0.01))
