"""Every chart on a page goes through `show_figure`: the house style at the session's projector size,
the PNG camera button, and Streamlit's theme kept off (it would override the chart's font sizes).

A run's live charts go through `show_run_figure`: everyone watching a run at one version sees the same
picture, so it is built and styled once per version (and projector size) for the whole class, not once
per student and redraw."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import streamlit as st

from core.charts.theme import PNG, style
from core.engine.jobs import JobView
from core.ui.projector import projector_enabled

RUN_FIGURES_KEPT = 256
"""Styled figures kept for the runs being watched: a few versions of each chart of a few runs."""


class FigureCache:
    """Styled figures by (run, version, chart, projector), the least recently used dropped first."""

    def __init__(self, size: int = RUN_FIGURES_KEPT):
        self.size, self.builds = size, 0
        self._figures: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def styled(self, key: Hashable, build: Callable[[], Any], projector: bool) -> Any:
        with self._lock:
            if key in self._figures:
                self._figures.move_to_end(key)
                return self._figures[key]
        figure = style(build(), projector)  # outside the lock: another chart may build meanwhile
        with self._lock:
            self.builds += 1
            self._figures[key] = figure
            while len(self._figures) > self.size:
                self._figures.popitem(last=False)
        return figure


RUN_FIGURES = FigureCache()


def show_figure(fig, key: str) -> None:
    """Draw a Plotly figure in the house style (projector mode read from the session)."""
    st.plotly_chart(style(fig, projector_enabled()), key=key, config=PNG, theme=None)


def show_run_figure(view: JobView, key: str, build: Callable[[], Any], choices: Hashable = ()) -> None:
    """Draw a chart of a run's state as `view` holds it. `build()` may depend only on the run (its
    history, snapshot and config) and on `choices`: a session's own choices that the chart shows (an
    example picked, test points shown)."""
    projector = projector_enabled()
    figure = RUN_FIGURES.styled((view.id, view.version, key, choices, projector), build, projector)
    st.plotly_chart(figure, key=key, config=PNG, theme=None)
