"""The engine with real Keras models on JAX: the callback, live hyperparameters, divergence, and
survival of concurrent jobs while Streamlit-style `clear_session` calls keep coming."""

import concurrent.futures
import threading
import time

import numpy as np
import pytest

from core.engine import backend
from core.engine.jobs import JobRegistry, JobStatus, TrainingTask
from core.engine.params import config_from_query
from core.lessons.engine_room import engine_check
from core.shared import points
from tests.helpers import wait_until

keras = backend.load_keras()


@pytest.fixture
def registry():
    registry = JobRegistry(max_running=4, abandon_after_s=120)
    yield registry
    registry.shutdown()


def default_config(**overrides):
    config, problems = config_from_query(engine_check.CONTROLS, {k: str(v) for k, v in overrides.items()})
    assert problems == []
    return config


def test_the_check_run_learns_the_moons(registry):
    job = registry.submit(engine_check.task(default_config()), "s1")
    assert job.wait(120)
    view = job.view()
    assert view.status == JobStatus.FINISHED, view.message
    assert len(view.history) == 200
    assert {"loss", "val_loss", "accuracy", "val_accuracy"} <= set(view.history[-1])
    assert view.history[-1]["loss"] < view.history[0]["loss"] / 3
    assert job.result["test_accuracy"] >= 0.95
    surface = view.snapshot.probabilities
    assert surface.shape == (points.GRID_SIZE, points.GRID_SIZE)
    assert surface.min() < 0.05 and surface.max() > 0.95  # both classes are predicted somewhere


def weights_task(epochs=400):
    """A tiny regression whose snapshot is the kernel, taken after every epoch."""

    def train(ctx):
        keras.utils.set_random_seed(1)
        x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
        y = x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32")
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=ctx.hyperparams()[1]["learning_rate"]), loss="mse")
        snapshot = lambda model, epoch: (float(model.optimizer.learning_rate), model.layers[0].kernel.numpy().copy())
        model.fit(
            x,
            y,
            epochs=ctx.epochs,
            batch_size=16,
            verbose=0,
            callbacks=[ctx.keras_callback(snapshot=snapshot, snapshot_every_s=0)],
        )

    return TrainingTask("test", {"weights": epochs}, train, epochs=epochs, live={"learning_rate": 0.01})


def step_and_wait(job):
    """One more epoch, then paused again. Counted from where the pause holds: a run paused mid-epoch finishes that
    epoch first, and a step counted from before would end one epoch later than awaited (seen once in a Ray actor,
    whose view the server fetches at most ten times a second)."""
    assert wait_until(lambda: job.view().held, timeout=30)
    epoch = job.view().epoch
    job.step()
    assert wait_until(lambda: job.view().epoch == epoch + 1 and job.view().held, timeout=30)
    return job.view().snapshot


def test_a_new_learning_rate_applies_mid_run_without_a_reset(registry):
    job = registry.submit(weights_task(), "s1")
    assert wait_until(lambda: job.view().epoch >= 3, timeout=60)
    job.pause()
    moving = step_and_wait(job)[1]
    assert not np.array_equal(step_and_wait(job)[1], moving)  # learning rate 0.01: the weights move
    job.set_hyperparams(learning_rate=0.0)
    # The change reaches the optimizer at the next batch start; a step that only finishes the epoch
    # under way may have none left, so the rate shows in the snapshot at most two steps later.
    snapshots = [step_and_wait(job), step_and_wait(job)]
    assert snapshots[-1][0] == 0.0
    frozen = snapshots[-1][1]
    assert np.array_equal(step_and_wait(job)[1], frozen)  # learning rate 0: the weights stand still
    job.stop()
    assert job.wait(30) and job.status == JobStatus.CANCELLED


def test_a_diverging_keras_model_stops_with_advice(registry):
    def train(ctx):
        keras.utils.set_random_seed(0)
        x = np.linspace(-3, 3, 256, dtype="float32").reshape(-1, 1)
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=50.0), loss="mse")
        model.fit(x, 3 * x, epochs=ctx.epochs, batch_size=32, verbose=0, callbacks=[ctx.keras_callback()])

    job = registry.submit(TrainingTask("test", {"diverge": 1}, train, epochs=500), "s1")
    assert job.wait(60)
    assert job.status == JobStatus.FAILED
    assert "loss blew up" in job.view().message and "smaller learning rate" in job.view().message
    assert job.view().epoch < 500


def test_stopping_a_keras_run_returns_threads_to_baseline(registry):
    baseline = threading.active_count()
    job = registry.submit(engine_check.task(default_config(epochs=1000)), "s1")
    assert wait_until(lambda: job.view().epoch >= 2, timeout=60)
    job.stop()
    assert job.wait(30)
    assert job.status == JobStatus.CANCELLED and job.view().epoch < 1000
    assert wait_until(lambda: threading.active_count() == baseline, timeout=10)


