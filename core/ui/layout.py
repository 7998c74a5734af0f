"""Pieces every page shares: the sidebar, a lesson's header and the card of a lesson still to come."""

from __future__ import annotations

import importlib
import sys
import threading

import streamlit as st

from core.engine.backend import library_versions, load_keras
from core.engine.text import markdown_literal
from core.lessons import Lesson
from core.ui.projector import projector_toggle, sync_projector_param
from core.ui.session import chosen_backend, job_registry, session_id


@st.cache_resource(show_spinner=False)
def _server_device() -> str:
    """Runs training in this process: imports JAX once per process (about a second), so it runs after the page is
    drawn, and other sessions wait for this one's import."""
    return job_registry().training_device


DEVICE_UNKNOWN_YET = "JAX computes on: not reported yet (shown once a training process has started)"
"""Until JAX, a worker or the cluster has said (a worker takes a few seconds to start). The sidebar is not redrawn
by itself, so the sentence says when the answer comes rather than promising it is on its way."""


def device_line(finding: bool) -> str:
    """The sidebar's device line: where runs compute. A server whose runs train elsewhere never imports JAX for it
    (about 120 MB and a second and a half): its workers or cluster say. `finding`: allowed to import JAX."""
    backend = job_registry()
    if backend.trains_here:
        device = _server_device() if finding or "jax" in sys.modules else None
    else:
        device = backend.training_device
    return f"JAX computes on: **{device}**" if device else DEVICE_UNKNOWN_YET


SHARED_LIBRARIES = ("pandas", "plotly.graph_objects", "sklearn.datasets")
"""What pages and jobs both use, imported by one thread before pages need them: pandas imported by two threads at
once breaks its circular imports, and plotly, which looks for pandas among the modules already loaded, finds it
half-imported while another thread imports it ('partially initialized module pandas has no attribute Series')."""


def import_shared_libraries() -> None:
    for name in SHARED_LIBRARIES:
        importlib.import_module(name)


@st.cache_resource(show_spinner=False)
def _warm_up() -> threading.Thread | None:
    """Once per process (at the server's start, or after the first page is drawn where the server was started
    by Home.py alone): import the shared libraries, then Keras in the background so that the first Train click
    does not wait for it. Not where runs train elsewhere (worker processes, Ray): a page that needs Keras imports
    it then, and the server keeps the memory (about 65 MB) for its class."""
    import_shared_libraries()
    if not job_registry().trains_here:
        return None
    thread = threading.Thread(target=load_keras, name="edl-keras-warm-up", daemon=True)
    thread.start()
    return thread


def warm_server() -> None:
    """At the server's start (app.py's lifespan, in a thread of its own, the shared libraries already imported):
    what a class's first page would otherwise import while every student waits for it (a class of 30 arriving at
    a fresh server: page load p95 3.9 s in threads, 1.4 s with workers): the live run's modules and, where runs
    train here, JAX (the sidebar's device) and Keras. Returns once all are imported."""
    import core.ui.live  # noqa: F401

    keras_import = _warm_up()
    device_line(finding=True)
    if keras_import is not None:
        keras_import.join()


STEADY_PAGE_CSS = """<style>
[data-testid="stElementContainer"][data-stale="true"] { opacity: 1 !important; transition: none !important; }
</style>"""
"""While a section reruns, Streamlit fades every element it has not redrawn yet: a page whose live panel
reruns three times a second would flicker as a whole while students read it. Elements keep full opacity."""


def sidebar_top() -> None:
    """Projector switch and this session's runs; drawn before the page."""
    st.sidebar.html(STEADY_PAGE_CSS)
    projector_toggle()
    sync_projector_param()
    engine = chosen_backend()
    if engine.notice:
        st.sidebar.warning(markdown_literal(engine.notice, None), icon=":material/cloud_off:")
    elif getattr(engine.backend, "address", None):
        st.sidebar.caption(f"Runs train on the Ray cluster at {markdown_literal(engine.backend.address, None)}.")
    mine = [view for view in job_registry().views(session_id()) if view.status.active]
    runs = st.sidebar.empty()  # drawn, empty or not: the sidebar's later elements keep their places when a run ends
    if mine:
        runs.caption("Your runs: " + " · ".join(f"{view.run} ({view.status.value})" for view in mine))


def device_placeholder():
    """The sidebar's device line. Once the device is known (every run after the first) it is filled at
    once, so a run cut short by a rerun never leaves the placeholder behind; before that, after the
    page is drawn (sidebar_bottom)."""
    slot = st.sidebar.empty()
    slot.caption(device_line(finding=False))
    return slot


def sidebar_bottom(device_slot) -> None:
    """Device and versions; drawn after the page, because finding the device imports JAX."""
    device_slot.caption(device_line(finding=True))
    _warm_up()
    with st.sidebar.expander("Library versions"):
        st.caption(" · ".join(f"{name} {version}" for name, version in library_versions().items()))


def bullet_list(lines) -> str:
    """Findings as a Markdown list, one line each."""
    return "\n".join(f"- {line}" for line in lines)


def what_to_notice(lines: list[str], waiting: str = "") -> None:
    """A section's findings, computed from its run, in the expander every lesson ends a section with; `waiting`
    until there are any."""
    with st.expander("What to notice", expanded=True):
        st.markdown(bullet_list(lines) or (f"- {waiting}" if waiting else ""))


def lesson_header(lesson: Lesson, summary: str) -> None:
    st.title(lesson.title)
    st.markdown(summary)


def coming_soon(lesson: Lesson) -> None:
    """The card of a lesson not built yet: what it will teach, never an error."""
    if "job" in st.query_params:
        del st.query_params["job"]
    st.title(lesson.title)
    with st.container(border=True):
        st.subheader(":material/construction: Coming soon")
        st.markdown(f"**What this lesson will do:** {lesson.promise}")
        st.markdown(
            "It is being built on the same live training engine as the rest of the app. "
            "Meanwhile, the **Engine room** shows a live run from start to finish."
        )
