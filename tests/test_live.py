"""The live panel's pace: the page in control of a training run redraws three times a second and plays back the
run's states in between (ten times a second where its run keeps none to play); a class of watchers shares a bounded
number of redraws a second between them, in half-second steps; a run that ended is not polled."""

import pytest

from core.engine.jobs import JobStatus
from core.ui.live import (
    CONTROLLER_INTERVAL_S,
    PAUSED_INTERVAL_S,
    RUNNING_INTERVAL_S,
    WATCHER_POLLS_PER_S,
    _poll_interval,
)


def test_the_page_in_control_of_a_training_run_redraws_three_times_a_second_and_plays_back_the_states_between():
    assert _poll_interval(JobStatus.RUNNING, 0, plays_frames=True) == RUNNING_INTERVAL_S
    assert _poll_interval(JobStatus.RUNNING, 0) == CONTROLLER_INTERVAL_S <= 0.1  # a run that keeps none (Ray)
    assert _poll_interval(JobStatus.RUNNING, 0, others_training=True) == RUNNING_INTERVAL_S  # a busy server
    assert _poll_interval(JobStatus.QUEUED, 0) == RUNNING_INTERVAL_S  # nothing to draw yet


@pytest.mark.parametrize("watchers", [1, 2, 6])
def test_a_small_group_of_watchers_keeps_three_redraws_a_second(watchers):
    assert _poll_interval(JobStatus.RUNNING, watchers) == RUNNING_INTERVAL_S


@pytest.mark.parametrize("watchers", [10, 30, 100])
def test_a_class_shares_a_bounded_number_of_redraws_a_second(watchers):
    interval = _poll_interval(JobStatus.RUNNING, watchers)
    assert watchers / interval <= WATCHER_POLLS_PER_S and (2 * interval) % 1 == 0  # in half-second steps


def test_paused_runs_are_polled_slowly_and_ended_ones_not_at_all():
    assert _poll_interval(JobStatus.PAUSED) == PAUSED_INTERVAL_S
    assert _poll_interval(JobStatus.PAUSED, 60) == 3.0
    # paused, but still finishing its epoch (a worker process): the training pace, so the last epoch shows at once
    assert _poll_interval(JobStatus.PAUSED, 0, held=False) == CONTROLLER_INTERVAL_S
    assert _poll_interval(JobStatus.PAUSED, 5, held=False) == RUNNING_INTERVAL_S
    assert _poll_interval(JobStatus.FINISHED, 30) is None and _poll_interval(JobStatus.CANCELLED) is None
