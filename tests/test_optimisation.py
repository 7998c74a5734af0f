"""The optimisation lesson: Keras' optimisers against their textbook formulas, the bowl against its closed forms,
and the page as a student meets it."""

import json
import math
import pathlib

import jax
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.charts.optimisation import gap_curves, race_animation
from core.charts.training import metric_curves
from core.lessons.optimisation import augmentation, batchnorm, network, regularisation, search, surfaces
from tests.helpers import chart_figures, chart_text, shown, train_runs

HOME = pathlib.Path(__file__).resolve().parents[1] / "Home.py"
DEFAULTS = {control.key: control.default for control in surfaces.CONTROLS}


def config(**changes):
    return {**DEFAULTS, "optimisers": surfaces.OPTIMISERS, **changes}


def hand_gradient(surface: str, p: np.ndarray, condition: float) -> np.ndarray:
    x, y = p
    if surface == surfaces.BOWL:
        return np.array([x / condition, y])
    if surface == surfaces.ROSENBROCK:
        return np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)]) / 500
    if surface == surfaces.SADDLE:
        return np.array([x, -y + y**3])
    return np.array([x / 10 + np.sin(2 * x) * np.cos(2 * y), y / 10 + np.cos(2 * x) * np.sin(2 * y)])


@pytest.mark.parametrize("surface", list(surfaces.SURFACES))
def test_each_surfaces_gradient_is_the_hand_derived_one(surface):
    loss = surfaces.loss_function(surface)
    for p in np.random.default_rng(0).uniform(-2, 2, size=(10, 2)):
        automatic = np.asarray(jax.grad(loss)(p.astype("float32"), 7.0))
        assert np.allclose(automatic, hand_gradient(surface, p, 7.0), rtol=1e-4, atol=1e-5)


def textbook_path(name: str, surface: str, start, alpha: float, eta: float, beta: float, steps: int, condition=7.0):
    """Each optimiser's update as the textbooks (and Keras' docs) write it, in float64."""
    p, m, v, acc = np.array(start, "float64"), np.zeros(2), np.zeros(2), np.full(2, 0.1)
    epsilon, rho, beta_2 = 1e-7, 0.9, 0.999
    points = [p.copy()]
    for t in range(1, steps + 1):
        g = hand_gradient(surface, p, condition)
        if name == surfaces.GD:
            p = p - alpha * g
        elif name == surfaces.MOMENTUM:
            m = beta * m - alpha * g
            p = p + m
        elif name == surfaces.NESTEROV:
            m = beta * m - alpha * g
            p = p + beta * m - alpha * g
        elif name == surfaces.RMSPROP:
            v = rho * v + (1 - rho) * g**2
            p = p - eta * g / np.sqrt(v + epsilon)
        elif name == surfaces.ADAM:
            m = beta * m + (1 - beta) * g
            v = beta_2 * v + (1 - beta_2) * g**2
            step = eta * math.sqrt(1 - beta_2**t) / (1 - beta**t)  # bias correction
            p = p - step * m / (np.sqrt(v) + epsilon)
        elif name == surfaces.ADAGRAD:
            acc = acc + g**2
            p = p - eta * g / np.sqrt(acc + epsilon)
        points.append(p.copy())
    return np.array(points)


@pytest.mark.parametrize("name", surfaces.OPTIMISERS)
@pytest.mark.parametrize("surface", [surfaces.ROSENBROCK, surfaces.BUMPY])
def test_each_keras_optimiser_steps_as_its_textbook_formula(name, surface):
    settings = config(surface=surface, condition=7, alpha=0.3, eta=0.05, beta=0.8, steps=25)
    path = surfaces.walk(surface, name, settings)
    expected = textbook_path(name, surface, surfaces.SURFACES[surface].start, 0.3, 0.05, 0.8, 25)
    assert path.diverged_at is None
    assert np.allclose(path.points, expected, rtol=2e-4, atol=2e-5), name


