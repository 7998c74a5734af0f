"""Live runs of jitted loops that train many epochs per call: the chunked loop, its pacing and its speed.

A jitted call that trains n epochs at once is far faster than one call per epoch, but a student must
still be able to pause, step, stop and change rates within a blink, and watch at a speed they chose.
`train_in_chunks` sizes each call to about `CHUNK_S` of work (or to the chosen speed), publishes
every epoch's row, and holds the loop to the chosen speed with a `Pacer`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from core.engine.jobs import TrainingContext
from core.engine.params import Control

CHUNK_S = 0.1
"""Target seconds of training per jitted call: pause, stop and new rates act within about this long."""


def epochs_per_second(history, window_s: float = 2.0) -> float | None:
    """The training speed over the last `window_s` seconds of the run, from the epochs' timestamps."""
    if len(history) < 2:
        return None
    last = history[-1]
    earlier = [row for row in history if last["time_s"] - row["time_s"] <= window_s]
    first = earlier[0] if len(earlier) > 1 else history[-2]
    span = last["time_s"] - first["time_s"]
    return (last["epoch"] - first["epoch"]) / span if span > 0 else None


class Pacer:
    """Holds a loop to a target number of epochs per second (None: no limit). Its clock restarts when
    the target changes or the loop fell behind (after a pause), so it never rushes to catch up."""

    def __init__(self):
        self.target, self.start, self.count = None, 0.0, 0

    def hold(self, n_epochs: int, target: float | None) -> None:
        now = time.perf_counter()
        if target is None:
            self.target = None
            return
        due = self.start + (self.count + n_epochs) / target
        if target != self.target or now - due > 0.5:
            self.target, self.start, self.count = target, now, 0
            return
        self.count += n_epochs
        if due > now:
            time.sleep(due - now)


def train_in_chunks(
    ctx: TrainingContext,
    run: Callable[[int, Mapping[str, Any]], Sequence[Mapping[str, float]]],
    snapshot: Callable[[], Any],
    speed: Callable[[Mapping[str, Any]], float | None],
    max_chunk: int,
) -> Sequence[Mapping[str, float]]:
    """Train `ctx.epochs` epochs: `run(n, live)` trains n more (≤ max_chunk) with the live
    hyperparameters and returns one metrics row per epoch; `snapshot()` is what the page draws after
    each call. `speed(live)` is the pace the student chose, in epochs/s (None: as fast as it goes).
    Returns the last call's rows."""
    started, chunk, pacer, done, rows = time.perf_counter(), 1, Pacer(), 0, []
    while done < ctx.epochs:
        ctx.checkpoint()
        _, live = ctx.hyperparams()
        n = 1 if ctx.pause_pending else min(chunk, ctx.epochs - done, max_chunk)
        t0 = time.perf_counter()
        rows = run(n, live)
        elapsed = time.perf_counter() - t0
        done += n
        now, shot = time.perf_counter() - started, snapshot()
        for offset, row in enumerate(rows, start=1):
            ctx.publish({**row, "time_s": now}, shot if offset == len(rows) else None)
        target = speed(live)
        if done > n:  # the first call compiled: its time says nothing about the speed
            chunk = int(np.clip(CHUNK_S * (target or n / max(elapsed, 1e-6)), 1, max_chunk))
        pacer.hold(n, target)
    return rows


def keras_pace_callback(ctx: TrainingContext, speeds: Mapping[str, float | None]):
    """A Keras callback that holds `fit` to the speed the student chose (the live `speed` of
    `speed_control`): `speeds[speed]` batches per second (None: as fast as it goes), read at every batch."""
    from core.engine.backend import load_keras

    keras, pacer = load_keras(), Pacer()

    class Pace(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            pacer.hold(1, speeds[ctx.hyperparams()[1]["speed"]])

    return Pace()


def speed_control(speeds: Mapping[str, float | None], unit: str = "epochs", was: str = "") -> Control:
    """A run's live Speed select (key `speed`) over `speeds` ('slow motion', 'steady', 'full speed'), its
    help written from the numbers; `was` is its flat URL name in old links, where not `speed`."""
    return Control(
        "speed",
        "Speed",
        "select",
        "steady",
        options=tuple(speeds),
        live=True,
        help=f"Slow motion: {speeds['slow motion']:,g} {unit} a second; steady: {speeds['steady']:,g}; "
        "full speed: as fast as this machine trains.",
        was=was,
    )
