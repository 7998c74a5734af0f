"""The job engine on Ray: each run in a named, detached Ray actor, for a school that runs several Streamlit
replicas and trains on other machines (GPU workers among them).

Chosen by configuration (`EDL_RAY_ADDRESS`, see `core.engine.backends`); without it, runs train in the
server's own threads (`JobRegistry`), as on Community Cloud. Inside each actor today's `Job` trains
unchanged, in a one-run `JobRegistry`: pause, step, stop, abandonment, divergence and live hyperparameters
behave exactly as in a thread. What changes is how pages reach it:

- The actor is named by the task's key and created with get-if-exists: every replica and every session
  asking for the same settings gets the same run, and a `job=` link works on any replica.
- One `RayJob` per run per Streamlit process, shared by its sessions: its view is fetched at most every
  `FETCH_EVERY_S`, and a fetch carries only what changed (new rows; the snapshot only when it is new) with
  the heartbeats of the sessions that polled since the last one. A class of 30 on one replica costs one small
  call per interval, not thirty full views.
- Each run asks Ray for `num_cpus` (and a GPU share where configured); runs beyond the cluster's room wait
  in Ray's queue, and a small detached `Ledger` actor keeps their order for "you are number N".
- A run that ends hands its final view and result to the ledger and its actor is ended, freeing its
  reservation: a link to it still shows how it ended.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray

from core.engine.jobs import (
    QUEUED_WATCH_S,
    Job,
    JobRegistry,
    JobStatus,
    JobView,
    MemoryReport,
    QueueFull,
    Recipe,
    TrainingTask,
    default_abandon_after_s,
    stop_and_wait,
)

log = logging.getLogger(__name__)

NAMESPACE = "edl"
LEDGER_NAME = "edl-ledger"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
FETCH_EVERY_S = 0.1
"""A process fetches a run's view at most this often, whatever the number of its sessions polling it."""
CALL_TIMEOUT_S = 30.0
"""How long a page waits for an actor's answer before it counts the run as lost."""


def _actor_name(key: str) -> str:
    return f"edl-run-{key}"


def _trains_elsewhere(ctx):
    raise RuntimeError("this copy of the task only describes the run: it trains in its Ray actor")


def described(task: TrainingTask) -> TrainingTask:
    """The task as pages need it (run, config, live values, epochs), without its train function and data:
    what travels back to a replica that attaches to a run by its link."""
    return dataclasses.replace(task, train=_trains_elsewhere, recipe=None)


@dataclass(frozen=True)
class ViewUpdate:
    """What changed in a run since a process's last fetch: the view without its history and snapshot, the
    new rows (from `rows_from`; 0 with a thinned history means "all of them, again") and the snapshot when
    its version moved."""

    view: JobView
    rows_from: int
    rows: tuple[Mapping[str, float], ...]
    snapshot_changed: bool


def update_for(view: JobView, rows_seen: int, last_epoch_seen: int | None, snapshot_version: int) -> ViewUpdate:
    """The part of `view` a fetcher that holds `rows_seen` rows (the last of epoch `last_epoch_seen`) and
    snapshot `snapshot_version` lacks. A history that was thinned since (its row at that place is another
    epoch) is sent whole."""
    history = view.history
    continues = rows_seen <= len(history) and (rows_seen == 0 or history[rows_seen - 1].get("epoch") == last_epoch_seen)
    start = rows_seen if continues else 0
    snapshot_changed = view.snapshot_version != snapshot_version
    slim = dataclasses.replace(view, history=(), snapshot=view.snapshot if snapshot_changed else None)
    return ViewUpdate(slim, start, tuple(history[start:]), snapshot_changed)


def apply_update(previous: JobView | None, update: ViewUpdate) -> JobView:
    """The whole view again, from the one held before and what changed."""
    kept = previous.history[: update.rows_from] if previous is not None else ()
    snapshot = update.view.snapshot if update.snapshot_changed or previous is None else previous.snapshot
    return dataclasses.replace(update.view, history=tuple(kept) + update.rows, snapshot=snapshot)


