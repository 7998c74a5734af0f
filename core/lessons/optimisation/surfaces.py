"""Optimisers racing on 2-D loss surfaces, as in distill.pub's "Why Momentum Really Works".

Every path is taken by Keras' own optimisers (`keras.optimizers.SGD`, `RMSprop`, `Adam`, `Adagrad`) applied
statelessly to a point (x, y) whose loss is the surface, many steps in one jitted `lax.scan`. On the
ill-conditioned bowl the paths of gradient descent and momentum have closed forms (each axis on its own, a
scalar or 2×2 linear recurrence); `bowl_theory` computes them, and the best step size and momentum with
their rates of convergence, so the page can set what Keras did beside what the maths says.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.engine.params import Control, ControlBox

TARGET_GAP = 1e-6
"""'Converged': the loss within this of the surface's minimum."""
ESCAPED = 1e6
"""A point this far out has diverged: its path ends there."""


@dataclass(frozen=True)
class Surface:
    name: str
    start: tuple[float, float]
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    minimum: float
    """The lowest loss on the surface: the gap to it is what the curves show."""
    about: str


BOWL, ROSENBROCK, SADDLE, BUMPY = "Ill-conditioned bowl", "Rosenbrock's valley", "Saddle", "Bumpy bowl"
SURFACES = {
    BOWL: Surface(
        BOWL,
        (-2.0, 1.5),
        (-2.5, 2.5),
        (-2.0, 2.0),
        0.0,
        "½(x²/κ + y²): steep across (curvature 1), shallow along (curvature 1/κ). κ, the condition number, is "
        "how many times steeper.",
    ),
    ROSENBROCK: Surface(
        ROSENBROCK,
        (-1.5, 2.0),
        (-2.0, 2.0),
        (-1.0, 3.0),
        0.0,
        "((1 − x)² + 100(y − x²)²)/500: a curved, flat-bottomed valley; the minimum is at (1, 1).",
    ),
    SADDLE: Surface(
        SADDLE,
        (-2.0, 0.001),
        (-2.5, 2.5),
        (-1.8, 1.8),
        -0.25,
        "x²/2 − y²/2 + y⁴/4: a saddle at the origin between two minima at (0, ±1). The start is a hair off the ridge.",
    ),
    BUMPY: Surface(
        BUMPY,
        (2.3, 2.0),
        (-3.0, 3.0),
        (-3.0, 3.0),
        0.0,
        "(x² + y²)/20 + (1 − cos 2x · cos 2y)/2: a bowl with dimples; the lowest point is the origin, the others "
        "are traps.",
    ),
}

GD, MOMENTUM, NESTEROV, RMSPROP, ADAM, ADAGRAD = (
    "Gradient descent",
    "Momentum",
    "Nesterov",
    "RMSprop",
    "Adam",
    "AdaGrad",
)
OPTIMISERS = (GD, MOMENTUM, NESTEROV, RMSPROP, ADAM, ADAGRAD)
ADAPTIVE = (RMSPROP, ADAM, ADAGRAD)
"""Optimisers whose steps are scaled per coordinate by the gradient's recent size: they take the second step size,
in units of distance rather than of the gradient."""

STEP_SIZES = (0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5, 1.9, 2.5, 4.0)
CONTROLS = (
    Control("surface", "Loss surface", "select", BOWL, options=tuple(SURFACES)),
    Control(
        "condition",
        "Condition number κ (the bowl)",
        "select",
        25,
        options=(1, 2, 5, 10, 25, 50, 100, 200, 500),
        help="How many times steeper the bowl is across than along.",
    ),
    Control(
        "optimisers",
        "Optimisers",
        "multi",
        (GD, MOMENTUM, ADAM),
        options=OPTIMISERS,
        min=1,
        max_items=len(OPTIMISERS),
    ),
    Control(
        "alpha",
        "Step size α (gradient descent, momentum, Nesterov)",
        "select",
        0.5,
        options=STEP_SIZES,
        help="Each step moves α × the gradient: steep places take long steps.",
    ),
    Control(
        "beta",
        "Momentum β (and Adam's β₁)",
        "select",
        0.9,
        options=(0.0, 0.5, 0.8, 0.9, 0.95, 0.99),
        help="How much of the last step each step keeps.",
    ),
    Control(
        "eta",
        "Step size η (RMSprop, Adam, AdaGrad)",
        "select",
        0.05,
        options=STEP_SIZES,
        help="These divide the gradient by its recent size, so each step moves about η, steep or flat.",
    ),
    Control("steps", "Steps", "int", 200, min=10, max=1000),
)
BOX = ControlBox("race", "Surface and optimisers", CONTROLS, flat=False)


