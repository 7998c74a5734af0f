"""Backpropagation written out by hand, small enough to read line by line (in the spirit of micrograd).

A network with one hidden layer and one sigmoid output, trained with binary cross-entropy: the
forward pass keeps every intermediate value, the backward pass applies the chain rule one local
gradient at a time. Two independent references check it: `jax.grad` of the same loss, and centred
finite differences. `BUGS` plants the classic mistakes so the gradient check can be seen to fail.
Everything is float64 and the loss is computed from the logit (never log of a rounded ŷ), so a correct
implementation agrees with finite differences far below the course's 2e-7 threshold, except on a kink of
ReLU, where a finite difference is not a gradient: the check then says so and relies on `jax.grad`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from core.engine.params import Control, ControlBox

PARAMETERS = ("W1", "b1", "W2", "b2")
CHECK_THRESHOLD = 2e-7
"""Relative difference below which a gradient check passes (the course notebooks' rule, with ε = 1e-7)."""
FINITE_DIFFERENCE_EPS = 1e-7


BUGS = ("none", "dW2 doubled", "db1 ×4", "forgot f′(z₁) in the hidden layer")
"""Planted mistakes, applied in `backward`, that a gradient check must catch."""


WALKTHROUGH_STAGES = 9

CONTROLS = (
    Control("x1", "Input x₁", "float", 0.5, min=-2.0, max=2.0, step=0.1),
    Control("x2", "Input x₂", "float", -1.0, min=-2.0, max=2.0, step=0.1),
    Control("y", "True label y", "select", 1, options=(0, 1)),
    Control(
        "activation", "Hidden activation f", "select", "tanh", options=("sigmoid", "tanh", "relu"), was="bp_activation"
    ),
    Control("seed", "Seed of the starting weights", "int", 1, min=0, max=9999),
    Control(
        "learning_rate",
        "Learning rate η",
        "select",
        0.5,
        options=(0.01, 0.1, 0.5, 1.0, 2.0),
        was="bp_learning_rate",
    ),
    Control(
        "stage",
        "Step through the computation",
        "select",
        1,
        options=tuple(range(1, WALKTHROUGH_STAGES + 1)),
        help="1–3 forward, 4 the loss, 5–8 backward, 9 the update.",
    ),
    Control("bug", "Plant a bug in the backward pass", "select", "none", options=BUGS),
)
BOX = ControlBox("backprop", "Backprop settings", CONTROLS)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


ACTIVATIONS: Mapping[str, tuple[Callable, Callable]] = {
    # name: (f(z), f'(z) written from the already computed a = f(z) and z)
    "sigmoid": (sigmoid, lambda a, z: a * (1.0 - a)),
    "tanh": (np.tanh, lambda a, z: 1.0 - a**2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda a, z: (z > 0).astype(np.float64)),
}


def binary_cross_entropy_from_logit(z, y):
    """−[y log σ(z) + (1−y) log(1−σ(z))] written as y·softplus(−z) + (1−y)·softplus(z): the same loss,
    exact even where σ(z) rounds to 0 or 1 (log(1 − ŷ) would lose every digit there)."""
    return y * np.logaddexp(0.0, -z) + (1.0 - y) * np.logaddexp(0.0, z)


def on_relu_kink(fwd: Forward, activation: str, eps: float = FINITE_DIFFERENCE_EPS) -> bool:
    """Whether a hidden ReLU sits so close to 0 that a finite-difference step of ε crosses its kink
    (e.g. input (0, 0): every pre-activation equals its bias, 0): there the two-sided difference
    averages two slopes and is no gradient, while the hand-written and `jax.grad` ones take f′(0) = 0."""
    if activation != "relu":
        return False
    reach = eps * (1.0 + np.abs(fwd.x).sum(axis=1, keepdims=True))  # how far one step can move z1
    return bool(np.any(np.abs(fwd.z1) <= reach))


def init_params(n_inputs: int = 2, n_hidden: int = 2, seed: int = 0, scale: float = 1.0) -> dict[str, np.ndarray]:
    """Small random weights (normal, sd `scale`) and zero biases."""
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.normal(0.0, scale, (n_hidden, n_inputs)),
        "b1": np.zeros(n_hidden),
        "W2": rng.normal(0.0, scale, (1, n_hidden)),
        "b2": np.zeros(1),
    }


