"""Process-wide and per-session handles."""

from __future__ import annotations

import hashlib
import itertools
import uuid

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.engine.backends import ChosenBackend, JobBackend, backend_from_env
from core.engine.jobs import JobRegistry, default_max_running
from core.engine.workers import worker_pool_from_env


def _local_registry() -> JobRegistry:
    return JobRegistry(workers=worker_pool_from_env(default_max_running()))


@st.cache_resource
def chosen_backend() -> ChosenBackend:
    """One job engine per server process, shared by every session (the classroom's shared runs): the
    server's own, whose runs train in threads or, where the server is set up so (`EDL_TRAIN_IN_PROCESSES=1`),
    in worker processes; or a Ray cluster's (`EDL_RAY_ADDRESS`)."""
    return backend_from_env(_local_registry)


def job_registry() -> JobBackend:
    return chosen_backend().backend


SESSION_KEY = "edl:session_id"
XSRF_COOKIE = "_streamlit_xsrf"


def browser_token(cookie: str) -> str | None:
    """The token inside Tornado's XSRF cookie ('2|mask|masked token|time', or the bare token of version
    1): the cookie's text changes on every page load, its unmasked token stays the same for a browser."""
    parts = cookie.split("|")
    if len(parts) == 1:
        return cookie or None
    if len(parts) != 4 or parts[0] != "2":
        return None
    try:
        mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
    except ValueError:
        return None
    return bytes(a ^ b for a, b in zip(masked, itertools.cycle(mask))).hex() if mask else None


def session_id() -> str:
    """Who is at this page: one id per browser, so that a reload or a second tab is still the student
    who started a run (and keeps its controls). It is a hash of the browser's XSRF token, which never
    leaves the server; without the cookie (AppTest, where Streamlit's own session id is the same for
    every test) an id drawn once for the session."""
    if get_script_run_ctx() is None:
        return "no-session"
    if SESSION_KEY not in st.session_state:
        token = browser_token(st.context.cookies.get(XSRF_COOKIE, ""))
        st.session_state[SESSION_KEY] = hashlib.sha256(token.encode()).hexdigest()[:24] if token else uuid.uuid4().hex
    return st.session_state[SESSION_KEY]
