"""The job engine on Ray beside the engine in threads (`python -m bench.run ray`), on a local Ray cluster started
here (needs requirements-ray.txt):

- the engine-room run's epochs/s in a thread and in a Ray actor, with nobody watching and with 30 viewers
  polling at 3 Hz (the viewers are threads of one process: one replica's class, which shares one fetch);
- view latency as a page meets it (median, p95) and the latency of the actual fetches;
- bytes per fetch once a run is under way (only what changed) against the whole view, for the engine room and
  the CNN lesson (whose snapshot carries weights and activations);
- Train → first epoch for a run in a new actor (a new process: Ray does not reuse an actor's process), and
  for a second session attaching to a running one;
- resident memory of the Ray head (GCS, raylet, the ledger) and of one run's actor.
"""

from __future__ import annotations

import os
import pickle
import statistics
import threading
import time

import psutil

from core.engine.jobs import JobRegistry
from core.lessons.cnn_filters import cnn
from core.lessons.engine_room import engine_check
from core.shared import imagedata

VIEWERS = 30
POLL_HZ = 3.0
WINDOW_S = 8.0


def _engine_room_task(epochs: int, seed: int):
    config = {c.key: c.default for c in engine_check.CONTROLS}
    return engine_check.task({**config, "epochs": epochs, "seed": seed, "speed": "full speed"})


def _cnn_task(seed: int):
    config = {c.key: c.default for c in cnn.TRAIN_CONTROLS}
    return cnn.train_task(
        {**config, "dataset": imagedata.DIGITS, "epochs": 10_000, "seed": seed, "speed": "full speed"}
    )


def _until_epoch(job, epoch: int, session: str = "teacher") -> float:
    """Seconds until the run has trained `epoch` epochs (heartbeating as its page would)."""
    started = time.perf_counter()
    while job.view().epoch < epoch:
        if not job.view().status.active:
            raise RuntimeError(f"the run ended before epoch {epoch}: {job.view().message}")
        job.heartbeat(session)
        time.sleep(0.02)
    return time.perf_counter() - started


def _epochs_per_s(job, seconds: float) -> float:
    first = job.view().epoch
    started = time.perf_counter()
    time.sleep(seconds)
    return (job.view().epoch - first) / (time.perf_counter() - started)


class Viewers:
    """`count` sessions, each a thread that heartbeats and reads the run's view POLL_HZ times a second."""

    def __init__(self, job, count: int):
        self.job, self.count = job, count
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._poll, args=(f"viewer-{i}",), daemon=True) for i in range(count)]

    def _poll(self, session: str) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            self.job.heartbeat(session)
            self.job.view()
            self.latencies.append(time.perf_counter() - started)
            self._stop.wait(1 / POLL_HZ)

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join()


def speeds(registry, seed: int) -> dict:
    """Epochs/s of one engine-room run alone, then with VIEWERS polling, then alone again (after a few seconds'
    warm-up: its first seconds are slower); "alone" is the mean of the two windows around the watched one."""
    job = registry.submit(_engine_room_task(100_000, seed), "teacher")
    first_epoch_s = _until_epoch(job, 20)
    time.sleep(3.0)
    before = _epochs_per_s(job, WINDOW_S)
    with Viewers(job, VIEWERS) as viewers:
        watched = _epochs_per_s(job, WINDOW_S)
    after = _epochs_per_s(job, WINDOW_S)
    alone = (before + after) / 2
    job.stop()
    job.wait(60)
    return {
        "train_to_20_epochs_s": round(first_epoch_s, 2),
        "epochs_per_s_alone_before_after": [round(before, 1), round(after, 1)],
        "epochs_per_s_alone": round(alone, 1),
        f"epochs_per_s_{VIEWERS}_viewers": round(watched, 1),
        "kept_share": round(watched / alone, 3),
        "view_latency": _milliseconds(viewers.latencies),
    }


def fetch_sizes(registry, task) -> dict:
    """Bytes of a steady fetch (one new row, maybe a snapshot) against the whole view, while `task` trains."""
    from core.engine import raybackend

    job = registry.submit(task, "s1")
    _until_epoch(job, 3, "s1")
    actor = job._actor
    sizes, latencies = [], []
    for _ in range(20):
        held = job.view()
        time.sleep(0.35)  # a page's poll interval
        started = time.perf_counter()
        update = raybackend.ray.get(
            actor.fetch.remote((), len(held.history), held.history[-1]["epoch"], held.snapshot_version)
        )
        latencies.append(time.perf_counter() - started)
        sizes.append(len(pickle.dumps(update)))
    whole = len(pickle.dumps(job.view()))
    job.stop()
    job.wait(60)
    return {
        "bytes_per_fetch_median": int(statistics.median(sizes)),
        "bytes_per_fetch_max": max(sizes),
        "bytes_whole_view": whole,
        "fetch_latency": _milliseconds(latencies),
    }


def _milliseconds(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {
        "n": len(ordered),
        "median_ms": round(1000 * statistics.median(ordered), 3),
        "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 3),
        "max_ms": round(1000 * ordered[-1], 3),
    }


def _rss_mb(pids) -> float:
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return round(total / 2**20)


def _head_pids() -> list[int]:
    names = ("gcs_server", "raylet", "ray::Ledger")
    return [
        p.pid
        for p in psutil.process_iter(["name", "cmdline"])
        if any(n in " ".join(p.info["cmdline"] or []) or n == p.info["name"] for n in names)
    ]


def run(browser=None) -> dict:
    import ray

    from core.engine.raybackend import RayBackend

    os.environ["RAY_worker_niceness"] = "5"  # as the README starts a cluster beside a replica
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, namespace="edl-bench")
    address = "127.0.0.1:" + ray.get_runtime_context().gcs_address.rsplit(":", 1)[1]
    try:
        results = {"viewers": VIEWERS, "poll_hz": POLL_HZ, "window_s": WINDOW_S}
        local = JobRegistry(max_running=2, abandon_after_s=600, memory_budget_mb=0)
        results["thread"] = speeds(local, 1)
        print("thread:", results["thread"], flush=True)
        local.shutdown()
        on_ray = RayBackend(address, namespace="bench", abandon_after_s=600)
        results["ray_actor"] = speeds(on_ray, 1)
        print("ray actor:", results["ray_actor"], flush=True)
        results["ray_kept_share_vs_thread"] = {
            "alone": round(results["ray_actor"]["epochs_per_s_alone"] / results["thread"]["epochs_per_s_alone"], 3),
            "watched": round(
                results["ray_actor"][f"epochs_per_s_{VIEWERS}_viewers"]
                / results["thread"][f"epochs_per_s_{VIEWERS}_viewers"],
                3,
            ),
        }
        results["bytes_engine_room"] = fetch_sizes(on_ray, _engine_room_task(100_000, 2))
        results["bytes_cnn_lesson"] = fetch_sizes(on_ray, _cnn_task(3))

        cold = on_ray.submit(_engine_room_task(100_000, 4), "s1")
        results["train_to_first_epoch_new_actor_s"] = round(_until_epoch(cold, 1, "s1"), 2)
        started = time.perf_counter()
        attached = RayBackend(address, namespace="bench").submit(_engine_room_task(100_000, 4), "s2")
        attached.view()
        results["attach_to_running_actor_first_view_s"] = round(time.perf_counter() - started, 3)
        results["rss_mb_one_run_actor"] = _rss_mb([cold.actor_pid()])
        results["rss_mb_ray_head"] = _rss_mb(_head_pids())
        cold.stop()
        cold.wait(60)
        on_ray.shutdown()
        return results
    finally:
        ray.shutdown()
