"""Benchmarks (`make bench`): JSON to stdout and to bench/results/<part>.json. `python -m bench.run
playground` runs only the playground's (bench/playground.py), `layers` the per-layer statistics' of
the deep-network lessons (bench/layers.py), `optimisation` the optimisers' race on a surface
(bench/optimisation.py), `cnn` the CNN lesson's time to its accuracy targets
(bench/cnn.py), `lstm` the LSTM lesson's (bench/lstm.py), `attention` the date translator's
(bench/attention.py), `words` the word-vector lesson's loading and debiasing (bench/words.py), `gan`
the GANs' steps per second and time to cover the ring (bench/gan.py), `live` every live section's
Train → first update (bench/live.py), `memory` resident memory over 50 runs with and without the memory
budget (bench/memory.py), `classroom` a class of 30 on one server (bench/classroom.py), `ray` the job engine on
Ray beside threads (bench/ray_engine.py, needs requirements-ray.txt), `from_scratch` the
mini framework and logistic regression (bench/from_scratch.py), `reinforcement` the tabular learners
(bench/reinforcement.py), `word2vec` word2vec beside gensim (bench/word2vec.py), `sequence_models` the translator
(bench/sequence_models.py), `vision_applications` residual against plain networks (bench/vision_applications.py); the
foundation's
are here:

- cold start: process start to Home drawn in the browser
- click to first chart: Train pressed on the engine room to its first chart
- engine overhead: steps/s of a job against plain `model.fit` on the same model and data
- UI refresh rate: how often the browser's live panel and its decision surface change during training, and
  over 10 s sampled every 20 ms, how often the surface chart is blank (remounting) or the page dimmed
- peak RSS of the server: every page visited with one job training, then four sessions training at once
"""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import sys
import threading
import time

import numpy as np
import psutil

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import attention as attention_bench  # noqa: E402
from bench import classroom as classroom_bench  # noqa: E402
from bench import cnn as cnn_bench  # noqa: E402
from bench import from_scratch as from_scratch_bench  # noqa: E402
from bench import gan as gan_bench  # noqa: E402
from bench import layers as layers_bench  # noqa: E402
from bench import live as live_bench  # noqa: E402
from bench import lstm as lstm_bench  # noqa: E402
from bench import memory as memory_bench  # noqa: E402
from bench import optimisation as optimisation_bench  # noqa: E402
from bench import playground as playground_bench  # noqa: E402
from bench import ray_engine as ray_engine_bench  # noqa: E402
from bench import reinforcement as reinforcement_bench  # noqa: E402
from bench import sequence_models as sequence_models_bench  # noqa: E402
from bench import vision_applications as vision_applications_bench  # noqa: E402
from bench import word2vec as word2vec_bench  # noqa: E402
from bench import words as words_bench  # noqa: E402
from bench.sampling import PeriodicSampler  # noqa: E402
from core.engine import backend  # noqa: E402
from core.engine.jobs import JobRegistry, TrainingTask  # noqa: E402
from core.engine.params import config_from_query  # noqa: E402
from core.lessons import LESSONS  # noqa: E402
from core.lessons.engine_room import engine_check  # noqa: E402
from tests.appserver import CHROMIUM, CHROMIUM_ARGS, free_port, redraw_rate, start_app, watch_frames  # noqa: E402

OVERHEAD_EPOCHS = 150
OVERHEAD_SAMPLES = 4000
OVERHEAD_BATCH = 32


def overhead_model(keras):
    keras.utils.set_random_seed(0)
    model = engine_check.build_model(config_from_query(engine_check.CONTROLS, {"hidden": "64", "layers": "3"})[0])
    return model


def overhead_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(OVERHEAD_SAMPLES, 2)).astype("float32")
    y = (x[:, 0] * x[:, 1] > 0).astype("float32")
    return x, y


def timed_fit(model, x, y, callbacks) -> float:
    """Steps per second of `fit` after a warm-up that compiles its train and predict steps."""
    model.fit(x, y, epochs=1, batch_size=OVERHEAD_BATCH, verbose=0)
    model.predict_on_batch(engine_check.surface_grid()[1])
    start = time.perf_counter()
    model.fit(x, y, epochs=OVERHEAD_EPOCHS, batch_size=OVERHEAD_BATCH, verbose=0, callbacks=callbacks)
    steps = OVERHEAD_EPOCHS * int(np.ceil(OVERHEAD_SAMPLES / OVERHEAD_BATCH))
    return steps / (time.perf_counter() - start)


