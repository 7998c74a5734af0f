"""Runs trained in worker processes behave as runs in threads: the same controls, endings and messages."""

import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import time

import psutil
import pytest

from core.engine import workers
from core.engine.backend import jax_device
from core.engine.jobs import JobRegistry, JobStatus, TrainingTask, WorkerControl
from core.engine.workers import (
    KERAS_EXTRAS_LEFT_OUT,
    PROJECT_ROOT,
    WORKER_NICENESS,
    WorkerContext,
    WorkerPool,
    worker_environment,
    worker_pool_from_env,
)
from core.lessons.engine_room import engine_check
from tests import test_jobs
from tests.helpers import (
    check_pause_holds_and_resume_finishes,
    check_step_trains_exactly_one_more_epoch,
    counting_task,
    importing_task,
    maps_library,
    reporting_task,
    wait_until,
)


@pytest.fixture(scope="module")
def pool():
    pool = WorkerPool(2)
    yield pool
    pool.close()


@pytest.fixture
def registry(pool):
    registry = JobRegistry(max_running=2, abandon_after_s=60, workers=pool)
    yield registry
    registry.workers = None  # the module's pool outlives each test's registry
    registry.shutdown()


def test_a_run_in_a_worker_publishes_every_epoch_and_returns_its_result(registry):
    test_jobs.test_job_runs_to_the_end_and_publishes_every_epoch(registry)


def test_it_trains_in_another_process_and_a_task_without_a_recipe_stays_in_a_thread(registry, pool):
    job = registry.submit(reporting_task(epochs=5), "s1")
    assert job.wait(60)
    worker_pid = job.view().history[-1]["pid"]
    assert worker_pid != os.getpid() and worker_pid in pool.processes
    assert not registry.trains_here  # so the server does not import Keras ahead of a first run
    assert psutil.Process(int(worker_pid)).nice() == WORKER_NICENESS  # the pages answer first

    seen = []
    job = registry.submit(TrainingTask("test", {"closure": 1}, lambda ctx: seen.append(os.getpid()), epochs=1), "s1")
    assert job.wait(10)
    assert seen == [os.getpid()]


def test_a_worker_imports_keras_without_its_unused_extras_and_a_run_may_still_import_them():
    """A fresh worker (its memory: 180 MB less) has Keras without pandas, matplotlib, requests, h5py or
    scikit-learn; a lesson whose train function imports one gets it."""
    pool = WorkerPool(1)
    registry = JobRegistry(max_running=1, abandon_after_s=60, workers=pool)
    try:
        job = registry.submit(importing_task(("keras", *KERAS_EXTRAS_LEFT_OUT)), "s1")
        assert job.wait(120) and job.status == JobStatus.FINISHED, job.view().message
        assert job.result == (["keras"], ["keras", *KERAS_EXTRAS_LEFT_OUT])
    finally:
        registry.shutdown()
        pool.close()


def test_a_worker_trains_the_engine_rooms_moons_without_loading_scikit_learn():
    """The moons are made without scikit-learn and Keras is imported without it: a worker that trained the engine
    room has not loaded it (48 MB of its memory)."""
    pool = WorkerPool(1)
    registry = JobRegistry(max_running=1, abandon_after_s=60, workers=pool)
    try:
        config = {control.key: control.default for control in engine_check.CONTROLS} | {"epochs": 3}
        job = registry.submit(engine_check.task(config), "s1")
        assert job.wait(120) and job.status == JobStatus.FINISHED, job.view().message
        (worker,) = pool.processes
        assert maps_library(worker, "jaxlib")  # the worker trained with JAX
        assert not maps_library(worker, "sklearn")
    finally:
        registry.shutdown()
        pool.close()


SERVER_WITH_A_WORKER = """
import sys
from core.engine.jobs import JobRegistry
from core.engine.workers import WorkerPool
from tests.helpers import reporting_task

pool = WorkerPool(1)
registry = JobRegistry(max_running=1, workers=pool)
job = registry.submit(reporting_task(epochs=3), "s1")
assert job.wait(120), job.view().message
print(registry.training_device)
registry.shutdown()
print(sorted({"keras", "jax"} & set(sys.modules)))
"""


