"""Benchmarks of the vision-applications lesson (part of `make bench`; `python -m bench.run vision_applications`).

Residual networks: the page's live run (plain and residual side by side, 15 epochs, Adam at 0.002, no batch
normalisation) at full speed at every depth the page offers, then at the default depth with batch normalisation: for
each network the final training loss and held-out accuracy, the epoch and seconds from Train until its held-out
accuracy reached the page's target, and the first block's gradient norm at the start and at the end; for the run,
seconds from Train to the end and to the first epoch's row (building and compiling included), and epochs per second
after the first (both networks trained in turn).
"""

from __future__ import annotations

import time

from core.engine.jobs import JobRegistry
from core.lessons.vision_applications import residual
from core.shared.copies import row_key


def residual_run(**changes) -> dict:
    config = {control.key: control.default for control in residual.CONTROLS} | {"speed": "full speed"} | changes
    started = time.perf_counter()
    job = JobRegistry(max_running=1).submit(residual.task(config), "bench")
    job.wait(1800)
    seconds = time.perf_counter() - started
    view = job.view()
    history, shot = view.history, view.snapshot
    span = history[-1]["time_s"] - history[0]["time_s"]
    networks = {}
    for index, name in enumerate(residual.NETWORKS):
        reached = residual.first_reaching(history, name)
        networks[name] = {
            "final_training_loss": round(history[-1][row_key("loss", name)], 4),
            "final_held_out_accuracy": round(history[-1][row_key("val_accuracy", name)], 4),
            f"epoch_to_{residual.TARGET_ACCURACY:.0%}": int(reached["epoch"]) if reached else None,
            f"seconds_to_{residual.TARGET_ACCURACY:.0%}": round(reached["time_s"], 1) if reached else None,
            "first_block_gradient_norm_at_start": float(f"{shot.profiles[0][1][index, 0]:.4g}"),
            "first_block_gradient_norm_at_end": float(f"{shot.profiles[-1][1][index, 0]:.4g}"),
        }
    return {
        "layers": residual.weight_layers(int(config["blocks"])),
        "batch_norm": bool(config["batch_norm"]),
        "status": view.status.name,
        "seconds_train_to_end": round(seconds, 1),
        "seconds_to_first_epoch": round(history[0]["time_s"], 1),
        "epochs_per_s_after_the_first": round((len(history) - 1) / span, 2) if span > 0 else None,
        **networks,
    }


def run(browser=None) -> dict:
    depth = [residual_run(blocks=blocks) for blocks in (1, 2, 4, 8)]
    return {"residual_networks": {"by_depth": depth, "with_batch_norm": residual_run(batch_norm=True)}}