@pytest.mark.parametrize("condition, alpha, beta", [(10, 0.5, 0.9), (100, 1.5, 0.5), (25, 0.1, 0.99)])
def test_on_the_bowl_gradient_descent_and_momentum_follow_their_closed_forms(condition, alpha, beta):
    settings = config(surface=surfaces.BOWL, condition=condition, alpha=alpha, beta=beta, steps=300)
    for name in (surfaces.GD, surfaces.MOMENTUM):
        path = surfaces.walk(surfaces.BOWL, name, settings)
        closed = surfaces.closed_form_gaps(name, settings)
        assert len(closed) == 301
        assert surfaces.disagreement(path, closed) < 1e-3, name


def test_at_their_best_settings_both_converge_at_the_closed_form_rates():
    """Goh's rates: the error shrinks by (κ−1)/(κ+1) a step for gradient descent, (√κ−1)/(√κ+1) for momentum;
    the loss, a square of the error, by their squares. Measured on Keras' SGD over steps 200–400."""
    theory = surfaces.bowl_theory(100.0)
    assert theory.gd_rate == pytest.approx(99 / 101) and theory.momentum_rate == pytest.approx(9 / 11)
    gd = surfaces.walk(surfaces.BOWL, surfaces.GD, config(condition=100, alpha=theory.gd_alpha, beta=0.0, steps=400))
    measured = (gd.gaps[400] / gd.gaps[200]) ** (1 / 200)
    assert measured == pytest.approx(theory.gd_rate**2, rel=1e-3)
    momentum = surfaces.walk(
        surfaces.BOWL,
        surfaces.MOMENTUM,
        config(condition=100, alpha=theory.momentum_alpha, beta=theory.momentum_beta, steps=120),
    )
    settled = momentum.gaps[60:120]
    per_step = np.exp(np.polyfit(np.arange(60), np.log(settled), 1)[0])
    assert per_step == pytest.approx(theory.momentum_rate**2, rel=0.05)  # critically damped: t·ρᵗ, nearly ρᵗ
    assert theory.rate_speed_up == pytest.approx(10.0, rel=0.01)  # √κ
    assert abs(theory.gd_steps - theory.gd_steps_predicted) <= 1
    assert abs(theory.momentum_steps - theory.momentum_steps_predicted) <= 1
    assert theory.speed_up > 5


def test_a_step_too_large_diverges_and_the_path_stops_before_it():
    result = surfaces.race(config(surface=surfaces.BOWL, alpha=4.0, optimisers=(surfaces.GD, surfaces.ADAM)))
    gd = result.paths[0]
    assert gd.diverged_at is not None and len(gd.points) == gd.diverged_at
    assert np.isfinite(gd.points).all() and np.isfinite(gd.gaps).all()
    seen = surfaces.notice(result)
    assert seen.diverged == {surfaces.GD: gd.diverged_at} and surfaces.ADAM not in seen.diverged
    figure = race_animation(
        result.grid_x, result.grid_y, result.grid_gap, result.named_points, surfaces.OPTIMISERS, "t"
    )
    json.loads(figure.to_json())  # no NaN or infinity reaches the browser
    json.loads(gap_curves(result.named_gaps, surfaces.OPTIMISERS, 1e-6, "t").to_json())


def test_on_the_bumpy_bowl_momentum_rolls_past_the_dimples_that_trap_gradient_descent():
    seen = surfaces.notice(surfaces.race(config(surface=surfaces.BUMPY)))
    assert seen.reached.get(surfaces.MOMENTUM) is not None
    assert seen.unsettled[surfaces.GD] > 0.1  # in a dimple, a fixed height above the bottom


def test_a_path_that_touches_the_target_and_bounces_out_has_not_settled():
    assert surfaces.settled_at(np.array([1.0, 1e-7, 1e-3, 1e-7, 1e-8])) == 3
    assert surfaces.settled_at(np.array([1.0, 1e-7, 1e-3])) is None
    assert surfaces.settled_at(np.array([1e-9, 1e-8])) == 0


