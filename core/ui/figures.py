"""Every chart on a page goes through `show_figure`: the house style at the session's projector size,
the PNG camera button, and Streamlit's theme kept off (it would override the chart's font sizes)."""

from __future__ import annotations

import streamlit as st

from core.charts.theme import PNG, style
from core.ui.projector import projector_enabled


def show_figure(fig, key: str) -> None:
    """Draw a Plotly figure in the house style (projector mode read from the session)."""
    st.plotly_chart(style(fig, projector_enabled()), key=key, config=PNG, theme=None)
