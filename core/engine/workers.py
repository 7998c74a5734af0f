"""Training in worker processes, out of the server's way.

In threads, a run and the pages that watch it share one Python interpreter lock: on two cores, a class of
30 polling one run halved its speed (the classroom bench). A `WorkerPool` trains instead in processes of its
own, kept warm between runs (each has imported Keras and keeps JAX's compiled code). The job's thread in the
server stays and relays: it sends the worker the task's `Recipe` and the job's controls whenever they change,
and replays what the worker reports (rows, snapshots, progress) into the job through its `JobContext`, so
that pages, shared runs, pause, step, stop, abandonment and live hyperparameters behave as with threads.

The worker batches its reports (every `FLUSH_S`, and before it holds on a pause), so a run publishing a
hundred epochs a second costs the server about twenty small messages a second.

A server trains in workers when `EDL_TRAIN_IN_PROCESSES=1`, as `make run` starts it (a classroom's server: each
warm worker holds a few hundred MB more); otherwise, as on Community Cloud, which runs app.py itself, in threads.
After a busy spell (a class training many runs at once) the pool keeps one worker warm and closes the others once
they have waited `IDLE_WORKER_KEEP_S` for a run.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from core.engine.jobs import (
    JobContext,
    JobStopped,
    Recipe,
    RunRefused,
    TrainingContext,
    WorkerControl,
    default_memory_budget_mb,
    drop_compiled_code,
    release_freed_memory,
    resident_mb,
    trim_heap,
)

log = logging.getLogger(__name__)

WORKERS_ENV = "EDL_TRAIN_IN_PROCESSES"
FLUSH_S = 0.05
"""How often a worker sends what its run published: twenty times a second, the pace of the fastest page."""
RELAY_POLL_S = 0.05
"""How long the relay waits for a report before it looks at the job's controls again."""
PROJECT_ROOT = Path(__file__).resolve().parents[2]
IDLE_WORKER_KEEP_S = 120.0
"""How long a worker beyond the first may wait idle for a run before the pool closes it (each holds ~215 MB): long
enough for a class's runs to come and go without starting workers anew, short enough that a server which trained
eight runs at once on eight cores gives back their memory within minutes of the class."""
WORKER_NICENESS = 5
"""Workers yield the processor to the server when both want it: a click answers first, the run takes the rest
(with a class of 30 on two cores, the run kept 0.95 of its speed alone at 5, 0.86 at 19, about 0.92 at 0)."""


KERAS_EXTRAS_LEFT_OUT = ("pandas", "matplotlib", "requests", "h5py", "sklearn")
"""Libraries Keras imports whenever they are installed, for what a worker's training never does (DataFrames
given to `fit`, image galleries, the RemoteMonitor callback, legacy .h5 files, its scikit-learn wrappers): a worker
imports Keras without them, 180 MB less of each worker's memory (measured: 436 → 303 MB RSS after the import
without the first four, 48 MB less again without scikit-learn). A lesson that uses one in its train function
still imports it then (scikit-learn's datasets, say); the two-dimensional lessons' moons and circles are made
without it (`core/shared/points.py`)."""


def worker_pool_from_env(size: int) -> WorkerPool | None:
    """The server's workers if `EDL_TRAIN_IN_PROCESSES=1`, else None (runs train in threads)."""
    if os.environ.get(WORKERS_ENV, "0").strip() != "1":
        return None
    return WorkerPool(size)


ONE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def worker_environment(server: Mapping[str, str]) -> dict[str, str]:
    """A worker's environment: the server's, with JAX computing on one CPU thread (a lesson's networks are too
    small to gain from more, and a run whose threads wait for each other slows most when the server is busy:
    one thread, 0.77–0.82 of its speed alone with a class of 30 watching on two cores; XLA's own threads,
    0.71) and sharing a GPU with other workers rather than taking most of its memory at start."""
    flags = f"{server.get('XLA_FLAGS', '')} {ONE_THREAD_XLA}".strip()
    return {**server, "XLA_FLAGS": flags, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}


