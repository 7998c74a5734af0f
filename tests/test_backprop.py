"""Hand-written backprop against jax.grad and finite differences; planted bugs are caught."""

import math

import numpy as np
import pytest

from core.lessons.perceptron import backprop


def random_case(n_inputs, n_hidden, m, seed):
    rng = np.random.default_rng(seed)
    params = backprop.init_params(n_inputs, n_hidden, seed=seed)
    params["b1"] = rng.normal(size=n_hidden)
    params["b2"] = rng.normal(size=1)
    return params, rng.normal(size=(m, n_inputs)), rng.integers(0, 2, size=m).astype(float)


@pytest.mark.parametrize("activation", sorted(backprop.ACTIVATIONS))
@pytest.mark.parametrize("shape", [(2, 2, 1), (3, 5, 4), (4, 8, 16)])
def test_hand_written_gradients_equal_jax_grad_and_finite_differences(activation, shape):
    params, x, y = random_case(*shape, seed=sum(shape))
    check = backprop.gradient_check(params, x, y, activation)
    assert check.overall_vs_jax < 1e-10
    assert check.overall_vs_numerical < backprop.CHECK_THRESHOLD
    assert check.passed


@pytest.mark.parametrize("bug", backprop.BUGS[1:])
def test_every_planted_bug_fails_the_check_by_far(bug):
    params, x, y = random_case(2, 2, 1, seed=3)
    check = backprop.gradient_check(params, x, y, "tanh", bug=bug)
    assert not check.passed
    assert min(check.overall_vs_jax, check.overall_vs_numerical) > 1e-3


def test_zero_weights_give_loss_ln2_and_the_textbook_output_gradient():
    params = {k: np.zeros_like(v) for k, v in backprop.init_params().items()}
    fwd = backprop.forward(params, [0.5, -1.0], 1.0, "tanh")
    assert fwd.loss == pytest.approx(math.log(2), abs=1e-12)  # ŷ = 0.5 whatever the input
    grads = backprop.backward(params, fwd, "tanh")
    assert grads["dz2"][0, 0] == pytest.approx(-0.5)  # ŷ − y
    assert np.all(grads["W1"] == 0)  # zero outgoing weights: the hidden layer gets no gradient


def test_a_gradient_step_lowers_the_loss():
    params, x, y = random_case(2, 2, 1, seed=5)
    before = backprop.forward(params, x, y, "sigmoid")
    after = backprop.forward(
        backprop.sgd_update(params, backprop.backward(params, before, "sigmoid"), 0.1), x, y, "sigmoid"
    )
    assert after.loss < before.loss


def test_the_course_gradient_check_passes_every_correct_setting_the_page_can_reach():
    """ε = 1e-7 and the 2e-7 threshold with a stable loss: the correct gradients pass everywhere, also where ŷ
    is within 1e-3 of 0 or 1 (the old log(1 − ŷ) failed there), except on ReLU kinks, which are named."""
    rng = np.random.default_rng(0)
    for i in range(600):
        activation = sorted(backprop.ACTIVATIONS)[i % 3]
        x, y, seed = rng.integers(-20, 21, 2) / 10, int(rng.integers(0, 2)), int(rng.integers(0, 10000))
        check = backprop.gradient_check(backprop.init_params(seed=seed), x, y, activation)
        assert check.passed, (activation, x, y, seed)
    saturated = {
        "W1": np.array([[2.0, 1.0], [1.5, -0.5]]),
        "b1": np.zeros(2),
        "W2": np.array([[2.5, 1.0]]),
        "b2": np.zeros(1),
    }
    check = backprop.gradient_check(saturated, [2.0, 1.1], 0, "relu")  # ŷ = 0.99999, y = 0
    assert backprop.forward(saturated, [2.0, 1.1], 0, "relu").y_hat[0, 0] > 0.9999
    assert not check.on_kink and check.overall_vs_numerical < backprop.CHECK_THRESHOLD


@pytest.mark.parametrize("seed", [0, 1, 7440])
def test_input_zero_puts_relu_on_its_kink_and_only_jax_grad_judges_it(seed):
    params = backprop.init_params(seed=seed)
    check = backprop.gradient_check(params, [0.0, 0.0], 1, "relu")
    assert check.on_kink and check.passed and check.overall_vs_jax < 1e-12
    assert not backprop.gradient_check(params, [0.0, 0.0], 1, "tanh").on_kink
    assert not backprop.gradient_check(params, [0.5, -1.0], 1, "relu").on_kink
    assert not backprop.gradient_check(params, [0.0, 0.0], 1, "relu", bug=backprop.BUGS[3]).passed  # f′(0) forgotten


def test_the_loss_is_exact_where_the_prediction_rounds_to_one():
    params = {"W1": np.zeros((2, 2)), "b1": np.zeros(2), "W2": np.zeros((1, 2)), "b2": np.array([40.0])}
    fwd = backprop.forward(params, [0.0, 0.0], 0, "tanh")
    assert fwd.y_hat[0, 0] == 1.0 and fwd.loss == pytest.approx(40.0, rel=1e-12)  # −log(1 − σ(40)) = 40 + ε


def test_the_graph_uses_colour_for_values_and_gradients_only_and_says_so():
    from core.charts.backprop import BLUE, EDGE, ORANGE, backprop_graph

    params = backprop.init_params(seed=1)
    walk = backprop.walkthrough(params, [0.5, -1.0], 1, "tanh")
    fig = backprop_graph(params, walk.forward, walk.gradients, 4, 4, "title")
    edges = [t for t in fig.data if t.mode == "lines" and t.showlegend is False and t.line.color != "#999999"]
    assert edges and {t.line.color for t in edges} == {EDGE}  # the weight's sign is the dash, never blue/orange
    weights = [w for name in ("W1", "W2") for w in params[name].ravel()]
    assert sorted(t.line.dash for t in edges) == sorted("solid" if w >= 0 else "dash" for w in weights)
    named = {t.name: t.line.color for t in fig.data if t.showlegend is not False and t.name}
    assert named == {"forward values": BLUE, "gradients": ORANGE, "weight > 0": EDGE, "weight < 0": EDGE}


def test_long_chart_titles_wrap_onto_two_lines_instead_of_being_cut():
    import plotly.graph_objects as go

    from core.charts.theme import TITLE_LINE, style, wrapped

    long = "Gradient each layer's weights get (layer 21 is the output layer)"
    fig = style(go.Figure(layout={"title": long}))
    first, second = fig.layout.title.text.split("<br>")
    assert len(first) <= TITLE_LINE and f"{first} {second}" == long and fig.layout.margin.t > 80
    assert style(go.Figure(layout={"title": "Loss"})).layout.title.text == "Loss"
    assert wrapped("x" * 80) == "x" * 80  # no space to break at: left as it is
    orphan = "The neuron's line, update by update: update 0, epoch 0"  # plain wrapping left '0' alone
    lines = wrapped(orphan).split("<br>")
    assert len(lines) == 2 and " ".join(lines) == orphan and min(map(len, lines)) >= 20
