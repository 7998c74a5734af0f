"""GANs: the losses against plain formulas and Keras, the 2D GAN's mode coverage with the defaults
and with the mode-collapse preset, the generator's push against finite differences, freezing one
network, the image GAN's samples and latent walk, and point files that cannot be used."""

import math

import numpy as np
import pytest

from core.engine.csvinput import DataError
from core.engine.params import config_from_query
from core.lessons.gan import gan, gan2d, imagegan


def config_2d(**overrides):
    config, problems = config_from_query(gan2d.CONTROLS, {})
    assert not problems
    return {**config, **overrides}


def train_and_watch(config, iterations: int, every: int = 250):
    duel = gan2d.Duel(config, gan2d.make_target(config["target"], config["seed"]))
    live = {"lr_d": config["lr_d"], "lr_g": config["lr_g"], "mode": gan.BOTH}
    shots = []
    for _ in range(iterations // every):
        duel.run(every, live)
        shots.append(duel.snapshot())
    return duel, shots


def test_discriminator_loss_from_logits_is_binary_cross_entropy():
    import keras

    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(64, 1)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    expected = float(bce(np.ones_like(real), real)) + float(bce(np.zeros_like(fake), fake))
    assert float(gan.discriminator_loss(real, fake)) == pytest.approx(expected, rel=1e-5)

    def sigmoid(x):
        return 1 / (1 + np.exp(-x.astype("float64")))

    smoothed = np.mean(-(0.9 * np.log(sigmoid(real)) + 0.1 * np.log(1 - sigmoid(real)))) + np.mean(
        -np.log(1 - sigmoid(fake))
    )
    assert float(gan.discriminator_loss(real, fake, smoothing=0.1)) == pytest.approx(smoothed, rel=1e-5)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_logit_and_probability_forms_agree_where_finite_and_only_logits_survive_saturation(smoothing):
    rng = np.random.default_rng(1)
    real, fake = rng.normal(0, 3, (128, 1)).astype("float32"), rng.normal(0, 3, (128, 1)).astype("float32")
    assert float(gan.discriminator_loss(real, fake, True, smoothing)) == pytest.approx(
        float(gan.discriminator_loss(real, fake, False, smoothing)), rel=1e-4
    )
    for kind in (gan.NON_SATURATING, gan.MINIMAX):
        assert float(gan.generator_loss(fake, kind, True)) == pytest.approx(
            float(gan.generator_loss(fake, kind, False)), rel=1e-4, abs=1e-6
        )
    confident_real, fooled_fake = np.full((4, 1), 120.0, "float32"), np.full((4, 1), 120.0, "float32")
    from_logits = float(gan.discriminator_loss(confident_real, fooled_fake, True, smoothing))
    assert from_logits == pytest.approx(120 * (1 + smoothing), rel=1e-4)
    from_probabilities = float(gan.discriminator_loss(confident_real, fooled_fake, False, smoothing))
    clipped = -math.log(1 - float(np.float32(1 - gan.PROBABILITY_EPSILON)))  # −log ε after float32 rounding: 15.9
    assert from_probabilities == pytest.approx((1 + smoothing) * clipped, rel=1e-4)
    assert float(gan.generator_loss(-fooled_fake, gan.NON_SATURATING, True)) == pytest.approx(120, rel=1e-4)
    assert float(gan.generator_loss(-fooled_fake, gan.NON_SATURATING, False)) == pytest.approx(
        -math.log(gan.PROBABILITY_EPSILON), rel=1e-4
    )


def exact_discriminator_loss(real, fake, smoothing):
    """The mathematical loss and its gradient per logit, in float64 with log σ written as −log1p(e^−l)."""
    t = 1.0 - smoothing
    real, fake = real.astype("float64"), fake.astype("float64")
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    loss = np.mean(t * np.logaddexp(0, -real) + (1 - t) * np.logaddexp(0, real)) + np.mean(np.logaddexp(0, fake))
    return loss, (sig(real) - t) / len(real), sig(fake) / len(fake)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_losses_and_gradients_are_finite_for_every_logit_up_to_50_in_both_forms(smoothing):
    import jax

    logits = np.linspace(-50, 50, 1001, dtype="float32")[:, None]
    real, fake = logits, logits[::-1].copy()
    exact, exact_real, exact_fake = exact_discriminator_loss(real, fake, smoothing)
    for from_logits in (True, False):
        loss, (grad_real, grad_fake) = jax.value_and_grad(gan.discriminator_loss, argnums=(0, 1))(
            real, fake, from_logits, smoothing
        )
        assert math.isfinite(float(loss)) and np.isfinite(grad_real).all() and np.isfinite(grad_fake).all()
        for kind in (gan.NON_SATURATING, gan.MINIMAX):
            g_loss, g_grad = jax.value_and_grad(gan.generator_loss)(fake, kind, from_logits)
            assert math.isfinite(float(g_loss)) and np.isfinite(g_grad).all()
    loss, (grad_real, grad_fake) = jax.value_and_grad(gan.discriminator_loss, argnums=(0, 1))(
        real, fake, True, smoothing
    )
    assert float(loss) == pytest.approx(exact, rel=1e-5)
    np.testing.assert_allclose(grad_real, exact_real, atol=1e-7)
    np.testing.assert_allclose(grad_fake, exact_fake, atol=1e-7)


def test_a_saturated_probability_gives_a_flat_gradient_not_a_nan():
    """The issue's case: no smoothing, from probabilities, a real logit past 16.75 where σ rounds to 1.
    The real term's true loss is ~1e-22; it must read ~0 with a zero gradient (saturation), never NaN."""
    import jax

    real = np.array([[20.0], [30.0]], dtype="float32")
    fake = np.array([[-20.0], [-30.0]], dtype="float32")
    loss, (grad_real, grad_fake) = jax.value_and_grad(gan.discriminator_loss, argnums=(0, 1))(real, fake, False, 0.0)
    assert float(loss) == pytest.approx(-2 * math.log(1 - gan.PROBABILITY_EPSILON), abs=1e-6)
    assert np.all(grad_real == 0) and np.all(grad_fake == 0)
    # a fooled discriminator with the minimax generator: the generator's gradient vanishes (the lesson)
    fooled = np.array([[-30.0]], dtype="float32")
    assert float(jax.grad(gan.generator_loss)(fooled, gan.MINIMAX, False)[0, 0]) == 0.0
    assert float(jax.grad(gan.generator_loss)(fooled, gan.NON_SATURATING, True)[0, 0]) == pytest.approx(-1.0, abs=1e-6)


def test_mode_coverage_counts_modes_and_samples_near_them():
    target = gan2d.make_target(gan2d.RING)
    rng = np.random.default_rng(0)
    everywhere = target.centres[rng.integers(8, size=800)] + rng.normal(0, gan2d.MODE_STD, (800, 2))
    coverage = gan2d.mode_coverage(everywhere, target)
    assert coverage.covered == 8 and coverage.near_share > 0.95
    one = gan2d.mode_coverage(target.centres[[3]].repeat(500, axis=0), target)
    assert (one.covered, one.near_share) == (1, 1.0) and one.per_mode[3] == 1.0
    noise = gan2d.mode_coverage(rng.uniform(-3, 3, (2000, 2)), target)
    assert noise.near_share < 0.05
    grid = gan2d.make_target(gan2d.GRID)
    assert len(grid.centres) == 25 and gan2d.mode_coverage(grid.points, grid).covered == 25


@pytest.mark.parametrize("name", [gan2d.LINE, gan2d.MOONS, gan2d.SPIRAL])
def test_shapes_are_cut_into_parts_that_hold_their_points(name):
    target = gan2d.make_target(name)
    assert target.points.shape == (gan2d.REAL_POINTS, 2) and np.all(np.abs(target.points) < 2.5)
    assert len(target.centres) == 8
    assert gan2d.mode_coverage(target.points, target).near_share == pytest.approx(0.95, abs=0.02)


def test_the_defaults_cover_the_ring_within_2500_iterations():
    _, shots = train_and_watch(config_2d(), 2500)
    reached = [shot.iteration for shot in shots if shot.coverage.covered >= 7 and shot.coverage.near_share > 0.5]
    assert reached, [(s.coverage.covered, round(s.coverage.near_share, 2)) for s in shots]


def test_the_mode_collapse_preset_covers_measurably_fewer_modes():
    config = config_2d(**gan2d.PRESETS["provoke mode collapse"])
    _, shots = train_and_watch(config, 3000)
    best = (
        max(shot.coverage.covered for shot in shots if shot.coverage.near_share > 0.2)
        if any(shot.coverage.near_share > 0.2 for shot in shots)
        else 0
    )
    assert best <= 2
    spread = np.linalg.norm(shots[-1].fake.std(axis=0))
    assert spread < np.linalg.norm(shots[-1].real.std(axis=0)) / 4
    assert any("mode collapse" in line for line in gan2d.findings(shots[-1], None))


@pytest.fixture
def full_precision_matmuls():
    """On a GPU, float32 matrix products default to TF32, too coarse for a finite difference."""
    import jax

    before = jax.config.jax_default_matmul_precision
    jax.config.update("jax_default_matmul_precision", "highest")
    yield
    jax.config.update("jax_default_matmul_precision", before)


def test_the_generator_push_is_minus_the_gradient_of_its_loss(full_precision_matmuls):
    """Central differences of −log D(x) at 10 samples. Leaky ReLU has kinks, and a difference taken
    across one disagrees with the gradient, so 18 of the 20 components must agree, not all."""
    duel, shots = train_and_watch(config_2d(), 250)
    shot = duel.snapshot()
    x, push = shot.arrows_at[:10].astype("float64"), shot.arrows[:10]
    step, agree = 1e-3, 0
    for i in range(10):
        for axis in range(2):
            up, down = x[i].copy(), x[i].copy()
            up[axis] += step
            down[axis] -= step
            loss = -np.log(duel.trainer.discriminate(np.stack([up, down]).astype("float32")).astype("float64"))
            agree += -(loss[0] - loss[1]) / (2 * step) == pytest.approx(push[i, axis], rel=0.05, abs=1e-3)
    assert agree >= 18


def test_freezing_one_network_leaves_its_weights_alone():
    duel = gan2d.Duel(config_2d(), gan2d.make_target(gan2d.RING))
    before = [np.asarray(v).copy() for v in duel.trainer.generator_variables()[0]]
    d_before = [np.asarray(v).copy() for v in duel.trainer.discriminator_variables()[0]]
    rows = duel.run(20, {"lr_d": 0.001, "lr_g": 0.001, "mode": gan.D_ONLY})
    assert len(rows) == 20 and all(math.isfinite(r["d_loss"]) for r in rows)
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(before, duel.trainer.generator_variables()[0]))
    assert not all(
        np.array_equal(a, np.asarray(b)) for a, b in zip(d_before, duel.trainer.discriminator_variables()[0])
    )
    d_now = [np.asarray(v).copy() for v in duel.trainer.discriminator_variables()[0]]
    duel.run(20, {"lr_d": 0.001, "lr_g": 0.001, "mode": gan.G_ONLY})
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(d_now, duel.trainer.discriminator_variables()[0]))
    assert not all(np.array_equal(a, np.asarray(b)) for a, b in zip(before, duel.trainer.generator_variables()[0]))