def engine_overhead(repeats: int = 5) -> dict:
    """The same model and data trained by plain fit and by a job (with and without snapshots)."""
    keras = backend.load_keras()
    x, y = overhead_data()
    axis, grid = engine_check.surface_grid()
    registry = JobRegistry(max_running=1, abandon_after_s=3600)
    results = {"plain_fit": [], "plain_fit_in_a_thread": [], "job": [], "job_with_snapshots": []}

    def threaded_rate() -> float:
        rates = []
        thread = threading.Thread(target=lambda: rates.append(timed_fit(overhead_model(keras), x, y, [])))
        thread.start()
        thread.join()
        return rates[0]

    def job_rate(with_snapshots: bool, repeat: int) -> float:
        rates = []

        def train(ctx):
            snapshot = (lambda m, e: m.predict_on_batch(grid)) if with_snapshots else None
            rates.append(
                timed_fit(overhead_model(keras), x, y, [ctx.keras_callback(snapshot, engine_check.SNAPSHOT_EVERY_S)])
            )

        task = TrainingTask("bench", {"snapshots": with_snapshots, "repeat": repeat}, train, epochs=OVERHEAD_EPOCHS)
        job = registry.submit(task, "bench")
        job.wait()
        return rates[0]

    for repeat in range(repeats):
        results["plain_fit"].append(timed_fit(overhead_model(keras), x, y, []))
        results["plain_fit_in_a_thread"].append(threaded_rate())
        results["job"].append(job_rate(False, repeat))
        results["job_with_snapshots"].append(job_rate(True, repeat))
    medians = {name: statistics.median(rates) for name, rates in results.items()}
    return {
        "steps_per_s_median": {k: round(v, 1) for k, v in medians.items()},
        "overhead_percent_vs_plain_fit": round(100 * (1 - medians["job"] / medians["plain_fit"]), 1),
        "overhead_percent_vs_plain_fit_in_a_thread": round(
            100 * (1 - medians["job"] / medians["plain_fit_in_a_thread"]), 1
        ),
        "overhead_with_snapshots_percent_vs_plain_fit": round(
            100 * (1 - medians["job_with_snapshots"] / medians["plain_fit"]), 1
        ),
        "setup": f"MLP 2-64-64-64-1, {OVERHEAD_SAMPLES} samples, batch {OVERHEAD_BATCH}, {OVERHEAD_EPOCHS} epochs, "
        f"median of {repeats}; snapshots = the engine room's 60x60 decision surface every "
        f"{engine_check.SNAPSHOT_EVERY_S} s",
    }


class RssSampler(PeriodicSampler):
    """Peak resident memory of a process and its children, sampled every 50 ms."""

    def __init__(self, pid: int):
        super().__init__(pid, 0.05)
        self.peak = 0

    def sample(self):
        try:
            rss = self.process.memory_info().rss + sum(
                c.memory_info().rss for c in self.process.children(recursive=True)
            )
            self.peak = max(self.peak, rss)
        except psutil.Error:
            pass


def new_page(browser):
    return browser.new_page(viewport={"width": 1400, "height": 1000})


