"""Where runs train: the seam between the pages and a job engine, and the one place that chooses the engine.

Pages hold a `JobBackend` (submit, get, views, running count, shutdown) and the `JobHandle`s it gives them
(view, heartbeat, pause, resume, step, stop, live hyperparameters, wait). Two engines satisfy them:
`JobRegistry` (runs in threads of the server, or in its worker processes; the default, and what Community
Cloud runs) and `core.engine.raybackend.RayBackend` (runs in Ray actors, for a school's cluster of
replicas and GPU workers), chosen by `EDL_RAY_ADDRESS`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from core.engine.jobs import JobRegistry, JobStatus, JobView, MemoryReport, TrainingTask

log = logging.getLogger(__name__)

RAY_ADDRESS_ENV = "EDL_RAY_ADDRESS"
RAY_CPUS_ENV = "EDL_RAY_CPUS_PER_RUN"
RAY_GPUS_ENV = "EDL_RAY_GPUS_PER_RUN"
RAY_APP_PATH_ENV = "EDL_RAY_APP_PATH"


class JobHandle(Protocol):
    """One run, as a page uses it (`Job`, `RayJob`)."""

    id: str
    run: str
    task: TrainingTask

    @property
    def status(self) -> JobStatus: ...
    @property
    def result(self) -> Any: ...
    @property
    def viewer_count(self) -> int: ...
    @property
    def control_token(self) -> str: ...
    @property
    def hyperparams(self) -> dict[str, Any]: ...

    keeps_frames: bool

    def view(self) -> JobView: ...
    def frames_between(self, after_version: int, view: JobView) -> list[JobView]: ...
    def heartbeat(self, session_id: str) -> None: ...
    def watched_by(self, session_id: str) -> bool: ...
    def may_control(self, session_id: str) -> bool: ...
    def take_control(self, session_id: str, token: str | None = None) -> bool: ...
    def detach(self, session_id: str) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def step(self) -> None: ...
    def stop(self, message: str = "Stopped.") -> None: ...
    def set_hyperparams(self, **values: Any) -> None: ...
    def wait(self, timeout: float | None = None) -> bool: ...


class JobBackend(Protocol):
    """Every run a server's pages can reach (`JobRegistry`, `RayBackend`)."""

    memory: MemoryReport
    workers: Any
    trains_here: bool
    """Whether runs train in this process (threads of the server), so that it should have Keras ready."""

    @property
    def training_device(self) -> str | None:
        """Where runs compute, in words, for the sidebar; None while not yet known."""

    @property
    def running_count(self) -> int: ...
    @property
    def max_running(self) -> int: ...
    def submit(self, task: TrainingTask, session_id: str) -> JobHandle: ...
    def get(self, job_id: str) -> JobHandle | None: ...
    def views(self, session_id: str | None = None) -> list[JobView]: ...
    def shutdown(self, timeout: float = 30.0) -> None: ...


@dataclass(frozen=True)
class ChosenBackend:
    backend: JobBackend
    notice: str | None = None
    """Why the configured engine is not the one in use, for the sidebar (None when all is as configured)."""


def _positive(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value >= 0 else default


def backend_from_env(local: Callable[[], JobRegistry]) -> ChosenBackend:
    """Ray when `EDL_RAY_ADDRESS` names a cluster that answers (each run asks it for `EDL_RAY_CPUS_PER_RUN`
    CPUs, 1 by default, and `EDL_RAY_GPUS_PER_RUN` GPUs, 0 by default); else `local()`, the server's own
    engine. A cluster that does not answer, or Ray not installed, falls back to `local()` with a notice: a
    class can still train, on this server."""
    address = os.environ.get(RAY_ADDRESS_ENV, "").strip()
    if not address:
        return ChosenBackend(local())
    try:
        from core.engine.raybackend import RayBackend
    except ImportError as missing:
        return ChosenBackend(
            local(),
            f"EDL_RAY_ADDRESS is set, but Ray is not installed here ({missing.name}): install requirements-ray.txt. "
            "Runs train on this server meanwhile.",
        )
    try:
        backend = RayBackend(
            address,
            cpus_per_run=_positive(RAY_CPUS_ENV, 1.0),
            gpus_per_run=_positive(RAY_GPUS_ENV, 0.0),
            app_path=os.environ.get(RAY_APP_PATH_ENV) or None,
        )
    except Exception as error:  # Ray's connection errors have many types; each one means the same to a teacher
        log.warning("Ray at %s is not usable: %s", address, error)
        return ChosenBackend(
            local(),
            f"The Ray cluster at {address} could not be reached ({error}): runs train on this server instead. "
            "Restart the app once the cluster is up.",
        )
    return ChosenBackend(backend)
