"""The live training engine: controls, abandonment, divergence, queueing, sharing, threads."""

import threading
import time

import pytest

from core.engine import jobs as jobs_module
from core.engine.jobs import JobRegistry, JobStatus, TrainingTask
from tests.helpers import (
    check_pause_holds_and_resume_finishes,
    check_step_trains_exactly_one_more_epoch,
    counting_task,
    failing_task,
    wait_until,
)


@pytest.fixture
def registry():
    registry = JobRegistry(max_running=2, abandon_after_s=60)
    yield registry
    registry.shutdown()


def test_job_runs_to_the_end_and_publishes_every_epoch(registry):
    job = registry.submit(counting_task(epochs=6), "s1")
    assert job.wait(60)
    view = job.view()
    assert view.status == JobStatus.FINISHED
    assert [row["epoch"] for row in view.history] == [1, 2, 3, 4, 5, 6]
    assert view.history[-1]["loss"] == pytest.approx(1 / 6)
    assert view.snapshot == {"epoch": 6}
    assert view.progress == 1.0
    assert job.result == "done"
    assert view.message.startswith("Finished 6 epochs")


def test_by_default_runs_train_in_threads_of_this_process():
    registry = JobRegistry()
    assert registry.trains_here  # so the server imports Keras ahead of a first run
    registry.shutdown()


def test_the_snapshot_version_counts_new_snapshots_only(registry):
    """A picture of the snapshot alone is rebuilt when a new snapshot comes, not with each new row."""

    def train(ctx):
        for epoch in range(6):
            ctx.publish({"loss": 1.0}, snapshot={"epoch": epoch + 1} if epoch % 3 == 2 else None)
        ctx.replace_snapshot({"fresher": True})

    job = registry.submit(TrainingTask("test", {"snapshots": "every third"}, train, epochs=6), "s1")
    assert job.wait(30)
    view = job.view()
    assert view.snapshot == {"fresher": True} and view.snapshot_version == 3 and view.version >= 7


def test_a_running_job_keeps_its_recent_states_for_the_page_in_control_to_play_back(registry):
    """`frames_between`: the run's states after a version and before the view's own, at most one every
    FRAME_EVERY_S, each the view as it was then (its rows up to that epoch, that epoch's snapshot)."""

    def train(ctx):
        for epoch in range(1, 13):
            time.sleep(0.04)
            ctx.publish({"loss": 1 / epoch}, snapshot={"epoch": epoch})

    job = registry.submit(TrainingTask("test", {"frames": "kept"}, train, epochs=12), "s1")
    assert job.wait(30)
    view = job.view()
    frames = job.frames_between(0, view)
    assert 3 <= len(frames) <= 6, [frame.epoch for frame in frames]  # 12 epochs in about 0.5 s
    for frame in frames:
        assert [row["epoch"] for row in frame.history] == list(range(1, frame.epoch + 1))
        assert frame.snapshot == {"epoch": frame.epoch} and frame.snapshot_version == frame.epoch
        assert frame.id == view.id and frame.status == view.status and frame.version < view.version
    for before, after in zip(frames, frames[1:]):
        assert after.version > before.version
        assert after.elapsed_s - before.elapsed_s >= jobs_module.FRAME_EVERY_S - 1e-6
    assert job.frames_between(frames[1].version, view) == frames[2:]
    assert job.frames_between(0, frames[2]) == frames[:2]


def test_pause_holds_the_job_and_resume_finishes_it(registry):
    check_pause_holds_and_resume_finishes(registry, settle_s=0.1)  # the thread reaches its next checkpoint


def test_a_paused_run_is_held_only_once_its_training_reaches_a_checkpoint(registry):
    """Between the click and the train function's next checkpoint the run is paused but not yet held: a page
    says "Pausing" then, and "Paused at epoch N" only when epoch N is the last one that will come."""
    reached = threading.Event()
    go_on = threading.Event()

    def train(ctx):
        ctx.publish({"loss": 1.0})
        reached.set()
        go_on.wait(10)  # the rest of an epoch the click arrived in
        ctx.publish({"loss": 0.5})
        ctx.checkpoint()
        ctx.publish({"loss": 0.25})

    job = registry.submit(TrainingTask("test", {"held": "late"}, train, epochs=3), "s1")
    assert reached.wait(10)
    job.pause()
    assert job.view().status == JobStatus.PAUSED and not job.view().held
    go_on.set()
    assert wait_until(lambda: job.view().held)
    assert job.view().epoch == 2
    job.resume()
    assert job.wait(10) and not job.view().held and job.view().epoch == 3


