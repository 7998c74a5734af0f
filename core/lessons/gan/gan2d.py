"""The 2D GAN, opened up: target distributions in the plane, a generator and a discriminator of a
few dense layers, and everything the page draws at each moment of the duel (real and generated
samples, the discriminator's decision surface, the generator's gradient on its samples, and how
many of the target's modes the generator covers).

Mode coverage follows the unrolled-GAN paper (Metz et al. 2017): a generated sample is near a mode
when it lies within 3 standard deviations of the mode's centre, and a mode is covered when at least
1 % of the samples are near it. Shapes without Gaussian modes (line, moons, spiral, a CSV) are cut
into 8 parts by k-means; a part's radius is the distance that holds 95 % of its real points.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.engine.csvinput import DataError, digest, read_table
from core.engine.jobs import TrainingContext, TrainingTask, task_factory
from core.engine.pacing import speed_control, train_in_chunks
from core.engine.params import Control, ControlBox
from core.engine.text import clipped
from core.lessons.gan import gan
from core.shared.points import half_moons

RUN = "gan/2d"
RING, GRID, LINE, MOONS, SPIRAL, YOUR_CSV = "ring of 8 Gaussians", "5×5 grid", "line", "two moons", "spiral", "your CSV"
TARGETS = (RING, GRID, LINE, MOONS, SPIRAL, YOUR_CSV)
REAL_POINTS = 2000
EVAL_POINTS = 2000
DRAWN_POINTS = 500
ARROWS = 120
SURFACE_SIZE = 60
EXTENT = 3.0
"""The plane drawn is −3…3 in both directions; every target lies within ±2.5."""
MODE_STD = 0.05
COVERED_SHARE = 0.01
MAX_CHUNK = 500
CURVE_WINDOW = 25
"""The curves show running means over this many iterations: single batches are too noisy to read."""
SPEEDS = {"slow motion": 5.0, "steady": 60.0, "full speed": None}
"""Iterations (discriminator steps, then a generator step) per second."""

DEFAULTS = {
    "label_smoothing": False,
    "activation": gan.LEAKY_RELU,
    "batchnorm": False,
    "beta_1": 0.5,
    "from_logits": True,
    "generator_loss": gan.NON_SATURATING,
    "d_steps": 1,
    "lr_d": 0.001,
    "lr_g": 0.001,
}
PRESETS = {
    "defaults": DEFAULTS,
    "provoke mode collapse": {**DEFAULTS, "beta_1": 0.9, "lr_d": 0.0005, "lr_g": 0.005},
    "fix it": {**DEFAULTS, "beta_1": 0.5, "lr_d": 0.002, "lr_g": 0.001},
}
"""Collapse: a generator ten times faster than its discriminator, with slow momentum, chases one
spot D likes after another. The fix: β1 = 0.5 and a discriminator faster than the generator (the
two time-scale rule of Heusel et al. 2017)."""


def preset_summary(name: str) -> str:
    """What a preset changes from the defaults, in words."""
    changes = {k: v for k, v in PRESETS[name].items() if DEFAULTS[k] != v}
    if not changes:
        return "the settings this lesson starts from"
    labels = {c.key: c.label for c in gan.trick_controls(DEFAULTS)}
    return ", ".join(
        f"{labels[k].lower()} {'on' if v is True else 'off' if v is False else v}" for k, v in changes.items()
    )


CONTROLS = (
    Control("target", "Target distribution", "select", RING, options=TARGETS),
    Control("hidden", "Units per hidden layer", "select", 128, options=(32, 64, 128, 256)),
    Control("layers", "Hidden layers (each network)", "int", 3, min=1, max=4),
    Control("latent", "Latent dimensions", "int", 8, min=1, max=32),
    Control("batch", "Batch size", "select", 256, options=(64, 128, 256, 512)),
    Control("iterations", "Iterations", "int", 4000, min=100, max=50_000, step=100),
    Control("seed", "Seed", "int", 0, min=0, max=9999),
    *gan.trick_controls(DEFAULTS),
    Control(
        "mode",
        "Train",
        "select",
        gan.BOTH,
        options=gan.TRAIN_MODES,
        live=True,
        help="Freeze one network and watch the other react; pause and press Step for one iteration at a time.",
    ),
    speed_control(SPEEDS, "iterations"),
)
BOX = ControlBox("duel", "Target, networks and tricks", CONTROLS)
LIVE = tuple(c.key for c in CONTROLS if c.live)


@dataclass(frozen=True)
class Target:
    """Real points and the modes the generator should cover."""

    name: str
    points: np.ndarray
    centres: np.ndarray
    radii: np.ndarray


def _ring() -> np.ndarray:
    angles = 2 * np.pi * np.arange(8) / 8
    return np.stack([2 * np.cos(angles), 2 * np.sin(angles)], axis=1)


def _grid() -> np.ndarray:
    return np.array([[x, y] for x in range(-2, 3) for y in range(-2, 3)], dtype=float)


def _gaussian_modes(centres: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    picks = rng.integers(len(centres), size=REAL_POINTS)
    points = centres[picks] + rng.normal(0, MODE_STD, (REAL_POINTS, 2))
    return points, centres, np.full(len(centres), 3 * MODE_STD)


def _shape(name: str, rng: np.random.Generator) -> np.ndarray:
    if name == LINE:
        t = rng.uniform(-1, 1, REAL_POINTS)
        return np.stack([2 * t, t], axis=1) + rng.normal(0, 0.03, (REAL_POINTS, 2))
    if name == MOONS:
        moons, _ = half_moons(REAL_POINTS, 0.05, int(rng.integers(2**31)))
        return (moons - [0.5, 0.25]) * 1.4
    if name == SPIRAL:
        share = rng.uniform(0, 1, REAL_POINTS)
        angle = 3 * np.pi * share
        radius = 0.3 + 1.9 * share
        return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1) + rng.normal(
            0, 0.04, (REAL_POINTS, 2)
        )
    raise DataError(f"Unknown target '{name}': choose one of {', '.join(TARGETS)}.")


def parts_of(points: np.ndarray, parts: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Centres of k-means parts and the radius holding 95 % of each part's points."""
    from sklearn.cluster import KMeans

    fit = KMeans(n_clusters=parts, n_init=4, random_state=seed).fit(points)
    distances = np.linalg.norm(points - fit.cluster_centers_[fit.labels_], axis=1)
    radii = np.array([np.quantile(distances[fit.labels_ == k], 0.95) for k in range(parts)])
    return fit.cluster_centers_, np.maximum(radii, 1e-3)