@dataclass(frozen=True)
class Forward:
    """Every value the forward pass computed, for a batch of m examples."""

    x: np.ndarray  # (m, n_inputs)
    y: np.ndarray  # (m,)
    z1: np.ndarray  # (m, n_hidden)  W1·x + b1
    a1: np.ndarray  # (m, n_hidden)  f(z1)
    z2: np.ndarray  # (m, 1)         W2·a1 + b2
    y_hat: np.ndarray  # (m, 1)      sigmoid(z2)
    loss: float  # mean binary cross-entropy


def forward(params: Mapping[str, np.ndarray], x, y, activation: str = "tanh") -> Forward:
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    y = np.atleast_1d(np.asarray(y, dtype=np.float64))
    f, _ = ACTIVATIONS[activation]
    z1 = x @ params["W1"].T + params["b1"]
    a1 = f(z1)
    z2 = a1 @ params["W2"].T + params["b2"]
    y_hat = sigmoid(z2)
    loss = float(np.mean(binary_cross_entropy_from_logit(z2[:, 0], y)))
    return Forward(x, y, z1, a1, z2, y_hat, loss)


def backward(
    params: Mapping[str, np.ndarray], fwd: Forward, activation: str = "tanh", bug: str = "none"
) -> dict[str, np.ndarray]:
    """The chain rule, one local gradient at a time. Returns the parameter gradients under their
    names and every intermediate gradient (dL_dyhat, dyhat_dz2, dz2, da1, da1_dz1, dz1)."""
    _, f_prime = ACTIVATIONS[activation]
    m = fwd.x.shape[0]
    y = fwd.y[:, None]
    dL_dyhat = (fwd.y_hat - y) / (fwd.y_hat * (1.0 - fwd.y_hat)) / m  # d(mean BCE)/dŷ
    dyhat_dz2 = fwd.y_hat * (1.0 - fwd.y_hat)  # sigmoid'(z2)
    dz2 = dL_dyhat * dyhat_dz2  # = (ŷ − y)/m
    da1 = dz2 @ params["W2"]
    da1_dz1 = f_prime(fwd.a1, fwd.z1)
    dz1 = da1 if bug == BUGS[3] else da1 * da1_dz1
    grads = {
        "W2": dz2.T @ fwd.a1,
        "b2": dz2.sum(axis=0),
        "W1": dz1.T @ fwd.x,
        "b1": dz1.sum(axis=0),
        "dL_dyhat": dL_dyhat,
        "dyhat_dz2": dyhat_dz2,
        "dz2": dz2,
        "da1": da1,
        "da1_dz1": da1_dz1,
        "dz1": dz1,
    }
    if bug == BUGS[1]:
        grads["W2"] = 2.0 * grads["W2"]
    if bug == BUGS[2]:
        grads["b1"] = 4.0 * grads["b1"]
    return grads


def sgd_update(
    params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray], learning_rate: float
) -> dict[str, np.ndarray]:
    return {name: params[name] - learning_rate * grads[name] for name in PARAMETERS}