def test_step_trains_exactly_one_more_epoch(registry):
    check_step_trains_exactly_one_more_epoch(registry, settle_s=0.1)


def test_stop_cancels_mid_run(registry):
    job = registry.submit(counting_task(epochs=10_000, batch_s=0.002), "s1")
    assert wait_until(lambda: job.view().epoch >= 1)
    job.stop("Stopped by a test.")
    assert job.wait(10)
    view = job.view()
    assert view.status == JobStatus.CANCELLED and view.message == "Stopped by a test."
    time.sleep(0.2)
    assert job.view().epoch == view.epoch < 10_000  # nothing more arrives


def test_a_job_nobody_watches_is_cancelled():
    registry = JobRegistry(max_running=1, abandon_after_s=0.3)
    job = registry.submit(counting_task(epochs=10_000, batch_s=0.002), "s1")
    assert job.wait(10)
    assert job.status == JobStatus.CANCELLED
    assert "nobody watched" in job.view().message


def test_a_watched_job_outlives_the_abandon_timeout():
    registry = JobRegistry(max_running=1, abandon_after_s=0.3)
    job = registry.submit(counting_task(epochs=150, batch_s=0.002), "s1")
    while job.status.active:
        job.heartbeat("s1")
        time.sleep(0.05)
    assert job.status == JobStatus.FINISHED


def test_a_paused_job_nobody_watches_is_cancelled_too():
    registry = JobRegistry(max_running=1, abandon_after_s=0.5)
    job = registry.submit(counting_task(epochs=10_000, batch_s=0.002), "s1")
    job.pause()
    assert job.wait(10)
    assert job.status == JobStatus.CANCELLED


def test_a_non_finite_loss_stops_the_job_with_advice(registry):
    job = registry.submit(counting_task(epochs=5, losses=[1.0, 0.5, float("nan"), 0.1, 0.1]), "s1")
    assert job.wait(30)
    view = job.view()
    assert view.status == JobStatus.FAILED
    assert "blew up at epoch 3" in view.message and "smaller learning rate" in view.message
    assert len(view.history) == 3


def test_an_error_in_a_lesson_fails_the_job_with_a_message(registry):
    job = registry.submit(failing_task("bad shape (3, 4)"), "s1")
    assert job.wait(30)
    assert job.status == JobStatus.FAILED
    assert job.view().message == "Training stopped with an error: ValueError: bad shape (3, 4)"


def test_jobs_beyond_the_cap_queue_in_order():
    registry = JobRegistry(max_running=1, abandon_after_s=60)
    calls = []
    first = registry.submit(counting_task("first", epochs=30, batch_s=0.003, calls=calls), "s1")
    second = registry.submit(counting_task("second", epochs=2, calls=calls), "s2")
    third = registry.submit(counting_task("third", epochs=2, calls=calls), "s3")
    assert (first.status, second.status, third.status) == (JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.QUEUED)
    assert (second.view().queue_position, third.view().queue_position) == (1, 2)
    assert registry.running_count == 1
    for job in (first, second, third):
        job.heartbeat("s")
        assert job.wait(30)
    assert calls == ["first", "second", "third"]
    assert all(job.status == JobStatus.FINISHED for job in (first, second, third))


def test_stopping_a_queued_job_takes_it_out_of_the_queue():
    registry = JobRegistry(max_running=1, abandon_after_s=60)
    first = registry.submit(counting_task("first", epochs=1000, batch_s=0.002), "s1")
    queued = registry.submit(counting_task("second"), "s2")
    queued.stop("Changed my mind.")
    assert queued.status == JobStatus.CANCELLED and queued.view().queue_position is None
    first.stop()
    assert first.wait(10) and queued.thread is None