def open_page(**query) -> AppTest:
    at = AppTest.from_file(str(HOME), default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    return at.switch_page("views/optimisation.py").run()


def test_the_page_races_explains_and_compares_with_the_closed_forms():
    at = open_page()
    assert not at.exception
    text = shown(" ".join(m.value for m in at.markdown))
    assert "settles within 1e-06 of the minimum first" in text
    assert "Keras' gradient descent follows its closed form on the bowl" in text
    assert "close to √κ = **5.0**" in text
    figures = chart_figures(at)
    titles = [f["layout"]["title"]["text"] for f in figures]
    assert "Each optimiser's path: step 0" in titles and "How far above the minimum, step by step" in titles
    race = next(f for f in figures if f["layout"]["title"]["text"].startswith("Each optimiser"))
    assert len(race["frames"]) > 10 and race["layout"]["updatemenus"][0]["buttons"][0]["label"] == "▶ Play"
    table = at.dataframe[0].value
    assert list(table["optimiser"]) == [surfaces.GD, surfaces.MOMENTUM, surfaces.ADAM]


def test_the_page_on_other_surfaces_has_no_bowl_section_and_says_what_diverged():
    at = open_page(**{"race.surface": surfaces.SADDLE, "race.eta": "4.0"})
    assert not at.exception
    text = shown(" ".join(m.value for m in at.markdown))
    assert "Why momentum really works" not in " ".join(s.value for s in at.subheader)
    assert "Adam" in text


@pytest.mark.parametrize("bad", ["1e9", "0", "-0.5", "nan", "lots"])
def test_a_bad_step_size_in_a_link_gets_a_message_and_the_default(bad):
    at = open_page(**{"race.alpha": bad})
    assert not at.exception
    messages = " ".join(w.value for w in at.warning) + " ".join(e.value for e in at.error)
    assert "Step size α" in messages
    assert at.dataframe[0].value["step size"].iloc[0] == "α = 0.5"


def network_config(**changes):
    return {control.key: control.default for control in network.CONTROLS} | changes


@pytest.mark.parametrize(
    "schedule, progress, factor",
    [
        (network.CONSTANT, 0.7, 1.0),
        (network.STEP, 0.3, 0.5),
        (network.STEP, 0.99, 0.125),
        (network.EXPONENTIAL, 1.0, network.SCHEDULE_FLOOR),
        (network.EXPONENTIAL, 0.5, network.SCHEDULE_FLOOR**0.5),
        (network.COSINE, 0.5, 0.5),
        (network.COSINE, 1.0, 0.0),
        (network.WARM_UP, 0.05, 0.5),
        (network.WARM_UP, 0.6, 1.0),
    ],
)
def test_each_schedule_multiplies_the_rate_as_it_says(schedule, progress, factor):
    assert float(network.schedule_factor(schedule, np.float32(progress))) == pytest.approx(factor, abs=1e-6)


def test_every_copy_starts_from_the_same_weights_and_the_schedule_acts_inside_keras_step():
    """With warm-up over a tenth of 10 epochs and the whole training set as one batch, the first step's rate is 0:
    the weights do not move; the second step's is the full rate: they do."""
    data = network.digits(0)
    settings = network_config(batch_size=network.TRAIN_SIZE, schedule=network.WARM_UP)
    copies = [network.OptimiserCopy(name, settings, data, 10) for name in (surfaces.GD, surfaces.ADAM)]
    first = [np.asarray(w) for w in copies[0].state[0]]
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(first, copies[1].state[0]))
    rates = np.asarray([0.1, 0.003], "float32")
    copies[0].advance(1, rates)
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(first, copies[0].state[0]))
    copies[0].advance(1, rates)
    assert not all(np.array_equal(a, np.asarray(b)) for a, b in zip(first, copies[0].state[0]))


