"""Benchmarks of the optimisation lesson (part of `make bench`; `python -m bench.run optimisation`).

The race on a surface is computed when the page opens or a setting changes, so its cost is a wait a student
sees: the race at the page's defaults cold (Keras' optimisers compiled) and warm, with every optimiser; the
steps per second of one jitted walk; the bowl's best-settings section; the time to build both figures and
their size. Then what each optimiser does on each surface at the defaults (steps until it settles within 1e-6
of the minimum), the table the lesson's notices are computed from.
"""

from __future__ import annotations

import statistics
import time

from core.charts.optimisation import gap_curves, race_animation
from core.lessons.optimisation import surfaces

WARM_REPEATS = 5


def _seconds(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def run(browser=None) -> dict:
    defaults = {control.key: control.default for control in surfaces.CONTROLS}
    every = {**defaults, "optimisers": surfaces.OPTIMISERS}
    cold_defaults = _seconds(lambda: surfaces.race(defaults))
    cold_every = _seconds(lambda: surfaces.race(every))
    warm = statistics.median(_seconds(lambda: surfaces.race(every)) for _ in range(WARM_REPEATS))
    long_walk = {**every, "steps": 1000}
    surfaces.race(long_walk)
    warm_long = statistics.median(_seconds(lambda: surfaces.race(long_walk)) for _ in range(WARM_REPEATS))
    theory_cold = _seconds(lambda: surfaces.bowl_theory(100.0))
    theory_warm = _seconds(lambda: surfaces.bowl_theory(100.0))
    result = surfaces.race(every)
    started = time.perf_counter()
    figures = [
        race_animation(result.grid_x, result.grid_y, result.grid_gap, result.named_points, surfaces.OPTIMISERS, "b"),
        gap_curves(result.named_gaps, surfaces.OPTIMISERS, surfaces.TARGET_GAP, "b"),
    ]
    build_s = time.perf_counter() - started
    settled = {}
    for name in surfaces.SURFACES:
        race = surfaces.race({**every, "surface": name})
        settled[name] = {
            p.optimiser: "diverged" if p.diverged_at is not None else p.steps_to_target for p in race.paths
        }
    return {
        "setup": "the race at the page's defaults (the bowl, κ 25, α 0.5, β 0.9, η 0.05, 200 steps); median of "
        f"{WARM_REPEATS} for warm times",
        "race_defaults_cold_s": round(cold_defaults, 2),
        "race_all_six_cold_s": round(cold_every, 2),
        "race_all_six_warm_ms": round(warm * 1000, 1),
        "race_all_six_1000_steps_warm_ms": round(warm_long * 1000, 1),
        "optimiser_steps_per_s_warm": round(6 * 1000 / warm_long),
        "bowl_best_settings_cold_s": round(theory_cold, 2),
        "bowl_best_settings_warm_ms": round(theory_warm * 1000, 1),
        "figures_build_ms": round(build_s * 1000, 1),
        "figures_json_kb": round(sum(len(f.to_json()) for f in figures) / 1024),
        "steps_until_within_1e-6_at_defaults": settled,
    }