def jax_gradients(params: Mapping[str, np.ndarray], x, y, activation: str = "tanh") -> dict[str, np.ndarray]:
    """The reference: the same loss written in jax.numpy, differentiated by `jax.grad` (float64)."""
    import jax
    import jax.numpy as jnp

    activations = {"sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh, "relu": jax.nn.relu}

    def loss(p, x, y):
        a1 = activations[activation](x @ p["W1"].T + p["b1"])
        z2 = (a1 @ p["W2"].T + p["b2"])[:, 0]
        return jnp.mean(y * jax.nn.softplus(-z2) + (1.0 - y) * jax.nn.softplus(z2))

    with jax.enable_x64(True):  # thread-local: Keras jobs in other threads keep float32
        p = {name: jnp.asarray(params[name], dtype=jnp.float64) for name in PARAMETERS}
        x = jnp.atleast_2d(jnp.asarray(x, dtype=jnp.float64))
        y = jnp.atleast_1d(jnp.asarray(y, dtype=jnp.float64))
        grads = jax.grad(loss)(p, x, y)
        return {name: np.asarray(grads[name]) for name in PARAMETERS}


def numerical_gradients(
    params: Mapping[str, np.ndarray], x, y, activation: str = "tanh", eps: float = FINITE_DIFFERENCE_EPS
) -> dict[str, np.ndarray]:
    """Centred finite differences, (L(θ+ε) − L(θ−ε)) / 2ε, one parameter entry at a time."""
    grads = {}
    for name in PARAMETERS:
        grad = np.zeros_like(params[name])
        for index in np.ndindex(params[name].shape):
            shifted = {k: v.copy() for k, v in params.items()}
            shifted[name][index] += eps
            plus = forward(shifted, x, y, activation).loss
            shifted[name][index] -= 2 * eps
            minus = forward(shifted, x, y, activation).loss
            grad[index] = (plus - minus) / (2 * eps)
        grads[name] = grad
    return grads


def relative_difference(a, b) -> float:
    """‖a − b‖ / (‖a‖ + ‖b‖): scale-free, 0 when equal (the course notebooks' measure)."""
    a, b = np.ravel(a), np.ravel(b)
    denominator = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / denominator) if denominator else 0.0


@dataclass(frozen=True)
class GradientCheck:
    """Hand-written gradients against both references, per parameter and over all of them. On a ReLU
    kink the finite differences are shown but not judged: only `jax.grad` decides."""

    rows: tuple[dict, ...]
    overall_vs_jax: float
    overall_vs_numerical: float
    on_kink: bool

    @property
    def passed(self) -> bool:
        judged = (self.overall_vs_jax,) if self.on_kink else (self.overall_vs_jax, self.overall_vs_numerical)
        return max(judged) < CHECK_THRESHOLD


def gradient_check(params, x, y, activation: str = "tanh", bug: str = "none") -> GradientCheck:
    fwd = forward(params, x, y, activation)
    mine = backward(params, fwd, activation, bug)
    by_jax = jax_gradients(params, x, y, activation)
    numerical = numerical_gradients(params, x, y, activation)
    rows = tuple(
        {
            "parameter": name,
            "hand-written": mine[name].ravel(),
            "jax.grad": by_jax[name].ravel(),
            "finite differences": numerical[name].ravel(),
            "vs jax.grad": relative_difference(mine[name], by_jax[name]),
            "vs finite differences": relative_difference(mine[name], numerical[name]),
        }
        for name in PARAMETERS
    )
    flat = lambda grads: np.concatenate([np.ravel(grads[name]) for name in PARAMETERS])
    return GradientCheck(
        rows,
        relative_difference(flat(mine), flat(by_jax)),
        relative_difference(flat(mine), flat(numerical)),
        on_relu_kink(fwd, activation),
    )


@dataclass(frozen=True)
class Stage:
    """One step of the walkthrough: a title, its equations with the numbers filled in, and how far
    the graph's labels go (forward values up to `forward_nodes`, gradients once `backward` is on)."""

    title: str
    latex: str
    forward_nodes: int
    backward_nodes: int


def _lines(*parts: str) -> str:
    """Equations one under another (a long stage would run off the page on one line)."""
    return r"\begin{gathered}" + r" \\[6pt] ".join(parts) + r"\end{gathered}"


def _num(value: float) -> str:
    return f"{float(value):.4f}"


def _vec(values) -> str:
    return r"\begin{bmatrix}" + r" \\ ".join(_num(v) for v in np.ravel(values)) + r"\end{bmatrix}"


def _mat(matrix) -> str:
    rows = np.atleast_2d(matrix)
    return r"\begin{bmatrix}" + r" \\ ".join(" & ".join(_num(v) for v in row) for row in rows) + r"\end{bmatrix}"


@dataclass(frozen=True)
class Walkthrough:
    """One example through the network: the values, the gradients, and the stages that explain them."""

    forward: Forward
    gradients: dict
    stages: tuple[Stage, ...]


