"""The deep-network core behind the initialisation and vanishing-gradient lessons: its initialisers
against Keras' own, its training step against Keras' fit, its per-layer statistics against
independent computations (jax.grad through the plain model, and a hand-written NumPy backward pass),
and the classic results it must reproduce."""

import math

import numpy as np
import pytest

from core.engine.backend import load_keras
from core.engine.jobs import JobRegistry, JobStatus
from core.lessons.initialisation import initialisation
from core.shared import deepnet

KERAS_NAMES = {
    "LeCun normal": "LecunNormal",
    "Glorot uniform": "GlorotUniform",
    "Glorot normal": "GlorotNormal",
    "He normal": "HeNormal",
    "He uniform": "HeUniform",
    "orthogonal": "Orthogonal",
}


@pytest.mark.parametrize("scheme", KERAS_NAMES)
def test_each_scheme_draws_what_keras_named_initializer_draws(scheme):
    keras = load_keras()
    ours = np.asarray(deepnet.initializer(scheme, seed=7)((64, 32)))
    theirs = np.asarray(keras.initializers.get({"class_name": KERAS_NAMES[scheme], "config": {"seed": 7}})((64, 32)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    doubled = np.asarray(deepnet.initializer(scheme, seed=7, gain=2.0)((64, 32)))
    assert doubled.std() == pytest.approx(2 * ours.std(), rel=1e-5)  # gain scales the spread


def test_small_and_large_have_the_course_spreads_and_zeros_is_zero():
    assert np.asarray(deepnet.initializer("small", 1)((200, 200))).std() == pytest.approx(0.01, rel=0.02)
    assert np.asarray(deepnet.initializer("large", 1)((200, 200))).std() == pytest.approx(10.0, rel=0.02)
    assert not np.asarray(deepnet.initializer("zeros", 1)((5, 5))).any()


def test_the_data_is_the_course_notebooks_circles():
    data = deepnet.circles()
    assert data.x_train.shape == (300, 2) and data.x_test.shape == (100, 2)
    assert np.bincount(data.y_train).tolist() == [150, 150]
    radii = np.linalg.norm(data.x_train, axis=1)
    assert radii[data.y_train == 0].mean() == pytest.approx(1.0, abs=0.05)  # outer circle
    assert radii[data.y_train == 1].mean() == pytest.approx(0.8, abs=0.05)  # factor 0.8


def test_the_numpy_draw_is_the_course_notebooks_weights():
    """The notebook: np.random.seed(3); W_l = randn(n_l, n_l−1) × √(2 / n_l−1) for He, × 10 for large."""
    np.random.seed(3)
    expected = [
        np.random.randn(10, 2) * math.sqrt(2 / 2),
        np.random.randn(5, 10) * math.sqrt(2 / 10),
        np.random.randn(1, 5) * math.sqrt(2 / 5),
    ]
    ours = deepnet.numpy_kernels((10, 5), "He normal", 3)
    for kernel, reference in zip(ours, expected, strict=True):
        np.testing.assert_allclose(kernel, reference.T, rtol=1e-6)
    large = deepnet.numpy_kernels((10, 5), "large", 3)
    np.testing.assert_allclose(large[1], ours[1] * 10 / math.sqrt(2 / 10), rtol=1e-6)
    assert deepnet.numpy_kernels((10, 5), "He uniform", 3) is None


def course_rows(race, steps=15000):
    rows = []
    while race.epoch < steps:
        rows.append(race.run(min(deepnet.MAX_CHUNK, steps - race.epoch), 0.01))
    return np.concatenate(rows)


def test_the_course_result_is_the_notebooks_to_the_last_point():
    """The deep-learning course's initialisation notebook: 2-10-5-1 ReLU, 15,000 full-batch steps at 0.01, its
    own starting weights. It prints He 0.9933 train / 0.96 test, large 0.83 / 0.86, zeros 0.5 / 0.5."""
    race = initialisation.course_race(("zeros", "large", "He normal"), seed=initialisation.COURSE_NOTEBOOK_SEED)
    rows = course_rows(race)
    zeros, large, he = 0, 1, 2
    np.testing.assert_allclose(rows[:, zeros, 0], math.log(2), atol=1e-5)  # loss ln 2 = 0.6931 at every step
    assert np.all(rows[:, zeros, 1] == 0.5) and np.all(rows[:, zeros, 3] == 0.5)  # 50 % accuracy throughout
    assert race.initial[large, 0] > 100 * math.log(2)  # a huge first loss
    assert race.initial[he, 0] < 2 * math.log(2)
    assert round(float(rows[-1, he, 1]) * 300) == 298 and round(float(rows[-1, he, 3]) * 100) == 96
    assert round(float(rows[-1, large, 1]) * 300) == 249 and round(float(rows[-1, large, 3]) * 100) == 86
    assert race.distinct_units().tolist() == [[1, 1], [10, 5], [10, 5]]  # symmetry never broken by zeros


def test_with_keras_initialisers_the_course_story_holds_from_another_draw():
    race = initialisation.course_race(("zeros", "large", "He normal"), seed=0, draw=initialisation.KERAS_DRAW)
    rows = course_rows(race)
    np.testing.assert_allclose(rows[-1, 0, 0], math.log(2), atol=1e-5)
    assert rows[-1, 2, 1] >= 0.99 and rows[-1, 2, 3] >= 0.9 and rows[-1, 1, 1] < rows[-1, 2, 1]


def test_he_reaches_high_training_accuracy_from_other_seeds_too():
    race = initialisation.course_race(("He normal", "He uniform"), seed=5, draw=initialisation.KERAS_DRAW)
    while race.epoch < 15000:
        rows = race.run(min(deepnet.MAX_CHUNK, 15000 - race.epoch), 0.01)
    assert np.all(rows[-1, :, 1] >= 0.97)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relu_at_depth_30_he_keeps_the_scale_and_glorot_loses_it(seed):
    race = deepnet.Race(
        deepnet.circles(), deepnet.Network((256,) * 30, "relu"), ("He normal", "Glorot uniform"), 32, seed
    )
    change = initialisation.scale_change(race.measure()["activation_std"])
    assert 0.5 <= change[0] <= 2.0  # He et al. 2015: the variance is kept from layer to layer
    assert change[1] < 1e-3  # Glorot halves it (ReLU zeroes half) 29 times: about 2⁻¹⁴·⁵


def test_sigmoid_at_depth_30_starves_the_first_layers_of_gradient():
    race = deepnet.Race(
        deepnet.circles(), deepnet.Network((64,) * 30, "sigmoid"), ("Glorot uniform", "He normal"), 32, 0
    )
    norms = race.measure()["weight_gradient_norm"]
    assert np.all(norms[:, 0] < 1e-6 * norms[:, -2])  # layer 1 against layer 30: over six orders of magnitude


def numpy_forward_backward(kernels, biases, activation, x, y):
    """A plain MLP written out by hand: every hidden output h, ∂L/∂h and ∂L/∂W for the mean logistic loss."""
    functions = {
        "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
        "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
        "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
    }
    f, df = functions[activation]
    inputs, pre, h = [x], [], x
    for kernel, bias in zip(kernels[:-1], biases[:-1]):
        z = h @ kernel + bias
        pre.append(z)
        h = f(z)
        inputs.append(h)
    logits = h @ kernels[-1] + biases[-1]
    d_logits = (1 / (1 + np.exp(-logits)) - y[:, None]) / len(x)
    d_kernels = [inputs[-1].T @ d_logits]
    d_h, back = d_logits @ kernels[-1].T, []
    for layer in range(len(pre) - 1, -1, -1):
        back.insert(0, d_h)
        d_z = d_h * df(pre[layer])
        d_kernels.insert(0, inputs[layer].T @ d_z)
        d_h = d_z @ kernels[layer].T
    return inputs[1:], back, d_kernels


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_layer_statistics_match_a_hand_written_backward_pass(activation):
    data = deepnet.circles()
    race = deepnet.Race(data, deepnet.Network((8, 6, 6, 4), activation), ("Glorot normal", "He uniform"), 32, 3)
    race.run(3, 0.1)  # away from the initial values
    stats = race.measure()
    x = data.x_train[: deepnet.MEASURE_POINTS].astype(float)
    y = data.y_train[: deepnet.MEASURE_POINTS].astype(float)
    for copy in range(2):
        values = [v.astype(float) for v in race.weights(copy)]
        hidden, back, d_kernels = numpy_forward_backward(values[0::2], values[1::2], activation, x, y)
        np.testing.assert_allclose(stats["activation_std"][copy], [h.std() for h in hidden], rtol=1e-4)
        np.testing.assert_allclose(stats["activation_mean"][copy], [h.mean() for h in hidden], rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(stats["gradient_std"][copy], [g.std() for g in back], rtol=1e-3)
        np.testing.assert_allclose(
            stats["weight_gradient_norm"][copy], [np.linalg.norm(g) for g in d_kernels], rtol=1e-3
        )
        shares = stats["gradient_histogram"][copy].sum(axis=1) + stats["gradient_zero_share"][copy]
        np.testing.assert_allclose(stats["activation_histogram"][copy].sum(axis=1), 1.0, rtol=1e-5)
        np.testing.assert_allclose(shares, 1.0, rtol=1e-5)


def test_with_batch_norm_and_skips_weight_gradients_match_jax_grad_through_the_plain_model():
    import jax
    import jax.numpy as jnp

    data = deepnet.circles()
    network = deepnet.Network((16,) * 5, "gelu", batch_norm=True, residual=True)
    race = deepnet.Race(data, network, ("He normal",), 32, 2)
    race.run(2, 0.05)
    stats = race.measure()
    model = race.model
    trainable = [jnp.asarray(v) for v in race.weights(0)]
    non_trainable = [values[0] for values in race.state[1]]
    x, y = jnp.asarray(data.x_train[: deepnet.MEASURE_POINTS]), jnp.asarray(data.y_train[: deepnet.MEASURE_POINTS])

    def loss(trainable):
        logits, _ = model.stateless_call(trainable, non_trainable, x, training=True)
        return deepnet.mean_loss(y, logits)

    grads = jax.grad(loss)(trainable)
    expected = [float(jnp.linalg.norm(grads[i])) for i in race.kernel_index]
    np.testing.assert_allclose(stats["weight_gradient_norm"][0], expected, rtol=1e-4)
    assert [v.path for v in model.variables if "skip" in v.path] == []  # an Add has no weights
    assert sum(layer.name.startswith("skip_") for layer in model.layers) == 4  # skips from layer 2 on
    assert sum(layer.name.startswith("residual_scale_") for layer in model.layers) == 4  # each sum × 1/√2


def test_one_step_of_the_race_equals_keras_fit_for_every_copy():
    keras = load_keras()
    data = deepnet.circles()
    network = deepnet.Network((6, 4), "tanh")
    race = deepnet.Race(data, network, ("Glorot uniform", "LeCun normal"), len(data.x_train), 4)
    before = [race.weights(copy) for copy in range(2)]
    race.run(1, 0.3)
    for copy in range(2):
        model = keras.Sequential(
            [
                keras.Input((2,)),
                keras.layers.Dense(6, activation="tanh"),
                keras.layers.Dense(4, activation="tanh"),
                keras.layers.Dense(1),
            ]
        )
        model.set_weights(before[copy])
        model.compile(optimizer=keras.optimizers.SGD(0.3), loss=keras.losses.BinaryCrossentropy(from_logits=True))
        model.fit(
            data.x_train,
            data.y_train[:, None].astype("float32"),
            batch_size=len(data.x_train),
            epochs=1,
            shuffle=False,
            verbose=0,
        )
        for ours, theirs in zip(race.weights(copy), model.get_weights()):
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_a_copy_that_diverges_drops_out_and_the_others_race_on():
    race = deepnet.Race(deepnet.circles(), deepnet.Network((32,) * 12, "relu"), ("large", "He normal"), 32, 0)
    rows = race.run(5, 1.0)
    assert "large" in race.diverged_at and "He normal" not in race.diverged_at
    metrics = deepnet.race_metrics(race.schemes, rows[-1])
    assert set(metrics) == {f"He normal: {name}" for name in deepnet.METRICS}
    stats = race.measure()
    assert all(np.all(np.isfinite(values)) for values in stats.values())  # the pictures stay drawable


def test_clipping_bounds_every_update():
    clipped = deepnet.Race(deepnet.circles(), deepnet.Network((8,) * 3, "relu"), ("large",), 300, 0, clipnorm=1.0)
    before = clipped.weights(0)
    clipped.run(1, 0.1)
    step = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(clipped.weights(0), before)))
    assert step == pytest.approx(0.1, rel=1e-3)  # learning rate × the clipped norm of 1


def test_a_live_race_publishes_every_copy_and_looks_inside():
    registry = JobRegistry(max_running=1)
    try:
        config = {c.key: c.default for c in initialisation.DEEP_CONTROLS}
        config.update(depth=6, width=16, epochs=20, speed="full speed", schemes=("zeros", "He normal", "small"))
        job = registry.submit(initialisation.deep_task(config), "test")
        assert job.wait(120) and job.status == JobStatus.FINISHED
        view = job.view()
        assert [row["epoch"] for row in view.history] == list(range(1, 21))
        assert {f"{s}: train_loss" for s in ("zeros", "He normal", "small")} <= set(view.history[-1])
        shot = view.snapshot
        assert shot.epoch == 20 and shot.surfaces.shape == (3, deepnet.SURFACE_SIZE, deepnet.SURFACE_SIZE)
        assert shot.stats["activation_histogram"].shape == (3, 6, deepnet.HISTOGRAM_BINS)
        assert shot.gradient_history[0][0] == 0 and shot.gradient_history[-1][0] == 20
        lines = initialisation.deep_findings(shot)
        assert len(lines) == 3 and "exactly 0" in lines[0]
    finally:
        registry.shutdown()
