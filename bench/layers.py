"""Benchmarks of the per-layer statistics (part of `make bench`; `python -m bench.run layers`).

For a 30-layer ReLU network (64 neurons per layer, the two default schemes Glorot uniform and He
normal raced side by side, batch 32 on the 300 circles): SGD steps per second of the bare jitted loop,
of the live job at full speed (which looks inside the networks at most every 0.3 s, as the page
shows it), and of the worst case, looking inside after every epoch; and the time of one look.
Through time (the vanishing-gradients lesson's defaults): epochs per second of the SimpleRNN and
LSTM pair, and the epochs and seconds the LSTM takes to reach 95 % test accuracy.
"""

from __future__ import annotations

import statistics
import time

from core.engine.jobs import JobRegistry
from core.lessons.initialisation import initialisation
from core.shared import deepnet, recurrent

DEPTH, WIDTH, BATCH = 30, 64, 32
SCHEMES = ("Glorot uniform", "He normal")
EPOCHS = 192


def _race() -> deepnet.Race:
    return deepnet.Race(deepnet.circles(), deepnet.Network((WIDTH,) * DEPTH, "relu"), SCHEMES, BATCH, 0)


def _steps(epochs: int) -> int:
    return epochs * (len(deepnet.circles().x_train) // BATCH)


def bare(race: deepnet.Race, repeats: int = 5) -> float:
    race.run(64, 0.01)  # compile
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        race.run(64, 0.01)
        rates.append(_steps(64) / (time.perf_counter() - started))
    return statistics.median(rates)


def every_epoch(race: deepnet.Race, epochs: int = 64) -> float:
    race.run(1, 0.01)
    race.measure()  # compile both
    started = time.perf_counter()
    for _ in range(epochs):
        race.run(1, 0.01)
        race.measure()
    return _steps(epochs) / (time.perf_counter() - started)


def one_look_ms(race: deepnet.Race, repeats: int = 20) -> float:
    race.measure()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        race.measure()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def live_job() -> float:
    """Steps/s of the page's own run at full speed, from the published timestamps (compile left out)."""
    registry = JobRegistry(max_running=1)
    config = {c.key: c.default for c in initialisation.DEEP_CONTROLS}
    config.update(depth=DEPTH, width=WIDTH, batch_size=BATCH, schemes=SCHEMES, epochs=EPOCHS, speed="full speed")
    job = registry.submit(initialisation.deep_task(config), "bench")
    job.wait()
    history = job.view().history
    registry.shutdown()
    first, last = history[0], history[-1]
    return _steps(last["epoch"] - first["epoch"]) / (last["time_s"] - first["time_s"])


def recurrent_pair(max_epochs: int = 40) -> dict:
    config = {c.key: c.default for c in recurrent.TIME_CONTROLS}
    pair = recurrent.RecurrentPair(config["distance"], config["seed"], config["forget_bias"])
    pair.run(1, config["learning_rate"])  # compile
    started, reached = time.perf_counter(), None
    while pair.epoch < max_epochs and reached is None:
        rows = pair.run(1, config["learning_rate"])
        if rows[-1, 1, 3] >= 0.95:
            reached = pair.epoch
    seconds = time.perf_counter() - started
    return {
        "setup": f"SimpleRNN and LSTM of {recurrent.RECURRENT_UNITS} units, {recurrent.SEQUENCES} sequences of "
        f"{recurrent.SEQUENCE_LENGTH} steps, marked input {config['distance']} back, batch {recurrent.RECURRENT_BATCH}",
        "pair_epochs_per_s": round((pair.epoch - 1) / seconds, 2),
        "lstm_epochs_to_95_percent": reached,
        "lstm_seconds_to_95_percent": round(seconds, 1) if reached else None,
    }


def run(browser) -> dict:
    race = _race()
    bare_rate = bare(race)
    live_rate = live_job()
    worst_rate = every_epoch(_race())
    return {
        "setup": f"{DEPTH} hidden ReLU layers of {WIDTH}, schemes {', '.join(SCHEMES)} side by side (vmapped), batch "
        f"{BATCH}, "
        f"{_steps(1)} SGD steps per epoch; steps count each network's SGD step once per batch",
        "steps_per_s_without_statistics": round(bare_rate),
        "steps_per_s_live_job_statistics_every_0_3_s": round(live_rate),
        "steps_per_s_statistics_after_every_epoch": round(worst_rate),
        "statistics_cost_percent_live": round(100 * (1 - live_rate / bare_rate), 1),
        "statistics_cost_percent_every_epoch": round(100 * (1 - worst_rate / bare_rate), 1),
        "one_look_inside_ms": round(one_look_ms(race), 1),
        "through_time": recurrent_pair(),
    }
