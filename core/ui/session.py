"""Process-wide and per-session handles."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.jobs import JobRegistry


@st.cache_resource
def job_registry() -> JobRegistry:
    """One registry per server process, shared by every session (the classroom's shared runs)."""
    return JobRegistry()


def session_id() -> str:
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"
