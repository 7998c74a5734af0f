"""The real server as a class meets it the moment it starts: websocket-level students (Streamlit's own protocol,
no browser) against `streamlit run app.py`, and what `make run` starts."""

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time

import psutil
import pytest

from tests.appserver import ROOT, Student, answering, free_port, run_apart, start_app
from tests.helpers import maps_library, wait_until


async def open_together(port: int, page: str, students: int) -> list[str]:
    """What `students` opening `page` at once see go wrong: exceptions and error alerts."""
    class_ = [Student(port, page, {}) for _ in range(students)]
    try:
        await asyncio.gather(*(student.open() for student in class_))
        return [error for student in class_ for error in student.errors]
    finally:
        for student in class_:
            await student.close()


def test_pages_with_charts_opened_as_the_server_starts_show_no_error():
    """Students opening a page of charts the moment a fresh server answers, while it warms up: its warm-up thread
    importing pandas then broke every chart being drawn ('partially initialized module pandas has no attribute
    Series': plotly finds pandas half-imported), so the shared libraries are imported before the server answers."""
    port = free_port()
    process = start_app(port)
    try:
        errors = run_apart(open_together(port, "perceptron", 3))
    finally:
        process.terminate()
        process.wait(20)
    assert errors == []


def make_run(port: int, setting: dict[str, str]) -> subprocess.Popen:
    """`make run` in the suite's environment (its packages installed already: nothing is remade), with `setting`
    and without the suite's own EDL_TRAIN_IN_PROCESSES."""
    log = tempfile.NamedTemporaryFile(prefix=f"edl-make-run-{port}-", suffix=".log", delete=False)
    venv = sys.prefix
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"VENV={venv}", f"PORT={port}", "-o", f"{venv}/.runtime"],
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if k != "EDL_TRAIN_IN_PROCESSES"}, **setting},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return answering(port, process, log.name)


def started_by(process: subprocess.Popen, module: str, within_s: float = 60) -> psutil.Process | None:
    """The Python process `process` started, itself or through its children, that runs `module` (`-m module`)."""
    deadline = time.monotonic() + within_s
    while True:
        for child in psutil.Process(process.pid).children(recursive=True):
            arguments = child.cmdline()
            if module in arguments and arguments[arguments.index(module) - 1] == "-m":
                return child
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.2)


@pytest.mark.parametrize("setting, trains_in_workers", [(None, True), ("0", False)])
def test_make_run_starts_a_classrooms_server_whose_runs_train_in_worker_processes(setting, trains_in_workers):
    """`make run`, how a teacher starts a class's server, trains runs in worker processes: in the server's threads a
    class of 30 watching a run takes a third of its speed (the classroom bench). EDL_TRAIN_IN_PROCESSES=0 keeps
    them in its threads. A server warming up starts its first worker, or imports JAX to train in its threads."""
    process = make_run(free_port(), {} if setting is None else {"EDL_TRAIN_IN_PROCESSES": setting})
    try:
        server = started_by(process, "streamlit")
        assert server is not None
        if trains_in_workers:
            assert started_by(process, "core.engine.workers") is not None
        else:
            assert wait_until(lambda: maps_library(server.pid, "jaxlib"), timeout=60, interval=0.2)
            assert started_by(process, "core.engine.workers", within_s=0) is None
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