def test_a_copy_that_diverges_stops_its_curves_and_the_others_train_on():
    results = [np.array([[1.0, 1.0, 0.5], [np.nan, np.nan, np.nan]]), np.array([[0.9, 1.0, 0.6], [0.5, 0.7, 0.8]])]

    class Named:
        def __init__(self, name):
            self.name = name

    rows = network.rows_of([Named("A"), Named("B")], results)
    assert set(rows[0]) == {
        "loss · A",
        "val_loss · A",
        "val_accuracy · A",
        "loss · B",
        "val_loss · B",
        "val_accuracy · B",
    }
    assert set(rows[1]) == {"loss · B", "val_loss · B", "val_accuracy · B"}
    history = [{**row, "epoch": i + 1} for i, row in enumerate(rows)]
    figure = metric_curves(history, ["loss · A", "loss · B"], "t", labels={"loss · A": "A", "loss · B": "B"})
    assert [(trace["name"], len(trace["x"])) for trace in figure["data"]] == [("A", 1), ("B", 2)]


def test_batch_noise_counts_the_jumps_between_batches_not_the_trend():
    assert network.batch_noise(np.linspace(2.0, 1.0, 50)) == pytest.approx(0.0, abs=1e-12)
    independent = np.random.default_rng(0).normal(1.0, 0.1, 20_000)
    assert network.batch_noise(independent) == pytest.approx(0.1, rel=0.03)  # the spread of each batch's loss
    assert network.batch_noise(np.array([0.7])) is None


def test_a_smaller_batch_makes_a_noisier_epoch():
    """Measured on the run's own rows: the same network and optimiser, batch 8 against batch 256."""
    data = network.digits(0)
    noise = {}
    for size in (8, 256):
        copy = network.OptimiserCopy(surfaces.ADAM, network_config(batch_size=size), data, 5)
        rows = network.rows_of([copy], [copy.advance(3, np.asarray([0.1, 0.003], "float32"))])
        noise[size] = rows[-1][network.noise_key(surfaces.ADAM)]
    assert noise[8] > 2 * noise[256]


def test_the_network_section_trains_every_optimiser_and_says_who_got_there_first():
    at = open_page(**{"network.epochs": "12", "network.speed": "full speed"})
    train_runs(at, [network.RUN], 240)
    text = shown(" ".join(m.value for m in at.markdown))
    assert f"First to {network.TARGET_ACCURACY:.0%} of the held-out digits" in text
    titles = chart_text(at)
    assert "Training loss" in titles and "Accuracy on the held-out digits" in titles
    assert "Learning-rate schedule: constant" in titles and "The loss on each batch of epoch 12" in titles
    assert "With 44 batches an epoch, the loss jumps from one batch to the next by about ±" in text
    accuracy = next(f for f in chart_figures(at) if f["layout"]["title"]["text"].startswith("Accuracy"))
    assert [trace["name"] for trace in accuracy["data"]] == [
        surfaces.GD,
        surfaces.MOMENTUM,
        surfaces.RMSPROP,
        surfaces.ADAM,
    ]


def overfit_config(**changes):
    return {control.key: control.default for control in regularisation.CONTROLS} | changes


def test_early_stopping_stops_after_its_patience_and_keeps_the_best_epochs_weights():
    settings = overfit_config(patience=15)
    data = regularisation.moons(settings["noise"], settings["n_train"], settings["seed"])
    copy = regularisation.RemedyCopy(regularisation.EARLY, settings, data)
    hyper = np.asarray([regularisation.LEARNING_RATE, 0.0], "float32")
    rows = np.concatenate([copy.advance(50, hyper) for _ in range(6)])
    trained = rows[rows[:, -1] == 0]
    assert len(trained) < len(rows)  # it stopped
    best = int(np.argmin(trained[:, 1])) + 1
    assert copy.best_epoch == best and len(trained) == best + 15
    assert copy.held_out_loss(best=True) == pytest.approx(trained[best - 1, 1], rel=1e-5)
    assert copy.held_out_loss() > copy.held_out_loss(best=True)  # it went on past its best before stopping
    before = [np.asarray(w) for w in copy.state[0][0]]
    copy.advance(5, hyper)
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(before, copy.state[0][0]))  # stopped means stopped


