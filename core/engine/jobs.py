"""The live training engine: jobs that train in background threads while pages watch them.

A job is a `TrainingTask` (run name, config, a train function) running in a thread of its own, or, on a
server that trains in worker processes (`core.engine.workers`), relayed by that thread to a worker. The
train function reports through its `JobContext`: it calls `checkpoint()` often (pause, step, stop and
abandonment take effect there) and `publish()` once per epoch. A Keras model gets all of this from
`ctx.keras_callback()`. Pages never touch the thread: they read immutable `JobView`s and call the
control methods of `Job`.

Runs are keyed by a hash of their config, so sessions asking for the same run share it; a
`JobRegistry` caps how many run at once and queues the rest in order.
"""

from __future__ import annotations

import abc
import ctypes
import ctypes.util
import dataclasses
import enum
import functools
import gc
import hashlib
import importlib
import json
import logging
import math
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.engine.backend import jax_device, keras_in_use

log = logging.getLogger(__name__)

FRAME_EVERY_S = 0.1
"""A running job keeps its state this often (`frames_between`): the pictures the page in control of the run plays
back between its redraws, ten a second, while it asks the server for them three times a second."""
FRAMES_KEPT = 16
"""States kept: one and a half seconds of them, for a redraw that comes late."""
VIEWER_TTL_S = 15.0
"""A session that has not polled for this long no longer counts as watching."""
CONTROL_HANDOVER_S = 65.0
"""A run whose controllers have not polled for this long may be controlled by whoever watches it. Not
less: a teacher's tab hidden behind slides for five minutes has its timers slowed to once a minute."""
QUEUED_WATCH_S = 65.0
"""A queued run starts only if a page polled it this recently (a waiting page polls 3 times a second;
a hidden tab's timer may slow to once a minute): closed tabs do not start runs."""


def thin_by_half(records: list) -> list:
    """Every other record, always keeping the newest: a bounded history that still spans a whole run."""
    return records[(len(records) - 1) % 2 :: 2]


class JobStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        return self in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.PAUSED)


class QueueFull(Exception):
    """Raised by `JobRegistry.submit` when the server, or this session, already has as many runs
    waiting as it takes; the message is written for the student."""


class RunRefused(Exception):
    """Raised by a train function that cannot run (e.g. its data set is not available here): the job
    fails with this message as it is, written for the student."""


class JobStopped(Exception):
    """Raised by `JobContext.checkpoint` when the job must end now (stopped, abandoned, diverged)."""


@dataclass(frozen=True)
class Recipe:
    """How a task was made: its factory's module and name and the arguments it was called with. A worker
    process makes the same task from it (a train function is a closure, which cannot travel)."""

    module: str
    name: str
    args: tuple
    kwargs: Mapping[str, Any]

    def task(self) -> TrainingTask:
        return getattr(importlib.import_module(self.module), self.name)(*self.args, **self.kwargs)


def task_factory(make: Callable[..., TrainingTask]) -> Callable[..., TrainingTask]:
    """Mark a lesson's task factory: the tasks it makes carry their `Recipe`, so they may train in a worker
    process. Its arguments must pickle (configs, data sets of arrays)."""

    @functools.wraps(make)
    def made(*args, **kwargs) -> TrainingTask:
        task = make(*args, **kwargs)
        return dataclasses.replace(task, recipe=Recipe(make.__module__, make.__qualname__, args, dict(kwargs)))

    return made