def make_target(name: str, seed: int = 0, points: np.ndarray | None = None) -> Target:
    """The real distribution: built in points, or `points` from a student's CSV (already scaled)."""
    rng = np.random.default_rng(seed)
    if name in (RING, GRID):
        real, centres, radii = _gaussian_modes(_ring() if name == RING else _grid(), rng)
        return Target(name, real.astype("float32"), centres, radii)
    if name == YOUR_CSV:
        if points is None:
            raise DataError("Upload a CSV of points first.")
        real = np.asarray(points, dtype="float32")
    else:
        real = _shape(name, rng).astype("float32")
    centres, radii = parts_of(real, seed=seed)
    return Target(name, real, centres, radii)


@dataclass(frozen=True)
class Coverage:
    covered: int
    modes: int
    near_share: float
    """The share of generated samples near some mode."""
    per_mode: np.ndarray
    """The share of samples near each mode."""


def mode_coverage(samples: np.ndarray, target: Target) -> Coverage:
    distances = np.linalg.norm(samples[:, None, :] - target.centres[None, :, :], axis=2)
    nearest = np.argmin(distances, axis=1)
    near = distances[np.arange(len(samples)), nearest] <= target.radii[nearest]
    per_mode = np.bincount(nearest[near], minlength=len(target.centres)) / len(samples)
    return Coverage(int(np.sum(per_mode >= COVERED_SHARE)), len(target.centres), float(near.mean()), per_mode)


MAX_CSV_BYTES = 1_000_000
MIN_CSV_POINTS = 50
MAX_CSV_POINTS = 5000


@dataclass(frozen=True)
class UploadedPoints:
    points: np.ndarray
    name: str
    digest: str


