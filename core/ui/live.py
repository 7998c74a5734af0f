"""A lesson's live run: the control buttons, and a panel that redraws while the job trains.

The panel is an `st.fragment` that reruns on a browser timer (3 Hz on the page in control of a training run, whose
charts play back the run's states in between, ten a second; 3 Hz or less on the others) and redraws only itself;
when the job's state changes class (starts, pauses, ends) it reruns the whole page so the buttons and the timer
follow. The job ids are kept in the URL (`job=`, one per
section that has a run), so a reload, or a link sent to the class, attaches to the same runs. A section's run
is named by its task's `run` (e.g. 'initialisation/deep'), which also prefixes its buttons' keys; its settings
come from one control box, whose values follow the run's when the page attaches to it.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from core.engine.export import metrics_csv
from core.engine.jobs import Job, JobStatus, JobView, QueueFull, TrainingTask
from core.engine.params import ControlBox
from core.ui.controls import adopt_values, lesson_controls, reset_live_values
from core.ui.figures import drawing_for
from core.ui.session import job_registry, session_id

CONTROLLER_INTERVAL_S = 0.08
"""The pace of the page in control of a training run (the one a teacher projects) where the run keeps no states to
play back (a run in a Ray actor) and it is the only run training on the server: a timer of 12.5 ticks a second, so
that with the ticks that come late or are lost on a busy server its charts still redraw about ten times a second.
Every other run's page in control redraws at RUNNING_INTERVAL_S and plays back the states in between
(`Job.frames_between`, ten a second): a redraw costs the run it shows as much in a server's threads (about 10 ms of
the interpreter, on two cores a tenth of the run's speed at 10 redraws a second) whatever it sends."""
RUNNING_INTERVAL_S = 0.33
"""The pace of any other page watching a run train, or waiting in the queue."""
PAUSED_INTERVAL_S = 1.5
WATCHER_POLLS_PER_S = 20.0
"""What the watchers of one run may ask of the server together, a second: in a class of 30 on two cores,
thirty pages redrawing three times a second each would starve the run they watch (the classroom bench)."""


def _poll_interval(
    status: JobStatus, watchers: int = 0, others_training: bool = False, held: bool = True, plays_frames: bool = False
) -> float | None:
    """How often the panel redraws: fast while training or queued, slowly while paused (to keep the
    run alive and notice another viewer resuming it), not at all once it ended. A paused run not yet `held`
    (still finishing its epoch) keeps the training pace, so its last epoch shows at once. The page in control of
    the run (`watchers` 0) keeps its pace (the projected one), fastest while no other run trains and its run keeps
    no states for it to play back (`plays_frames`); the others' pace shrinks as a class of `watchers` grows."""
    shared = watchers / WATCHER_POLLS_PER_S
    class_pace = math.ceil(2 * shared) / 2 if shared > RUNNING_INTERVAL_S else 0.0  # half seconds: few changes
    if status == JobStatus.PAUSED and held:
        return max(PAUSED_INTERVAL_S, class_pace)
    training = status in (JobStatus.RUNNING, JobStatus.PAUSED)  # paused but still finishing counts as training
    if training and watchers == 0 and not others_training and not plays_frames:
        return CONTROLLER_INTERVAL_S
    if training or status == JobStatus.QUEUED:
        return max(RUNNING_INTERVAL_S, class_pace)
    return None


def _linked_ids() -> list[str]:
    """The runs named in the URL: `job=a,b` (a page may have one run per section)."""
    return [job_id for job_id in st.query_params.get("job", "").split(",") if job_id]


def _link(ids: list[str]) -> None:
    if ids:
        st.query_params["job"] = ",".join(ids)
    elif "job" in st.query_params:
        del st.query_params["job"]


def _remember(run: str, job: Job) -> None:
    """Keep the run in the session (the job itself, so that a run the server dropped, e.g. a
    cancelled one, still shows how it ended) and its id in the URL, in place of the section's
    previous run (a reload or a shared link re-attaches)."""
    st.session_state[f"job:{run}"] = job
    registry = job_registry()
    others = [i for i in _linked_ids() if i != job.id and getattr(registry.get(i), "run", None) != run]
    if others + [job.id] != _linked_ids():
        _link(others + [job.id])