def wait_for_home(page, url: str, deadline_s: float = 90) -> None:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            page.goto(url, timeout=5000)
            page.get_by_role("heading", name="Explorable Deep Learning").wait_for(timeout=30_000)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def browser_benchmarks(browser) -> dict:
    out = {}
    port = free_port()
    started = time.perf_counter()

    process = start_app(port)  # the cold start counts from before the launch to Home drawn
    url = f"http://127.0.0.1:{port}"
    try:
        with RssSampler(process.pid) as memory:
            page = new_page(browser)
            wait_for_home(page, url)
            out["cold_start_s"] = round(time.perf_counter() - started, 2)
            out["rss_after_home_mb"] = round(memory.process.memory_info().rss / 2**20)

            for lesson in LESSONS:
                page.goto(f"{url}/{lesson.slug}")
                page.get_by_role("heading", name=lesson.title).first.wait_for(timeout=30_000)
            page.goto(f"{url}/engine_room?check.epochs=3000&check.batch_size=8")  # about 30 s of training
            page.get_by_role("button", name="Train").wait_for(timeout=30_000)
            clicked = time.perf_counter()
            page.get_by_role("button", name="Train").click()
            page.locator(".st-key-surface .edl-live-drawn").first.wait_for(state="attached", timeout=60_000)
            page.wait_for_function("() => document.querySelector('.st-key-surface .edl-live-drawn').textContent")
            out["click_to_first_chart_s"] = round(time.perf_counter() - clicked, 2)

            out["surface_redraw_hz_during_training"] = round(redraw_rate(page, ".st-key-surface .edl-live-drawn", 5), 2)
            out["curves_redraw_hz_during_training"] = round(redraw_rate(page, ".st-key-loss .edl-live-drawn", 5), 2)
            out["ui_refresh_hz_during_training"] = round(redraw_rate(page, "[data-testid=stProgress]", 3), 2)
            frames = watch_frames(page, ".st-key-surface .edl-live", 8)
            out["live_chart_frames_8s"] = {
                **frames,
                "blank_share": round(frames["blank"] / max(1, frames["samples"]), 3),
                "faded_share": round(frames["faded"] / max(1, frames["samples"]), 3),
            }
            page.wait_for_selector("text=Finished 3000 epochs", timeout=180_000)
            out["peak_rss_mb_all_pages_one_job"] = round(memory.peak / 2**20)
            page.close()
    finally:
        process.terminate()
        process.wait(30)
    return out


def four_sessions(browser) -> dict:
    """Four browser sessions, each training its own run (different seeds), all at once."""
    port = free_port()
    process = start_app(port, env={"EDL_MAX_RUNNING_JOBS": "4"})
    url = f"http://127.0.0.1:{port}"
    try:
        with RssSampler(process.pid) as memory:
            pages = []
            for seed in range(4):
                page = new_page(browser)
                page.goto(f"{url}/engine_room?epochs=400&seed={seed}")
                page.get_by_role("button", name="Train").click()
                pages.append(page)
            started = time.perf_counter()
            for page in pages:
                page.wait_for_selector("text=Finished 400 epochs", timeout=300_000)
            elapsed = time.perf_counter() - started
            cpu = psutil.Process(process.pid).cpu_times()
            for page in pages:
                page.close()
        return {
            "peak_rss_mb_four_sessions_training": round(memory.peak / 2**20),
            "four_runs_of_400_epochs_wall_s": round(elapsed, 1),
            "server_cpu_s_total": round(cpu.user + cpu.system, 1),
        }
    finally:
        process.terminate()
        process.wait(30)


def foundation(browser) -> dict:
    results = {"engine": engine_overhead()}
    print(json.dumps(results["engine"], indent=2), flush=True)
    if browser is None:
        results["browser"] = f"skipped: {CHROMIUM} is missing"
    else:
        results["browser"] = browser_benchmarks(browser)
        results["browser"].update(four_sessions(browser))
    return results


PARTS = {
    "foundation": foundation,
    "playground": playground_bench.run,
    "from_scratch": from_scratch_bench.run,
    "optimisation": optimisation_bench.run,
    "reinforcement": reinforcement_bench.run,
    "layers": layers_bench.run,
    "cnn": cnn_bench.run,
    "lstm": lstm_bench.run,
    "attention": attention_bench.run,
    "words": words_bench.run,
    "word2vec": word2vec_bench.run,
    "sequence_models": sequence_models_bench.run,
    "vision_applications": vision_applications_bench.run,
    "gan": gan_bench.run,
    "live": live_bench.run,
    "memory": memory_bench.run,
    "classroom": classroom_bench.run,
    "ray": ray_engine_bench.run,
}


def main(parts) -> None:
    from playwright.sync_api import sync_playwright

    machine = {
        "machine": {"cpus": os.cpu_count(), "device": backend.jax_device()},
        "versions": backend.library_versions(),
    }
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = (
            playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            if os.path.exists(CHROMIUM)
            else None
        )
        for part in parts:
            results = {**machine, **PARTS[part](browser)}
            (out / f"{part}.json").write_text(json.dumps(results, indent=2))
            print(json.dumps(results, indent=2), flush=True)
        if browser is not None:
            browser.close()


if __name__ == "__main__":
    unknown = set(sys.argv[1:]) - set(PARTS)
    if unknown:
        sys.exit(f"unknown benchmark part(s): {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")
    main(sys.argv[1:] or list(PARTS))
