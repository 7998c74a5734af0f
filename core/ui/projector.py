"""Projector mode: larger type, high contrast and collapsed controls, for the back of a classroom.

The switch lives in the sidebar of every page and in the URL (`projector=1`), so a teacher's link
opens straight in it.
"""

from __future__ import annotations

import streamlit as st

_CSS = """
<style>
html, body, .stApp { font-size: 21px; }
.stApp { background: #ffffff; color: #000000; }
.stApp p, .stApp li, .stApp label, .stApp .stMarkdown { font-size: 1.3rem !important; color: #000000; }
.stApp h1 { font-size: 3rem !important; }
.stApp h2 { font-size: 2.3rem !important; }
.stApp h3 { font-size: 1.8rem !important; }
.stApp button p { font-size: 1.25rem !important; font-weight: 700; }
section[data-testid="stSidebar"] { background: #f0f0f0; }
</style>
"""


def projector_enabled() -> bool:
    """The switch's state: the sidebar toggle once rendered, else the URL."""
    if "projector" not in st.session_state:
        st.session_state["projector"] = st.query_params.get("projector") == "1"
    return bool(st.session_state["projector"])


def projector_toggle() -> bool:
    """Render the sidebar switch and apply the style; returns whether projector mode is on."""
    projector_enabled()
    on = st.sidebar.toggle(":material/cast_for_education: Projector mode", key="projector", help="Larger type, high contrast, controls folded away.")
    if on:
        st.markdown(_CSS, unsafe_allow_html=True)
    return on


def sync_projector_param() -> None:
    """Keep `projector=1` in the URL while the mode is on, so a copied link keeps it."""
    if projector_enabled():
        st.query_params["projector"] = "1"
    elif "projector" in st.query_params:
        del st.query_params["projector"]
