"""Benchmarks of what every live section shares (part of `make bench`; `python -m bench.run live`).

- Train → first update: for every live section at the page's defaults, seconds from submitting its
  run until its first row of curves is published (what the page then draws), on a fresh process for
  the first run of each section, and again for a second run with a new seed (compiled code reused).
"""

from __future__ import annotations

import time

from bench.sections import SECTIONS
from core.engine.jobs import JobRegistry, JobView

FIRST_UPDATE_TARGET_S = 5.0


def seconds_to_first_update(
    registry: JobRegistry, task, poll_s: float = 0.01, timeout_s: float = 300
) -> tuple[float, float]:
    """From submit to the first picture of the run (its first snapshot or row: the page draws the model)
    and to its first row of curves; the run is then stopped."""
    started = time.perf_counter()
    job = registry.submit(task, "bench")
    deadline = started + timeout_s
    picture = None
    while True:
        view: JobView = job.view()
        if picture is None and (view.snapshot is not None or view.history):
            picture = time.perf_counter() - started
        if view.history or not view.status.active:
            break
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{task.run}: no update in {timeout_s} s")
        time.sleep(poll_s)
    elapsed = time.perf_counter() - started
    if not view.history:
        raise RuntimeError(f"{task.run} ended before its first update: {view.message}")
    job.stop()
    job.wait(60)
    return picture, elapsed


def first_updates() -> dict:
    registry = JobRegistry(max_running=1, abandon_after_s=3600)
    sections = {}
    for section in SECTIONS:
        picture, row = seconds_to_first_update(registry, section.task())
        picture_again, row_again = seconds_to_first_update(registry, section.task(seed=1))
        sections[section.name] = {
            "first_picture_s": round(picture, 2),
            "first_row_s": round(row, 2),
            "new_seed_first_picture_s": round(picture_again, 2),
            "new_seed_first_row_s": round(row_again, 2),
        }
        print(section.name, sections[section.name], flush=True)
    slowest = max(sections.items(), key=lambda item: item[1]["first_picture_s"])
    return {
        "train_to_first_update": sections,
        "slowest_first_picture": {"section": slowest[0], "seconds": slowest[1]["first_picture_s"]},
        "first_picture_over_target": [
            name for name, times in sections.items() if times["first_picture_s"] > FIRST_UPDATE_TARGET_S
        ],
        "target_s": FIRST_UPDATE_TARGET_S,
        "setup": "one process, sections in page order at the page's defaults, one run at a time; the first "
        "run of a section compiles its functions, the second (new seed) may reuse them",
    }


def run(browser=None) -> dict:
    return first_updates()