def test_the_l2_penalty_is_lambda_times_the_sum_of_squared_kernels():
    settings = overfit_config(hidden=32)
    data = regularisation.moons(settings["noise"], settings["n_train"], settings["seed"])
    copy = regularisation.RemedyCopy(regularisation.L2, settings, data)
    trainable = copy.state[0][0]
    kernels = [np.asarray(w) for w, v in zip(trainable, copy.model.trainable_variables) if v.path.endswith("kernel")]
    assert len(kernels) == 3
    expected = 0.01 * sum(float((k.astype("float64") ** 2).sum()) for k in kernels)
    assert float(copy.penalty(trainable, 0.01)) == pytest.approx(expected, rel=1e-5)
    plain = regularisation.RemedyCopy(regularisation.NONE, settings, data)
    assert plain.penalty(trainable, 0.01) == 0.0


def test_l2_and_dropout_shrink_the_gap_between_training_and_held_out_loss_on_the_preset():
    """Measured at the page's defaults (seed 0, 60 noisy points, 400 epochs): the plain network's held-out loss
    ends far above its training loss; L2 and dropout end with a smaller gap and a lower held-out loss."""
    from core.engine.jobs import JobRegistry

    registry = JobRegistry(max_running=1)
    job = registry.submit(regularisation.remedies_task(overfit_config(speed="full speed")), "s1")
    assert job.wait(300)
    seen = regularisation.remedy_notice(job.view().history, regularisation.REMEDIES)
    gap = {remedy: held_out - train for remedy, (train, held_out) in seen.final.items()}
    assert gap[regularisation.NONE] > 1.0
    assert gap[regularisation.L2] < 0.5 * gap[regularisation.NONE]
    assert gap[regularisation.DROPOUT] < gap[regularisation.NONE]
    none_held_out = seen.final[regularisation.NONE][1]
    for remedy in (regularisation.L2, regularisation.DROPOUT, regularisation.EARLY):
        assert seen.final[remedy][1] < none_held_out, remedy
    assert job.view().snapshot.stopped_at == seen.best[regularisation.EARLY][0] + 30  # the default patience


def test_the_overfitting_section_trains_and_reads_its_numbers():
    at = open_page(**{"overfit.epochs": "120", "overfit.speed": "full speed"})
    train_runs(at, [regularisation.RUN], 240)
    text = shown(" ".join(m.value for m in at.markdown))
    assert "**no regularisation**, now: training loss" in text
    assert "**early stopping**, at the epoch it keeps" in text
    titles = chart_text(at)
    assert "Training (solid) and held-out (dotted) loss" in titles
    assert "dropout: after epoch 120" in titles and "early stopping: the weights of epoch" in titles


def batchnorm_config(**changes):
    return {control.key: control.default for control in batchnorm.CONTROLS} | changes


def test_both_networks_start_from_the_same_kernels_and_only_the_plain_one_has_dense_biases():
    data = network.digits(0)
    plain, normalised = (batchnorm.NetworkCopy(name, batchnorm_config(), data) for name in batchnorm.NETWORKS)
    kernels = [
        [np.asarray(w) for w, v in zip(copy.state[0], copy.model.trainable_variables) if v.path.endswith("kernel")]
        for copy in (plain, normalised)
    ]
    assert len(kernels[0]) == batchnorm_config()["depth"] + 1
    assert all(np.array_equal(a, b) for a, b in zip(*kernels))
    biases = [v.path for v in normalised.model.trainable_variables if v.path.endswith("bias")]
    assert biases == ["logits/bias"]  # the normalisation's β stands in for the hidden layers' biases


