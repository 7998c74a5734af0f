"""Memory of a server that has trained many runs (part of `make bench`; `python -m bench.run memory`).

Fifty runs across every live section (in page order, again and again, each with a new seed so none is
shared), each trained to its end at the shortest length its controls allow, in one process the way the
server trains them: resident memory after each run, once without a memory budget and once with the
default `EDL_MEMORY_BUDGET_MB`. Each setting runs in a fresh Python process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psutil

RUNS = 50
WARM_UP_RUNS = 14
"""One run of each section: every lesson's modules, data and compiled code are loaded by then."""


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def train_runs(runs: int) -> list[dict]:
    """Train `runs` runs one after another; the resident memory after each."""
    from bench.sections import SECTIONS
    from core.engine.jobs import JobRegistry

    registry = JobRegistry(max_running=1, abandon_after_s=3600)
    rows = []
    for index in range(runs):
        section = SECTIONS[index % len(SECTIONS)]
        job = registry.submit(section.task(length=1, seed=1 + index // len(SECTIONS)), f"student-{index}")
        job.wait()
        rows.append(
            {
                "run": index + 1,
                "section": section.name,
                "status": job.status.value,
                "rss_mb": round(rss_mb()),
                "kept_runs": len(registry.views()),
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def summary(rows: list[dict]) -> dict:
    after_warm_up = [row["rss_mb"] for row in rows[WARM_UP_RUNS - 1 :]]
    return {
        "rss_mb_after_each_run": [row["rss_mb"] for row in rows],
        "rss_mb_after_warm_up": after_warm_up[0],
        "rss_mb_peak": max(after_warm_up),
        "rss_mb_last": after_warm_up[-1],
        "growth_mb_after_warm_up": after_warm_up[-1] - after_warm_up[0],
        "failed_runs": [row for row in rows if row["status"] != "finished"],
        "kept_runs_at_end": rows[-1]["kept_runs"],
    }


def measured(budget_mb: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "EDL_MEMORY_BUDGET_MB"}
    if budget_mb is not None:
        env["EDL_MEMORY_BUDGET_MB"] = budget_mb
    out = subprocess.run(
        [sys.executable, "-m", "bench.memory", str(RUNS)], env=env, check=True, stdout=subprocess.PIPE, text=True
    ).stdout
    return summary(json.loads(out))


def run(browser=None) -> dict:
    from core.engine.jobs import default_memory_budget_mb

    return {
        "no_budget": measured("0"),
        f"default_budget_{default_memory_budget_mb()}_mb": measured(None),
        "setup": f"{RUNS} runs, one at a time, cycling through every live section (length: each run's "
        f"minimum; a new seed each cycle); RSS of the process after each; warm-up: the first {WARM_UP_RUNS}",
    }


if __name__ == "__main__":
    print(json.dumps(train_runs(int(sys.argv[1]))))
