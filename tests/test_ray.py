"""The job engine on Ray behaves as the engine in threads: the same controls, endings and messages, runs
shared across processes ("replicas"), and clear endings when the cluster fails. A local Ray cluster on
127.0.0.1 is started and stopped by this module. Without Ray installed (requirements-ray.txt) the module is
skipped, unless EDL_REQUIRE_RAY=1 (set by .ci/run), which makes that a failure."""

import os
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from core.engine.backends import RAY_ADDRESS_ENV, backend_from_env
from core.engine.jobs import JobRegistry, JobStatus, TrainingTask
from tests import test_app, test_jobs, test_keras_engine
from tests.appserver import ROOT, free_port
from tests.helpers import (
    check_pause_holds_and_resume_finishes,
    check_step_trains_exactly_one_more_epoch,
    counting_task,
    reporting_task,
    wait_until,
)

if os.environ.get("EDL_REQUIRE_RAY") == "1":
    import ray
else:
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -r requirements-ray.txt")

from core.engine import raybackend  # noqa: E402  (needs Ray)
from core.engine.raybackend import RayBackend, apply_update, update_for  # noqa: E402

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster on 127.0.0.1 for this module; its address, as a replica is given it."""
    os.environ["RAY_worker_niceness"] = "5"  # as the README starts a cluster beside a replica
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        _node_ip_address="127.0.0.1",
        namespace="edl-tests",
    )
    yield "127.0.0.1:" + ray.get_runtime_context().gcs_address.rsplit(":", 1)[1]
    ray.shutdown()


def backend(cluster, **options) -> RayBackend:
    """A backend of its own namespace: runs of one test are not shared with another's."""
    return RayBackend(cluster, namespace=f"test-{uuid.uuid4().hex[:8]}", **{"abandon_after_s": 60, **options})


@pytest.fixture
def registry(cluster):
    registry = backend(cluster)
    yield registry
    registry.shutdown()


def test_a_run_in_an_actor_publishes_every_epoch_and_returns_its_result(registry):
    test_jobs.test_job_runs_to_the_end_and_publishes_every_epoch(registry)


def test_the_snapshot_version_counts_new_snapshots_only(registry):
    test_jobs.test_the_snapshot_version_counts_new_snapshots_only(registry)


def test_it_trains_in_a_ray_worker_at_the_configured_niceness(registry):
    import psutil

    job = registry.submit(reporting_task(epochs=100_000), "s1")
    assert wait_until(lambda: job.view().epoch >= 1, timeout=60)
    pid = int(job.view().history[-1]["pid"])
    assert pid != os.getpid() and psutil.Process(pid).nice() == 5  # the pages of a replica beside it answer first
    assert not registry.trains_here  # the replica does not import Keras ahead of a first run
    assert registry.training_device == "the Ray cluster's CPUs"  # the sidebar's line: runs ask for no GPU
    job.stop()
    assert job.wait(30)


def test_pause_holds_the_actor_and_resume_finishes_it(registry):
    check_pause_holds_and_resume_finishes(registry, settle_s=0.3)


def test_step_trains_exactly_one_more_epoch_in_the_actor(registry):
    check_step_trains_exactly_one_more_epoch(registry, settle_s=0.3)


def test_stop_cancels_mid_run(registry):
    test_jobs.test_stop_cancels_mid_run(registry)


def test_a_non_finite_loss_stops_the_run_with_advice(registry):
    test_jobs.test_a_non_finite_loss_stops_the_job_with_advice(registry)


def test_an_error_in_a_lesson_fails_the_run_with_its_message(registry):
    test_jobs.test_an_error_in_a_lesson_fails_the_job_with_a_message(registry)


def test_a_failed_run_is_trained_again_when_asked_again(registry):
    failing = registry.submit(counting_task("x", epochs=2, losses=[float("inf"), 1.0]), "s1")
    assert failing.wait(30) and failing.status == JobStatus.FAILED
    retry = registry.submit(counting_task("x", epochs=2, losses=[float("inf"), 1.0]), "s1")
    assert retry is not failing and retry.id == failing.id
    assert retry.wait(30) and retry.status == JobStatus.FAILED


def test_the_last_viewer_leaving_stops_the_run(registry):
    test_jobs.test_the_last_viewer_leaving_stops_the_run(registry)