@pytest.mark.parametrize("output", [imagegan.TANH, imagegan.SIGMOID])
def test_image_samples_have_the_datas_shape_and_range_and_the_grid_is_fixed(output):
    config, _ = config_from_query(imagegan.CONTROLS, {})
    config["output"] = output
    duel = imagegan.ImageDuel(config)
    low, high = (-1, 1) if output == imagegan.TANH else (0, 1)
    assert duel.real.min() >= low and duel.real.max() <= high and duel.real.min() < low + 0.01
    rows = duel.run(2, {"lr_d": config["lr_d"], "lr_g": config["lr_g"]})
    assert len(rows) == 2 and duel.trainer.iteration == 2 * duel.per_epoch
    first, second = duel.snapshot(), duel.snapshot()
    assert first.samples.shape == (imagegan.GRID, 8, 8, 1)
    assert first.samples.min() >= 0 and first.samples.max() <= 1
    raw = duel.trainer.generate(duel.z)
    assert raw.min() >= low and raw.max() <= high
    np.testing.assert_array_equal(first.samples, second.samples)
    walker = imagegan.Walker(duel.config, first.size, first.generator_weights, first.generator_state)
    np.testing.assert_allclose(walker.images(duel.z), first.samples, atol=1e-6)
    walk = walker.interpolate(duel.z[0], duel.z[1], 5)
    np.testing.assert_allclose(walk[0], first.samples[0], atol=1e-6)
    np.testing.assert_allclose(walk[-1], first.samples[1], atol=1e-6)