@ray.remote(num_cpus=0)
class Ledger:
    """The cluster's memory of runs: the order of those waiting for room (Ray queues their actors; this says
    where each stands), how many train, each run's description, and the final view and result of ended runs
    (the newest `keep_finished`), so that a link still shows a run whose actor has gone."""

    def __init__(self, namespace: str, keep_finished: int = 16):
        self._namespace = namespace
        self._keep_finished = keep_finished
        self._waiting: list[tuple[str, str]] = []
        self._running: set[str] = set()
        self._tasks: dict[str, TrainingTask] = {}
        self._ended: OrderedDict[str, tuple[JobView, Any]] = OrderedDict()
        self._polled: dict[str, float] = {}
        """When a page last asked after each waiting run."""

    def enqueue(self, task: TrainingTask, session_id: str, max_queued: int, max_queued_per_session: int) -> str | None:
        """Note a new run as waiting; the student's reason when the cluster, or this session, already has as
        many runs waiting as it takes (None when it is taken)."""
        key = task.key
        self._ended.pop(key, None)
        if any(waiting == key for waiting, _ in self._waiting) or key in self._running:
            return None
        if len(self._waiting) >= max_queued:
            return (
                f"{len(self._waiting)} runs are already waiting for room, as many as the school's cluster queues: "
                "watch a run someone else started (same settings), or try again in a minute."
            )
        mine = sum(1 for _, session in self._waiting if session == session_id)
        if mine >= max_queued_per_session:
            return f"You already have {mine} runs waiting for a free slot: let one of them start first."
        self._waiting.append((key, session_id))
        self._tasks[key] = task
        self._polled[key] = time.monotonic()
        return None

    def _unwait(self, key: str) -> None:
        self._waiting = [(waiting, session) for waiting, session in self._waiting if waiting != key]

    def started(self, key: str) -> float:
        """The run's actor has room: it trains now. Returns the seconds since a page last asked after it."""
        self._unwait(key)
        self._running.add(key)
        return time.monotonic() - self._polled.pop(key, time.monotonic())

    def ended(self, key: str, view: JobView, result: Any) -> None:
        """Keep the run's last view and result, and end its actor (its reservation goes back to Ray)."""
        self._unwait(key)
        self._running.discard(key)
        self._ended[key] = (view, result)
        self._ended.move_to_end(key)
        while len(self._ended) > self._keep_finished:
            forgotten, _ = self._ended.popitem(last=False)
            if forgotten not in self._running:
                self._tasks.pop(forgotten, None)
        try:
            ray.kill(ray.get_actor(_actor_name(key), namespace=self._namespace), no_restart=True)
        except ValueError:
            pass  # already gone

    def lost(self, key: str) -> None:
        """A run whose actor died without ending (or never started): it waits and trains no more."""
        self._unwait(key)
        self._running.discard(key)
        self._polled.pop(key, None)

    def lookup(
        self, key: str, watching: bool = False
    ) -> tuple[TrainingTask | None, tuple[JobView, Any] | None, int | None]:
        """A run's description, its final view and result once ended, and its place in the queue (`watching`:
        asked by a page showing the run, which a waiting run's start looks at)."""
        position = next((i for i, (waiting, _) in enumerate(self._waiting, start=1) if waiting == key), None)
        if watching and position is not None:
            self._polled[key] = time.monotonic()
        return self._tasks.get(key), self._ended.get(key), position

    def counts(self) -> tuple[int, int]:
        """(runs training, runs waiting)."""
        return len(self._running), len(self._waiting)