@dataclass(frozen=True)
class TrainingTask:
    """What to train. `train(ctx)` runs in the job's thread and builds its data and model there
    (Keras seeds and dtype policies are thread-local). `live` holds the hyperparameters that may
    change mid-run, with their starting values."""

    run: str
    """The run's name: the lesson's slug, or `slug/section` for a page with several live sections."""
    config: Mapping[str, Any]
    train: Callable[[JobContext], Any]
    epochs: int
    live: Mapping[str, Any] = field(default_factory=dict)
    chance: tuple[float, float] | None = None
    """(accuracy, loss) of a classifier that only guesses, for runs whose loss a blow-up leaves finite
    (saturated, or clipped as Keras clips it): see `blown_up`."""
    unit: str = "epoch"
    """What one published row is (an epoch, or an iteration of a GAN), for the messages a student reads."""
    recipe: Recipe | None = field(default=None, compare=False, repr=False)
    """Set by `task_factory`; a task without one always trains in a thread of the server."""

    @property
    def key(self) -> str:
        """Same run and config, same key: the basis of shared runs and of the `job=` URL (its text says
        "lesson", as it always has, so that ids stay the same)."""
        text = json.dumps({"lesson": self.run, "config": dict(self.config)}, sort_keys=True, default=str)
        return hashlib.sha1(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class JobView:
    """A consistent copy of a job's state for drawing; safe to keep after the job moves on."""

    id: str
    run: str
    status: JobStatus
    message: str
    epoch: int
    epochs: int
    batch: int
    batches: int | None
    history: tuple[Mapping[str, float], ...]
    snapshot: Any
    hyperparams: Mapping[str, Any]
    viewers: int
    queue_position: int | None
    elapsed_s: float
    version: int
    unit: str = "epoch"
    snapshot_version: int = 0
    """Counts new snapshots only (`version` counts every change): what a picture of the snapshot alone
    follows."""
    held: bool = False
    """A paused run has come to rest: its last epoch and picture are in (a run in a worker process finishes
    the epochs it was on when the click reached it, a few tenths of a second, before it holds)."""

    @property
    def progress(self) -> float:
        """Fraction of the run done, counting the batches of the epoch under way."""
        if self.status == JobStatus.FINISHED:
            return 1.0
        within = self.batch / self.batches if self.batches else 0.0
        return min(1.0, (self.epoch + within) / max(1, self.epochs))


@dataclass(frozen=True)
class _Frame:
    """A running job's state at one moment, as its charts draw it."""

    at: float
    version: int
    snapshot_version: int
    epoch: int
    history: tuple[Mapping[str, float], ...]
    snapshot: Any


class Job:
    """One run. Control methods (`pause`, `step`, ...) are for pages; `JobContext` is for the worker."""

    def __init__(self, task: TrainingTask, registry: JobRegistry, history_limit: int = 5000):
        """`history_limit` bounds the rows kept for the curves: when full, every other row goes, so a
        long run's curves still span it from its first epoch, at a coarser step."""
        self.task = task
        self.id = task.key
        self.run = task.run
        self._registry = registry
        self._cond = threading.Condition()
        self._status = JobStatus.QUEUED
        self._message = ""
        self._epoch = 0
        self._batch = 0
        self._batches: int | None = None
        self._history: list[Mapping[str, float]] = []
        self._history_limit = history_limit
        self._snapshot: Any = None
        self._result: Any = None
        self._hyperparams = dict(task.live)
        self._hyperparams_version = 0
        self._pause_requested = False
        self._pause_after_epoch = False
        self._held = False
        self._ending: tuple[JobStatus, str] | None = None
        self._viewers: dict[str, float] = {}
        self._controllers: set[str] = set()
        self.control_token = secrets.token_urlsafe(12)
        """Handed out only to a controller, who may share it (`control=` in a link) to give control."""
        self._last_seen = time.monotonic()
        self._started_at: float | None = None
        self._ended_at: float | None = None
        self._version = 0
        self._snapshot_version = 0
        self._frames: deque[_Frame] = deque(maxlen=FRAMES_KEPT)
        self.thread: threading.Thread | None = None

    # ----- for pages -------------------------------------------------------------------------
    @property
    def status(self) -> JobStatus:
        return self._status

    @property
    def result(self) -> Any:
        """What the train function returned (e.g. final weights), once finished."""
        return self._result

    def view(self) -> JobView:
        queue_position = self._registry.queue_position(self)  # registry lock first, never inside ours
        with self._cond:
            now = time.monotonic()
            started = self._started_at or now
            return JobView(
                id=self.id,
                run=self.run,
                status=self._status,
                message=self._message,
                epoch=self._epoch,
                epochs=self.task.epochs,
                batch=self._batch,
                batches=self._batches,
                history=tuple(self._history),
                snapshot=self._snapshot,
                hyperparams=dict(self._hyperparams),
                viewers=self._recent_viewers(now),
                queue_position=queue_position,
                elapsed_s=(self._ended_at or now) - started if self._started_at else 0.0,
                version=self._version,
                unit=self.task.unit,
                snapshot_version=self._snapshot_version,
                held=self._held and self._status == JobStatus.PAUSED,
            )

    keeps_frames = True
    """Whether `frames_between` has anything to give (a run in a Ray actor keeps none)."""

    def frames_between(self, after_version: int, view: JobView) -> list[JobView]:
        """`view` as it was at each state the job kept after `after_version` and before `view`'s own, oldest first:
        what its charts showed in between, one state every FRAME_EVERY_S at most."""
        with self._cond:
            frames = [frame for frame in self._frames if after_version < frame.version < view.version]
            started = self._started_at
        return [
            dataclasses.replace(
                view,
                epoch=frame.epoch,
                batch=0,
                history=frame.history,
                snapshot=frame.snapshot,
                version=frame.version,
                snapshot_version=frame.snapshot_version,
                elapsed_s=frame.at - (started or frame.at),
            )
            for frame in frames
        ]

    def _keep_frame(self) -> None:
        """Keep the state just published (the lock held), if the last one kept is FRAME_EVERY_S old."""
        now = time.monotonic()
        if self._frames and now - self._frames[-1].at < FRAME_EVERY_S:
            return
        self._frames.append(
            _Frame(now, self._version, self._snapshot_version, self._epoch, tuple(self._history), self._snapshot)
        )

    def heartbeat(self, session_id: str) -> None:
        """A session is watching; a job nobody heartbeats for `abandon_after_s` is cancelled."""
        with self._cond:
            self._last_seen = self._viewers[session_id] = time.monotonic()

    @property
    def viewer_count(self) -> int:
        """Sessions that polled the run within VIEWER_TTL_S."""
        with self._cond:
            return self._recent_viewers(time.monotonic())

    def _recent_viewers(self, now: float) -> int:
        return sum(1 for seen in self._viewers.values() if now - seen < VIEWER_TTL_S)

    def may_control(self, session_id: str) -> bool:
        """Whether this session may pause, step, stop or change the run's live values: the session that
        started it, one given its control link, or anyone once no controller has polled for
        CONTROL_HANDOVER_S (a run whose teacher left is not stuck without controls)."""
        with self._cond:
            if session_id in self._controllers:
                return True
            now = time.monotonic()
            return not any(now - self._viewers.get(c, -math.inf) < CONTROL_HANDOVER_S for c in self._controllers)

    def take_control(self, session_id: str, token: str | None = None) -> bool:
        """Become a controller: with the run's control token, or when `may_control` already allows it."""
        allowed = (token is not None and secrets.compare_digest(token, self.control_token)) or self.may_control(
            session_id
        )
        if allowed:
            with self._cond:
                self._controllers.add(session_id)
        return allowed

    def watched_by(self, session_id: str) -> bool:
        with self._cond:
            return session_id in self._viewers

    def detach(self, session_id: str) -> None:
        """The session stops watching; a run left with no viewer is stopped to free the machine."""
        with self._cond:
            self._viewers.pop(session_id, None)
            orphaned = not self._viewers
        if orphaned:
            self.stop("Stopped: nobody is watching this run any more.")

    def pause(self) -> None:
        with self._cond:
            if self._status == JobStatus.RUNNING:
                self._pause_requested = True
                self._set_status(JobStatus.PAUSED)

    def resume(self) -> None:
        with self._cond:
            self._pause_requested = False
            self._pause_after_epoch = False
            self._held = False
            if self._status == JobStatus.PAUSED:
                self._set_status(JobStatus.RUNNING)
            self._cond.notify_all()

    def step(self) -> None:
        """Run one more epoch, then pause again."""
        with self._cond:
            if self._status in (JobStatus.PAUSED, JobStatus.RUNNING):
                self._pause_requested = False
                self._pause_after_epoch = True
                self._held = False
                self._set_status(JobStatus.RUNNING)
                self._cond.notify_all()

    def stop(self, message: str = "Stopped.") -> None:
        if self._status == JobStatus.QUEUED and self._registry._unqueue(self):
            with self._cond:
                self._end(JobStatus.CANCELLED, message)
            self._registry._drop_if_cancelled(self)
            return
        with self._cond:
            if self._status.active and self._ending is None:
                self._ending = (JobStatus.CANCELLED, message)
                self._cond.notify_all()

    @property
    def hyperparams(self) -> dict[str, Any]:
        """The live hyperparameters the run trains with now (whoever set them last)."""
        with self._cond:
            return dict(self._hyperparams)

    def set_hyperparams(self, **values: Any) -> None:
        """Change live hyperparameters; the worker applies them before its next batch."""
        unknown = set(values) - set(self._hyperparams)
        if unknown:
            raise KeyError(f"not live in this lesson: {', '.join(sorted(unknown))}")
        with self._cond:
            if any(self._hyperparams[k] != v for k, v in values.items()):
                self._hyperparams.update(values)
                self._hyperparams_version += 1
                self._version += 1

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has ended; True if it did within `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._status.active:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        if self.thread is not None:
            self.thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return True

    # ----- internals -------------------------------------------------------------------------
    def _set_status(self, status: JobStatus) -> None:
        self._status = status
        self._version += 1

    def _end(self, status: JobStatus, message: str) -> None:
        self._set_status(status)
        self._message = message
        self._ended_at = time.monotonic()
        self._cond.notify_all()

    def _unwatched_for(self, now: float) -> float:
        return now - self._last_seen

    def _abandoned(self, now: float) -> bool:
        return self._unwatched_for(now) > self._registry.abandon_after_s

    def _start(self) -> None:
        self._started_at = time.monotonic()
        self._set_status(JobStatus.PAUSED if self._pause_requested else JobStatus.RUNNING)
        self.thread = threading.Thread(target=self._run, name=f"edl-job-{self.id}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        ctx = JobContext(self)
        try:
            result = self._registry._train(self.task, ctx)
            ending = (JobStatus.FINISHED, "") if self._ending is None else self._ending
            self._result = result
        except JobStopped:
            ending = self._ending or (JobStatus.CANCELLED, "Stopped.")
        except RunRefused as refusal:
            ending = (JobStatus.FAILED, str(refusal))
        except Exception as error:  # a lesson's bug must end its job with a message, not kill the server
            log.exception("job %s (%s) failed", self.id, self.run)
            ending = (JobStatus.FAILED, f"Training stopped with an error: {type(error).__name__}: {error}")
        with self._cond:
            status, message = ending
            if status == JobStatus.FINISHED:
                message = f"Finished {self._epoch} {self.task.unit}s in {time.monotonic() - self._started_at:.1f} s."
                message += no_better_than_guessing(self._history[-1:], self.task.chance, self._hyperparams)
            self._end(status, message)
        self._registry._job_ended(self)


class TrainingContext(abc.ABC):
    """What a train function is given: report progress, publish results, honour pause and stop. `JobContext`
    does it in the server's own thread; a worker process has its own (`core.engine.workers`)."""

    epochs: int

    @abc.abstractmethod
    def hyperparams(self) -> tuple[int, dict[str, Any]]:
        """(version, values): the version changes whenever a page changes a live value."""

    @abc.abstractmethod
    def checkpoint(self) -> None:
        """Return when the job may go on; block while paused (saying so: `held`); raise `JobStopped` when it
        must end. Cheap when nothing is pending, so call it every batch."""

    @abc.abstractmethod
    def progress(self, batch: int, batches: int | None) -> None:
        """Where the worker is within the current epoch (drives the progress bar)."""

    @abc.abstractmethod
    def publish(self, metrics: Mapping[str, float], snapshot: Any = None) -> None:
        """Record one finished epoch: its metrics (a row of the live curves) and, optionally, a
        lesson-specific snapshot (weights, activations, samples)."""

    @abc.abstractmethod
    def replace_snapshot(self, snapshot: Any) -> None:
        """A fresher snapshot of the last published epoch (no new row in the curves)."""

    @property
    @abc.abstractmethod
    def should_stop(self) -> bool:
        """Whether the job must end now."""

    @property
    @abc.abstractmethod
    def pause_pending(self) -> bool:
        """The job will hold at its next checkpoint (or after this epoch, for a step)."""

    def keras_callback(
        self,
        snapshot: Callable[[Any, int], Any] | None = None,
        snapshot_every_s: float = 0.25,
        apply_hyperparams: Callable[[Any, Mapping[str, Any]], None] | None = None,
    ):
        """A Keras callback that ties `model.fit` to this job (see `LiveCallback`)."""
        return _make_live_callback(self, snapshot, snapshot_every_s, apply_hyperparams or set_learning_rate)


@dataclass(frozen=True)
class WorkerControl:
    """What a worker process must know of its job's controls; sent whenever it changes."""

    pause_requested: bool
    pause_after_epoch: bool
    ending: str | None
    """The message of the ending the job is bound for (stopped, abandoned, blown up), or None."""
    hyperparams_version: int
    hyperparams: Mapping[str, Any]


class JobContext(TrainingContext):
    """The job's side in the server: the train function's, or a worker's relay's."""

    def __init__(self, job: Job):
        self._job = job

    @property
    def epochs(self) -> int:
        return self._job.task.epochs

    def hyperparams(self) -> tuple[int, dict[str, Any]]:
        job = self._job
        with job._cond:
            return job._hyperparams_version, dict(job._hyperparams)

    def control(self) -> WorkerControl:
        """The controls as they stand, for a worker process (ending an abandoned run, as `checkpoint` does)."""
        job = self._job
        with job._cond:
            self._end_if_abandoned()
            return WorkerControl(
                job._pause_requested,
                job._pause_after_epoch,
                None if job._ending is None else job._ending[1],
                job._hyperparams_version,
                dict(job._hyperparams),
            )

    def _end_if_abandoned(self) -> None:
        job = self._job
        if job._ending is None and job._abandoned(time.monotonic()):
            job._ending = (
                JobStatus.CANCELLED,
                f"Stopped: nobody watched this run for {duration(job._registry.abandon_after_s)}, so it was "
                "ended to free the machine.",
            )

    def checkpoint(self) -> None:
        job = self._job
        if not job._pause_requested and job._ending is None and not job._abandoned(time.monotonic()):
            return
        with job._cond:
            while True:
                self._end_if_abandoned()
                if job._ending is not None:
                    raise JobStopped(job._ending[1])
                if not job._pause_requested:
                    return
                self.holding()
                job._cond.wait(timeout=1.0)

    def holding(self) -> None:
        """The run holds at its pause with everything it published in: pages may now say "Paused" (a worker
        process's relay reports it when the worker does)."""
        job = self._job
        with job._cond:
            if job._pause_requested and not job._held:
                job._held = True
                job._version += 1

    def progress(self, batch: int, batches: int | None) -> None:
        self._job._batch = batch
        self._job._batches = batches

    def publish(self, metrics: Mapping[str, float], snapshot: Any = None) -> None:
        """A non-finite loss, or one stuck far above guessing, ends the job with a plain-language message."""
        job = self._job
        row = {k: float(v) for k, v in metrics.items()}
        with job._cond:
            job._epoch += 1
            job._batch = 0
            row["epoch"] = job._epoch
            job._history.append(row)
            if len(job._history) > job._history_limit:
                job._history = thin_by_half(job._history)
            if snapshot is not None:
                job._snapshot = snapshot
                job._snapshot_version += 1
            job._version += 1
            bad = [k for k, v in row.items() if "loss" in k and not math.isfinite(v)]
            if bad and job._ending is None:
                job._ending = (
                    JobStatus.FAILED,
                    f"The loss blew up at {job.task.unit} {job._epoch} ({bad[0]} became {row[bad[0]]}): try a smaller "
                    f"learning rate.",
                )
            if job._ending is None and job.task.chance and blown_up(job._history, *job.task.chance):
                accuracy, loss = job.task.chance
                job._ending = (
                    JobStatus.FAILED,
                    f"The loss blew up at {job.task.unit} {job._epoch}: for {BLOWN_UP_ROWS} {job.task.unit}s it has "
                    f"stayed "
                    f"above {BLOWN_UP_FACTOR:g} × {loss:.3f} (the loss of guessing) with accuracy no better than "
                    f"guessing "
                    f"({accuracy:.0%}). The weights jumped to where every answer is confidently wrong: try a smaller "
                    "learning rate.",
                )
            job._keep_frame()
            if job._pause_after_epoch:
                job._pause_after_epoch = False
                job._pause_requested = True
                job._set_status(JobStatus.PAUSED)

    def replace_snapshot(self, snapshot: Any) -> None:
        with self._job._cond:
            self._job._snapshot = snapshot
            self._job._snapshot_version += 1
            self._job._version += 1
            self._job._keep_frame()

    @property
    def should_stop(self) -> bool:
        return self._job._ending is not None

    @property
    def pause_pending(self) -> bool:
        return self._job._pause_requested or self._job._pause_after_epoch


def set_learning_rate(model, hyperparams: Mapping[str, Any]) -> None:
    """Default live-hyperparameter hook: a new `learning_rate` goes into the optimizer."""
    if "learning_rate" in hyperparams:
        model.optimizer.learning_rate = float(hyperparams["learning_rate"])


def _make_live_callback(ctx: TrainingContext, snapshot, snapshot_every_s, apply_hyperparams):
    from core.engine.backend import load_keras

    keras = load_keras()

    class LiveCallback(keras.callbacks.Callback):
        """Pause, stop and live hyperparameters at each batch start; metrics and snapshots at each
        epoch end. Its empty batch-end hooks keep Keras from dispatching every batch's end to a pool of
        threads (what it does when no callback has them), which turn each batch's logs into numbers in
        another thread: on the JAX backend, those threads and the run's own pass Python's interpreter lock back
        and forth every batch, and waiting for the device instead costs the run less (the engine room in batches of
        8, trained alone on a server's thread, before and after in turns: 77–94 epochs/s before, 98–116 since; the
        CNN lesson's training images a second within the machine's drift, 18,700 before and 20,500 since). The
        batch a page counts is then one the device has finished."""

        def on_train_batch_end(self, batch, logs=None):
            pass

        def on_test_batch_end(self, batch, logs=None):
            pass

        def __init__(self):
            super().__init__()
            self._hp_version = 0
            self._last_snapshot = -math.inf
            self._epochs_done = 0
            self._snapshot_at = (0, 0)
            self._started = time.monotonic()

        def _take_snapshot(self, batch: int):
            self._last_snapshot = time.monotonic()
            self._snapshot_at = (self._epochs_done, batch)
            return snapshot(self.model, self._epochs_done)

        def on_train_batch_begin(self, batch, logs=None):
            ctx.progress(batch, self.params.get("steps"))
            if snapshot is not None and ctx.pause_pending and self._snapshot_at != (self._epochs_done, batch):
                # About to hold: the picture must show the model as it stands while paused.
                ctx.replace_snapshot(self._take_snapshot(batch))
            try:
                ctx.checkpoint()
            except JobStopped:
                self.model.stop_training = True  # fit ends cleanly after this batch
                return
            version, values = ctx.hyperparams()
            if version != self._hp_version:
                self._hp_version = version
                apply_hyperparams(self.model, values)  # `self.model` syncs JAX state: the next step sees it

        def on_epoch_end(self, epoch, logs=None):
            if ctx.should_stop:
                return
            self._epochs_done = epoch + 1
            due = self._epochs_done >= ctx.epochs or time.monotonic() - self._last_snapshot >= snapshot_every_s
            ctx.publish(
                {**(logs or {}), "time_s": time.monotonic() - self._started},
                self._take_snapshot(0) if snapshot is not None and due else None,
            )
            if ctx.should_stop:
                self.model.stop_training = True

    return LiveCallback()


def default_max_running() -> int:
    """How many jobs may train at once: `EDL_MAX_RUNNING_JOBS`, else one per CPU core."""
    configured = os.environ.get("EDL_MAX_RUNNING_JOBS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return os.cpu_count() or 1


BLOWN_UP_ROWS = 5
BLOWN_UP_FACTOR = 5.0


def _training_metric(row: Mapping[str, float], name: str) -> float | None:
    """A row's training loss or accuracy, named plainly (Keras' `fit`) or with `train_` (the jitted loops)."""
    return row.get(name, row.get(f"train_{name}"))


def blown_up(history: Sequence[Mapping[str, float]], chance_accuracy: float, chance_loss: float) -> bool:
    """Whether the last BLOWN_UP_ROWS rows all have a training loss above BLOWN_UP_FACTOR × the loss of
    guessing and an accuracy no better than guessing (+ 5 points): a run that blew up although its loss
    stayed finite, as what the student sees says (at learning rate 10 the loss sits at 8.5, accuracy 47 %)."""
    recent = history[-BLOWN_UP_ROWS:]
    if len(recent) < BLOWN_UP_ROWS:
        return False

    for row in recent:
        loss, accuracy = _training_metric(row, "loss"), _training_metric(row, "accuracy")
        if (
            loss is None
            or accuracy is None
            or not (loss > BLOWN_UP_FACTOR * chance_loss and accuracy <= chance_accuracy + 0.05)
        ):
            return False
    return True


def no_better_than_guessing(
    last: Sequence[Mapping[str, float]], chance: tuple[float, float] | None, live: Mapping[str, Any]
) -> str:
    """A sentence for a run that ended with accuracy no better than guessing (+ 5 points), naming the
    live settings it ended with (the usual cause is a learning rate far from its default); else ""."""
    if not last or chance is None:
        return ""
    accuracy = _training_metric(last[0], "accuracy")
    if accuracy is None or accuracy > chance[0] + 0.05:
        return ""
    settings = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in live.items())
    return (
        f" It ended no better than guessing (training accuracy {accuracy:.0%}, guessing scores {chance[0]:.0%}), "
        f"with {settings}: a learning rate far too large or too small is the usual cause."
    )


def duration(seconds: float) -> str:
    """A span of time as a student reads it: seconds under a minute and a half, else minutes."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def default_memory_budget_mb() -> int:
    """The server's memory budget: `EDL_MEMORY_BUDGET_MB`, else 900 (under the 1 GB a small host gives);
    0 turns it off."""
    configured = os.environ.get("EDL_MEMORY_BUDGET_MB", "").strip()
    return int(configured) if configured.isdigit() else 900


def resident_mb() -> float | None:
    """This process's resident memory in MB, where the system says (Linux); else None."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


def _load_libc():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


_LIBC = _load_libc()


def release_freed_memory() -> None:
    """Collect a finished run's garbage and hand the freed heap back to the system. Without the trim, the
    C heap of the training threads keeps every page it ever held (500 MB more after 50 runs)."""
    gc.collect()
    trim_heap()


def trim_heap() -> None:
    """Hand the C heap's free pages back to the system (glibc; a few milliseconds)."""
    if _LIBC is not None and hasattr(_LIBC, "malloc_trim"):
        _LIBC.malloc_trim(0)


def drop_compiled_code() -> None:
    """Forget JAX's compiled functions (about 400 MB once every lesson has trained): the next run of each
    configuration compiles again, a second or two."""
    import jax

    jax.clear_caches()


def default_abandon_after_s() -> float:
    """Seconds without a poll before a job counts as abandoned: `EDL_ABANDON_AFTER_S`, else 180
    (browsers slow the timers of background tabs, so this must be minutes, not seconds)."""
    try:
        return float(os.environ.get("EDL_ABANDON_AFTER_S", "180"))
    except ValueError:
        return 180.0


def stop_and_wait(jobs, timeout: float) -> None:
    """Stop every one of `jobs` (a server shutting down), then wait for each to end."""
    for job in jobs:
        job.stop("Stopped: the server is shutting down.")
    for job in jobs:
        job.wait(timeout)


class Workers(Protocol):
    """Worker processes a registry may train in (`core.engine.workers.WorkerPool`)."""

    def train(self, recipe: Recipe, ctx: JobContext) -> Any:
        """Make the task from `recipe` in a worker and train it there, relaying to `ctx`; return what its
        train function returned, or raise what it raised (`JobStopped`, `RunRefused`, its error)."""

    def close(self) -> None: ...


@dataclass
class MemoryReport:
    """What the memory budget did, for the engine room."""

    budget_mb: int
    resident_mb: float | None = None
    runs_evicted: int = 0
    compiled_code_dropped: int = 0


class JobRegistry:
    """All jobs of the process: shared runs by config hash, a cap on concurrent runs, a FIFO queue,
    and a bounded memory of finished runs under a memory budget."""

    def __init__(
        self,
        max_running: int | None = None,
        abandon_after_s: float | None = None,
        keep_finished: int = 16,
        max_queued: int = 32,
        max_queued_per_session: int = 4,
        memory_budget_mb: int | None = None,
        workers: Workers | None = None,
    ):
        """`max_queued` runs may wait on the server (a class of 30 choosing their own settings), at most
        `max_queued_per_session` of them for one session (a page has up to three runs). Whenever a run
        ends and the process is over `memory_budget_mb`, finished runs are evicted oldest first and, with
        no run training, JAX's compiled code is dropped (see `_keep_within_budget`). With `workers`, the
        tasks that carry a `Recipe` train in worker processes, out of the server's way."""
        self.max_running = max_running or default_max_running()
        self.abandon_after_s = default_abandon_after_s() if abandon_after_s is None else abandon_after_s
        self.keep_finished = keep_finished
        self.memory = MemoryReport(default_memory_budget_mb() if memory_budget_mb is None else memory_budget_mb)
        self.max_queued = max_queued
        self.max_queued_per_session = max_queued_per_session
        self._lock = threading.RLock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._queue: deque[Job] = deque()
        self._running: set[Job] = set()
        self.workers = workers

    def _train(self, task: TrainingTask, ctx: JobContext) -> Any:
        """Train in a worker process where the registry has them (the server then never imports Keras for it),
        else here, marked as Keras work."""
        if self.workers is not None and task.recipe is not None:
            return self.workers.train(task.recipe, ctx)
        with keras_in_use():
            return task.train(ctx)

    def submit(self, task: TrainingTask, session_id: str) -> Job:
        """Start (or queue) the task, or attach to the run of the same config if one is alive or done.
        Raises `QueueFull` rather than queue a new run beyond the server's or the session's share."""
        with self._lock:
            job = self._jobs.get(task.key)
            if job is None or job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
                if len(self._running) >= self.max_running:
                    self._check_queue_room(session_id)
                job = Job(task, self)
                job._controllers.add(session_id)  # whoever starts a run controls it
                self._jobs[job.id] = job
                self._queue.append(job)
            self._jobs.move_to_end(job.id)
            job.heartbeat(session_id)
            self._dispatch()
            self._forget_old()
            return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def views(self, session_id: str | None = None) -> list[JobView]:
        """Every kept job, or only those a session watches."""
        with self._lock:
            jobs = list(self._jobs.values())
        return [job.view() for job in jobs if session_id is None or job.watched_by(session_id)]

    def queue_position(self, job: Job) -> int | None:
        """1 for the next to start; None when not queued."""
        with self._lock:
            for position, queued in enumerate(self._queue, start=1):
                if queued is job:
                    return position
        return None

    @property
    def running_count(self) -> int:
        with self._lock:
            return len(self._running)

    @property
    def trains_here(self) -> bool:
        """Lessons' runs train in threads of this process (not in worker processes; a task without a recipe,
        which cannot travel, trains here either way)."""
        return self.workers is None

    @property
    def training_device(self) -> str | None:
        """The device lessons' runs compute on, in words ('CPU', a GPU's name); None while the first worker is still
        starting. Threads of this process: JAX's device here (the first call imports JAX, about a second)."""
        return jax_device() if self.workers is None else self.workers.device

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop every job and wait for the threads (tests, and a clean exit)."""
        with self._lock:
            jobs = list(self._jobs.values())
        stop_and_wait(jobs, timeout)
        if self.workers is not None:
            self.workers.close()

    def _check_queue_room(self, session_id: str) -> None:
        if len(self._queue) >= self.max_queued:
            raise QueueFull(
                f"{len(self._queue)} runs are already waiting on this server, as many as it queues: "
                "watch a run someone else started (same settings), or try again in a minute."
            )
        mine = sum(1 for queued in self._queue if queued.watched_by(session_id))
        if mine >= self.max_queued_per_session:
            raise QueueFull(f"You already have {mine} runs waiting for a free slot: let one of them start first.")

    def _dispatch(self) -> None:
        with self._lock:
            now = time.monotonic()
            while self._queue and len(self._running) < self.max_running:
                job = self._queue.popleft()
                if job._unwatched_for(now) > min(self.abandon_after_s, QUEUED_WATCH_S):
                    with job._cond:
                        job._end(JobStatus.CANCELLED, "Stopped: nobody was waiting for this run any more.")
                    self._drop_if_cancelled(job)
                    continue
                self._running.add(job)
                with job._cond:
                    job._start()

    def _unqueue(self, job: Job) -> bool:
        """Take a job out of the queue; False if it had already left it (started)."""
        with self._lock:
            if job in self._queue:
                self._queue.remove(job)
                return True
            return False

    def _job_ended(self, job: Job) -> None:
        with self._lock:
            self._running.discard(job)
            self._drop_if_cancelled(job)
            self._dispatch()
        self._keep_within_budget()

    def _keep_within_budget(self) -> None:
        """Runs in the thread of a run that just ended: free its garbage; then, if over budget, evict the
        finished runs nobody watches (a page that shows one keeps its own handle; whoever asks for the
        same settings later trains them again) and, if nothing trains, drop compiled code (never while a
        run trains: its next step would compile again, and a clear every second stalls it for good)."""
        release_freed_memory()
        self.memory.resident_mb = resident_mb()
        if (
            not self.memory.budget_mb
            or self.memory.resident_mb is None
            or self.memory.resident_mb <= self.memory.budget_mb
        ):
            return
        with self._lock:
            unwatched = [job_id for job_id, job in self._jobs.items() if not job.status.active and not job.viewer_count]
            for job_id in unwatched:
                del self._jobs[job_id]
            self.memory.runs_evicted += len(unwatched)
            idle = not self._running
        if idle:
            drop_compiled_code()
            self.memory.compiled_code_dropped += 1
        release_freed_memory()
        self.memory.resident_mb = resident_mb()

    def _drop_if_cancelled(self, job: Job) -> None:
        """A cancelled run is nobody's to share: it leaves the registry at once (the sessions that held
        it keep their handle, to show how it ended)."""
        with self._lock:
            if job.status == JobStatus.CANCELLED and self._jobs.get(job.id) is job:
                del self._jobs[job.id]

    def _forget_old(self) -> None:
        with self._lock:
            ended = [job_id for job_id, job in self._jobs.items() if not job.status.active]
            for job_id in ended[: max(0, len(ended) - self.keep_finished)]:
                del self._jobs[job_id]