def test_same_config_shares_one_run_between_sessions(registry):
    calls = []
    job = registry.submit(counting_task("shared", epochs=50, calls=calls), "student-1")
    again = registry.submit(counting_task("shared", epochs=50, calls=calls), "student-2")
    assert again is job
    assert job.view().viewers == 2
    assert job.wait(30)
    finished = registry.submit(counting_task("shared", epochs=50, calls=calls), "student-3")
    assert finished is job and finished.status == JobStatus.FINISHED
    assert calls == ["shared"]


def test_a_failed_run_is_trained_again_when_asked_again(registry):
    failing = registry.submit(counting_task("x", epochs=2, losses=[float("inf"), 1.0]), "s1")
    assert failing.wait(10) and failing.status == JobStatus.FAILED
    retry = registry.submit(counting_task("x", epochs=2, losses=[float("inf"), 1.0]), "s1")
    assert retry is not failing and retry.id == failing.id


def test_the_last_viewer_leaving_stops_the_run(registry):
    job = registry.submit(counting_task(epochs=1000, batch_s=0.002), "s1")
    job.heartbeat("s2")
    job.detach("s1")
    time.sleep(0.05)
    assert job.status == JobStatus.RUNNING
    job.detach("s2")
    assert job.wait(10)
    assert job.status == JobStatus.CANCELLED and "nobody is watching" in job.view().message


def test_live_hyperparameters_reach_the_worker(registry):
    seen = []

    def train(ctx):
        while len(seen) < 2:
            ctx.checkpoint()
            version, values = ctx.hyperparams()
            if not seen or seen[-1] != values["learning_rate"]:
                seen.append(values["learning_rate"])
            time.sleep(0.005)

    job = registry.submit(TrainingTask("test", {"live": 1}, train, epochs=1, live={"learning_rate": 0.1}), "s1")
    assert wait_until(lambda: seen == [0.1])
    job.set_hyperparams(learning_rate=0.01)
    assert job.wait(10)
    assert seen == [0.1, 0.01]
    with pytest.raises(KeyError, match="not live"):
        job.set_hyperparams(batch_size=3)


def test_finished_runs_are_forgotten_beyond_the_limit():
    registry = JobRegistry(max_running=2, abandon_after_s=60, keep_finished=2)
    jobs = [registry.submit(counting_task(str(i), epochs=1), "s") for i in range(4)]
    for job in jobs:
        assert job.wait(10)
    registry.submit(counting_task("last", epochs=1), "s").wait(10)
    registry.submit(counting_task("trigger", epochs=1), "s").wait(10)
    kept = {view.id for view in registry.views()}
    assert len(kept) <= 3 and jobs[0].id not in kept


def test_threads_return_to_baseline_after_jobs_end():
    baseline = threading.active_count()
    registry = JobRegistry(max_running=3, abandon_after_s=60)
    jobs = [registry.submit(counting_task(str(i), epochs=20), f"s{i}") for i in range(5)]
    assert threading.active_count() > baseline
    for job in jobs:
        job.heartbeat("s")
        assert job.wait(30)
    assert wait_until(lambda: threading.active_count() == baseline, timeout=5)


def test_a_task_names_its_unit_and_its_advice_for_a_blow_up(registry):
    import dataclasses

    task = dataclasses.replace(counting_task(epochs=4, losses=[1.0, float("inf"), 0.1, 0.1]), unit="iteration")
    job = registry.submit(task, "s1")
    assert job.wait(10)
    view = job.view()
    assert view.status == JobStatus.FAILED and view.unit == "iteration"
    assert "blew up at iteration 2 (loss became inf)" in view.message and "try a smaller learning rate" in view.message
    finished = registry.submit(dataclasses.replace(counting_task(name="b", epochs=2), unit="iteration"), "s1")
    assert finished.wait(10) and finished.view().message.startswith("Finished 2 iterations in")


def test_the_queue_is_capped_per_server_and_per_session():
    from core.engine.jobs import QueueFull

    registry = JobRegistry(max_running=1, abandon_after_s=60, max_queued=3, max_queued_per_session=2)
    running = registry.submit(counting_task("running", epochs=10_000, batch_s=0.002), "s0")
    registry.submit(counting_task("a1"), "a")
    registry.submit(counting_task("a2"), "a")
    with pytest.raises(QueueFull, match="You already have 2 runs waiting"):
        registry.submit(counting_task("a3"), "a")
    registry.submit(counting_task("b1"), "b")
    with pytest.raises(QueueFull, match="3 runs are already waiting on this server"):
        registry.submit(counting_task("c1"), "c")
    assert registry.submit(counting_task("a1"), "c").status == JobStatus.QUEUED  # joining a queued run is no new run
    running.stop()
    registry.shutdown()