@ray.remote(max_concurrency=16)
class RunActor:
    """One run, trained by today's `Job` in a one-run `JobRegistry`. Threaded (`max_concurrency`), so that
    polls are answered while a control call or the run itself is busy."""

    def __init__(self, task: TrainingTask | Recipe, session_id: str, abandon_after_s: float, namespace: str):
        """`task` comes as its `Recipe` where it has one (a lesson's: small, and made here as a worker process
        makes it), else whole (cloudpickled with its train function: the tests' tasks). A run that waited for
        room while no page asked after it (its students left) ends at once, as a queued run does in threads."""
        task = task.task() if isinstance(task, Recipe) else task
        self._key = task.key
        self._ledger = ray.get_actor(LEDGER_NAME, namespace=namespace)
        unwatched_s = ray.get(self._ledger.started.remote(self._key))
        self._registry = JobRegistry(
            max_running=1, abandon_after_s=abandon_after_s, keep_finished=1, memory_budget_mb=0
        )
        self._job: Job = self._registry.submit(task, session_id)
        if unwatched_s > min(abandon_after_s, QUEUED_WATCH_S):
            self._job.stop("Stopped: nobody was waiting for this run any more.")
        threading.Thread(target=self._hand_over_at_end, name=f"edl-ray-{self._key}", daemon=True).start()

    def _hand_over_at_end(self) -> None:
        self._job.wait()
        self._ledger.ended.remote(self._key, self._job.view(), self._job.result)

    def fetch(self, heartbeats: tuple[str, ...], rows_seen: int, last_epoch_seen: int | None, snapshot_version: int):
        for session_id in heartbeats:
            self._job.heartbeat(session_id)
        return update_for(self._job.view(), rows_seen, last_epoch_seen, snapshot_version)

    def control(self, heartbeats: tuple[str, ...], method: str, *args, **kwargs) -> Any:
        """A page's control call on the job (pause, step, stop, set_hyperparams, may_control, ...), after the
        heartbeats gathered since the last fetch (a session that just attached counts as watching)."""
        if method not in CONTROLS:
            raise AttributeError(f"not a control: {method}")
        for session_id in heartbeats:
            self._job.heartbeat(session_id)
        return getattr(self._job, method)(*args, **kwargs)

    def result(self) -> Any:
        return self._job.result

    def control_token(self) -> str:
        return self._job.control_token

    def pid(self) -> int:
        return os.getpid()


CONTROLS = frozenset({"pause", "resume", "step", "stop", "set_hyperparams", "may_control", "take_control", "detach"})


class RunLost(Exception):
    """The actor of a run died (its machine left the cluster, it was killed, or it could not start)."""


MISSING_CODE = (
    "the Ray machine chosen for it has no copy of the app's code (No module named 'core'): install the app at the "
    "same place on every Ray machine, or set EDL_RAY_APP_PATH to where it is (README, “Run it for a whole school”)"
)


def lost_message(error: BaseException) -> str:
    """What a student reads about a run whose actor is gone, with the likely fix when Ray said why."""
    if "No module named" in str(error):
        return f"This run could not start: {MISSING_CODE}."
    return "This run was lost: the Ray worker that trained it stopped. Press **Train** to run it again."


