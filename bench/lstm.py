"""Benchmarks of the LSTM lesson (part of `make bench`; `python -m bench.run lstm`).

For each task at the page's defaults (32 units, sequences of 24, Adam 0.01, clipping 1, batch 32),
trained as the page trains it (a job at full speed): the seconds per epoch, and the epoch and
seconds from pressing Train to a held-out target. Then the inspector's cost (every gate of a
120-character string recomputed from the weights) and sampling's characters per second.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from core.engine.jobs import JobRegistry
from core.lessons.lstm_gates import lstm

TARGETS = {
    lstm.NAMES: ("val_loss", 2.2, 30),
    lstm.BRACKETS: ("val_accuracy", 0.99, 30),
    lstm.RECALL: ("val_accuracy", 0.99, 30),
    lstm.ADDING: ("val_accuracy", 0.95, 60),
}
"""Task: (metric, target, epochs allowed); a loss target is reached from above."""


def _reached(row, metric: str, target: float) -> bool:
    return row[metric] <= target if metric.endswith("loss") else row[metric] >= target


def time_to_target(task: str, metric: str, target: float, epochs: int) -> dict:
    config = {**{c.key: c.default for c in lstm.TRAIN_CONTROLS}, "task": task, "epochs": epochs, "speed": "full speed"}
    started = time.perf_counter()
    job = JobRegistry(max_running=1).submit(lstm.train_task(config), "bench")
    reached = None
    while job.status.active:
        hit = next((row for row in job.view().history if _reached(row, metric, target)), None)
        if hit is not None and reached is None:
            reached = {"epoch": int(hit["epoch"]), "seconds_from_train": round(time.perf_counter() - started, 2)}
            job.stop("Target reached.")
        time.sleep(0.02)
    history = job.view().history
    steady = [b["time_s"] - a["time_s"] for a, b in zip(history[1:], history[2:])]
    return {
        "metric": metric,
        "target": target,
        "reached": reached,
        "last": round(history[-1][metric], 4),
        "seconds_per_epoch": round(statistics.median(steady), 3) if steady else None,
        "weights": job.result["weights"] if job.result else job.view().snapshot.weights,
    }


def run(browser=None) -> dict:
    results, weights = {}, {}
    for task, (metric, target, epochs) in TARGETS.items():
        measured = time_to_target(task, metric, target, epochs)
        weights[task] = measured.pop("weights")
        results[task] = measured
    names = lstm.make_task(lstm.NAMES, 24)
    text = (".mary.john.elizabeth" * 6)[: lstm.MAX_INPUT]
    x, _ = lstm.encode(names, text)
    times = []
    for _ in range(5):
        started = time.perf_counter()
        lstm.run_cell(x, weights[lstm.NAMES].kernel, weights[lstm.NAMES].recurrent_kernel, weights[lstm.NAMES].bias)
        times.append(time.perf_counter() - started)
    results["inspect_120_characters_ms"] = round(statistics.median(times) * 1000, 2)
    started = time.perf_counter()
    lstm.sample(names, weights[lstm.NAMES], ".", 200, 0.8, np.random.default_rng(0))
    results["sampling_characters_per_s"] = round(200 / (time.perf_counter() - started))
    return {"lstm": results}