def test_a_server_whose_runs_train_in_workers_never_imports_keras_for_them():
    """Keras and JAX stay out of the server's memory (about 150 MB) when its runs train elsewhere, even to say
    which device they train on: the worker says."""
    finished = subprocess.run(
        [sys.executable, "-c", SERVER_WITH_A_WORKER], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert finished.stdout.strip().splitlines()[-2:] == [jax_device(), "[]"]


def test_a_fresh_pool_learns_its_device_from_an_idle_worker():
    """Before any run: the sidebar of a server that has just started shows the device once its first worker is
    ready, and nothing made up before."""
    pool = WorkerPool(1)
    try:
        assert pool.device in (None, jax_device())
        assert wait_until(lambda: pool.device == jax_device(), timeout=120)
    finally:
        pool.close()


def test_pause_holds_the_worker_and_resume_finishes_it(registry):
    check_pause_holds_and_resume_finishes(registry, settle_s=0.3)  # the controls reach the worker, its reports land


def test_step_trains_exactly_one_more_epoch_in_the_worker(registry):
    check_step_trains_exactly_one_more_epoch(registry, settle_s=0.3)


def test_stop_ends_the_run_in_the_worker_with_its_message(registry):
    test_jobs.test_stop_cancels_mid_run(registry)


def test_a_run_in_a_worker_nobody_watches_is_cancelled_running_or_paused(pool):
    registry = JobRegistry(max_running=2, abandon_after_s=0.5, workers=pool)
    running = registry.submit(counting_task("running", epochs=10_000, batch_s=0.002), "s1")
    paused = registry.submit(counting_task("paused", epochs=10_000, batch_s=0.002), "s2")
    paused.pause()
    for job in (running, paused):
        assert job.wait(20)
        assert job.status == JobStatus.CANCELLED and "nobody watched" in job.view().message


def test_a_non_finite_loss_in_a_worker_stops_it_with_advice(registry):
    test_jobs.test_a_non_finite_loss_stops_the_job_with_advice(registry)


def test_an_error_in_a_worker_fails_the_job_with_the_same_message_as_in_a_thread(registry):
    test_jobs.test_an_error_in_a_lesson_fails_the_job_with_a_message(registry)


def test_live_hyperparameters_reach_the_worker(registry):
    job = registry.submit(reporting_task(epochs=10_000), "s1")
    assert wait_until(lambda: job.view().epoch >= 1)
    job.set_hyperparams(learning_rate=0.01)
    assert wait_until(lambda: job.view().history[-1]["learning_rate"] == 0.01)
    rates = [row["learning_rate"] for row in job.view().history]
    assert rates[0] == 0.1 and set(rates) == {0.1, 0.01}
    assert rates == sorted(rates, reverse=True)  # the new rate, once there, stays
    job.stop()
    assert job.wait(10)


def test_a_killed_worker_fails_its_run_with_a_message_and_the_next_run_gets_a_new_one(registry, pool):
    job = registry.submit(reporting_task(epochs=100_000), "s1")
    assert wait_until(lambda: job.view().epoch >= 1)
    os.kill(int(job.view().history[-1]["pid"]), signal.SIGKILL)
    assert job.wait(10)
    assert job.status == JobStatus.FAILED
    assert "the training process ended unexpectedly" in job.view().message
    again = registry.submit(counting_task("after", epochs=3), "s1")
    assert again.wait(60) and again.status == JobStatus.FINISHED


def test_after_a_busy_spell_the_pool_keeps_one_worker_warm_and_closes_the_others():
    pool = WorkerPool(2, idle_keep_s=1.0)
    registry = JobRegistry(max_running=2, abandon_after_s=60, workers=pool)
    try:
        jobs = [registry.submit(reporting_task(epochs=epochs), "s1") for epochs in (300, 301)]
        assert all(job.wait(60) for job in jobs)
        used = {int(job.view().history[-1]["pid"]) for job in jobs}
        assert len(used) == 2 and set(pool.processes) <= used  # two runs at once: two workers (one may be gone)
        assert wait_until(lambda: len(pool.processes) == 1, timeout=10)
        (kept,) = pool.processes
        (closed,) = used - {kept}
        assert wait_until(lambda: not psutil.pid_exists(closed), timeout=10)  # told to quit, it has ended
        time.sleep(2.5)  # ten sweeps later, the last one stays warm
        assert pool.processes == [kept]
        again = registry.submit(reporting_task(epochs=3), "s1")
        assert again.wait(60) and again.view().history[-1]["pid"] == kept
    finally:
        registry.shutdown()
        pool.close()


def test_the_engine_rooms_keras_run_trains_pauses_and_steps_in_a_worker(registry):
    config = {control.key: control.default for control in engine_check.CONTROLS} | {"epochs": 2000}
    job = registry.submit(engine_check.task(config), "s1")
    assert wait_until(lambda: job.view().epoch >= 5, timeout=60)
    job.pause()
    assert wait_until(lambda: job.view().held, timeout=30)
    held = job.view()
    assert held.status == JobStatus.PAUSED and held.snapshot.epoch == held.epoch  # the picture the counter says
    job.step()
    assert wait_until(lambda: job.view().epoch == held.epoch + 1 and job.view().held)
    row = job.view().history[-1]
    assert {"loss", "val_loss", "accuracy", "val_accuracy"} <= set(row)
    assert job.view().snapshot.probabilities.shape == (len(held.snapshot.axis), len(held.snapshot.axis))
    job.stop()
    assert job.wait(10)


def test_workers_are_chosen_by_the_environment_and_compute_on_one_thread(monkeypatch):
    monkeypatch.delenv("EDL_TRAIN_IN_PROCESSES", raising=False)
    assert worker_pool_from_env(2) is None
    monkeypatch.setenv("EDL_TRAIN_IN_PROCESSES", "0")
    assert worker_pool_from_env(2) is None
    environment = worker_environment({"XLA_FLAGS": "--xla_dump_to=/tmp/x", "PATH": "/bin"})
    assert environment["PATH"] == "/bin" and environment["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert environment["XLA_FLAGS"].split() == [
        "--xla_dump_to=/tmp/x",
        "--xla_cpu_multi_thread_eigen=false",
        "intra_op_parallelism_threads=1",
    ]


def test_a_worker_over_the_memory_budget_after_a_run_drops_compiled_code(monkeypatch):
    from core.engine import workers

    dropped = []
    monkeypatch.setattr(workers, "drop_compiled_code", lambda: dropped.append(True))
    monkeypatch.setenv("EDL_MEMORY_BUDGET_MB", "900")
    monkeypatch.setattr(workers, "resident_mb", lambda: 850.0)
    workers.keep_within_budget()
    assert dropped == []
    monkeypatch.setattr(workers, "resident_mb", lambda: 1200.0)
    workers.keep_within_budget()
    assert dropped == [True]
    monkeypatch.setenv("EDL_MEMORY_BUDGET_MB", "0")  # no budget: nothing dropped
    workers.keep_within_budget()
    assert dropped == [True]


def defaults(box):
    return {control.key: control.default for control in box.controls}


def every_lesson_task():
    """Each task factory a page calls, with its page's default settings."""
    from core.lessons.attention import attention, selfattention
    from core.lessons.cnn_filters import cnn
    from core.lessons.gan import gan2d, imagegan
    from core.lessons.initialisation import initialisation
    from core.lessons.lstm_gates import lstm
    from core.lessons.optimisation import augmentation, batchnorm, network, regularisation, search
    from core.lessons.perceptron import playground
    from core.lessons.reinforcement import dqn, tabular
    from core.lessons.sequence_models import generation, translation, trigger
    from core.lessons.vanishing_gradients import vanishing
    from core.lessons.vision_applications import grid_detector, residual, style, transfer, triplet
    from core.lessons.word2vec import emojify, sentiment, word2vec

    points = defaults(playground.BOX)
    return [
        engine_check.task(defaults(engine_check.BOX)),
        attention.dates_task(defaults(attention.DATE_BOX)),
        attention.compare_task(defaults(attention.COMPARE_BOX)),
        selfattention.transformer_task(defaults(selfattention.TRANSFORMER_BOX)),
        cnn.train_task(defaults(cnn.TRAIN_BOX)),
        gan2d.train_task(defaults(gan2d.BOX), None),
        imagegan.train_task(defaults(imagegan.BOX)),
        initialisation.course_task(defaults(initialisation.COURSE_BOX)),
        initialisation.deep_task(defaults(initialisation.DEEP_BOX)),
        lstm.train_task(defaults(lstm.TRAIN_BOX)),
        lstm.compare_task(defaults(lstm.COMPARE_BOX)),
        network.race_task(defaults(network.BOX)),
        regularisation.remedies_task(defaults(regularisation.BOX)),
        augmentation.augmentation_task(defaults(augmentation.BOX)),
        batchnorm.batchnorm_task(defaults(batchnorm.BOX)),
        search.search_task(defaults(search.BOX)),
        playground.task(
            points,
            playground.make_dataset(points["data"], points["noise"], points["train_share"], points["data_seed"]),
        ),
        tabular.tabular_task(defaults(tabular.BOX)),
        dqn.dqn_task(defaults(dqn.BOX)),
        vanishing.depth_task(defaults(vanishing.DEPTH_BOX)),
        residual.task(defaults(residual.BOX)),
        transfer.task(defaults(transfer.BOX)),
        transfer.sweep_task(defaults(transfer.SWEEP_BOX)),
        grid_detector.task(defaults(grid_detector.BOX)),
        triplet.task(defaults(triplet.BOX)),
        style.task(defaults(style.BOX)),
        vanishing.time_task(defaults(vanishing.TIME_BOX)),
        word2vec.word2vec_task(defaults(word2vec.BOX)),
        sentiment.sentiment_task(defaults(sentiment.BOX)),
        emojify.emojify_task(defaults(emojify.BOX)),
        translation.task(defaults(translation.BOX)),
        generation.task(defaults(generation.BOX)),
        trigger.task(defaults(trigger.BOX)),
    ]


def test_every_lessons_task_travels_to_a_worker_as_the_same_run():
    """A worker makes the task again from its recipe, after a trip through pickle: the same run (key), the same
    length and live values. A page's task that cannot would train in a thread instead, silently."""
    for task in every_lesson_task():
        assert task.recipe is not None, task.run
        again = pickle.loads(pickle.dumps(task.recipe)).task()
        assert (again.key, again.run, again.epochs, dict(again.live)) == (
            task.key,
            task.run,
            task.epochs,
            dict(task.live),
        ), task.run


def test_a_worker_trims_its_heap_once_a_run_has_compiled(monkeypatch):
    """XLA's compiling in a run's first epoch leaves about 50 MB of freed heap in each worker: handed back after
    the first epoch's row (a worker training the engine room: 416 → 366 MB), once per run."""
    trims = []
    monkeypatch.setattr(workers, "trim_heap", lambda: trims.append(len(sent)))
    server_end, worker_end = multiprocessing.Pipe()
    sent = []
    control = WorkerControl(False, False, None, 0, {})
    ctx = WorkerContext(worker_end, epochs=3, control=control)
    for epoch in range(3):
        ctx.publish({"epoch": epoch + 1, "loss": 0.5})
        sent.append(epoch)
    assert trims == [0]  # before the first row went out
    ctx.flush()
    assert [row["epoch"] for _, row, _ in server_end.recv()[1]] == [1.0, 2.0, 3.0]
