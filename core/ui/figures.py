"""Every chart on a page goes through `show_figure`: the house style at the session's projector size,
the PNG camera button, and Streamlit's theme kept off (it would override the chart's font sizes).

A run's live charts go through `show_run_figure`: everyone watching a run at one version sees the same
picture, so it is built, styled and serialised once per version (and projector size) for the whole class,
not once per student and redraw. The page in control of a run asks for its pictures three times a second and
plays back the run's states in between, ten a second: a redraw costs the run in a server's threads the same
whatever it carries. Each chart is drawn by a small component that updates one plotly.js chart in
place (`liveplot.js`): `st.plotly_chart` remounts a chart whenever its figure changes, which caps a live
chart's pace and can blank it for a frame. plotly.js comes from the plotly package, served by the app
itself (`server.enableStaticServing`), so nothing is downloaded."""

from __future__ import annotations

import base64
import contextvars
import json
import os
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import plotly
import plotly.io as pio
import streamlit as st
from _plotly_utils.utils import plotlyjsShortTypes, to_typed_array_spec

from core.charts.theme import HOUSE_TEMPLATE, PNG, style
from core.engine.jobs import JobStatus, JobView
from core.ui.projector import projector_enabled

RUN_FIGURES_KEPT = 256
"""Styled figures kept for the runs being watched: a few versions of each chart of a few runs."""
APP_STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
"""Where Streamlit serves the app's own files from (`static/` beside Home.py), as `app/static/…`."""
PLOTLY_JS = "plotly.min.js"
LIVE_CONFIG = {**PNG, "responsive": True}


FRESH_FOR_S = 0.08
"""While a run trains, a chart's picture stays fresh for this long for its watchers: a newer version asked for
within it gets that picture instead of a new build, so a class polling a run costs about a dozen builds a chart
a second beyond the page in control's own. That page (the one a teacher projects) always gets the newest
version, and the pictures of the states since its last redraw (`drawing_for`)."""
_DRAWING_FOR_CONTROLLER = contextvars.ContextVar("edl_drawing_for_controller", default=False)
_FRAMES: contextvars.ContextVar[tuple[JobView, ...]] = contextvars.ContextVar("edl_frames", default=())


@contextmanager
def drawing_for(in_control: bool, frames: tuple[JobView, ...] = ()) -> Iterator[None]:
    """Charts drawn inside are for the page in control of their run (`in_control`) or for a watcher; `frames` are
    the run's states since the page's last redraw, oldest first (`Job.frames_between`): its charts of the snapshot
    play back their pictures before the newest."""
    tokens = _DRAWING_FOR_CONTROLLER.set(in_control), _FRAMES.set(tuple(frames))
    try:
        yield
    finally:
        _DRAWING_FOR_CONTROLLER.reset(tokens[0])
        _FRAMES.reset(tokens[1])


@dataclass(frozen=True)
class LiveFigure:
    """A styled figure of a run's chart at one version, and what the live-chart component draws of it: the
    figure, its toolbar config and an id of this picture, as JSON made once for every watcher. The JSON travels as
    bytes: Streamlit sends a component's text data JSON-encoded once more, and checks and hashes it on the way
    (0.5 ms a chart, twice what bytes cost, for every chart of every watcher's redraw)."""

    figure: Any
    chart: Hashable
    version: int
    built_at: float
    json: bytes

    @classmethod
    def of(cls, figure, chart: Hashable, version: int, built_at: float) -> LiveFigure:
        header = {
            "version": str(hash((chart, version))),
            "plotly": f"./app/static/{PLOTLY_JS}",
            "config": LIVE_CONFIG,
        }
        payload = json.dumps(header)[:-1] + f', "figure": {figure_json(figure, single_precision=True)}}}'
        return cls(figure, chart, version, built_at, payload.encode())


