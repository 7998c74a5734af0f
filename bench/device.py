"""The job engine on whatever device JAX finds (`python -m bench.device`), with no Streamlit or browser: run on a
GPU machine, it checks that JAX sees the GPU, that runs train on it both in the server's threads and in a worker
process (as `make run` trains them), and how fast runs small and large go there (the engine room's, the CNN's, the
residual networks', the 2-D GAN's); the same script on the CPU gives the numbers to set beside them. JSON to stdout
and to bench/results/device-gpu.json or device-cpu.json (or the folder given as its argument)."""

from __future__ import annotations

import importlib.metadata
import json
import pathlib
import platform
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import cnn as cnn_bench  # noqa: E402
from bench import gan as gan_bench  # noqa: E402
from bench import vision_applications as vision_applications_bench  # noqa: E402
from core.engine.backend import jax_device  # noqa: E402
from core.engine.jobs import JobRegistry  # noqa: E402
from core.engine.params import config_from_query  # noqa: E402
from core.engine.workers import WorkerPool  # noqa: E402
from core.lessons.engine_room import engine_check  # noqa: E402
from core.shared import imagedata  # noqa: E402

ENGINE_ROOM = {"epochs": "300", "batch_size": "8"}
"""The engine room's run in its smallest batches (the classroom bench's), long enough for a steady speed."""


def devices() -> dict:
    import jax

    return {
        "jax_device": jax_device(),
        "devices": [str(device) for device in jax.devices()],
        "versions": {name: importlib.metadata.version(name) for name in ("jax", "jaxlib", "keras", "numpy")},
        "python": platform.python_version(),
    }


def engine_room_run(in_worker: bool) -> dict:
    """The engine room's run through a registry, as a page submits it: its epochs/s after the first (compiling)
    epoch, and the device its registry says it trains on."""
    config = config_from_query(engine_check.CONTROLS, ENGINE_ROOM)[0]
    registry = JobRegistry(max_running=1, workers=WorkerPool(1) if in_worker else None)
    try:
        started = time.perf_counter()
        job = registry.submit(engine_check.task(config), "bench")
        job.wait()
        view = job.view()
        history = view.history
        span = history[-1]["time_s"] - history[0]["time_s"]
        return {
            "where": "worker process" if in_worker else "server thread",
            "status": view.status.name,
            "training_device": registry.training_device,
            "seconds_train_to_end": round(time.perf_counter() - started, 2),
            "epochs_per_s_after_the_first": round((len(history) - 1) / span, 1),
            "final_val_accuracy": round(history[-1]["val_accuracy"], 4),
        }
    finally:
        registry.shutdown()


def run() -> dict:
    started = time.perf_counter()
    results = {"devices": devices()}
    parts = {
        "engine_room_in_a_thread": lambda: engine_room_run(False),
        "engine_room_in_a_worker": lambda: engine_room_run(True),
        "cnn_digits": lambda: cnn_bench.training_speed(imagedata.DIGITS)[0],
        "residual_networks": vision_applications_bench.residual_run,
        "gan_2d": gan_bench.steps_per_second_2d,
    }
    seconds = {}
    for name, part in parts.items():
        part_started = time.perf_counter()
        results[name] = part()
        seconds[name] = round(time.perf_counter() - part_started, 1)
        print(f"{name}: {seconds[name]} s", file=sys.stderr, flush=True)
    results["seconds"] = seconds | {"total": round(time.perf_counter() - started, 1)}
    return results


if __name__ == "__main__":
    measured = run()
    text = json.dumps(measured, indent=2)
    print(text)
    kind = "cpu" if measured["devices"]["jax_device"] == "CPU" else "gpu"
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"device-{kind}.json").write_text(text + "\n")