def test_a_cancelled_run_leaves_the_registry_at_once():
    registry = JobRegistry(max_running=1, abandon_after_s=60)
    running = registry.submit(counting_task("running", epochs=10_000, batch_s=0.002), "s1")
    queued = registry.submit(counting_task("queued"), "s2")
    queued.stop("Changed my mind.")
    assert registry.get(queued.id) is None
    running.stop("Stopped by a test.")
    assert running.wait(10) and registry.get(running.id) is None
    assert running.view().message == "Stopped by a test."  # the handle still tells how it ended
    finished = registry.submit(counting_task("done", epochs=1), "s1")
    assert finished.wait(10) and registry.get(finished.id) is finished  # finished runs stay to be shared


def test_a_short_abandonment_is_said_in_seconds():
    registry = JobRegistry(max_running=1, abandon_after_s=0.3)
    job = registry.submit(counting_task(epochs=10_000, batch_s=0.002), "s1")
    assert job.wait(10)
    assert "nobody watched this run for 0 s" in job.view().message
    from core.engine.jobs import duration

    assert (duration(45), duration(89), duration(180)) == ("45 s", "89 s", "3 min")


def test_a_queued_run_whose_pages_closed_is_never_started(monkeypatch):
    from core.engine import jobs

    monkeypatch.setattr(jobs, "QUEUED_WATCH_S", 0.3)
    calls = []
    registry = JobRegistry(max_running=1, abandon_after_s=60)
    first = registry.submit(counting_task("first", epochs=10_000, batch_s=0.002, calls=calls), "s1")
    closed = registry.submit(counting_task("closed", calls=calls), "s2")  # its tab closes: no more polls
    time.sleep(0.5)
    first.stop()
    assert first.wait(10) and closed.wait(10)
    assert closed.status == JobStatus.CANCELLED and "nobody was waiting" in closed.view().message
    assert calls == ["first"] and closed.thread is None


def test_a_finite_loss_stuck_far_above_guessing_at_chance_accuracy_counts_as_blown_up(registry):
    """At learning rate 10 a clipped cross-entropy sits at 8.5 with accuracy 47 % and never becomes inf."""
    import dataclasses
    import math

    from core.engine.jobs import blown_up

    stuck = [{"loss": 8.5, "accuracy": 0.47}] * 5
    assert blown_up(stuck, 0.5, math.log(2))
    assert not blown_up(stuck[:4], 0.5, math.log(2))  # too early to say
    assert not blown_up(stuck[:4] + [{"loss": 8.5, "accuracy": 0.8}], 0.5, math.log(2))  # it learns something
    assert not blown_up([{"train_loss": 0.9, "train_accuracy": 0.5}] * 5, 0.5, math.log(2))  # slow, not blown up

    task = dataclasses.replace(counting_task(epochs=50), chance=(0.5, math.log(2)))
    losses = iter([8.5] * 50)
    task = dataclasses.replace(task, train=_publishing({"loss": lambda: next(losses), "accuracy": lambda: 0.47}))
    job = registry.submit(task, "s1")
    assert job.wait(10)
    view = job.view()
    assert view.status == JobStatus.FAILED and "blew up at epoch 5" in view.message and len(view.history) == 5


def _publishing(metrics):
    def train(ctx):
        for _ in range(ctx.epochs):
            ctx.checkpoint()
            ctx.publish({name: make() for name, make in metrics.items()})

    return train


def test_a_run_that_ends_no_better_than_guessing_says_so_with_its_live_settings(registry):
    import dataclasses
    import math

    task = dataclasses.replace(
        counting_task(epochs=3),
        chance=(0.5, math.log(2)),
        train=_publishing({"loss": lambda: 0.69, "accuracy": lambda: 0.46}),
    )
    job = registry.submit(task, "s1")
    assert job.wait(10) and job.status == JobStatus.FINISHED
    message = job.view().message
    assert message.startswith("Finished 3 epochs") and "no better than guessing (training accuracy 46%" in message
    assert "learning rate 0.1" in message
    fine = dataclasses.replace(
        task, config={"name": "fine"}, train=_publishing({"loss": lambda: 0.1, "accuracy": lambda: 0.9})
    )
    job = registry.submit(fine, "s1")
    assert job.wait(10) and "guessing" not in job.view().message