def walkthrough(params, x, y: float, activation: str = "tanh", learning_rate: float = 0.5) -> Walkthrough:
    """Forward, loss, backward and update for one example, as a sequence of stages to step through."""
    fwd = forward(params, x, y, activation)
    g = backward(params, fwd, activation)
    new = sgd_update(params, g, learning_rate)
    f = {"sigmoid": r"\sigma", "tanh": r"\tanh", "relu": r"\mathrm{relu}"}[activation]
    f_prime = {"sigmoid": r"a_1 \odot (1 - a_1)", "tanh": r"1 - a_1^2", "relu": r"[z_1 > 0]"}[activation]
    z2, y_hat = fwd.z2[0, 0], fwd.y_hat[0, 0]
    return Walkthrough(
        fwd,
        g,
        (
            Stage(
                "Forward 1 · hidden pre-activations",
                rf"z_1 = W_1 x + b_1 = {_mat(params['W1'])} {_vec(fwd.x)} + {_vec(params['b1'])} = {_vec(fwd.z1)}",
                1,
                0,
            ),
            Stage("Forward 2 · hidden activations", rf"a_1 = {f}(z_1) = {_vec(fwd.a1)}", 2, 0),
            Stage(
                "Forward 3 · output",
                _lines(
                    rf"z_2 = W_2 a_1 + b_2 = {_mat(params['W2'])} {_vec(fwd.a1)} + {_num(params['b2'][0])} "
                    rf"= {_num(z2)}",
                    rf"\hat y = \sigma(z_2) = {_num(y_hat)}",
                ),
                3,
                0,
            ),
            Stage(
                "Loss",
                rf"L = -\left[y \log \hat y + (1-y)\log(1-\hat y)\right] = {_num(fwd.loss)} \quad (y = {y:g})",
                4,
                0,
            ),
            Stage(
                "Backward 1 · at the output",
                _lines(
                    rf"\frac{{\partial L}}{{\partial \hat y}} = {_num(g['dL_dyhat'][0, 0])} \qquad "
                    rf"\frac{{\partial \hat y}}{{\partial z_2}} = \hat y (1-\hat y) = {_num(g['dyhat_dz2'][0, 0])}",
                    rf"\frac{{\partial L}}{{\partial z_2}} = {_num(g['dL_dyhat'][0, 0])} \times "
                    rf"{_num(g['dyhat_dz2'][0, 0])}"
                    rf" = {_num(g['dz2'][0, 0])} = \hat y - y",
                ),
                4,
                1,
            ),
            Stage(
                "Backward 2 · output weights",
                rf"\frac{{\partial L}}{{\partial W_2}} = \frac{{\partial L}}{{\partial z_2}} a_1^\top = {_mat(g['W2'])}"
                rf"\qquad \frac{{\partial L}}{{\partial b_2}} = {_num(g['b2'][0])}",
                4,
                2,
            ),
            Stage(
                "Backward 3 · into the hidden layer",
                _lines(
                    rf"\frac{{\partial L}}{{\partial a_1}} = W_2^\top \frac{{\partial L}}{{\partial z_2}} = "
                    rf"{_vec(g['da1'])} \qquad "
                    rf"{f}'(z_1) = {f_prime} = {_vec(g['da1_dz1'])}",
                    rf"\frac{{\partial L}}{{\partial z_1}} = \frac{{\partial L}}{{\partial a_1}} \odot {f}'(z_1) = "
                    rf"{_vec(g['dz1'])}",
                ),
                4,
                3,
            ),
            Stage(
                "Backward 4 · hidden weights",
                rf"\frac{{\partial L}}{{\partial W_1}} = \frac{{\partial L}}{{\partial z_1}} x^\top = {_mat(g['W1'])}"
                rf"\qquad \frac{{\partial L}}{{\partial b_1}} = {_vec(g['b1'])}",
                4,
                4,
            ),
            Stage(
                "Update · one step of gradient descent",
                _lines(
                    rf"W \leftarrow W - \eta \frac{{\partial L}}{{\partial W}}, \quad \eta = {learning_rate:g}",
                    rf"W_1 = {_mat(new['W1'])} \quad b_1 = {_vec(new['b1'])} \quad W_2 = {_mat(new['W2'])} \quad b_2 = "
                    rf"{_num(new['b2'][0])}",
                    rf"L: {_num(fwd.loss)} \to {_num(forward(new, x, y, activation).loss)}",
                ),
                4,
                4,
            ),
        ),
    )