def read_points_csv(raw: bytes, name: str = "points.csv") -> UploadedPoints:
    """A CSV of exactly two numeric columns (a header line is optional), rescaled into ±2 keeping
    its shape; a DataError says what is wrong."""
    import pandas as pd

    table = read_table(raw, MAX_CSV_BYTES, header=None)
    if table.shape[1] != 2:
        raise DataError(
            f"The file has {table.shape[1]} column{'s' if table.shape[1] != 1 else ''}; it needs exactly 2: "
            "the x and y of each point, one point per line."
        )
    cells = table.apply(lambda column: column.str.strip())
    values = cells.apply(lambda column: pd.to_numeric(column, errors="coerce"))
    if values.iloc[0].isna().all():  # a header line
        cells, values = cells.iloc[1:], values.iloc[1:]
    bad = values.isna().any(axis=1) | ~np.isfinite(values.fillna(0)).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        line = row + 1 + (len(table) - len(values))
        raise DataError(
            f"Line {line}: '{clipped(', '.join(cells.iloc[row]))}' is not two numbers. "
            "Every line after the header needs an x and a y."
        )
    points = values.to_numpy(dtype=float)
    if len(points) < MIN_CSV_POINTS:
        raise DataError(
            f"The file has {len(points)} point{'s' if len(points) != 1 else ''}; a GAN needs at least "
            f"{MIN_CSV_POINTS} to learn a distribution from."
        )
    if len(points) > MAX_CSV_POINTS:
        raise DataError(
            f"The file has {len(points):,} points; the lesson takes at most {MAX_CSV_POINTS:,}. "
            "Take a sample of your data."
        )
    centre = (points.max(axis=0) + points.min(axis=0)) / 2
    half_width = float(np.max(points.max(axis=0) - points.min(axis=0))) / 2
    if half_width == 0:
        raise DataError("Every point is the same point: a distribution needs some spread.")
    scaled = (points - centre) / half_width * 2.0
    return UploadedPoints(scaled.astype("float32"), name, digest(raw))


def build_models(config: Mapping[str, Any]):
    """Generator: latent → hidden layers → 2 (linear). Discriminator: 2 → hidden layers → 1 logit.
    Batch normalisation, when on, follows every hidden Dense except the discriminator's first."""
    from core.engine.backend import load_keras

    keras = load_keras()
    keras.utils.set_random_seed(int(config["seed"]))

    def stack(inputs: int, outputs: int, name: str, first_norm: bool):
        layers = [keras.Input(shape=(inputs,))]
        for index in range(int(config["layers"])):
            layers.append(keras.layers.Dense(int(config["hidden"])))
            if config["batchnorm"] and (index > 0 or first_norm):
                layers.append(keras.layers.BatchNormalization())
            layers.append(gan.hidden_activation(config["activation"]))
        layers.append(keras.layers.Dense(outputs))
        return keras.Sequential(layers, name=name)

    return stack(int(config["latent"]), 2, "generator", True), stack(2, 1, "discriminator", False)


@dataclass(frozen=True)
class DuelSnapshot:
    """The 2D duel at one moment: what `core.charts.gan.duel_plane` draws, and the coverage."""

    epoch: int
    """The iteration (runs count iterations as their epochs)."""
    iteration: int
    real: np.ndarray
    fake: np.ndarray
    axis: np.ndarray
    surface: np.ndarray
    """D(x) over the plane, (SURFACE_SIZE, SURFACE_SIZE), rows from the bottom."""
    arrows_at: np.ndarray
    arrows: np.ndarray
    """−∇ of the generator's loss at `arrows_at`: where its gradient pushes those samples."""
    coverage: Coverage
    coverage_history: list[tuple[int, int, float]]
    centres: np.ndarray
    radii: np.ndarray
    finite: bool