def figure_json(figure, single_precision: bool = False) -> str:
    """The figure (a plotly Figure or a plain chart, `plain_figure`) as plotly writes it (`figure.to_json()`; a
    test holds them equal), in half its time: plotly deep-copies the figure first and encodes it twice (to turn NaN
    into null); here its property dicts are encoded once, arrays as plotly's binary typed arrays. A figure holding
    NaN or infinity outside an array (JSON lacks them), or a value plotly alone knows how to write, goes plotly's
    way. With `single_precision`, long float arrays (curves, surfaces) are written as float32: half the bytes of
    float64, and a chart cannot show more than seven significant digits anyway. Every redraw of every watcher hashes
    and sends these bytes."""
    if isinstance(figure, dict):
        layout = figure["layout"]
        parts = {
            "data": figure["data"],
            "layout": layout if "template" in layout else {**layout, "template": HOUSE_TEMPLATE},
        }
    else:
        parts = {"data": figure._data, "layout": figure._layout}
    try:
        return json.dumps(parts, default=_single_precision if single_precision else _typed_array, allow_nan=False)
    except (TypeError, ValueError):
        return pio.to_json(parts, validate=False)


def _single_precision(value):
    """`_typed_array`, long float64 arrays in single precision (integers go as plotly narrows them, an image's
    bytes as bytes: as float32 they would grow)."""
    if isinstance(value, np.ndarray) and value.size >= COMPACT_FROM and value.dtype == np.float64:
        value = value.astype(np.float32)
    return _typed_array(value)


def _typed_array(value):
    """A numpy array or number as plotly writes it; other arrays (dates, text) are plotly's to write. A numeric
    array plotly.js reads as it is (native byte order, not 64-bit integers) is encoded here, as plotly would, without
    its copy and its dataframe checks (a tenth of the loss curves' build, a quarter of the surface's)."""
    if isinstance(value, np.ndarray) and value.size and value.dtype.isnative and str(value.dtype) in _PLOTLYJS_TYPES:
        spec = {
            "dtype": _PLOTLYJS_TYPES[str(value.dtype)],
            "bdata": base64.b64encode(np.ascontiguousarray(value)).decode("ascii"),
        }
        if value.ndim > 1:
            spec["shape"] = str(value.shape)[1:-1]
        return spec
    spec = to_typed_array_spec(value) if isinstance(value, np.ndarray) else None
    if isinstance(spec, dict):
        return spec
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    raise TypeError(f"{type(value).__name__} in a figure")


_PLOTLYJS_TYPES = {name: code for name, code in plotlyjsShortTypes.items() if name not in ("int64", "uint64")}
"""The numpy dtypes plotly.js reads as typed arrays as they are (plotly narrows 64-bit integers first)."""

RUNNING_MARK = b'{"live": true, '
"""Put before a picture's JSON (in place of its opening brace) while its run trains: the same cached picture
serves a run that trains and one that has just stopped."""

FRAMES_MARK = b'"frames": ['
"""Put after RUNNING_MARK before the pictures of the run's earlier states, which the chart plays back first."""

COMPACT_FROM = 64
"""Float arrays at least this long travel in single precision (`figure_json`)."""


class FigureCache:
    """Live figures by chart (run, chart key, a session's choices, projector size) and version, each built
    and styled once; the least recently used dropped first."""

    def __init__(self, size: int = RUN_FIGURES_KEPT):
        self.size, self.builds = size, 0
        self._figures: OrderedDict[Hashable, LiveFigure] = OrderedDict()
        self._newest: dict[Hashable, LiveFigure] = {}
        self._lock = threading.Lock()

    def styled(
        self,
        chart: Hashable,
        version: int,
        build: Callable[[], Any],
        projector: bool,
        fresh_for_s: float = 0.0,
        exact: bool = False,
    ) -> LiveFigure:
        """The chart at `version`, or its newest picture if that was built less than `fresh_for_s` ago (a
        picture never goes back to an older version); with `exact`, the picture of `version` itself (one of the
        earlier states a chart plays back)."""
        now = time.monotonic()
        with self._lock:
            known = self._figures.get((chart, version))
            newest = self._newest.get(chart)
            if (
                known is None
                and not exact
                and newest is not None
                and (newest.version > version or now - newest.built_at < fresh_for_s)
            ):
                known = newest
            if known is not None:
                self._figures.move_to_end((known.chart, known.version))
                return known
        figure = LiveFigure.of(style(build(), projector), chart, version, now)  # outside the lock: others build too
        with self._lock:
            self.builds += 1
            self._figures[(chart, version)] = figure
            if chart not in self._newest or self._newest[chart].version < version:
                self._newest[chart] = figure
            while len(self._figures) > self.size:
                (old_chart, _), dropped = self._figures.popitem(last=False)
                if self._newest.get(old_chart) is dropped:
                    del self._newest[old_chart]
        return figure