def test_batch_norm_uses_the_batchs_statistics_when_training_and_its_moving_averages_when_predicting():
    """Checked in float64 against the formulas: training normalises by the batch's mean and (biased) variance;
    after an epoch at learning rate 0 (fixed weights) the moving averages are the recurrence
    m ← μ·m + (1 − μ)·batch statistic over the epoch's batches, in the order the loop met them; predicting
    normalises by those."""
    data = network.digits(0)
    copy = batchnorm.NetworkCopy(batchnorm.NORMALISED, batchnorm_config(), data)
    x = np.asarray(data.x_train, "float64")
    kernel = np.asarray(copy.state[0][0], "float64")  # dense_1/kernel
    epsilon = copy.model.get_layer("norm_1").epsilon
    z = x[: batchnorm.PROBE_DIGITS] @ kernel
    expected = (z - z.mean(axis=0)) / np.sqrt(z.var(axis=0) + epsilon)  # γ = 1, β = 0 at the start
    assert np.allclose(copy.received()[0], expected, atol=2e-4)

    _, shuffle_key = jax.random.split(copy.state[3])
    order = np.asarray(jax.random.permutation(shuffle_key, len(x)))[: copy.n_batches * copy.batch]
    mean, variance = np.zeros(kernel.shape[1]), np.ones(kernel.shape[1])
    for batch in order.reshape(copy.n_batches, copy.batch):
        zb = x[batch] @ kernel
        mean = copy.momentum * mean + (1 - copy.momentum) * zb.mean(axis=0)
        variance = copy.momentum * variance + (1 - copy.momentum) * zb.var(axis=0)
    copy.advance(1, np.float32(0.0))
    moving = {v.path: np.asarray(value) for v, value in zip(copy.model.non_trainable_variables, copy.state[1])}
    assert np.allclose(moving["norm_1/moving_mean"], mean, rtol=1e-4, atol=1e-5)
    assert np.allclose(moving["norm_1/moving_variance"], variance, rtol=1e-4, atol=1e-5)
    assert copy.momentum**copy.n_batches == pytest.approx(0.99**44)

    outputs, _ = copy.model.stateless_call(copy.state[0], copy.state[1], data.x_test, training=False)
    z_test = np.asarray(data.x_test, "float64") @ kernel
    assert np.allclose(outputs[1], (z_test - mean) / np.sqrt(variance + epsilon), atol=2e-4)


def test_layer_spread_bins_every_value_and_measures_each_layers_spread():
    received = np.random.default_rng(0).normal(0, [[[1.0]], [[3.0]]], size=(2, 500, 8))
    spread = batchnorm.layer_spread(received)
    assert spread.shares.shape == (2, batchnorm.HISTOGRAM_BINS)
    assert np.allclose(spread.shares.sum(axis=1), 1.0)
    assert -spread.edges[0] == spread.edges[-1] == 10.0  # the 99th percentile of |values| (≈ 7.7), rounded up
    assert np.allclose(spread.std, received.reshape(2, -1).std(axis=1))


def test_batch_norm_trains_at_rates_where_the_plain_network_fails_on_the_preset():
    """The page's defaults (ReLU, 8 layers of 64, seed 0), measured: plain SGD trains the plain network only at
    0.1 and blows up at 10; with batch norm it trains at 0.01–1, the page's default rate 1 included."""
    defaults = batchnorm_config()
    sweep = batchnorm.rate_sweep(defaults["activation"], defaults["depth"], defaults["width"], defaults["seed"])
    plain, normalised = sweep.usable(batchnorm.PLAIN), sweep.usable(batchnorm.NORMALISED)
    assert defaults["learning_rate"] in normalised and defaults["learning_rate"] not in plain
    assert set(plain) < set(normalised)
    assert max(normalised) / min(normalised) >= 100 * max(plain) / min(plain)
    assert 10.0 in sweep.diverged(batchnorm.PLAIN)
    at_default = sweep.accuracy[batchnorm.PLAIN][sweep.rates.index(defaults["learning_rate"])]
    assert at_default <= batchnorm.GUESSING_ACCURACY


