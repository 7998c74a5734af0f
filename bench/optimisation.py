"""Benchmarks of the optimisation lesson (part of `make bench`; `python -m bench.run optimisation`).

The race on a surface is computed when the page opens or a setting changes, so its cost is a wait a student
sees: the race at the page's defaults cold (Keras' optimisers compiled) and warm, with every optimiser; the
steps per second of one jitted walk; the bowl's best-settings section; the time to build both figures and
their size. Then what each optimiser does on each surface at the defaults (steps until it settles within 1e-6
of the minimum), the table the lesson's notices are computed from.

On the real network (the digits): the race at the page's defaults, trained as the page trains it (a job at full
speed), each optimiser's epoch and seconds from Train to 95 % of the held-out digits and the race's epochs per
second; then Adam alone at batch sizes 1, 32 and the whole training set, the same.

Overfitting at the page's defaults (60 noisy moons, 400 epochs, four copies): the run's seconds and epochs per
second, and each copy's training and held-out loss at the end (early stopping's at the epoch it keeps), the
figures its notices are computed from.

Batch normalisation at the page's defaults (ReLU, 8 layers of 64, rate 1, 20 epochs): the live run's seconds and
epochs per second with both networks, their held-out accuracy at the end, and the learning-rate sweep the page
computes when its settings change (cold: both networks compiled; warm: every rate again), with the rates each
network trains at for each activation.

Data augmentation at the page's defaults (200 digits, shifts, 100 epochs): seconds, epochs per second, each network's
held-out loss and accuracy at the end. Hyperparameter search at the page's defaults: the grid alone (16 trials) and
both strategies (32), seconds from Train to the last trial and per trial, and each strategy's best trial.
"""

from __future__ import annotations

import statistics
import time

from core.charts.optimisation import gap_curves, race_animation
from core.engine.jobs import JobRegistry
from core.lessons.optimisation import augmentation, batchnorm, network, regularisation, search, surfaces

WARM_REPEATS = 5
BATCH_SIZES = (1, 32, network.TRAIN_SIZE)