class WorkerPool:
    """Worker processes, started on demand and kept warm (up to `size` idle ones) for the next run; of the idle
    ones, all but the one used last are closed after `idle_keep_s` without a run."""

    def __init__(self, size: int, idle_keep_s: float = IDLE_WORKER_KEEP_S):
        self.size = size
        self.idle_keep_s = idle_keep_s
        self._lock = threading.Lock()
        self._device: str | None = None
        self._idle: list[Worker] = [Worker(self._learn_device)]  # the first run finds Keras imported
        self._closed = threading.Event()
        threading.Thread(target=self._close_long_idle, name="edl-worker-sweep", daemon=True).start()

    @property
    def device(self) -> str | None:
        """The device the workers' JAX computes on, in words, as the first worker to start reported it; None
        until one has (its imports take a few seconds). The server need not import JAX to know it. Every page's rerun
        asks: once known, the answer costs no lock and no look at the workers."""
        if self._device is None:
            with self._lock:
                for worker in self._idle:
                    worker.read_reports()
        return self._device

    def _learn_device(self, device: str) -> None:
        self._device = device

    def train(self, recipe: Recipe, ctx: JobContext) -> Any:
        worker = self._take()
        reusable = False
        try:
            result = worker.train(recipe, ctx)
            reusable = True
            return result
        except (JobStopped, RunRefused):
            reusable = True
            raise
        finally:
            self._give_back(worker, reusable)

    @property
    def processes(self) -> list[int]:
        """The idle workers' process ids (tests and the bench measure them)."""
        with self._lock:
            return [worker.process.pid for worker in self._idle]

    def close(self) -> None:
        with self._lock:
            self._closed.set()
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()

    def _close_long_idle(self) -> None:
        """Every few seconds (a quarter of `idle_keep_s`), close the idle workers that waited longer than it, but
        the one given back last (the next run's): the list runs from the longest idle to the latest."""
        while not self._closed.wait(self.idle_keep_s / 4):
            now = time.monotonic()
            with self._lock:
                expired = [w for w in self._idle[:-1] if now - w.idle_since >= self.idle_keep_s]
                self._idle = [w for w in self._idle if w not in expired]
            for worker in expired:
                worker.close()

    def _take(self) -> Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive:
                    return worker
                worker.close()
        return Worker(self._learn_device)

    def _give_back(self, worker: Worker, reusable: bool) -> None:
        with self._lock:
            if reusable and worker.alive and not self._closed.is_set() and len(self._idle) < self.size:
                worker.idle_since = time.monotonic()
                self._idle.append(worker)
                return
        worker.close()


class WorkerDied(RuntimeError):
    """The worker process ended in the middle of a run (killed, or out of memory)."""


class Worker:
    """One worker process and the server's end of its connection."""

    def __init__(self, on_device: Callable[[str], None] = lambda device: None):
        """`on_device(label)` once the worker says which device its JAX computes on."""
        server_end, worker_end = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "core.engine.workers", str(worker_end.fileno())],
            pass_fds=(worker_end.fileno(),),
            cwd=PROJECT_ROOT,
            env=worker_environment(os.environ),
        )
        worker_end.close()
        self.connection = Connection(server_end.detach())
        self.on_device = on_device
        self.idle_since = time.monotonic()

    def read_reports(self) -> None:
        """Take in what an idle worker said (that it is ready, and its device). Only while no run is being relayed,
        as the connection is the relay's then."""
        try:
            while self.alive and self._poll(0):
                self._read_report(self._receive())
        except WorkerDied:
            pass  # the pool replaces it when a run asks for it

    def _read_report(self, message) -> bool:
        """Take in a report that is not about a run; False if the message is the run's."""
        if message[0] != "ready":
            return False
        self.on_device(message[1])
        return True

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def train(self, recipe: Recipe, ctx: JobContext) -> Any:
        """Relay one run: controls out, reports in, until the worker says how it ended."""
        sent = ctx.control()
        self._send(("train", recipe, sent))
        while True:
            if self._poll(RELAY_POLL_S):
                message = self._receive()
                if self._read_report(message):
                    continue
                if message[0] == "update":
                    _replay(ctx, *message[1:])
                else:
                    return _ending(*message[1:])
            control = ctx.control()
            if control != sent:
                self._send(("control", control))
                sent = control

    def close(self) -> None:
        try:
            self.connection.send(("quit",))
        except OSError:
            pass
        self.connection.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _send(self, message) -> None:
        try:
            self.connection.send(message)
        except OSError as error:
            raise self._died() from error

    def _poll(self, timeout: float) -> bool:
        try:
            return self.connection.poll(timeout)
        except OSError as error:
            raise self._died() from error

    def _receive(self):
        try:
            return self.connection.recv()
        except (EOFError, OSError) as error:
            raise self._died() from error

    def _died(self) -> WorkerDied:
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        return WorkerDied(f"the training process ended unexpectedly (exit code {code}); try again")


def _replay(ctx: JobContext, events: list, progress: tuple[int, int | None] | None, holding: bool) -> None:
    """What the worker published, into the job, in order, and whether it now holds at a pause; nothing more once
    the job is bound to end (as in a thread, where the callback stops publishing then)."""
    for kind, metrics, snapshot in events:
        if ctx.should_stop:
            return
        if kind == "publish":
            ctx.publish(metrics, snapshot)
        else:
            ctx.replace_snapshot(snapshot)
    if progress is not None:
        ctx.progress(*progress)
    if holding:
        ctx.holding()


def _ending(kind: str, value: Any) -> Any:
    if kind == "finished":
        return value
    if kind == "stopped":
        raise JobStopped(value)
    if kind == "refused":
        raise RunRefused(value)
    raise value