def test_same_config_shares_one_run_and_a_finished_one_is_not_trained_again(registry):
    job = registry.submit(reporting_task(epochs=200), "student-1")
    again = registry.submit(reporting_task(epochs=200), "student-2")
    assert again is job
    assert wait_until(lambda: job.view().viewers == 2)
    assert job.wait(60)
    pid = job.view().history[-1]["pid"]
    finished = registry.submit(reporting_task(epochs=200), "student-3")
    assert finished.status == JobStatus.FINISHED and finished.view().history[-1]["pid"] == pid


def test_live_hyperparameters_reach_the_actor(registry):
    job = registry.submit(reporting_task(epochs=100_000), "s1")
    assert wait_until(lambda: job.view().epoch >= 1)
    job.set_hyperparams(learning_rate=0.01)
    assert wait_until(lambda: job.view().history[-1]["learning_rate"] == 0.01)
    assert job.hyperparams == {"learning_rate": 0.01}
    with pytest.raises(KeyError, match="not live"):
        job.set_hyperparams(batch_size=3)
    job.stop()
    assert job.wait(30)


def test_a_run_nobody_watches_is_cancelled(cluster):
    registry = backend(cluster, abandon_after_s=0.5)
    job = registry.submit(counting_task(epochs=100_000, batch_s=0.002), "s1")
    assert job.wait(60)
    assert job.status == JobStatus.CANCELLED and "nobody watched" in job.view().message


def test_the_session_that_starts_a_run_controls_it_and_a_link_gives_control(registry):
    job = registry.submit(counting_task(epochs=100_000, batch_s=0.002), "teacher")
    job.heartbeat("student")
    assert job.may_control("teacher") and not job.may_control("student")
    assert not job.take_control("student", "a guess")
    assert job.take_control("co-teacher", job.control_token) and job.may_control("co-teacher")
    job.stop()
    assert job.wait(30)


def test_a_run_beyond_the_clusters_room_waits_its_turn_and_says_its_place(cluster):
    registry = backend(cluster, cpus_per_run=2.0)
    first = registry.submit(counting_task("first", epochs=100_000, batch_s=0.002), "s1")
    assert wait_until(lambda: first.view().status == JobStatus.RUNNING, timeout=60)
    second = registry.submit(counting_task("second", epochs=2), "s2")
    view = second.view()
    assert view.status == JobStatus.QUEUED and view.queue_position == 1
    assert registry.max_running == 1 and wait_until(lambda: registry.running_count == 1)
    first.stop()
    assert first.wait(30)
    assert second.wait(60) and second.status == JobStatus.FINISHED
    assert [row["epoch"] for row in second.view().history] == [1, 2]


def test_a_waiting_run_whose_pages_closed_ends_when_its_turn_comes(cluster):
    """A 2 s window, and a bounded wait: in one full run of the suite this test waited for the first run's epochs
    until the suite's timeout, its window 0.5 s; the likeliest cause, a gap of over 0.5 s between the first page's
    polls on a machine that busy, which abandons the first run too."""
    registry = backend(cluster, cpus_per_run=2.0, abandon_after_s=2.0)
    first = registry.submit(counting_task("first", epochs=100_000, batch_s=0.002), "s1")
    assert wait_until(lambda: first.view().status == JobStatus.RUNNING, timeout=60)
    second = registry.submit(counting_task("second", epochs=100_000, batch_s=0.002), "s2")
    submitted = time.monotonic()
    assert second.view().status == JobStatus.QUEUED

    def first_trained_a_while():  # only the first run's page polls
        first.heartbeat("s1")
        return first.view().epoch >= 200 and time.monotonic() - submitted > 3.0

    assert wait_until(first_trained_a_while, timeout=120, interval=0.05), (first.view().status, first.view().message)
    first.stop()
    assert first.wait(30)
    assert wait_until(lambda: registry.lookup(second.id)[2] is None, timeout=60)  # started, its page silent
    assert second.wait(60)
    assert second.status == JobStatus.CANCELLED and "nobody was waiting" in second.view().message


def test_the_queue_is_capped(cluster):
    registry = backend(cluster, cpus_per_run=2.0, max_queued=1)
    first = registry.submit(counting_task("first", epochs=100_000, batch_s=0.002), "s1")
    assert wait_until(lambda: first.view().status == JobStatus.RUNNING, timeout=60)
    registry.submit(counting_task("second", epochs=2), "s2")
    from core.engine.jobs import QueueFull

    with pytest.raises(QueueFull, match="already waiting"):
        registry.submit(counting_task("third", epochs=2), "s3")
    registry.shutdown()


