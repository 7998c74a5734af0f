"""Small tasks and waits shared by the engine tests."""

from __future__ import annotations

import json
import os
import time

import psutil

from core.engine.jobs import TrainingContext, TrainingTask, task_factory


@task_factory
def counting_task(name: str = "a", epochs: int = 5, batches: int = 4, batch_s: float = 0.005, losses=None, calls=None):
    """A task without a model: each epoch runs `batches` checkpoints and publishes a loss."""

    def train(ctx: TrainingContext):
        if calls is not None:
            calls.append(name)
        for epoch in range(ctx.epochs):
            for batch in range(batches):
                ctx.progress(batch, batches)
                ctx.checkpoint()
                time.sleep(batch_s)
            ctx.publish({"loss": losses[epoch] if losses else 1.0 / (epoch + 1)}, snapshot={"epoch": epoch + 1})
        return "done"

    return TrainingTask(
        run="test", config={"name": name, "epochs": epochs}, train=train, epochs=epochs, live={"learning_rate": 0.1}
    )


@task_factory
def reporting_task(epochs: int = 1000, batch_s: float = 0.002):
    """Each epoch publishes the live learning rate it trained with and the process it ran in."""

    def train(ctx: TrainingContext):
        for _ in range(ctx.epochs):
            ctx.checkpoint()
            time.sleep(batch_s)
            _, values = ctx.hyperparams()
            ctx.publish({"loss": 1.0, "learning_rate": values["learning_rate"], "pid": os.getpid()})

    return TrainingTask(
        run="test", config={"reporting": epochs}, train=train, epochs=epochs, live={"learning_rate": 0.1}
    )


@task_factory
def importing_task(names: tuple[str, ...]):
    """Reports which of `names` its process had imported before it ran, then imports them (a run that uses one)."""

    def train(ctx: TrainingContext):
        import importlib
        import sys

        before = [name for name in names if name in sys.modules]
        return before, [importlib.import_module(name).__name__ for name in names]

    return TrainingTask(run="test", config={"importing": names}, train=train, epochs=1)


@task_factory
def failing_task(message: str):
    def train(ctx: TrainingContext):
        raise ValueError(message)

    return TrainingTask(run="test", config={"failing": message}, train=train, epochs=1)


def wait_until(condition, timeout: float = 30.0, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def png_bytes(width: int, height: int) -> bytes:
    """A valid black 1-bit PNG of any size, written directly (a 20000×20000 picture compresses to a
    few hundred kilobytes, but PIL would need 400 MB to draw it)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes((width + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def shown(markdown: str) -> str:
    """What a reader sees of Markdown made with `core.engine.text.markdown_literal`: the escapes and the
    invisible word joiners removed (other Markdown, such as **bold**, is left as written)."""
    import re

    from core.engine.text import WORD_JOINER

    return re.sub(r"\\([^\w\s])", r"\1", markdown).replace(WORD_JOINER, "")


LIVE_PLOT = "edl_live_plot"


def chart_figures(at) -> list[dict]:
    """Every chart an AppTest page shows, as Plotly's JSON: its `st.plotly_chart`s and its live charts
    (drawn by the live-plot component, whose data carries the figure)."""
    figures = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    live = [chart for chart in at.get("bidi_component") if chart.proto.component_name == LIVE_PLOT]
    return figures + [json.loads(chart.proto.bytes)["figure"] for chart in live]  # JSON text, sent as bytes


def chart_text(at) -> str:
    """All the charts' JSON as one text, to look for a phrase in (titles, labels, hover text), line breaks
    as spaces."""
    return json.dumps(chart_figures(at), ensure_ascii=False).replace("<br>", " ")


def chart_titles(at) -> str:
    """All the charts' titles, their line breaks as spaces."""
    titles = (figure["layout"].get("title", {}).get("text") or "" for figure in chart_figures(at))
    return " ".join(title.replace("<br>", " ") for title in titles)


def query_value(at, key):
    value = at.query_params[key]
    return value[0] if isinstance(value, list) else value


def train_runs(at, runs, timeout: float) -> list[str]:
    """Press Train in each of a page's sections (`runs`), check the URL holds exactly their jobs, wait
    for them to finish and redraw. Returns the jobs' ids."""
    from core.ui.session import job_registry

    for run in runs:
        at.button(key=f"{run}:train").click().run()
    assert not at.exception
    ids = query_value(at, "job").split(",")
    jobs = [job_registry().get(job_id) for job_id in ids]
    assert sorted(job.run for job in jobs) == sorted(runs)
    assert all(job.wait(timeout) for job in jobs)
    at.run()
    assert not at.exception
    return ids


def check_pause_holds_and_resume_finishes(registry, settle_s: float) -> None:
    """Pause holds the run: once it says it is `held` (the controls arrived, the last reports landed), nothing
    more comes for `settle_s`; resume trains it to the end."""
    from core.engine.jobs import JobStatus

    job = registry.submit(counting_task(epochs=150, batch_s=0.002), "s1")
    assert wait_until(lambda: job.view().epoch >= 2)
    job.pause()
    assert job.status == JobStatus.PAUSED
    assert wait_until(lambda: job.view().held)
    held = job.view()
    time.sleep(settle_s + 0.1)
    assert job.view().epoch == held.epoch and held.snapshot == {"epoch": held.epoch}
    job.resume()
    assert not job.view().held
    assert job.wait(60)
    assert job.view().status == JobStatus.FINISHED and job.view().epoch == 150


def check_step_trains_exactly_one_more_epoch(registry, settle_s: float) -> None:
    from core.engine.jobs import JobStatus

    job = registry.submit(counting_task(epochs=500, batch_s=0.002), "s1")
    assert wait_until(lambda: job.view().epoch >= 1)
    job.pause()
    assert wait_until(lambda: job.view().held)
    before = job.view().epoch
    job.step()
    assert wait_until(lambda: job.view().epoch == before + 1 and job.view().held)
    time.sleep(settle_s)
    assert job.view().epoch == before + 1 and job.status == JobStatus.PAUSED
    job.stop()
    assert job.wait(10)


def maps_library(pid: int, package: str) -> bool:
    """Whether the process has loaded a compiled library of `package` ('jaxlib', 'sklearn'): what it imported,
    seen from outside it."""
    return any(f"/{package}/" in region.path for region in psutil.Process(pid).memory_maps())
