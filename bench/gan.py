"""Benchmarks of the GAN lesson (part of `make bench`; `python -m bench.run gan`).

- 2D GAN at the page's defaults: discriminator and generator steps per second of the jitted loop,
  and, trained as the page trains it (a job at full speed), the iteration and the seconds from
  pressing Train until the ring of 8 Gaussians is covered (≥ 7 modes with most samples near one),
  for three seeds; then the mode-collapse preset's best coverage over as many iterations.
- Image GAN at the page's defaults, for each image set: iterations (one discriminator and one
  generator step on batches of 64) per second, and seconds per epoch.
"""

from __future__ import annotations

import time

from core.engine.jobs import JobRegistry
from core.engine.params import config_from_query
from core.lessons.gan import gan, gan2d, imagegan
from core.shared import imagedata

COVERAGE_TARGET = 7
TARGET_ITERATIONS = 6000


def _config(controls, overrides=None) -> dict:
    config, problems = config_from_query(controls, {})
    assert not problems
    return {**config, **(overrides or {})}


def steps_per_second_2d() -> dict:
    config = _config(gan2d.CONTROLS)
    duel = gan2d.Duel(config, gan2d.make_target(config["target"]))
    live = {"lr_d": config["lr_d"], "lr_g": config["lr_g"], "mode": gan.BOTH}
    duel.run(gan2d.MAX_CHUNK, live)  # compiles
    started = time.perf_counter()
    for _ in range(4):
        duel.run(gan2d.MAX_CHUNK, live)
    rate = 4 * gan2d.MAX_CHUNK / (time.perf_counter() - started)
    return {
        "iterations_per_s": round(rate),
        "discriminator_steps_per_s": round(rate * config["d_steps"]),
        "generator_steps_per_s": round(rate),
    }


def time_to_coverage(seed: int, preset: str = "defaults") -> dict:
    config = _config(
        gan2d.CONTROLS, {**gan2d.PRESETS[preset], "seed": seed, "speed": "full speed", "iterations": TARGET_ITERATIONS}
    )
    started = time.perf_counter()
    job = JobRegistry(max_running=1).submit(gan2d.train_task(config), "bench")
    reached, best, seen = None, 0, None
    while job.status.active:
        shot = job.view().snapshot
        if shot is not None and shot.iteration != seen:
            seen, coverage = shot.iteration, shot.coverage
            if coverage.near_share > 0.5:
                best = max(best, coverage.covered)
            if reached is None and coverage.covered >= COVERAGE_TARGET and coverage.near_share > 0.5:
                reached = {
                    "iteration": shot.iteration,
                    "seconds_from_train": round(time.perf_counter() - started, 2),
                }
                if preset == "defaults":
                    job.stop("Target reached.")
        time.sleep(0.01)
    return {"seed": seed, "reached": reached, "best_covered_with_most_samples_near": best}


def image_speed(images: str) -> dict:
    config = _config(imagegan.CONTROLS, {"images": images})
    duel = imagegan.ImageDuel(config)
    live = {"lr_d": config["lr_d"], "lr_g": config["lr_g"]}
    duel.run(1, live)  # compiles
    epochs = max(1, 200 // duel.per_epoch)
    started = time.perf_counter()
    duel.run(epochs, live)
    seconds = time.perf_counter() - started
    return {
        "iterations_per_s": round(epochs * duel.per_epoch / seconds, 1),
        "seconds_per_epoch": round(seconds / epochs, 3),
        "iterations_per_epoch": duel.per_epoch,
    }


def run(browser=None) -> dict:
    return {
        "gan": {
            "2d_speed": steps_per_second_2d(),
            "2d_time_to_coverage": [time_to_coverage(seed) for seed in (0, 1, 2)],
            "2d_mode_collapse_preset": [time_to_coverage(seed, "provoke mode collapse") for seed in (0, 1)],
            "image_speed": {images: image_speed(images) for images in imagedata.GAN_IMAGE_SETS},
        }
    }