def test_the_session_that_starts_a_run_controls_it_and_can_share_control():
    registry = JobRegistry(max_running=1, abandon_after_s=60)
    job = registry.submit(counting_task(epochs=10_000, batch_s=0.002), "teacher")
    assert registry.submit(counting_task(epochs=10_000, batch_s=0.002), "student") is job  # a shared Train
    job.heartbeat("teacher")
    assert job.may_control("teacher") and not job.may_control("student")
    assert not job.take_control("student") and not job.take_control("student", "a guess")
    assert job.take_control("co-teacher", job.control_token) and job.may_control("co-teacher")
    assert job.viewer_count == 2  # teacher and student polled; the co-teacher has not opened the page yet
    job.stop()
    assert job.wait(10)


def test_a_run_whose_controllers_left_can_be_controlled_by_a_watcher(monkeypatch):
    from core.engine import jobs

    monkeypatch.setattr(jobs, "CONTROL_HANDOVER_S", 0.2)
    registry = JobRegistry(max_running=1, abandon_after_s=60)
    job = registry.submit(counting_task(epochs=10_000, batch_s=0.002), "teacher")
    job.heartbeat("student")
    assert not job.may_control("student")
    time.sleep(0.3)  # the teacher's tab closed: no more polls
    job.heartbeat("student")
    assert job.may_control("student") and job.take_control("student")
    job.stop()
    assert job.wait(10)


def test_a_run_before_its_first_update_counts_the_seconds_it_has_waited(registry):
    from core.ui.live import preparing_text

    started = threading.Event()

    def train(ctx):
        started.set()
        time.sleep(1.2)  # data and compilation, before anything is published
        ctx.publish({"loss": 1.0})

    job = registry.submit(TrainingTask("test", {"slow": True}, train, epochs=1), "s1")
    assert started.wait(10)
    time.sleep(1.0)
    view = job.view()
    assert view.epoch == 0 and view.elapsed_s >= 1.0
    assert preparing_text(view.elapsed_s).startswith(
        f"Preparing the data and compiling the model: {view.elapsed_s:.0f} s so far"
    )
    assert job.wait(10)


def test_over_the_memory_budget_a_finished_run_nobody_watches_is_evicted_and_compiled_code_dropped(monkeypatch):
    dropped = []
    monkeypatch.setattr(jobs_module, "drop_compiled_code", lambda: dropped.append(True))
    registry = JobRegistry(max_running=1, abandon_after_s=60, memory_budget_mb=1)
    left = registry.submit(counting_task("left", epochs=1), "gone")
    assert left.wait(10)
    left.detach("gone")
    watched = registry.submit(counting_task("watched", epochs=1), "here")
    assert watched.wait(10)
    kept = {view.id for view in registry.views()}
    assert kept == {watched.id}
    assert registry.memory.runs_evicted == 1 and dropped
    assert registry.memory.resident_mb > registry.memory.budget_mb


def test_without_a_budget_finished_runs_stay_and_compiled_code_is_kept(monkeypatch):
    dropped = []
    monkeypatch.setattr(jobs_module, "drop_compiled_code", lambda: dropped.append(True))
    registry = JobRegistry(max_running=1, abandon_after_s=60, memory_budget_mb=0)
    first = registry.submit(counting_task("first", epochs=1), "gone")
    assert first.wait(10)
    first.detach("gone")
    assert registry.submit(counting_task("second", epochs=1), "here").wait(10)
    assert len(registry.views()) == 2 and not dropped and registry.memory.runs_evicted == 0


def test_the_memory_budget_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("EDL_MEMORY_BUDGET_MB", "750")
    assert JobRegistry(max_running=1).memory.budget_mb == 750
    monkeypatch.setenv("EDL_MEMORY_BUDGET_MB", "")
    assert JobRegistry(max_running=1).memory.budget_mb == 900