def loss_function(surface: str) -> Callable:
    """The surface as a JAX function of a point (x, y) and the bowl's condition number."""
    import jax.numpy as jnp

    def bowl(p, condition):
        return 0.5 * (p[0] ** 2 / condition + p[1] ** 2)

    def rosenbrock(p, condition):
        return ((1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2) / 500

    def saddle(p, condition):
        return p[0] ** 2 / 2 - p[1] ** 2 / 2 + p[1] ** 4 / 4

    def bumpy(p, condition):
        return (p[0] ** 2 + p[1] ** 2) / 20 + (1 - jnp.cos(2 * p[0]) * jnp.cos(2 * p[1])) / 2

    return {BOWL: bowl, ROSENBROCK: rosenbrock, SADDLE: saddle, BUMPY: bumpy}[surface]


def keras_optimiser(name: str, step_size: float, beta: float):
    """Keras' own optimiser for a name: the SGD family takes α and β, the adaptive ones η (Adam's β₁ = β)."""
    from core.engine.backend import load_keras

    optimizers = load_keras().optimizers
    if name == GD:
        return optimizers.SGD(step_size)
    if name in (MOMENTUM, NESTEROV):
        return optimizers.SGD(step_size, momentum=beta, nesterov=name == NESTEROV)
    if name == RMSPROP:
        return optimizers.RMSprop(step_size)
    if name == ADAM:
        return optimizers.Adam(step_size, beta_1=beta)
    if name == ADAGRAD:
        return optimizers.Adagrad(step_size)
    raise KeyError(name)


@functools.lru_cache(maxsize=64)
def _compiled_walk(surface: str, name: str, beta: float, steps: int):
    """One jitted walk of `steps` steps for a surface and optimiser. β is fixed inside Keras' update (a Python
    number), so it is part of the key; the step size and the condition number are arguments."""
    import jax

    from core.engine.backend import load_keras
    from core.engine.loop import learning_rate_slot, with_learning_rate

    keras = load_keras()
    loss = loss_function(surface)
    optimiser = keras_optimiser(name, 0.1, beta)
    point = keras.Variable(np.zeros(2, "float32"))
    optimiser.build([point])
    slot = learning_rate_slot(optimiser)
    initial = [v.value for v in optimiser.variables]

    def walk(start, step_size, condition):
        def one(carry, _):
            p, optimiser_vars = carry
            value, gradient = jax.value_and_grad(loss)(p, condition)
            optimiser_vars = with_learning_rate(optimiser_vars, slot, step_size)
            [p], optimiser_vars = optimiser.stateless_apply(optimiser_vars, [gradient], [p])
            return (p, optimiser_vars), (p, loss(p, condition))

        (_, _), (points, losses) = jax.lax.scan(one, (start, initial), None, length=steps)
        return points, losses

    return jax.jit(walk)


@dataclass(frozen=True)
class Path:
    """One optimiser's walk: the points from the start (steps + 1 of them, fewer if it diverged) and the gap
    between each point's loss and the minimum."""

    optimiser: str
    points: np.ndarray
    gaps: np.ndarray
    diverged_at: int | None

    @property
    def steps_to_target(self) -> int | None:
        """The step from which the loss stays within TARGET_GAP of the minimum (None: not by the last step; a path
        that touches it and bounces out has not converged)."""
        return settled_at(self.gaps)


def settled_at(gaps: np.ndarray, target: float = TARGET_GAP) -> int | None:
    """The first step from which every gap is within `target` (None if the last one is not)."""
    outside = np.flatnonzero(gaps > target)
    if outside.size and outside[-1] == len(gaps) - 1:
        return None
    return int(outside[-1]) + 1 if outside.size else 0


def walk(surface: str, optimiser: str, config) -> Path:
    """`optimiser`'s path on `surface` under the race's settings."""
    import jax.numpy as jnp

    spec = SURFACES[surface]
    step_size = float(config["eta"] if optimiser in ADAPTIVE else config["alpha"])
    condition = float(config["condition"])
    run = _compiled_walk(surface, optimiser, float(config["beta"]), int(config["steps"]))
    start = jnp.asarray(spec.start, "float32")
    points, losses = (np.asarray(a, "float64") for a in run(start, jnp.float32(step_size), jnp.float32(condition)))
    start_loss = float(loss_function(surface)(start, condition))
    points = np.vstack([np.asarray(spec.start)[None, :], points])
    gaps = np.concatenate([[start_loss], losses]) - spec.minimum
    bad = ~np.isfinite(points).all(axis=1) | (np.abs(points).max(axis=1) > ESCAPED) | ~np.isfinite(gaps)
    diverged_at = int(np.flatnonzero(bad)[0]) if bad.any() else None
    if diverged_at is not None:
        points, gaps = points[:diverged_at], gaps[:diverged_at]
    return Path(optimiser, points, np.maximum(gaps, 0.0), diverged_at)


@dataclass(frozen=True)
class Race:
    surface: Surface
    paths: tuple[Path, ...]
    grid_x: np.ndarray
    grid_y: np.ndarray
    grid_loss: np.ndarray
    """The surface's loss on the grid (rows: y), for the contours."""

    @property
    def grid_gap(self) -> np.ndarray:
        return self.grid_loss - self.surface.minimum

    @property
    def named_points(self) -> list[tuple[str, np.ndarray]]:
        return [(path.optimiser, path.points) for path in self.paths]

    @property
    def named_gaps(self) -> list[tuple[str, np.ndarray]]:
        return [(path.optimiser, path.gaps) for path in self.paths]


def race(config) -> Race:
    """Every chosen optimiser from the surface's start, and the surface itself for the picture."""
    from core.engine.backend import keras_in_use

    spec = SURFACES[config["surface"]]
    with keras_in_use():
        paths = tuple(walk(spec.name, name, config) for name in OPTIMISERS if name in config["optimisers"])
    grid_x, grid_y, grid_loss = surface_grid(spec.name, float(config["condition"]))
    return Race(spec, paths, grid_x, grid_y, grid_loss)


def surface_grid(surface: str, condition: float, size: int = 80):
    import jax
    import jax.numpy as jnp

    spec = SURFACES[surface]
    xs, ys = np.linspace(*spec.x_range, size), np.linspace(*spec.y_range, size)
    mesh = jnp.asarray(np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2), "float32")
    loss = jax.vmap(lambda p: loss_function(surface)(p, condition))(mesh)
    return xs, ys, np.asarray(loss, "float64").reshape(size, size)


