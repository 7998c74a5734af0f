"""Benchmarks of the CNN lesson (part of `make bench`; `python -m bench.run cnn`).

With the page's default network (2 blocks, 32 then 64 filters of 3×3, max pooling, dropout 0.25,
Adam 0.003, batch 32) trained as the page trains it (a job at full speed, snapshots every 0.3 s):
the time from pressing Train to the issue's targets, 0.97 test accuracy on scikit-learn's digits and
0.95 on the MNIST sample, counting the data, the model's compilation and the epochs; the training
images per second, against plain `model.fit` without the live callbacks; the cost of one snapshot,
of building the inspector (every test image classified), of one saliency map and of one upload.
"""

from __future__ import annotations

import io
import statistics
import time

import numpy as np

from core.engine.jobs import JobRegistry
from core.lessons.cnn_filters import cnn
from core.shared import imagedata

TARGETS = {imagedata.DIGITS: (0.97, 20), imagedata.MNIST_SAMPLE: (0.95, 10)}
"""Data set: (test accuracy to reach, epochs to allow)."""


def _config(dataset: str, epochs: int) -> dict:
    return {
        **{c.key: c.default for c in cnn.TRAIN_CONTROLS},
        "dataset": dataset,
        "epochs": epochs,
        "speed": "full speed",
    }


def time_to_target(dataset: str, target: float, epochs: int) -> dict:
    """Train through a job, as the page does, watching for the first epoch at or above `target`."""
    imagedata.load.cache_clear()
    registry = JobRegistry(max_running=1)
    started = time.perf_counter()
    job = registry.submit(cnn.train_task(_config(dataset, epochs)), "bench")
    reached = first_epoch_s = None
    while job.status.active:
        view = job.view()
        if view.history and first_epoch_s is None:
            first_epoch_s = time.perf_counter() - started
        hit = next((row for row in view.history if row["val_accuracy"] >= target), None)
        if hit is not None and reached is None:
            reached = {"epoch": int(hit["epoch"]), "seconds_from_train": round(time.perf_counter() - started, 2)}
        time.sleep(0.02)
    history = job.view().history
    if reached is None:
        hit = next((row for row in history if row["val_accuracy"] >= target), None)
        reached = hit and {"epoch": int(hit["epoch"]), "seconds_from_train": None}
    whole = len(_trained_on(dataset)[0])
    steady = [b["time_s"] - a["time_s"] for a, b in zip(history[1:], history[2:])]
    epoch_s = statistics.median(steady)
    return {
        "target_test_accuracy": target,
        "reached": reached,
        "final_test_accuracy": round(history[-1]["val_accuracy"], 4),
        "train_images": whole,
        "seconds_to_first_epoch": round(first_epoch_s, 2),
        "seconds_per_epoch": round(epoch_s, 3),
        "train_images_per_s_live": round(whole / epoch_s),
        "total_s": round(time.perf_counter() - started, 2),
        "weights": job.result["weights"],
    }


def _trained_on(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """The training images a job uses: whole batches of 32 (the page's default)."""
    data = imagedata.load(dataset, 4000)
    whole = len(data.x_train) - len(data.x_train) % 32
    return data.x_train[:whole], data.y_train[:whole]


def plain_fit_images_per_s(dataset: str, epochs: int = 4) -> float:
    """The same model, data and evaluation through `model.fit` with no callbacks (after one
    compiling epoch)."""
    config = _config(dataset, epochs)
    data = imagedata.load(dataset, 4000)
    x, y = _trained_on(dataset)
    model = cnn.build_model(config, data.image_shape, data.n_classes)
    cnn.compile_model(model, config["learning_rate"])
    settings = {
        "batch_size": 32,
        "validation_data": (data.x_test, data.y_test),
        "verbose": 0,
        "validation_batch_size": cnn.evaluation_batch(len(data.x_test)),
    }
    model.fit(x, y, epochs=1, **settings)
    started = time.perf_counter()
    model.fit(x, y, epochs=epochs, **settings)
    return len(x) * epochs / (time.perf_counter() - started)


def training_speed(dataset: str) -> tuple[dict, list]:
    """A data set's run to its target through a job, beside plain `model.fit` of the same network, and the run's
    trained weights."""
    target, epochs = TARGETS[dataset]
    measured = time_to_target(dataset, target, epochs)
    weights = measured.pop("weights")
    plain = plain_fit_images_per_s(dataset)
    measured["train_images_per_s_plain_fit"] = round(plain)
    measured["live_cost_percent"] = round(100 * (1 - measured["train_images_per_s_live"] / plain), 1)
    return measured, weights


def _median_ms(action, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def run(browser=None) -> dict:
    from PIL import Image

    results = {}
    for dataset, (_, epochs) in TARGETS.items():
        measured, weights = training_speed(dataset)
        config = _config(dataset, epochs)
        started = time.perf_counter()
        inspector = cnn.Inspector(config, weights)
        measured["inspector_build_s"] = round(time.perf_counter() - started, 2)
        image = inspector.data.x_test[0]
        inspector.saliency(image, 0)
        measured["saliency_ms"] = _median_ms(lambda inspector=inspector, image=image: inspector.saliency(image, 1))
        probe = cnn.feature_probe(inspector.model)
        examples = cnn.example_indices(inspector.data.y_test, 10)
        initial = np.asarray(inspector.model.get_layer("conv1").kernel)
        measured["snapshot_ms"] = _median_ms(
            lambda inspector=inspector, probe=probe, examples=examples, initial=initial: cnn.snapshot_of(
                inspector.model, probe, inspector.data, examples, 1, initial
            )
        )
        results[dataset] = measured
    photo = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (3000, 4000, 3), dtype=np.uint8)).save(
        photo, format="JPEG"
    )
    results["upload_4000x3000_jpeg_ms"] = _median_ms(lambda: cnn.prepare_upload(photo.getvalue(), (28, 28, 1)))
    return {"cnn": results}