def test_a_fetch_carries_only_what_changed(registry):
    job = registry.submit(counting_task(epochs=5), "s1")
    assert job.wait(60)
    view = job.view()
    same = update_for(view, len(view.history), view.history[-1]["epoch"], view.snapshot_version)
    assert same.rows == () and same.rows_from == len(view.history) and same.view.snapshot is None
    assert apply_update(view, same) == view


def test_a_thinned_history_is_sent_whole_and_merges_to_the_same_view():
    from core.engine.jobs import JobView

    rows = tuple({"epoch": e, "loss": 1 / e} for e in range(1, 11))
    view = JobView("a", "r", JobStatus.RUNNING, "", 10, 20, 0, None, rows, {"w": 1}, {}, 1, None, 1.0, 10, "epoch", 3)
    held = view.__class__(**{**view.__dict__, "history": rows[:6], "snapshot": {"w": 0}, "snapshot_version": 2})
    update = update_for(view, 6, 6, 2)
    assert update.rows_from == 6 and update.snapshot_changed
    assert apply_update(held, update) == view
    thinned = view.__class__(**{**view.__dict__, "history": rows[1::2]})  # epochs 2, 4, ..., 10
    update = update_for(thinned, 6, 6, 3)
    assert update.rows_from == 0 and not update.snapshot_changed
    assert apply_update(held, update).history == rows[1::2]