# ----- the bowl's closed forms (Goh, "Why Momentum Really Works", distill.pub 2017) -----------------------


def bowl_curvatures(condition: float) -> np.ndarray:
    return np.array([1.0 / condition, 1.0])


def gd_gaps(condition: float, alpha: float, start: Sequence[float], steps: int) -> np.ndarray:
    """Gradient descent on the bowl: each axis shrinks by (1 − αλ) a step, so the gap after t steps is
    Σ ½ λᵢ (1 − αλᵢ)^(2t) xᵢ²."""
    curvatures, x0 = bowl_curvatures(condition), np.asarray(start, "float64")
    t = np.arange(steps + 1)[:, None]
    return (0.5 * curvatures * (1 - alpha * curvatures) ** (2 * t) * x0**2).sum(axis=1)


def momentum_gaps(condition: float, alpha: float, beta: float, start: Sequence[float], steps: int) -> np.ndarray:
    """Momentum as Keras writes it (m ← βm − αg, x ← x + m) on the bowl: per axis, (m, x) is multiplied by
    [[β, −αλ], [β, 1 − αλ]] each step."""
    curvatures, x0 = bowl_curvatures(condition), np.asarray(start, "float64")
    gaps = np.zeros(steps + 1)
    for curvature, x in zip(curvatures, x0):
        step = np.array([[beta, -alpha * curvature], [beta, 1 - alpha * curvature]])
        state = np.array([0.0, x])
        for t in range(steps + 1):
            gaps[t] += 0.5 * curvature * state[1] ** 2
            state = step @ state
    return gaps