def _seconds(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def network_race(**changes) -> dict:
    """A job as the page runs it: seconds and epoch at which each optimiser first reached the target."""
    config = {control.key: control.default for control in network.CONTROLS} | {"speed": "full speed"} | changes
    started = time.perf_counter()
    job = JobRegistry(max_running=1).submit(network.race_task(config), "bench")
    reached: dict[str, dict] = {}
    while True:
        active = job.status.active
        for name in config["optimisers"]:
            key = network.accuracy_key(name)
            hit = next((row for row in job.view().history if row.get(key, 0) >= network.TARGET_ACCURACY), None)
            if hit is not None and name not in reached:
                seconds = round(time.perf_counter() - started, 2)
                reached[name] = {"epoch": int(hit["epoch"]), "seconds_from_train": seconds}
        if not active:
            break
        time.sleep(0.02)
    history = job.view().history
    first, last = history[0], history[-1]  # the first epoch's time includes compiling
    steady = (last["epoch"] - first["epoch"]) / max(last["time_s"] - first["time_s"], 1e-9)
    return {
        "optimisers": list(config["optimisers"]),
        "batch_size": config["batch_size"],
        "epochs": config["epochs"],
        "to_95_percent_held_out": reached,
        "race_epochs_per_s_after_compiling": round(steady, 1),
        "total_s": round(time.perf_counter() - started, 1),
    }


def overfitting() -> dict:
    config = {control.key: control.default for control in regularisation.CONTROLS} | {"speed": "full speed"}
    started = time.perf_counter()
    job = JobRegistry(max_running=1).submit(regularisation.remedies_task(config), "bench")
    job.wait(600)
    view = job.view()
    history = view.history
    seen = regularisation.remedy_notice(history, regularisation.REMEDIES)
    steady = (history[-1]["epoch"] - history[0]["epoch"]) / max(history[-1]["time_s"] - history[0]["time_s"], 1e-9)
    return {
        "total_s": round(time.perf_counter() - started, 1),
        "epochs_per_s_after_compiling": round(steady, 1),
        "training_and_held_out_loss": {
            remedy: {"training": round(train, 4), "held_out": round(held_out, 4)}
            for remedy, (train, held_out) in seen.final.items()
        },
        "early_stopping": {"best_epoch": seen.best[regularisation.EARLY][0], "stopped_at": view.snapshot.stopped_at},
    }


def batch_normalisation() -> dict:
    config = {control.key: control.default for control in batchnorm.CONTROLS} | {"speed": "full speed"}
    started = time.perf_counter()
    job = JobRegistry(max_running=1).submit(batchnorm.batchnorm_task(config), "bench")
    job.wait(600)
    total = time.perf_counter() - started
    history = job.view().history
    seen = batchnorm.batchnorm_notice(history, job.view().snapshot)
    steady = (history[-1]["epoch"] - history[0]["epoch"]) / max(history[-1]["time_s"] - history[0]["time_s"], 1e-9)
    sweeps, usable = {}, {}
    for activation in batchnorm.ACTIVATIONS:
        arguments = (activation, config["depth"], config["width"], config["seed"])
        batchnorm.rate_sweep.cache_clear()
        cold = _seconds(lambda arguments=arguments: batchnorm.rate_sweep(*arguments))
        batchnorm.rate_sweep.cache_clear()
        warm = _seconds(lambda arguments=arguments: batchnorm.rate_sweep(*arguments))
        sweep = batchnorm.rate_sweep(*arguments)
        sweeps[activation] = {"cold_s": round(cold, 2), "again_s": round(warm, 2)}
        usable[activation] = {name: list(sweep.usable(name)) for name in batchnorm.NETWORKS}
    return {
        "live_run_total_s": round(total, 1),
        "live_run_epochs_per_s_after_compiling": round(steady, 1),
        "held_out_accuracy_at_the_end": {name: round(accuracy, 4) for name, (_, accuracy) in seen.final.items()},
        "rate_sweep_seconds": sweeps,
        f"usable_rates_{batchnorm.SWEEP_EPOCHS}_epochs_to_{batchnorm.USABLE_ACCURACY:.0%}": usable,
    }


def _job(task) -> tuple[float, list]:
    """A task run as a job at full speed: its seconds from submitting to the end, and its history."""
    started = time.perf_counter()
    job = JobRegistry(max_running=1).submit(task, "bench")
    job.wait(900)
    return time.perf_counter() - started, list(job.view().history)


def data_augmentation() -> dict:
    config = {control.key: control.default for control in augmentation.CONTROLS} | {"speed": "full speed"}
    total, history = _job(augmentation.augmentation_task(config))
    seen = augmentation.augmentation_notice(history)
    steady = (history[-1]["epoch"] - history[0]["epoch"]) / max(history[-1]["time_s"] - history[0]["time_s"], 1e-9)
    return {
        "total_s": round(total, 1),
        "epochs_per_s_after_compiling": round(steady, 1),
        "held_out_at_the_end": {
            name: {"loss": round(held_out, 4), "accuracy": round(accuracy, 4)}
            for name, (_, held_out, accuracy) in seen.final.items()
        },
    }


def hyperparameter_search() -> dict:
    defaults = {control.key: control.default for control in search.CONTROLS}
    result = {}
    for strategies in ((search.GRID,), search.STRATEGIES):
        total, history = _job(search.search_task(defaults | {"strategies": strategies}))
        seen = search.search_notice(history)
        result[" and ".join(strategies)] = {
            "trials": len(history),
            "total_s": round(total, 1),
            "median_trial_s": round(statistics.median(row[search.SECONDS] for row in history), 2),
            "best_held_out_accuracy": {name: round(row[search.ACCURACY], 4) for name, row in seen.best.items()},
            "distinct_learning_rates": {name: counts[search.LEARNING_RATE] for name, counts in seen.distinct.items()},
        }
    return result


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
        "network_race_defaults": network_race(),
        "network_adam_by_batch_size": [
            network_race(optimisers=(surfaces.ADAM,), batch_size=size, epochs=20) for size in BATCH_SIZES
        ],
        "overfitting_defaults": overfitting(),
        "batch_normalisation_defaults": batch_normalisation(),
        "data_augmentation_defaults": data_augmentation(),
        "hyperparameter_search_defaults": hyperparameter_search(),
    }