def attached_job(run: str) -> Job | None:
    """This session's run for a section (`run` is its task's `run`): from the session, else from a
    `job=` link. Ids in the link that the server no longer keeps are dropped with a note."""
    registry = job_registry()
    job = st.session_state.get(f"job:{run}")
    if job is None:
        st.session_state.pop(f"job:{run}", None)
        linked = _linked_ids()
        gone = [i for i in linked if registry.get(i) is None]
        if gone:
            st.info(
                "The run this link points to is no longer kept on the server: press **Train** to run it again.",
                icon=":material/history:",
            )
            _link([i for i in linked if i not in gone])
        job = next((registry.get(i) for i in linked if i not in gone and registry.get(i).run == run), None)
    if job is None or job.run != run:
        return None
    token = st.query_params.get("control")
    if token:
        if job.take_control(session_id(), token):
            del st.query_params["control"]  # the address bar, projected or copied, carries no secret
    _remember(run, job)
    return job


def trained_snapshot(run: str) -> tuple[Job | None, Any]:
    """This session's run for a section and its latest snapshot, the snapshot only once at least one
    epoch has trained (what a look-inside section needs); (job, None) before that."""
    job = attached_job(run)
    shot = job.view().snapshot if job is not None else None
    return job, shot if shot is not None and shot.epoch else None


def _start(run: str, task: TrainingTask, previous: Job | None) -> Job | None:
    try:
        job = job_registry().submit(task, session_id())
    except QueueFull as full:
        st.session_state[f"refused:{run}"] = str(full)
        return previous
    if previous is not None and previous is not job:
        previous.detach(session_id())  # one running job per section per session
    _remember(run, job)
    return job


def _reset(run: str, job: Job, box: ControlBox) -> None:
    """Let go of the run, and bring its live settings back to their defaults (a rate pushed to 3 mid-run
    must not silently carry into every later run)."""
    reset_live_values(box, job.task.live)
    job.detach(session_id())
    st.session_state.pop(f"job:{run}", None)
    _link([i for i in _linked_ids() if i != job.id])


def _sync_live_values(run: str, job: Job, task: TrainingTask, box: ControlBox, in_control: bool) -> None:
    """Live values change a run only when a session in control of it changes a control: opening or
    rerunning a page never pushes them. A page that attaches to a run (a link, a shared Train) takes the
    run's settings into its controls, and later any live value the controller set; a watcher's change
    is put back, with a note. `task` is what the controls hold."""
    key = f"live:{run}"
    seen_id, seen = st.session_state.get(key, (None, {}))
    current = job.hyperparams
    attaching = seen_id != job.id
    changed = {} if attaching or not job.status.active else {k: v for k, v in task.live.items() if seen.get(k) != v}
    if changed and in_control:
        job.set_hyperparams(**changed)
        st.session_state[key] = (job.id, {**current, **changed})
        return
    if changed:
        st.session_state[f"refused:{run}"] = (
            "Another session controls this run, so its live settings stay as they are: "
            "press **Train my own copy** to train with yours."
        )
    st.session_state[key] = (job.id, current)
    wanted = {**task.config, **task.live} if attaching else dict(task.live)
    runs_with = {**job.task.config, **current}
    differing = {k: runs_with[k] for k in wanted if k in runs_with and runs_with[k] != wanted[k]}
    if differing:
        adopt_values(box, differing)
        st.rerun()  # the controls are already drawn: redraw them with the run's values (once per change)


def weights_seed_key(config: Mapping[str, Any]) -> str | None:
    """The setting that seeds a run's weights (a key ending in 'seed'; a playground's data seed is not it)."""
    return next((key for key in config if key.endswith("seed") and key != "data_seed"), None)


def _own_copy(run: str, task: TrainingTask, box: ControlBox) -> None:
    """The same settings with a new seed, trained as this session's own run (on the next rerun, once the
    controls hold the new seed)."""
    key = weights_seed_key(task.config)
    current = int(task.config[key]) if key else 0
    adopt_values(box, {key: (current + secrets.randbelow(9999) + 1) % 10000} if key else {})
    st.session_state[f"own_copy:{run}"] = True