def test_two_replicas_asking_for_the_same_settings_share_one_run(registry, cluster):
    """A second process ("replica") with the same namespace gets the same actor; it pauses the run, this
    one sees it paused; a `job=` link resolved there attaches too."""
    job = registry.submit(reporting_task(epochs=100_000), "teacher")
    assert wait_until(lambda: job.view().epoch >= 1, timeout=60)
    replica = textwrap.dedent(
        f"""
        import time
        from core.engine.raybackend import RayBackend
        from tests.helpers import reporting_task
        backend = RayBackend({cluster!r}, namespace={registry.namespace!r}, abandon_after_s=60)
        job = backend.submit(reporting_task(epochs=100_000), "student")
        assert backend.get(job.id) is job
        job.take_control("student", {job.control_token!r})
        job.pause()
        time.sleep(0.3)
        print("PID", int(job.view().history[-1]["pid"]), job.view().status.value)
        """
    )
    answer = subprocess.run(
        [sys.executable, "-c", replica], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert answer.returncode == 0, answer.stderr[-2000:]
    pid, status = answer.stdout.split("PID ")[1].split()
    assert int(pid) == int(job.view().history[-1]["pid"]) and status == "paused"
    assert wait_until(lambda: job.view().status == JobStatus.PAUSED)
    fresh = RayBackend(cluster, namespace=registry.namespace)
    assert fresh.get(job.id) is not None and fresh.get(job.id).view().status == JobStatus.PAUSED
    assert fresh.get("000000000000") is None
    job.stop()
    assert job.wait(30)


def test_a_link_to_a_finished_run_shows_it_after_its_actor_has_gone(registry, cluster):
    job = registry.submit(counting_task(epochs=3), "s1")
    assert job.wait(60) and job.result == "done"
    assert wait_until(lambda: not _actor_alive(job.id, registry.namespace), timeout=30)
    elsewhere = RayBackend(cluster, namespace=registry.namespace).get(job.id)
    assert elsewhere.view().status == JobStatus.FINISHED and elsewhere.result == "done"
    assert [row["epoch"] for row in elsewhere.view().history] == [1, 2, 3]


def _actor_alive(key: str, namespace: str) -> bool:
    try:
        ray.get_actor(raybackend._actor_name(key), namespace=namespace)
    except ValueError:
        return False
    return True


def test_an_actor_dying_mid_run_ends_the_run_as_lost_and_nothing_hangs(registry):
    job = registry.submit(counting_task(epochs=100_000, batch_s=0.002), "s1")
    assert wait_until(lambda: job.view().epoch >= 1, timeout=60)
    ray.kill(ray.get_actor(raybackend._actor_name(job.id), namespace=registry.namespace))
    assert job.wait(30)
    view = job.view()
    assert view.status == JobStatus.FAILED and "was lost" in view.message and view.epoch >= 1
    job.pause()  # controls of a lost run do nothing, without an error
    retry = registry.submit(counting_task(epochs=100_000, batch_s=0.002), "s1")
    assert retry is not job and wait_until(lambda: retry.view().status == JobStatus.RUNNING, timeout=60)
    retry.stop()
    assert retry.wait(30)


def test_a_worker_without_the_apps_code_fails_the_run_with_the_fix(registry, cluster, tmp_path):
    """A replica started elsewhere (Ray adds a driver's directory to its workers' path: here one without the
    code) whose runs are told the code is where it is not: the run fails with the fix, and nothing hangs."""
    replica = textwrap.dedent(
        f"""
        from core.engine.raybackend import RayBackend
        from tests.helpers import counting_task
        backend = RayBackend({cluster!r}, namespace={registry.namespace!r}, app_path="/nonexistent/edl")
        job = backend.submit(counting_task(epochs=2), "s1")
        assert job.wait(60)
        print("ENDED", job.view().status.value, job.view().message)
        """
    )
    answer = subprocess.run(
        [sys.executable, "-c", replica],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert answer.returncode == 0, answer.stderr[-2000:]
    ended = answer.stdout.split("ENDED ")[1]
    assert ended.startswith("failed This run could not start") and "no copy of the app's code" in ended


def test_an_unreachable_address_falls_back_to_this_server_with_a_notice(monkeypatch):
    monkeypatch.setenv(RAY_ADDRESS_ENV, f"127.0.0.1:{free_port()}")
    chosen = backend_from_env(lambda: JobRegistry(max_running=1))
    assert isinstance(chosen.backend, JobRegistry)
    assert "could not be reached" in chosen.notice and "train on this server" in chosen.notice


def test_without_an_address_the_server_trains_its_own_runs(monkeypatch):
    monkeypatch.delenv(RAY_ADDRESS_ENV, raising=False)
    chosen = backend_from_env(lambda: JobRegistry(max_running=1))
    assert isinstance(chosen.backend, JobRegistry) and chosen.notice is None


@pytest.fixture
def pages_on_ray(cluster, monkeypatch):
    """The app's pages (AppTest, in this process) with their engine on the cluster."""
    from core.ui.session import chosen_backend

    monkeypatch.setenv(RAY_ADDRESS_ENV, cluster)
    chosen_backend.clear()
    yield chosen_backend
    chosen_backend().backend.shutdown()
    chosen_backend.clear()


def test_the_engine_room_trains_on_ray_in_apptest(pages_on_ray):
    from streamlit.testing.v1 import AppTest

    from tests.helpers import chart_figures, query_value

    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=120)
    at.query_params.update({"check.epochs": "3", "check.seed": "9911", "check.speed": "full speed"})
    at.run()
    at.switch_page("views/engine_room.py").run()
    assert not at.exception
    assert any("Runs train on the Ray cluster at" in c.value for c in at.sidebar.caption)
    at.button(key="engine_room:train").click().run()
    assert not at.exception
    job = pages_on_ray().backend.get(query_value(at, "job"))
    assert isinstance(job, raybackend.RayJob)
    assert job.wait(180) and job.status == JobStatus.FINISHED, job.view().message
    at.run()
    assert not at.exception
    assert any("Finished 3 epochs" in s.value for s in at.success)
    assert len(chart_figures(at)) == 3


def test_the_cnn_lesson_trains_on_ray_and_looks_inside_its_snapshot(pages_on_ray):
    """A lesson whose snapshot carries weights and activations, fetched across processes."""
    test_app.test_cnn_lesson_trains_then_looks_inside()


def test_a_keras_run_learns_the_moons_in_an_actor(registry):
    test_keras_engine.test_the_check_run_learns_the_moons(registry)


def test_a_new_learning_rate_applies_mid_run_in_an_actor(registry):
    test_keras_engine.test_a_new_learning_rate_applies_mid_run_without_a_reset(registry)


def test_a_diverging_keras_model_stops_with_advice_in_an_actor(registry):
    test_keras_engine.test_a_diverging_keras_model_stops_with_advice(registry)


def test_a_task_made_here_trains_there_even_as_a_closure(registry):
    job = registry.submit(TrainingTask("test", {"closure": 2}, lambda ctx: ctx.publish({"loss": 0.5}), epochs=1), "s1")
    assert job.wait(60) and job.status == JobStatus.FINISHED and job.view().history[0]["loss"] == 0.5
