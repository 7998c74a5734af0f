"""Benchmarks of the playground (part of `make bench`; `python -m bench.run playground` runs only these).

- epochs/s of the jitted loop on TensorFlow Playground's default task (spiral, x1 and x2, hidden
  layers [4, 2], tanh, batch 10, learning rate 0.03, 250 training points), bare and as a live job
  at each speed, as the page shows it to the student
- wall time until the test loss first drops below a threshold on the spiral, with the page's default
  network (which learns it), from the click on Train, compile included
- in the browser during a steady run of the Playground task (a full-speed run of it ends within about
  a second): the speed the page shows, how often the page redraws, and how long a click on Pause takes
  to show
"""

from __future__ import annotations

import statistics
import time

from core.engine import pacing
from core.engine.jobs import JobRegistry
from core.lessons.perceptron import playground
from tests.appserver import free_port, redraw_rate, start_app

PLAYGROUND_TASK = {
    "data": "spiral",
    "noise": 0.0,
    "train_share": 0.5,
    "data_seed": 0,
    "features": ("x1", "x2"),
    "layers": (4, 2),
    "activation": "tanh",
    "loss": "cross-entropy",
    "batch_size": 10,
    "dropout": 0.0,
    "model_seed": 0,
    "learning_rate": 0.03,
    "regulariser": "none",
    "regularisation_rate": 0.0,
}
TEST_LOSS_THRESHOLD = 0.1


def _config(**changes):
    return {**{c.key: c.default for c in playground.CONTROLS}, **changes}


def bare_loop_rate(repeats: int = 5) -> float:
    data = playground.make_dataset("spiral", 0.0, 0.5, 0)
    cfg = PLAYGROUND_TASK
    trainer = playground.Trainer.from_config(data, cfg)
    trainer.run(playground.MAX_CHUNK, 0.03)  # compile
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        trainer.run(playground.MAX_CHUNK, 0.03)
        rates.append(playground.MAX_CHUNK / (time.perf_counter() - started))
    return statistics.median(rates)


def shown_rate(speed: str, epochs: int) -> dict:
    """A live job's speed as the page computes it (`epochs_per_second` over its last 2 s, which starts
    after the first epoch, so compiling is left out), sampled every 50 ms, and the job's wall time."""
    registry = JobRegistry(max_running=1)
    data = playground.make_dataset("spiral", 0.0, 0.5, 0)
    started = time.perf_counter()
    job = registry.submit(playground.task(_config(**PLAYGROUND_TASK, epochs=epochs, speed=speed), data), "bench")
    samples = []
    while not job.wait(0.05):
        rate = pacing.epochs_per_second(job.view().history)
        if rate:
            samples.append(rate)
    registry.shutdown()
    return {
        "median_shown_epochs_per_s": round(statistics.median(samples)),
        "samples": len(samples),
        "wall_s": round(time.perf_counter() - started, 2),
        "epochs": job.view().epoch,
    }


def time_to_threshold(speed: str) -> dict:
    registry = JobRegistry(max_running=1)
    data = playground.make_dataset("spiral", 0.0, 0.5, 0)
    started = time.perf_counter()
    job = registry.submit(playground.task(_config(speed=speed, epochs=3000), data), "bench")
    reached = None
    while reached is None and job.status.active:
        history = job.view().history
        reached = next((row for row in history if row["test_loss"] < TEST_LOSS_THRESHOLD), None)
        if reached is None:
            time.sleep(0.01)
    wall = time.perf_counter() - started
    registry.shutdown()
    return {"reached_at_epoch": reached["epoch"] if reached else None, "wall_s_from_train": round(wall, 2)}


def browser_responsiveness(browser) -> dict:
    port = free_port()
    process = start_app(port)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 3000})
        query = "&".join(
            f"{k}={v}"
            for k, v in {
                "layers": "4,2",
                "activation": "tanh",
                "learning_rate": "0.03",
                "epochs": "5000",
                "speed": "steady",
            }.items()
        )
        page.goto(f"http://127.0.0.1:{port}/perceptron?{query}")
        page.get_by_role("button", name="Train").click()
        page.get_by_text("Epochs per second").first.wait_for(timeout=60_000)
        time.sleep(1)
        redraws = redraw_rate(page, "[data-testid=stMetricValue]", 4)
        shown = page.locator("[data-testid=stMetric]").filter(has_text="Epochs per second").first
        shown_rate = shown.locator("[data-testid=stMetricValue]").text_content()
        clicked = time.perf_counter()
        page.get_by_role("button", name="Pause").click()
        page.get_by_text("Paused at epoch").first.wait_for(timeout=30_000)
        pause_latency = time.perf_counter() - clicked
        page.close()
        return {
            "ui_redraws_per_s_steady": round(redraws, 2),
            "epochs_per_s_shown_in_browser_steady": shown_rate,
            "pause_click_to_paused_shown_s": round(pause_latency, 2),
        }
    finally:
        process.terminate()
        process.wait(30)


def run(browser=None) -> dict:
    results = {
        "task": "TensorFlow Playground default: spiral, x1 x2, hidden [4, 2], tanh, batch 10, lr 0.03, 250 training "
        "points",
        "bare_loop_epochs_per_s": round(bare_loop_rate()),
        "full_speed": shown_rate("full speed", 5000),
        "steady": shown_rate("steady", 1000),
        "tensorflow_playground_epochs_per_s_at_best": 60,
        f"time_to_test_loss_below_{TEST_LOSS_THRESHOLD}": {
            "network": "page defaults: hidden [16, 16, 16], relu, lr 0.1, batch 10, x1 x2",
            "full_speed": time_to_threshold("full speed"),
            "steady": time_to_threshold("steady"),
        },
    }
    if browser is not None:
        results["browser"] = browser_responsiveness(browser)
    return results