def _control_line(job: Job, in_control: bool) -> None:
    """Who controls the run, for a run that more than one session watches, and the link that shares control."""
    if not job.status.active or (in_control and job.viewer_count < 2):
        return
    if not in_control:
        st.caption(
            ":material/visibility: You are watching a run that the session which started it controls: its "
            "Pause, Step, Stop and :material/bolt: settings act for everyone watching. **Train my own copy** "
            "trains these settings with a new seed, as your own run."
        )
        return
    st.caption(
        ":material/cast_for_education: You control this run: everyone watching sees your Pause, Step, Stop "
        "and :material/bolt: changes. Links to this page let others watch, not control."
    )
    with st.expander("Share control of this run", icon=":material/key:"):
        page = str(st.context.url or "").split("?")[0]
        st.code(f"{page}?job={job.id}&control={job.control_token}", language=None)
        st.caption(
            "Whoever opens this link can pause, stop and change the run, like you. Share it only with a co-teacher."
        )


def run_controls(task: TrainingTask, box: ControlBox) -> Job | None:
    """Train / pause / resume / step / stop / reset for a section's run (`task.run`), whose settings come
    from `box` (a run's settings are shown there when this page attaches to it).
    `task` is what Train would start now: a job with another config is stale. The session that started
    a run controls it (see `Job.may_control`); others watch it and may train their own copy. The task's
    live hyperparameters reach a running job only when a session in control changes them."""
    run = task.run
    job = attached_job(run)
    status = job.status if job else None
    stale = job is not None and dict(job.task.config) != dict(task.config)
    in_control = job is None or job.may_control(session_id())
    watching = job is not None and status.active and not in_control and not stale

    columns = st.columns(5)
    clicked = None
    if st.session_state.pop(f"own_copy:{run}", False):
        clicked = lambda: _start(run, task, job)
    label = "Train my own copy" if watching else "Train" if job is None or not status.active else "Train anew"
    if columns[0].button(
        label,
        icon=":material/play_arrow:",
        type="primary",
        width="stretch",
        key=f"{run}:train",
        help="Start a run with these settings. If someone already trained or is training exactly "
        "these settings, you watch that run instead: change the seed to train a fresh one.",
    ):
        clicked = (lambda: _own_copy(run, task, box)) if watching else (lambda: _start(run, task, job))
    if status == JobStatus.PAUSED:
        if columns[1].button(
            "Resume", icon=":material/resume:", width="stretch", key=f"{run}:resume", disabled=not in_control
        ):
            clicked = job.resume
    elif columns[1].button(
        "Pause",
        icon=":material/pause:",
        width="stretch",
        key=f"{run}:pause",
        disabled=status != JobStatus.RUNNING or not in_control,
    ):
        clicked = job.pause
    if columns[2].button(
        "Step",
        icon=":material/skip_next:",
        width="stretch",
        key=f"{run}:step",
        help=f"Train one more {task.unit}, then pause.",
        disabled=status not in (JobStatus.PAUSED, JobStatus.RUNNING) or not in_control,
    ):
        clicked = job.step
    if columns[3].button(
        "Stop",
        icon=":material/stop:",
        width="stretch",
        key=f"{run}:stop",
        disabled=not (status and status.active) or not in_control,
    ):
        clicked = lambda: job.stop("Stopped by a click on Stop.")
    if columns[4].button(
        "Reset",
        icon=":material/restart_alt:",
        width="stretch",
        key=f"{run}:reset",
        disabled=job is None,
        help="Let go of this run and start again from the settings above; live settings go back to their defaults.",
    ):
        clicked = lambda: _reset(run, job, box)
    if clicked is not None:
        clicked()
        st.rerun()  # redraw the buttons and the panel's timer for the job's new state

    refused = st.session_state.pop(f"refused:{run}", None)
    if refused:
        st.warning(refused, icon=":material/hourglass_disabled:")
    if job is not None:
        _sync_live_values(run, job, task, box, in_control)
        _control_line(job, in_control)
    if stale:
        st.info(
            "You changed settings that define the run: press **Train anew** to train with them. "
            "Settings marked :material/bolt: apply to the running job at once.",
            icon=":material/edit:",
        )
    return job


WAITING = "The network appears once its data is made and its weights are drawn (a few seconds)."