@dataclass(frozen=True)
class BowlTheory:
    """The best settings on a bowl of condition number κ and what they promise, beside what Keras does."""

    condition: float
    gd_alpha: float
    gd_rate: float
    momentum_alpha: float
    momentum_beta: float
    momentum_rate: float
    gd_steps: int | None
    momentum_steps: int | None
    """Steps to TARGET_GAP at the best settings, measured on Keras' own optimisers."""
    gd_steps_predicted: int | None
    momentum_steps_predicted: int | None

    @property
    def speed_up(self) -> float | None:
        """How many times fewer steps momentum took, measured."""
        if self.gd_steps and self.momentum_steps:
            return self.gd_steps / self.momentum_steps
        return None

    @property
    def rate_speed_up(self) -> float | None:
        """How many times fewer steps the rates promise in the long run: log ρ_momentum / log ρ_GD, close to √κ."""
        if 0 < self.gd_rate < 1 and 0 < self.momentum_rate < 1:
            return math.log(self.momentum_rate) / math.log(self.gd_rate)
        return None


def best_rates(condition: float) -> tuple[float, float]:
    """How much gradient descent's and momentum's errors shrink a step at their best settings on the bowl."""
    root = math.sqrt(condition)
    return (condition - 1) / (condition + 1), (root - 1) / (root + 1)


def bowl_theory(condition: float, steps: int = 4000) -> BowlTheory:
    """Goh's optimal step sizes: α = 2/(λ₁ + λₙ) for gradient descent, whose error then shrinks by (κ − 1)/(κ + 1)
    a step; α = (2/(√λ₁ + √λₙ))² and β = ((√κ − 1)/(√κ + 1))² for momentum, whose error shrinks by
    (√κ − 1)/(√κ + 1): about √κ times fewer steps. Both are then run on Keras' SGD to count the steps."""
    low, high = bowl_curvatures(condition)
    gd_alpha = 2 / (low + high)
    momentum_alpha = (2 / (math.sqrt(low) + math.sqrt(high))) ** 2
    gd_rate, momentum_rate = best_rates(condition)
    momentum_beta = momentum_rate**2
    start = SURFACES[BOWL].start
    common = {"condition": condition, "steps": steps, "eta": 0.0}
    from core.engine.backend import keras_in_use

    with keras_in_use():
        gd = walk(BOWL, GD, {**common, "alpha": gd_alpha, "beta": 0.0})
        momentum = walk(BOWL, MOMENTUM, {**common, "alpha": momentum_alpha, "beta": momentum_beta})
    return BowlTheory(
        condition,
        gd_alpha,
        gd_rate,
        momentum_alpha,
        momentum_beta,
        momentum_rate,
        gd.steps_to_target,
        momentum.steps_to_target,
        settled_at(gd_gaps(condition, gd_alpha, start, steps)),
        settled_at(momentum_gaps(condition, momentum_alpha, momentum_beta, start, steps)),
    )


def closed_form_gaps(optimiser: str, config) -> np.ndarray | None:
    """On the bowl, what gradient descent or momentum must do under the race's settings (None elsewhere)."""
    if config["surface"] != BOWL or optimiser not in (GD, MOMENTUM):
        return None
    condition, alpha, steps = float(config["condition"]), float(config["alpha"]), int(config["steps"])
    start = SURFACES[BOWL].start
    if optimiser == GD:
        return gd_gaps(condition, alpha, start, steps)
    return momentum_gaps(condition, alpha, float(config["beta"]), start, steps)


def disagreement(path: Path, closed_form: np.ndarray) -> float:
    """The largest relative difference between a path's gaps and the closed form's, over the steps both have
    and where the closed form is above float32's reach (1e-9)."""
    closed = closed_form[: len(path.gaps)]
    seen = closed > 1e-9
    if not seen.any():
        return 0.0
    return float(np.max(np.abs(path.gaps[: len(closed)][seen] - closed[seen]) / closed[seen]))


@dataclass(frozen=True)
class Notice:
    """What to notice in a race, computed from it."""

    fastest: str | None
    reached: dict[str, int]
    diverged: dict[str, int]
    unsettled: dict[str, float]
    """Optimisers that had not settled by the last step (crawling, bouncing, or in a trap): their final gap."""


def notice(result: Race) -> Notice:
    reached = {p.optimiser: p.steps_to_target for p in result.paths if p.steps_to_target is not None}
    diverged = {p.optimiser: p.diverged_at for p in result.paths if p.diverged_at is not None}
    unsettled = {
        p.optimiser: float(p.gaps[-1]) for p in result.paths if p.diverged_at is None and p.steps_to_target is None
    }
    fastest = min(reached, key=reached.get) if reached else None
    return Notice(fastest, reached, diverged, unsettled)
