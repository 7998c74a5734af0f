"""Benchmarks of the attention lesson (part of `make bench`; `python -m bench.run attention`).

The date translator at the page's defaults (9,000 training dates, batch 100, Adam 0.005), trained as
the page trains it (a job at full speed), for both attention kinds: the epoch and the seconds from
pressing Train to 0.95 exact match on the 1,000 held-out dates, and the seconds per epoch; then the
time to translate one typed date with its attention map.
"""

from __future__ import annotations

import statistics
import time

from core.engine.jobs import JobRegistry
from core.lessons.attention import attention

TARGET, EPOCHS = 0.95, 20


def time_to_target(kind: str) -> dict:
    config = {
        **{c.key: c.default for c in attention.DATE_CONTROLS},
        "attention": kind,
        "epochs": EPOCHS,
        "speed": "full speed",
    }
    started = time.perf_counter()
    job = JobRegistry(max_running=1).submit(attention.dates_task(config), "bench")
    reached = None
    while job.status.active:
        hit = next((row for row in job.view().history if row["val_exact_match"] >= TARGET), None)
        if hit is not None and reached is None:
            reached = {"epoch": int(hit["epoch"]), "seconds_from_train": round(time.perf_counter() - started, 2)}
        time.sleep(0.02)
    history = job.view().history
    steady = [b["time_s"] - a["time_s"] for a, b in zip(history[1:], history[2:])]
    translator = attention.Translator(kind, job.result["weights"])
    translator.translate("tuesday 10 march 2015")
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        translator.translate("25th of june 2009")
        times.append(time.perf_counter() - t0)
    return {
        "target_exact_match": TARGET,
        "reached": reached,
        "final_exact_match": round(history[-1]["val_exact_match"], 4),
        "seconds_per_epoch": round(statistics.median(steady), 2),
        "total_s": round(time.perf_counter() - started, 1),
        "translate_one_date_ms": round(statistics.median(times) * 1000, 1),
    }


def toy_transformer() -> dict:
    """The toy Transformer at the page's defaults (reverse 8 digits): epoch and seconds to 0.95 held-out
    digit accuracy (seconds of training, after compilation), and with a causal mask the accuracy it stops at."""
    from core.lessons.attention import selfattention

    results = {}
    for causal in (False, True):
        config = {
            **{c.key: c.default for c in selfattention.TRANSFORMER_CONTROLS},
            "causal": causal,
            "epochs": 15,
            "speed": "full speed",
        }
        started = time.perf_counter()
        job = JobRegistry(max_running=1).submit(selfattention.transformer_task(config), "bench")
        job.wait(600)
        history = job.view().history
        hit = next((row for row in history if row["val_accuracy"] >= TARGET), None)
        results["causal" if causal else "reverse"] = {
            "epoch_to_0.95": int(hit["epoch"]) if hit else None,
            "training_seconds_to_0.95": round(hit["time_s"], 2) if hit else None,
            "final_val_accuracy": round(history[-1]["val_accuracy"], 3),
            "mirror_share": round(selfattention.mirror_share(job.view().snapshot.weights), 3),
            "total_s": round(time.perf_counter() - started, 1),
        }
    return results


def with_and_without(epochs: int = 15) -> dict:
    """Held-out exact match per epoch of the translator with and without attention (same dates)."""
    config = {"epochs": epochs, "seed": 0}
    started = time.perf_counter()
    job = JobRegistry(max_running=1).submit(attention.compare_task(config), "bench")
    job.wait(1200)
    history = job.view().history
    first = {
        name: next((int(r["epoch"]) for r in history if r[f"{name}: exact_match"] >= TARGET), None)
        for name in (attention.WITH, attention.WITHOUT)
    }
    return {
        "epoch_to_0.95": first,
        "total_s": round(time.perf_counter() - started, 1),
        "exact_match_by_epoch": {
            name: [round(r[f"{name}: exact_match"], 3) for r in history] for name in (attention.WITH, attention.WITHOUT)
        },
    }


def run(browser=None) -> dict:
    return {
        "attention": {
            **{kind: time_to_target(kind) for kind in attention.ATTENTIONS},
            "toy_transformer": toy_transformer(),
            "with_and_without": with_and_without(),
        }
    }