class RayJob:
    """A run in a Ray actor, as pages use a `Job`. One per run per Streamlit process (`RayBackend` keeps them),
    shared by every session of the process: views are fetched at most every FETCH_EVERY_S and carry the
    heartbeats gathered since the last fetch."""

    def __init__(self, backend: RayBackend, task: TrainingTask, actor=None, final: tuple[JobView, Any] | None = None):
        self._backend = backend
        self.task = task
        self.id = task.key
        self.run = task.run
        self._actor = actor
        self._ready = actor.__ray_ready__.remote() if actor is not None else None
        """Answers once the actor has started, or raises why it could not (no room yet: no answer)."""
        self._lock = threading.Lock()
        self._view: JobView | None = None
        self._result: Any = None
        self._fetched_at = -float("inf")
        self._beats: set[str] = set()
        self._watchers: set[str] = set()
        self._token: str | None = None
        if final is not None:
            self._end_with(*final)

    def _end_with(self, view: JobView, result: Any) -> None:
        self._view, self._result, self._actor = view, result, None

    def _lose(self, error: BaseException) -> None:
        """The actor is gone: show how it ended if the ledger kept that, else that it was lost."""
        _, ended, _ = self._backend.lookup(self.id)
        if ended is not None:
            self._end_with(*ended)
            return
        self._backend.ledger.lost.remote(self.id)
        base = self._view or self._placeholder(JobStatus.FAILED, None)
        self._end_with(dataclasses.replace(base, status=JobStatus.FAILED, message=lost_message(error)), None)

    def _placeholder(self, status: JobStatus, position: int | None) -> JobView:
        return JobView(
            id=self.id,
            run=self.run,
            status=status,
            message="",
            epoch=0,
            epochs=self.task.epochs,
            batch=0,
            batches=None,
            history=(),
            snapshot=None,
            hyperparams=dict(self.task.live),
            viewers=len(self._watchers),
            queue_position=position,
            elapsed_s=0.0,
            version=0,
            unit=self.task.unit,
        )

    @property
    def ended(self) -> bool:
        return self._actor is None

    # ----- as a Job ------------------------------------------------------------------------------
    keeps_frames = False
    """Its views come from the actor at most every FETCH_EVERY_S: no states in between to play back."""

    def frames_between(self, after_version: int, view: JobView) -> list[JobView]:
        return []

    def view(self) -> JobView:
        with self._lock:
            if self._actor is not None and time.monotonic() - self._fetched_at >= FETCH_EVERY_S:
                self._fetch()
            return self._view

    def _fetch(self) -> None:
        if self._view is None or self._view.status == JobStatus.QUEUED:
            _, ended, position = self._backend.lookup(self.id, watching=True)
            if ended is not None:
                self._end_with(*ended)
                return
            if position is not None and not ray.wait([self._ready], timeout=0)[0]:
                self._view = self._placeholder(JobStatus.QUEUED, position)  # its actor waits for room in Ray's queue
                self._fetched_at = time.monotonic()
                return
            try:
                ray.get(self._ready, timeout=CALL_TIMEOUT_S)
            except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError) as error:
                self._lose(error)  # it could not start (no copy of the app's code there, say)
                return
        beats, self._beats = tuple(self._beats), set()
        held = self._view if self._view is not None and self._view.status != JobStatus.QUEUED else None
        rows = len(held.history) if held else 0
        last_epoch = held.history[-1].get("epoch") if held and held.history else None
        try:
            update = ray.get(
                self._actor.fetch.remote(beats, rows, last_epoch, held.snapshot_version if held else -1),
                timeout=CALL_TIMEOUT_S,
            )
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError) as error:
            self._lose(error)
            return
        self._view = apply_update(held, update)
        self._fetched_at = time.monotonic()
        if not self._view.status.active:
            try:
                self._end_with(self._view, ray.get(self._actor.result.remote(), timeout=CALL_TIMEOUT_S))
            except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError) as error:
                self._lose(error)  # its actor was ended already: the ledger has the result

    def _control(self, method: str, *args, **kwargs) -> Any:
        actor = self._actor
        if actor is None:
            return None
        beats, self._beats = tuple(self._beats), set()
        try:
            answer = ray.get(actor.control.remote(beats, method, *args, **kwargs), timeout=CALL_TIMEOUT_S)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError) as error:
            with self._lock:
                self._lose(error)
            return None
        self._fetched_at = -float("inf")  # the next view shows the change
        return answer

    @property
    def status(self) -> JobStatus:
        return self.view().status

    @property
    def result(self) -> Any:
        self.view()
        return self._result

    @property
    def viewer_count(self) -> int:
        return self.view().viewers

    @property
    def control_token(self) -> str:
        if self._token is None:
            self._token = ray.get(self._actor.control_token.remote(), timeout=CALL_TIMEOUT_S) if self._actor else ""
        return self._token

    @property
    def hyperparams(self) -> dict[str, Any]:
        return dict(self.view().hyperparams)

    def heartbeat(self, session_id: str) -> None:
        self._beats.add(session_id)
        self._watchers.add(session_id)

    def watched_by(self, session_id: str) -> bool:
        return session_id in self._watchers

    def attach(self, session_id: str) -> None:
        """A session joins the run: it counts as watching from the next fetch or control call."""
        self.heartbeat(session_id)

    def may_control(self, session_id: str) -> bool:
        return bool(self._control("may_control", session_id))

    def take_control(self, session_id: str, token: str | None = None) -> bool:
        return bool(self._control("take_control", session_id, token))

    def detach(self, session_id: str) -> None:
        self._watchers.discard(session_id)
        self._beats.discard(session_id)
        self._control("detach", session_id)

    def pause(self) -> None:
        self._control("pause")

    def resume(self) -> None:
        self._control("resume")

    def step(self) -> None:
        self._control("step")

    def stop(self, message: str = "Stopped.") -> None:
        self._control("stop", message)

    def set_hyperparams(self, **values: Any) -> None:
        unknown = set(values) - set(self.task.live)
        if unknown:
            raise KeyError(f"not live in this lesson: {', '.join(sorted(unknown))}")
        self._control("set_hyperparams", **values)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run has ended; True if it did within `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.view().status.active:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(FETCH_EVERY_S)
        return True

    def actor_pid(self) -> int | None:
        """The process the run trains in (tests, the benchmark)."""
        return ray.get(self._actor.pid.remote(), timeout=CALL_TIMEOUT_S) if self._actor is not None else None


def reachable(address: str, timeout_s: float = 2.0) -> str | None:
    """None if something answers at `address` ("host:port"); else why not, in a few words."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return f"{address!r} is not host:port"
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as error:
        return error.strerror or type(error).__name__
    return None


class RayBackend:
    """Runs in Ray actors on the cluster at `address`; the same calls as `JobRegistry` for the pages."""

    workers = None
    trains_here = False

    def __init__(
        self,
        address: str,
        abandon_after_s: float | None = None,
        cpus_per_run: float = 1.0,
        gpus_per_run: float = 0.0,
        keep_finished: int = 16,
        max_queued: int = 32,
        max_queued_per_session: int = 4,
        app_path: str | None = None,
        namespace: str = NAMESPACE,
    ):
        """Connects to the cluster (raises `ConnectionError` if nothing answers there). `app_path` is where
        every Ray machine has the app's code (default: where this process has it). Runs are shared within a
        `namespace` (one per school; the tests take one each)."""
        problem = reachable(address)
        if problem:
            raise ConnectionError(f"nothing answers there: {problem}")
        if not ray.is_initialized():
            ray.init(address=address, namespace=namespace, log_to_driver=False, logging_level=logging.WARNING)
        self.address = address
        self.namespace = namespace
        self.abandon_after_s = default_abandon_after_s() if abandon_after_s is None else abandon_after_s
        self.cpus_per_run = cpus_per_run
        self.gpus_per_run = gpus_per_run
        self.max_queued = max_queued
        self.max_queued_per_session = max_queued_per_session
        self.memory = MemoryReport(0)
        self.runtime_env = {
            "env_vars": {
                "PYTHONPATH": app_path or str(PROJECT_ROOT),
                "XLA_PYTHON_CLIENT_PREALLOCATE": "false",  # GPU runs share the card's memory
            }
        }
        self.keep_finished = keep_finished
        self.ledger = self._ledger()
        try:
            ray.get(self.ledger.counts.remote(), timeout=CALL_TIMEOUT_S)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError) as error:
            raise ConnectionError(
                MISSING_CODE.replace("for it", "for the run ledger") if "No module named" in str(error) else str(error)
            ) from error
        self._lock = threading.Lock()
        self._jobs: dict[str, RayJob] = {}
        self._counts: tuple[float, tuple[int, int]] = (-float("inf"), (0, 0))
        self._capacity: tuple[float, int] = (-float("inf"), 1)

    def _ledger(self):
        return Ledger.options(
            name=LEDGER_NAME,
            namespace=self.namespace,
            lifetime="detached",
            get_if_exists=True,
            runtime_env=self.runtime_env,
        ).remote(self.namespace, self.keep_finished)

    def _ask_ledger(self, method: str, *args) -> Any:
        """The ledger's answer; a ledger that died (its machine restarted) is made again, empty, once."""
        try:
            return ray.get(getattr(self.ledger, method).remote(*args), timeout=CALL_TIMEOUT_S)
        except ray.exceptions.RayActorError:
            log.warning("the Ray run ledger was lost: starting a new one")
            self.ledger = self._ledger()
            return ray.get(getattr(self.ledger, method).remote(*args), timeout=CALL_TIMEOUT_S)

    def lookup(self, key: str, watching: bool = False):
        return self._ask_ledger("lookup", key, watching)

    def submit(self, task: TrainingTask, session_id: str) -> RayJob:
        """Attach to the run of the same config (on any replica) if one trains, waits or finished; else
        start one (refused with `QueueFull` beyond the cluster's or the session's share of the queue)."""
        with self._lock:
            job = self._jobs.get(task.key)
            if job is not None and (not job.ended or job.view().status == JobStatus.FINISHED):
                job.attach(session_id)
                return job
            description = described(task)
            _, ended, _ = self.lookup(task.key)
            if ended is not None and ended[0].status == JobStatus.FINISHED:
                job = self._jobs[task.key] = RayJob(self, description, final=ended)
                job.attach(session_id)
                return job
            refusal = self._ask_ledger("enqueue", description, session_id, self.max_queued, self.max_queued_per_session)
            if refusal:
                raise QueueFull(refusal)
            actor = RunActor.options(
                name=_actor_name(task.key),
                namespace=self.namespace,
                lifetime="detached",
                get_if_exists=True,
                num_cpus=self.cpus_per_run,
                num_gpus=self.gpus_per_run,
                runtime_env=self.runtime_env,
            ).remote(task.recipe or task, session_id, self.abandon_after_s, self.namespace)
            job = self._jobs[task.key] = RayJob(self, description, actor)
            job.attach(session_id)
            return job

    def get(self, job_id: str) -> RayJob | None:
        """A run by its id, as a `job=` link names it: this process's, or any replica's."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                return job
            task, ended, _ = self.lookup(job_id)
            if task is None:
                return None
            if ended is not None:
                job = RayJob(self, task, final=ended)
            else:
                try:
                    job = RayJob(self, task, ray.get_actor(_actor_name(job_id), namespace=self.namespace))
                except ValueError:
                    return None
            self._jobs[job_id] = job
            return job

    def views(self, session_id: str | None = None) -> list[JobView]:
        """The runs this process knows, or those a session of it watches."""
        with self._lock:
            jobs = list(self._jobs.values())
        return [job.view() for job in jobs if session_id is None or job.watched_by(session_id)]

    def _cached_counts(self) -> tuple[int, int]:
        fetched, counts = self._counts
        if time.monotonic() - fetched >= 1.0:
            counts = self._ask_ledger("counts")
            self._counts = (time.monotonic(), counts)
        return counts

    @property
    def training_device(self) -> str:
        """Ray gives a run's actor the GPUs it asks for and hides the others from it, so JAX computes on a GPU of the
        cluster exactly when runs ask for one."""
        return "the Ray cluster's GPUs" if self.gpus_per_run > 0 else "the Ray cluster's CPUs"

    @property
    def running_count(self) -> int:
        """Runs training on the cluster (counted by the ledger, at most a second old)."""
        return self._cached_counts()[0]

    @property
    def max_running(self) -> int:
        """How many runs the cluster has room for at once (its CPUs over each run's share)."""
        fetched, capacity = self._capacity
        if time.monotonic() - fetched >= 10.0:
            cpus = ray.cluster_resources().get("CPU", 1.0)
            capacity = max(1, int(cpus // self.cpus_per_run)) if self.cpus_per_run else int(cpus)
            self._capacity = (time.monotonic(), capacity)
        return capacity

    def queue_position(self, job: RayJob) -> int | None:
        return job.view().queue_position

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop every run this process started or watched and wait for them (tests, and a clean exit)."""
        with self._lock:
            jobs = list(self._jobs.values())
        stop_and_wait(jobs, timeout)