def test_the_batchnorm_section_trains_both_networks_and_reads_its_numbers():
    at = open_page(**{"batchnorm.epochs": "3", "batchnorm.speed": "full speed"})
    train_runs(at, [batchnorm.RUN], 240)
    text = shown(" ".join(m.value for m in at.markdown))
    assert "**plain** has learned nothing at this rate" in text
    assert "After epoch 1 the normalised network scored" in text and "0.99^44 = 64%" in text
    assert "**batch norm** is usable at 0.01, 0.03, 0.1, 0.3, 1." in text
    titles = chart_text(at)
    assert "What each layer's relu receives, after epoch 3" in titles
    assert "Held-out accuracy after 10 epochs, by learning rate" in titles
    assert "The normalised network on the held-out digits, two ways" in titles


def test_random_search_draws_the_learning_rate_log_uniformly_and_the_sizes_as_powers_of_two():
    from scipy.stats import kstest

    drawn = [search.hyperparameters(u) for u in search.random_positions(4000, seed=1)]
    exponents = np.log10([trial[search.LEARNING_RATE] for trial in drawn])
    assert kstest((exponents + 4) / 3, "uniform").pvalue > 0.01  # log10(rate) uniform on [−4, −1]
    assert kstest([trial[search.DROPOUT] / 0.5 for trial in drawn], "uniform").pvalue > 0.01
    for name in (search.BATCH_SIZE, search.WIDTH):
        values, counts = np.unique([trial[name] for trial in drawn], return_counts=True)
        assert list(values) == [16, 32, 64, 128, 256]
        # log2 uniform on [4, 8], rounded: the ends get half a cell each (1/8), the middle values a cell (1/4)
        assert np.allclose(counts / len(drawn), [1 / 8, 1 / 4, 1 / 4, 1 / 4, 1 / 8], atol=0.02)


def test_the_grid_tries_every_combination_of_two_values_and_the_strategies_take_turns():
    plan = search.trial_plan(search.STRATEGIES, seed=0)
    assert [strategy for strategy, _ in plan] == [search.GRID, search.RANDOM] * search.TRIALS
    grid = [
        tuple(settings[name] for name in search.HYPERPARAMETERS) for strategy, settings in plan if strategy == "grid"
    ]
    assert len(set(grid)) == 16
    for index in range(len(search.HYPERPARAMETERS)):
        assert len({settings[index] for settings in grid}) == 2
    rates = sorted({settings[0] for settings in grid})
    assert rates == pytest.approx([10**-3.25, 10**-1.75])  # the centres of two equal cells of log10 in [−4, −1]
    assert [s for s, _ in search.trial_plan((search.RANDOM,), seed=0)] == [search.RANDOM] * search.TRIALS


def test_a_trial_whose_loss_stops_being_finite_scores_zero_and_reports_no_loss():
    data = network.digits(0)
    settings = search.hyperparameters([0.5, 0.5, 0.5, 0.5])
    good = search.run_trial(settings, data, 0, 5)
    assert good[search.ACCURACY] > 0.8 and np.isfinite(good[search.LOSS])
    bad = search.run_trial({**settings, search.LEARNING_RATE: float("inf")}, data, 0, 5)
    assert bad[search.ACCURACY] == 0.0 and search.LOSS not in bad


def test_the_search_notice_counts_distinct_values_and_ranks_the_hyperparameters():
    rng = np.random.default_rng(0)
    history = []
    for strategy, settings in search.trial_plan(search.STRATEGIES, seed=0):
        score = 0.5 + 0.1 * np.log10(settings[search.LEARNING_RATE]) + 0.01 * rng.normal()
        history.append(
            settings
            | {
                search.ACCURACY: score,
                search.LOSS: 1.0,
                search.strategy_key(search.GRID): float(strategy == search.GRID),
            }
        )
    seen = search.search_notice(history)
    assert seen.distinct[search.GRID] == dict.fromkeys(search.HYPERPARAMETERS, 2)
    assert seen.distinct[search.RANDOM][search.LEARNING_RATE] == 16
    assert max(seen.rank_correlation, key=lambda name: abs(seen.rank_correlation[name])) == search.LEARNING_RATE
    best = seen.best[search.RANDOM]
    assert best[search.ACCURACY] == max(row[search.ACCURACY] for row in history[1::2])


