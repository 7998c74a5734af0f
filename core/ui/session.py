"""Process-wide and per-session handles."""

from __future__ import annotations

import uuid

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.jobs import JobRegistry


@st.cache_resource
def job_registry() -> JobRegistry:
    """One registry per server process, shared by every session (the classroom's shared runs)."""
    return JobRegistry()


SESSION_KEY = "edl:session_id"


def session_id() -> str:
    """This browser session's id: drawn once and kept in its session state (Streamlit's own id is the
    same for every AppTest, which could not then test two students)."""
    if get_script_run_ctx() is None:
        return "no-session"
    if SESSION_KEY not in st.session_state:
        st.session_state[SESSION_KEY] = uuid.uuid4().hex
    return st.session_state[SESSION_KEY]