class Duel:
    """A 2D GAN in training: the trainer plus the fixed latent vectors and grid the page draws."""

    def __init__(self, config: Mapping[str, Any], target: Target):
        import jax
        import jax.numpy as jnp

        self.config, self.target = dict(config), target
        generator, discriminator = build_models(config)
        losses = gan.LossSettings.from_config(config)
        self.trainer = gan.GanTrainer(
            generator,
            discriminator,
            target.points,
            int(config["latent"]),
            int(config["batch"]),
            losses,
            float(config["beta_1"]),
            int(config["seed"]),
            MAX_CHUNK,
        )
        rng = np.random.default_rng(int(config["seed"]) + 1)
        self.z = rng.normal(size=(EVAL_POINTS, int(config["latent"]))).astype("float32")
        self.axis = np.linspace(-EXTENT, EXTENT, SURFACE_SIZE)
        self.grid = np.stack(np.meshgrid(self.axis, self.axis), axis=-1).reshape(-1, 2).astype("float32")
        self.drawn_real = target.points[
            rng.choice(len(target.points), min(DRAWN_POINTS, len(target.points)), replace=False)
        ]
        self.coverage_history: list[tuple[int, int, float]] = []

        def sample_loss(x, d_vars, d_fixed):
            logits, _ = discriminator.stateless_call(d_vars, d_fixed, x, training=False)
            return jnp.sum(gan.generator_loss(logits, losses.generator_loss, losses.from_logits) * len(x))

        self._gradient = jax.jit(jax.grad(sample_loss))

    def run(self, n: int, live: Mapping[str, Any]) -> list[dict[str, float]]:
        return self.trainer.run(n, live["lr_d"], live["lr_g"], live["mode"])

    def snapshot(self) -> DuelSnapshot:
        samples = self.trainer.generate(self.z)
        coverage = mode_coverage(samples, self.target)
        if not self.coverage_history or self.coverage_history[-1][0] != self.trainer.iteration:
            self.coverage_history.append((self.trainer.iteration, coverage.covered, coverage.near_share))
        arrows_at = samples[:ARROWS]
        gradient = np.asarray(self._gradient(arrows_at, *self.trainer.discriminator_variables()))
        return DuelSnapshot(
            epoch=self.trainer.iteration,
            iteration=self.trainer.iteration,
            real=self.drawn_real,
            fake=samples[:DRAWN_POINTS],
            axis=self.axis,
            surface=self.trainer.discriminate(self.grid).reshape(SURFACE_SIZE, SURFACE_SIZE),
            arrows_at=arrows_at,
            arrows=-gradient,
            coverage=coverage,
            coverage_history=list(self.coverage_history),
            centres=self.target.centres,
            radii=self.target.radii,
            finite=bool(np.all(np.isfinite(samples))),
        )


def findings(shot: DuelSnapshot, last: Mapping[str, float] | None) -> list[str]:
    """What the numbers of the moment say, in words."""
    coverage = shot.coverage
    lines = [
        f"Iteration {shot.iteration:,}: the generator covers **{coverage.covered} of {coverage.modes}** modes; "
        f"{coverage.near_share:.0%} of its samples are near one."
    ]
    if not shot.finite:
        lines.append("Some generated samples are not numbers any more (NaN): the run has broken down.")
    if last is not None:
        lines.append(
            f"D(real) = {last['d_real']:.2f}, D(generated) = {last['d_fake']:.2f}: "
            + (
                "the discriminator is winning easily."
                if last["d_real"] - last["d_fake"] > 0.6
                else "the generator fools it often."
                if last["d_fake"] > 0.4
                else "a contest."
            )
        )
    spread = float(np.linalg.norm(np.nanstd(shot.fake, axis=0)))
    real_spread = float(np.linalg.norm(np.std(shot.real, axis=0)))
    if shot.finite and spread < real_spread / 4:
        lines.append(
            f"The generated samples spread {spread:.2f} against the real samples' {real_spread:.2f}: "
            "they have collapsed onto a small region (**mode collapse**)."
        )
    return lines


@functools.lru_cache(maxsize=1)
def example_csv(n: int = 600) -> bytes:
    """A heart of points to download, try and edit: the shape of the expected upload."""
    t = np.random.default_rng(0).uniform(0, 2 * np.pi, n)
    x = 16 * np.sin(t) ** 3
    y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    lines = ["x,y"] + [f"{a:.3f},{b:.3f}" for a, b in zip(x, y)]
    return ("\n".join(lines) + "\n").encode()


@task_factory
def train_task(config: Mapping[str, Any], uploaded: UploadedPoints | None = None) -> TrainingTask:
    config = dict(config)

    def train(ctx: TrainingContext):
        duel = Duel(
            config,
            make_target(config["target"], int(config["seed"]), uploaded.points if uploaded is not None else None),
        )
        ctx.replace_snapshot(duel.snapshot())
        train_in_chunks(ctx, duel.run, duel.snapshot, lambda live: SPEEDS[live["speed"]], MAX_CHUNK)
        last = duel.snapshot()
        return {
            "covered": last.coverage.covered,
            "modes": last.coverage.modes,
            "near_share": last.coverage.near_share,
        }

    fixed = {k: v for k, v in config.items() if k not in LIVE}
    if uploaded is not None:
        fixed["csv"] = uploaded.digest
    return TrainingTask(
        run=RUN,
        config=fixed,
        train=train,
        epochs=int(config["iterations"]),
        live={key: config[key] for key in LIVE},
        unit="iteration",
    )