def test_the_search_section_shows_every_finished_trial_in_the_table_and_the_plots():
    at = open_page(**{"search.strategies": "random", "search.trial_epochs": "5"})
    train_runs(at, [search.RUN], 300)
    table = at.dataframe[-1].value
    assert len(table) == search.TRIALS and (table["strategy"] == search.RANDOM).all()
    assert list(table[search.ACCURACY]) == sorted(table[search.ACCURACY], reverse=True)
    assert table[""].tolist().count("★") == 1 and table[""].iloc[0] == "★"
    figures = {figure["layout"]["title"]["text"]: figure for figure in chart_figures(at)}
    scatter = next(f for title, f in figures.items() if title.startswith("Each trial's held-out accuracy"))
    assert sum(len(trace["x"]) for trace in scatter["data"]) == search.TRIALS
    coordinates = next(f for title, f in figures.items() if title.startswith("Every trial through its settings"))
    dimensions = coordinates["data"][0]["dimensions"]
    assert [d["label"] for d in dimensions] == ["strategy", *search.HYPERPARAMETERS, search.ACCURACY]
    text = shown(" ".join(m.value for m in at.markdown))
    assert "Best **random** trial so far" in text and f"Over all {search.TRIALS} trials" in text


def test_both_augmentation_networks_start_alike_and_the_layers_change_pictures_only_when_training():
    settings = {control.key: control.default for control in augmentation.CONTROLS} | {
        "transforms": augmentation.TRANSFORMS
    }
    data = augmentation.digits_sample(100)
    plain, augmented = (augmentation.AugmentationCopy(name, settings, data) for name in augmentation.NETWORKS)
    assert all(np.array_equal(a, b) for a, b in zip(plain.state[0], augmented.state[0]))
    x = data.x_test[:16]
    predicted = [
        copy.model.stateless_call(copy.state[0], copy.state[1], x, training=False)[0] for copy in (plain, augmented)
    ]
    assert np.allclose(predicted[0], predicted[1], atol=1e-6)  # predicting, the layers do nothing
    trained, states = augmented.model.stateless_call(augmented.state[0], augmented.state[1], x, training=True)
    again, _ = augmented.model.stateless_call(augmented.state[0], states, x, training=True)
    assert not np.allclose(trained, predicted[1], atol=1e-3) and not np.allclose(trained, again, atol=1e-3)
    examples = augmentation.augmented_examples(augmentation.TRANSFORMS, data.x_train[:2], seed=0)
    assert examples.shape == (2 * augmentation.VERSIONS, 28, 28, 1)
    assert np.array_equal(examples[0], data.x_train[0]) and not np.allclose(examples[1], examples[0])


def test_the_augmentation_section_trains_and_augmentation_lowers_the_held_out_loss_on_the_preset():
    """At the page's defaults (200 digits, shifts, 100 epochs, seed 0), measured: the plain network learns its
    pictures by heart (training loss about 0.0004) while its held-out loss climbs to about 0.69 (85.8 % right);
    augmented, the held-out loss ends near 0.33 (91.4 % right)."""
    from core.ui.session import job_registry

    at = open_page(**{"augment.speed": "full speed"})
    (job_id,) = train_runs(at, [augmentation.RUN], 300)
    seen = augmentation.augmentation_notice(job_registry().get(job_id).view().history)
    (plain_train, plain_held_out, plain_accuracy), (_, augmented_held_out, augmented_accuracy) = (
        seen.final[name] for name in augmentation.NETWORKS
    )
    assert plain_train < 0.01 and augmented_held_out < plain_held_out - 0.2
    assert augmented_accuracy > plain_accuracy + 0.03
    text = shown(" ".join(m.value for m in at.markdown))
    assert "Augmented, the held-out loss is" in text and "**as they are**: training loss" in text
    titles = chart_text(at)
    assert "Three training digits as the augmented network meets them (shift)" in titles
    assert "Accuracy on the 1,000 held-out digits" in titles