RUN_FIGURES = FigureCache()


def _publish_plotly_js() -> bool:
    """Put the plotly package's own plotly.js where the app serves its static files (once per process);
    False where static serving is off or the folder cannot be written, and live charts fall back to
    `st.plotly_chart`."""
    if not st.get_option("server.enableStaticServing"):
        return False
    source = Path(plotly.__file__).parent / "package_data" / PLOTLY_JS
    target = APP_STATIC_DIR / PLOTLY_JS
    try:
        if not target.exists() or target.stat().st_size != source.stat().st_size:
            APP_STATIC_DIR.mkdir(exist_ok=True)
            partial = target.with_name(f".{PLOTLY_JS}.{os.getpid()}")
            shutil.copyfile(source, partial)
            os.replace(partial, target)  # whole or not at all: another server may be serving it already
    except OSError:
        return False
    return True


LIVE_PLOT_SERVED = _publish_plotly_js()
_live_plot = st.components.v2.component(
    "edl_live_plot",
    js=Path(__file__).with_name("livecanvas.js").read_text() + Path(__file__).with_name("liveplot.js").read_text(),
    isolate_styles=False,
)


def show_figure(fig, key: str) -> None:
    """Draw a Plotly figure in the house style (projector mode read from the session)."""
    st.plotly_chart(style(fig, projector_enabled()), key=key, config=PNG, theme=None)


def show_run_figure(
    view: JobView,
    key: str,
    build: Callable[[JobView], Any],
    choices: Hashable = (),
    snapshot_only: bool = False,
) -> None:
    """Draw a chart of a run's state as `view` holds it. `build(view)` may depend only on the view it is given (the
    run's history, snapshot and config) and on `choices`: a session's own choices that the chart shows (an example
    picked, test points shown). A chart that reads only the snapshot says so (`snapshot_only`): it is then rebuilt
    when a new snapshot comes, not with every new row of the curves, and for the page in control it is also built
    for the run's snapshots since that page's last redraw, which the chart plays back before the newest
    (`drawing_for`); a chart of the history plays back the points added since instead (`liveplot.js`). While the
    run trains, a chart the canvas can draw (curves, a decision surface: `canvasDrawable` in livecanvas.js) is drawn
    there, ten times a second where plotly.js manages about five; others, and every chart once the run pauses or
    ends, by plotly.js."""
    projector = projector_enabled()
    version = view.snapshot_version if snapshot_only else view.version
    running = view.status == JobStatus.RUNNING
    shared = running and not _DRAWING_FOR_CONTROLLER.get()  # a run that stops shows its last state
    fresh_for_s = FRESH_FOR_S if shared else 0.0
    chart = (view.id, key, choices, projector, snapshot_only)
    live = RUN_FIGURES.styled(chart, version, lambda: build(view), projector, fresh_for_s)
    if not LIVE_PLOT_SERVED:
        st.plotly_chart(live.figure, key=key, config=PNG, theme=None)
        return
    if not running:
        _live_plot(key=key, data=live.json)
        return
    frames, shown = [], set()
    for frame in _FRAMES.get() if snapshot_only else ():  # the curves play the points added (liveplot.js)
        if frame.snapshot_version < version and frame.snapshot_version not in shown:
            shown.add(frame.snapshot_version)
            frames.append(
                RUN_FIGURES.styled(
                    chart, frame.snapshot_version, lambda frame=frame: build(frame), projector, exact=True
                ).json
            )
    played = FRAMES_MARK + b", ".join(frames) + b"], " if frames else b""
    _live_plot(key=key, data=RUNNING_MARK + played + live.json[1:])