class WorkerContext(TrainingContext):
    """The train function's context in a worker: the job's controls as last sent, reports batched."""

    def __init__(self, connection: Connection, epochs: int, control: WorkerControl):
        self._connection = connection
        self.epochs = epochs
        self._control = control
        self._events: list[tuple[str, Mapping[str, float] | None, Any]] = []
        self._progress: tuple[int, int | None] | None = None
        self._flushed_at = time.monotonic()
        self._compiled = False

    def hyperparams(self) -> tuple[int, dict[str, Any]]:
        self._receive()
        return self._control.hyperparams_version, dict(self._control.hyperparams)

    def checkpoint(self) -> None:
        self._receive()
        while self._control.ending is None and self._control.pause_requested:
            self.flush(holding=True)  # the page must see the run as it holds, and that it does
            self._receive(wait=True)
        if self._control.ending is not None:
            raise JobStopped(self._control.ending)

    def progress(self, batch: int, batches: int | None) -> None:
        self._progress = (batch, batches)
        self._flush_if_due()

    def publish(self, metrics: Mapping[str, float], snapshot: Any = None) -> None:
        if not self._compiled:  # XLA compiled the run's steps in the first epoch, and freed what it needed for it
            trim_heap()
            self._compiled = True
        self._events.append(("publish", {k: float(v) for k, v in metrics.items()}, snapshot))
        self._progress = None
        if self._control.pause_after_epoch:  # a step: hold after this epoch, as the job will
            self._control = dataclasses.replace(self._control, pause_after_epoch=False, pause_requested=True)
        self._flush_if_due()

    def replace_snapshot(self, snapshot: Any) -> None:
        self._events.append(("snapshot", None, snapshot))
        self._flush_if_due()

    @property
    def should_stop(self) -> bool:
        self._receive()
        return self._control.ending is not None

    @property
    def pause_pending(self) -> bool:
        self._receive()
        return self._control.pause_requested or self._control.pause_after_epoch

    def flush(self, holding: bool = False) -> None:
        """Send what the run published since the last flush; `holding`: and that it now holds at a pause."""
        if self._events or self._progress is not None or holding:
            self._connection.send(("update", self._events, self._progress, holding))
            self._events, self._progress = [], None
        self._flushed_at = time.monotonic()

    def _flush_if_due(self) -> None:
        if time.monotonic() - self._flushed_at >= FLUSH_S:
            self.flush()

    def _receive(self, wait: bool = False) -> None:
        """Take in the controls the server sent (waiting for the next, if `wait`)."""
        while wait or self._connection.poll():
            message = self._connection.recv()
            if message[0] == "control":
                self._control = message[1]
            wait = False


def _train_one(connection: Connection, recipe: Recipe, control: WorkerControl) -> tuple[str, Any]:
    from core.engine.backend import keras_in_use

    try:
        task = recipe.task()
        ctx = WorkerContext(connection, task.epochs, control)
        with keras_in_use():
            result = task.train(ctx)
        ctx.flush()
        return "finished", result
    except JobStopped as stopped:
        return "stopped", str(stopped)
    except RunRefused as refusal:
        return "refused", str(refusal)
    except Exception as error:  # the server reports it, as it does a thread's
        log.exception("a run failed in a worker (%s.%s)", recipe.module, recipe.name)
        return "failed", error


def serve(connection: Connection) -> None:
    """A worker's life: import Keras, then train the runs the server sends, one at a time, until told to quit
    or the server is gone."""
    from core.engine.backend import jax_device, load_keras

    os.nice(WORKER_NICENESS)
    with imports_refused(KERAS_EXTRAS_LEFT_OUT):
        load_keras()
    try:
        connection.send(("ready", jax_device()))
    except OSError:
        return  # the server is gone already
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message[0] == "quit":
            return
        if message[0] != "train":
            continue  # controls for a run that has already ended
        kind, value = _train_one(connection, *message[1:])
        try:
            connection.send(("ended", kind, value))
        except (pickle.PicklingError, TypeError, AttributeError) as error:  # only a result or an error can be at fault
            log.warning("a run's ending could not be sent as it was: %s", error)
            fallback = RuntimeError(f"{type(value).__name__}: {value}") if kind == "failed" else None
            connection.send(("ended", kind, fallback))  # a result that cannot travel: the run still finished
        keep_within_budget()


@contextmanager
def imports_refused(names: Iterable[str]) -> Iterator[None]:
    """While inside, `import name` raises ImportError for each of `names` not yet imported (what a library's
    optional imports catch); after, they import as usual."""
    refused = [name for name in names if name not in sys.modules]
    sys.modules.update(dict.fromkeys(refused))
    try:
        yield
    finally:
        for name in refused:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]


def keep_within_budget() -> None:
    """After a run, as the server does: free its garbage and, over the memory budget (each worker has the
    server's), drop JAX's compiled code (nothing trains in this worker between runs)."""
    release_freed_memory()
    budget, resident = default_memory_budget_mb(), resident_mb()
    if budget and resident is not None and resident > budget:
        drop_compiled_code()
        release_freed_memory()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    serve(Connection(int(sys.argv[1])))