def test_the_faces_and_mnist_generators_fit_their_images():
    for images, size in (("faces (24×24)", 24), ("MNIST sample (28×28)", 28)):
        config, _ = config_from_query(imagegan.CONTROLS, {"images": images})
        generator, discriminator = imagegan.build_models(config, size)
        assert generator.output_shape == (None, size, size, 1)
        assert discriminator.output_shape == (None, 1)


def csv(rows) -> bytes:
    return ("\n".join(rows) + "\n").encode()


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "The file is empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "not a CSV text file"),
        (csv(["x,y,z"] + ["1,2,3"] * 60), "The file has 3 columns; it needs exactly 2"),
        (csv(["x"] + ["1"] * 60), "The file has 1 column; it needs exactly 2"),
        (csv(["x,y"] + ["1,2"] * 30 + ["1,two"] + ["1,2"] * 30), "Line 32: '1, two' is not two numbers"),
        (csv(["1,2"] * 30 + ["nan,2"] + ["1,2"] * 30), "Line 31: 'nan, 2' is not two numbers"),
        (csv(["x,y", "1,2", "3,4"]), "The file has 2 points; a GAN needs at least 50"),
        (csv(["x,y"] + ["1,2"] * 5001), "The file has 5,001 points; the lesson takes at most 5,000"),
        (csv(["x,y"] + ["1,2"] * 60), "Every point is the same point"),
    ],
)
def test_bad_point_files_get_a_clear_message(raw, message):
    with pytest.raises(DataError, match=message):
        gan2d.read_points_csv(raw)


def test_a_good_point_file_is_scaled_with_or_without_a_header():
    points = gan2d.read_points_csv(gan2d.example_csv())
    assert points.points.shape == (600, 2)
    assert np.max(np.abs(points.points)) == pytest.approx(2, abs=1e-3)
    headless = gan2d.read_points_csv(b"\n".join(gan2d.example_csv().splitlines()[1:]) + b"\n")
    np.testing.assert_array_equal(headless.points, points.points)
    target = gan2d.make_target(gan2d.YOUR_CSV, points=points.points)
    assert len(target.centres) == 8 and len(target.points) == 600