def test_a_live_keras_run_hands_no_batch_end_to_another_thread(registry, monkeypatch):
    """Keras sends each batch's end to a thread pool when no callback has batch-end hooks; the live callback has
    them (empty), so a run's batches and validation never pass the interpreter lock to such a thread."""
    submitted = []
    submit = concurrent.futures.ThreadPoolExecutor.submit

    def recording(pool, fn, *args, **kwargs):
        submitted.append(getattr(fn, "__name__", repr(fn)))
        return submit(pool, fn, *args, **kwargs)

    def train(ctx):
        data = engine_check.moons_data(0.2, 0)
        model = engine_check.build_model(default_config())
        callback = ctx.keras_callback(lambda model, epoch: epoch, 0)
        model.fit(
            data.x_train,
            data.y_train,
            validation_data=(data.x_test, data.y_test),
            epochs=ctx.epochs,
            batch_size=8,
            verbose=0,
            callbacks=[callback],
        )

    monkeypatch.setattr(concurrent.futures.ThreadPoolExecutor, "submit", recording)
    job = registry.submit(TrainingTask("test", {"batch ends": 1}, train, epochs=5), "s1")
    assert job.wait(120) and job.status == JobStatus.FINISHED, job.view().message
    assert len(job.view().history) == 5 and "val_loss" in job.view().history[-1]
    assert not [name for name in submitted if "batch_end" in name]
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    plain.compile(loss="mse")
    plain.fit(np.zeros((16, 2)), np.zeros(16), batch_size=8, epochs=1, verbose=0)
    assert "_on_train_batch_end" in submitted  # a fit without the live callback does


def train_four_while_clearing(registry, clear_session, until):
    """Four jobs build, compile and train while `clear_session` is called as fast as possible from
    another thread, as Streamlit does after every script run of every session, until `until(jobs)`."""
    stop = threading.Event()
    calls = []

    def rapid_reruns():
        while not stop.is_set():
            clear_session()
            calls.append(1)

    hammer = threading.Thread(target=rapid_reruns)
    hammer.start()
    try:
        jobs = [
            registry.submit(engine_check.task(default_config(seed=seed, epochs=15, layers=1 + seed % 3)), f"s{seed}")
            for seed in range(4)
        ]
        assert wait_until(lambda: until(jobs), timeout=180), [job.view().message for job in jobs]
    finally:
        stop.set()
        hammer.join()
    return jobs, len(calls)


def test_concurrent_jobs_survive_clear_session_after_every_rerun(registry):
    assert keras.backend.clear_session is backend._guarded_clear_session
    skipped = backend.skipped_clear_sessions()
    jobs, calls = train_four_while_clearing(
        registry, lambda: keras.backend.clear_session(), until=lambda jobs: not any(job.status.active for job in jobs)
    )
    assert calls > 100
    assert [job.status for job in jobs] == [JobStatus.FINISHED] * 4, [job.view().message for job in jobs]
    assert backend.skipped_clear_sessions() - skipped > 100


def test_without_the_guard_the_same_calls_break_jobs(registry):
    """The control: Keras' own clear_session, called the same way, makes a job fail. The hammering
    stops at the first failure: the jobs left may fail too, or crawl (one ran past 180 s in CI), and
    the fixture stops them."""
    jobs, _ = train_four_while_clearing(
        registry,
        backend._original_clear_session,
        until=lambda jobs: any(job.status == JobStatus.FAILED for job in jobs),
    )
    assert JobStatus.FAILED in [job.status for job in jobs]


def test_keras_work_waits_for_a_clear_session_already_under_way(monkeypatch):
    """The guard's check and its clear are one step: a job that starts while a clear runs waits for it to
    end. (CI once saw a job start between them: its model's layers were both named 'dense'.)"""
    clearing, release = threading.Event(), threading.Event()
    order = []

    def slow_clear(free_memory=False):
        clearing.set()
        release.wait(timeout=10)
        order.append("cleared")

    def job():
        with backend.keras_in_use():
            order.append("job started")

    monkeypatch.setattr(backend, "_original_clear_session", slow_clear)
    clearer = threading.Thread(target=keras.backend.clear_session)
    clearer.start()
    assert clearing.wait(timeout=10)
    worker = threading.Thread(target=job)
    worker.start()
    time.sleep(0.2)
    release.set()
    clearer.join(timeout=10)
    worker.join(timeout=10)
    assert order == ["cleared", "job started"]


def test_clear_session_still_clears_when_no_keras_work_is_in_flight():
    keras.layers.Dense(1)
    keras.backend.clear_session()
    assert keras.layers.Dense(1).name == "dense"


def test_streamlits_clear_session_after_each_rerun_collects_no_garbage(monkeypatch):
    """Streamlit calls clear_session after every script run: with Keras' full `gc.collect()` in it, a class of
    30 polling a server with nothing training spent most of its time collecting. Asked for, it still collects."""
    import gc

    collections = []
    monkeypatch.setattr(gc, "collect", lambda *args: collections.append(args) or 0)
    keras.backend.clear_session()  # what Streamlit's runner calls
    assert collections == []
    keras.backend.clear_session(free_memory=True)
    assert len(collections) == 1


def test_a_paused_run_shows_the_model_it_holds(registry):
    """Pause lands at the next batch, often mid-epoch; the snapshot must then be of that model,
    not the last throttled one (the picture and the counter a paused student sees agree)."""
    job = registry.submit(engine_check.task(default_config(epochs=1000, seed=3)), "s1")
    assert wait_until(lambda: job.view().epoch >= 5, timeout=60)
    for delay in (0.05, 0.11, 0.17, 0.23, 0.29, 0.07, 0.13, 0.19):
        time.sleep(delay)
        job.pause()
        assert wait_until(lambda: job.view().snapshot.epoch == job.view().epoch, timeout=5)
        time.sleep(0.3)
        view = job.view()
        assert view.snapshot.epoch == view.epoch and view.status == JobStatus.PAUSED
        job.resume()
    job.stop()
    assert job.wait(30)