def live_panel(job: Job | None, draw: Callable[[JobView], None], waiting: str = WAITING) -> None:
    """Redraw `draw(view)` while the job trains, with its status and a progress bar; until the run's
    first snapshot there is nothing to draw, and the panel says `waiting` instead."""
    if job is None:
        st.caption("No run yet: choose settings and press **Train**.")
        return
    registry = job_registry()
    seen = job.view()
    watchers = 0 if job.may_control(session_id()) else job.viewer_count
    interval = _poll_interval(seen.status, watchers, registry.running_count > 1, seen.held, job.keeps_frames)

    def panel():
        job.heartbeat(session_id())
        view = job.view()
        _status_line(view, registry.running_count, registry.max_running)
        if view.snapshot is None:
            st.caption(waiting)
        else:
            with drawing_for(watchers == 0, _frames_since_last_redraw(job, view) if watchers == 0 else ()):
                draw(view)
        now_watching = 0 if watchers == 0 else view.viewers
        if (view.status != seen.status and view.status.active != seen.status.active) or _poll_interval(
            view.status, now_watching, registry.running_count > 1, view.held, job.keeps_frames
        ) != interval:
            st.rerun(scope="app")

    _draw_panel(panel, interval)
    view = job.view()
    if not view.status.active and view.history:
        st.download_button(
            "Metrics as CSV",
            icon=":material/download:",
            data=metrics_csv(view.history),
            file_name=f"{job.run.replace('/', '-')}-{view.id}-metrics.csv",
            mime="text/csv",
            key=f"{job.run}:csv",
        )


def _frames_since_last_redraw(job: Job, view: JobView) -> list[JobView]:
    """The run's states between this session's last redraw of it and `view`, for its charts to play back (none
    on the first, or once the run no longer trains)."""
    key = f"drawn:{job.id}"
    after = st.session_state.get(key, view.version)
    st.session_state[key] = view.version
    return job.frames_between(after, view) if view.status == JobStatus.RUNNING else []


def _draw_panel(panel: Callable[[], None], interval: float | None) -> None:
    """The panel as a fragment that reruns every `interval` seconds, named by its pace; once its run has ended
    (no pace), drawn once in a container of the same place. A timer tick sent at the old pace and still in flight
    when the page is redrawn at a new one then names a fragment the session no longer holds, and Streamlit drops
    it instead of rerunning the panel right after the full rerun: the likeliest way to the rare white page
    ('setIn cannot be called on an ElementNode'), where Streamlit's clean-up after one run and the next run's
    new elements cross (streamlit#16708, #16705)."""
    if interval is None:
        with st.container():
            panel()
        return
    panel.__qualname__ = f"{panel.__qualname__}@{interval:g}s"
    st.fragment(run_every=interval)(panel)()


def preparing_text(elapsed_s: float) -> str:
    """What a run says before its first update, with the seconds it has waited (so a slow compile on a
    busy server reads as work, not as a frozen page)."""
    return f"Preparing the data and compiling the model: {elapsed_s:.0f} s so far (the first step takes a few seconds)…"


def _status_line(view: JobView, running: int, capacity: int) -> None:
    if view.status == JobStatus.QUEUED:
        st.info(
            f"Waiting for a free slot: you are number {view.queue_position} in the queue "
            f"({running} of {capacity} runs are training on this server).",
            icon=":material/hourglass_top:",
        )
        return
    if view.status == JobStatus.RUNNING and view.epoch == 0 and view.batches is None:
        st.progress(0.0, text=preparing_text(view.elapsed_s))
    elif view.status.active:
        if view.held:  # paused and at rest
            within = f" (+ {view.batch} of {view.batches} batches)" if view.batch and view.batches else ""
            text = f"Paused at {view.unit} {view.epoch}{within} of {view.epochs} · {view.elapsed_s:.1f} s"
        elif view.status == JobStatus.PAUSED:
            text = f"Pausing at {view.unit} {view.epoch} of {view.epochs}…"
        else:
            text = f"Training: {view.unit} {view.epoch} of {view.epochs} · {view.elapsed_s:.1f} s"
        st.progress(view.progress, text=text)
    elif view.status == JobStatus.FINISHED:
        st.success(view.message, icon=":material/check_circle:")
    elif view.status == JobStatus.FAILED:
        st.error(view.message, icon=":material/error:")
    else:
        st.warning(view.message, icon=":material/stop_circle:")
    if view.viewers > 1:
        st.caption(f":material/group: {view.viewers} sessions are watching this run; its buttons act for all of them.")


def run_section(
    lesson: str,
    box: ControlBox,
    make_task: Callable[[Mapping[str, Any]], TrainingTask],
    draw: Callable[[JobView], None],
    waiting: str = WAITING,
) -> dict[str, Any]:
    """A section with its own live run: its controls box, the run's buttons, and `draw(view)`
    redrawn while it trains (`waiting` until its first snapshot). Returns the section's settings."""
    config = lesson_controls(lesson, box)
    job = run_controls(make_task(config), box)
    live_panel(job, draw, waiting)
    return config
