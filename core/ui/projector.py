"""Projector mode: larger type, high contrast and collapsed controls, for the back of a classroom.

The switch lives in the sidebar of every page and in the URL (`projector=1`), so a teacher's link
opens straight in it.
"""

from __future__ import annotations

import streamlit as st

_CSS = """
<style>
[data-testid="stMain"] { background: #ffffff; color: #000000; }
[data-testid="stMain"] p, [data-testid="stMain"] li, [data-testid="stMain"] label {
  font-size: 1.6rem !important; color: #000000; line-height: 1.5;
}
[data-testid="stMain"] h1 { font-size: 3.4rem !important; }
[data-testid="stMain"] h2 { font-size: 2.6rem !important; }
[data-testid="stMain"] h3 { font-size: 2.1rem !important; }
[data-testid="stMain"] button p { font-size: 1.35rem !important; font-weight: 700; }
</style>
"""


def projector_enabled() -> bool:
    """The switch's state: the sidebar toggle once rendered, else the URL."""
    if "projector" not in st.session_state:
        st.session_state["projector"] = st.query_params.get("projector") == "1"
    return bool(st.session_state["projector"])


def projector_toggle() -> bool:
    """Render the sidebar switch and apply the style; returns whether projector mode is on."""
    projector_enabled()  # seeds the switch from the URL on a session's first run
    on = st.sidebar.toggle(
        ":material/cast_for_education: Projector mode",
        key="projector",
        help="Larger type, high contrast, controls folded away.",
    )
    if on:
        st.markdown(_CSS, unsafe_allow_html=True)
    return on


def sync_projector_param() -> None:
    """Keep `projector=1` in the URL while the mode is on, so a copied link keeps it."""
    if projector_enabled():
        st.query_params["projector"] = "1"
    elif "projector" in st.query_params:
        del st.query_params["projector"]
