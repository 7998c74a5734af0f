"""The shared cache of a run's styled figures: one build per chart and version, projector sizes apart, oldest
dropped; while a run trains, a picture a few hundredths of a second old serves a newer version."""

import json

import numpy as np
import plotly.graph_objects as go
import pytest

from core.charts.layers import race_curves
from core.charts.optimisation import batch_losses_chart
from core.charts.theme import NOTHING_YET, PROJECTOR_FONT_SIZE, plain_figure, style
from core.charts.training import decision_surface, metric_curves
from core.ui.figures import COMPACT_FROM, FigureCache, _typed_array, figure_json


def _figure():
    return go.Figure(go.Scatter(x=[0, 1], y=[1, 0]), layout={"title": {"text": "A chart"}})


def test_a_figure_is_built_once_per_chart_and_version_and_styled_for_its_projector_size():
    cache, calls = FigureCache(size=4), []

    def build():
        calls.append(1)
        return _figure()

    first = [cache.styled(("run", "loss", (), False), 1, build, False).figure for _ in range(30)]
    assert len(calls) == cache.builds == 1 and all(f is first[0] for f in first)
    projected = cache.styled(("run", "loss", (), True), 1, build, True).figure
    assert len(calls) == 2 and projected.layout.font.size == PROJECTOR_FONT_SIZE != first[0].layout.font.size


def test_the_least_recently_used_figure_is_dropped_first():
    cache = FigureCache(size=2)
    for chart in ("loss", "accuracy"):
        cache.styled(chart, 1, _figure, False)
    cache.styled("loss", 1, _figure, False)  # used again: the accuracy chart is now the oldest
    cache.styled("surface", 1, _figure, False)
    assert cache.builds == 3
    cache.styled("loss", 1, _figure, False)
    assert cache.builds == 3
    cache.styled("accuracy", 1, _figure, False)
    assert cache.builds == 4


def test_a_fresh_picture_serves_newer_versions_and_a_picture_never_goes_back(monkeypatch):
    from core.ui import figures

    clock = [100.0]
    monkeypatch.setattr(figures.time, "monotonic", lambda: clock[0])
    cache = FigureCache()
    first = cache.styled("chart", 5, _figure, False, fresh_for_s=0.08)
    clock[0] += 0.05
    assert cache.styled("chart", 6, _figure, False, fresh_for_s=0.08) is first and cache.builds == 1
    assert cache.styled("chart", 6, _figure, False).version == 6 and cache.builds == 2  # a stopped run: exact
    clock[0] += 0.1
    assert cache.styled("chart", 9, _figure, False, fresh_for_s=0.08).version == 9 and cache.builds == 3
    assert cache.styled("chart", 7, _figure, False, fresh_for_s=0.08).version == 9  # an older view: the newest


def test_the_live_chart_gets_the_figure_its_toolbar_and_an_id_of_the_picture():
    cache = FigureCache()
    payload = json.loads(cache.styled("chart", 1, _figure, False).json)
    assert payload["figure"]["layout"]["title"]["text"] == "A chart"
    assert payload["config"]["toImageButtonOptions"]["format"] == "png" and payload["plotly"].endswith("plotly.min.js")
    assert payload["version"] != json.loads(cache.styled("chart", 2, _figure, False).json)["version"]


def test_a_running_picture_says_it_trains_and_the_same_picture_serves_it_once_stopped():
    from core.ui.figures import RUNNING_MARK

    picture = FigureCache().styled("curves", 1, _figure, False)
    running = json.loads(RUNNING_MARK + picture.json[1:])
    assert running["live"] is True and running["figure"] == json.loads(picture.json)["figure"]
    assert "live" not in json.loads(picture.json)


def test_a_legend_of_several_rows_pushes_the_plot_down_under_the_title():
    from core.charts.theme import TITLE_LINE_HEIGHT, style

    def figure(entries):
        return go.Figure([go.Scatter(x=[0], y=[0], name=f"kind {i}") for i in range(entries)], layout={"title": "t"})

    assert style(figure(6)).layout.margin.t == style(figure(2)).layout.margin.t + 2 * TITLE_LINE_HEIGHT


def _a_run_chart_drawn(version: int, in_control: bool):
    """A script: the chart of a training run at `version`, for the page in control of the run or a watcher."""
    import plotly.graph_objects as go

    from core.engine.jobs import JobStatus, JobView
    from core.ui.figures import drawing_for, show_run_figure

    view = JobView("fresh-run", "r", JobStatus.RUNNING, "", version, 9, 0, None, (), {}, {}, 2, None, 1.0, version)
    with drawing_for(in_control):
        show_run_figure(view, "chart", lambda: go.Figure(layout={"title": {"text": f"version {version}"}}))


def test_the_page_in_control_gets_each_new_picture_and_a_watcher_a_fresh_one(monkeypatch):
    """The projected page's redraws each bring the newest version; a watcher asking within `FRESH_FOR_S` of a
    build is served that picture (a class costs the server a bounded number of builds)."""
    from streamlit.testing.v1 import AppTest

    from core.ui import figures
    from tests.helpers import chart_figures

    monkeypatch.setattr(figures.time, "monotonic", lambda: 500.0)  # every request within the same instant
    shown = []
    for version, in_control in ((1, True), (2, True), (3, False)):
        at = AppTest.from_function(_a_run_chart_drawn, args=(version, in_control)).run()
        assert not at.exception
        shown += [figure["layout"]["title"]["text"] for figure in chart_figures(at)]
    assert shown == ["version 1", "version 2", "version 2"]


def test_plain_charts_pass_plotlys_checks_and_style_and_travel_as_plotly_would_write_them():
    """A run's charts are plain dicts (`plain_figure`), styled and encoded without plotly.py: what reaches the browser
    is what plotly.py writes for the same chart built as a Figure (which passes plotly's checks) and styled through
    its own machinery, in both sizes; the chart the builder returned is left as it was."""
    history = [
        {"epoch": e, "loss": 1 / e, "val_loss": 1.2 / e, "a: loss": 2 / e, "a: val_loss": 3 / e} for e in range(1, 90)
    ]
    axis = np.linspace(-2, 2, 30)
    builders = [
        lambda: metric_curves(history, ("loss", "val_loss"), "Loss", "loss", log_y=True, reference=(0.69, "guessing")),
        lambda: metric_curves(history, ("loss",), "A title long enough to wrap onto two lines of a half-width chart"),
        lambda: metric_curves(history, ("loss", "val_loss"), "Returns", y_range=(-1, 2)),
        lambda: decision_surface(axis, np.full((30, 30), 0.5), np.eye(2), np.array([0, 1]), "Surface"),
        lambda: race_curves(history, ["a"], ["loss", "val_loss"], "Race", log_y=True),
        lambda: metric_curves([], ("loss",), "Loss", log_y=True),
        lambda: plain_figure(
            [{"type": "scatter", "x": [0, 1], "y": [2, 3], "mode": "markers+text", "textfont": {"size": 11}}],
            {"annotations": [{"text": "note", "font": {"size": 16}}], "margin": {"l": 80}, "legend": {"y": -0.3}},
        ),
    ]
    for build in builders:
        for projector in (False, True):
            chart = build()
            before = json.dumps(chart, default=_typed_array)
            sent = json.loads(figure_json(style(chart, projector), single_precision=True))
            assert json.dumps(chart, default=_typed_array) == before  # not changed
            go.Figure(build())  # plotly's checks pass
            figure = style(go.Figure(build(), _validate=False), projector)  # styled by plotly's own setters
            for trace in figure.data:  # what single precision means: long float64 arrays as float32
                for name in ("x", "y", "z"):
                    values = np.asarray(getattr(trace, name, None))
                    if values.size >= COMPACT_FROM and values.dtype == np.float64:
                        trace[name] = values.astype(np.float32)
            assert sent == json.loads(figure.to_json())
    built = [build() for build in builders]
    assert built[0]["layout"]["yaxis"]["type"] == "log" and built[0]["data"][2]["name"] == "guessing"
    assert built[2]["layout"]["yaxis"]["range"] == [-1, 2]
    assert built[3]["data"][0]["colorbar"]["title"]["text"] == "P(class 1)"
    assert built[3]["layout"]["xaxis"]["range"] == [-2, 2]
    assert not built[5]["data"] and built[5]["layout"]["annotations"][0]["text"] == NOTHING_YET  # a sentence
    assert built[5]["layout"]["xaxis"]["visible"] is False
    empty_batches = batch_losses_chart([], ("Adam",), "The loss on each batch of epoch 0")
    assert not empty_batches.data and empty_batches.layout.annotations[0].text == NOTHING_YET
    with pytest.raises(ValueError, match="heigth"):
        go.Figure(plain_figure([], {"heigth": 3}))  # the check does catch what the unchecked build lets through


def test_a_figure_travels_as_plotly_writes_it():
    with_nan = go.Figure(go.Scatter(x=[0, 1, 2], y=[1.0, float("nan"), 0.5]))  # JSON has no NaN: plotly writes null
    dated = go.Figure(go.Scatter(x=np.array(["2026-12-04", "2026-12-05"], dtype="datetime64[D]"), y=[1, 2]))
    image = go.Figure(
        go.Heatmap(z=np.arange(12, dtype=np.float32).reshape(3, 4), x=np.arange(4)), layout={"height": 90}
    )
    turned = go.Figure(go.Heatmap(z=np.arange(12, dtype=np.float32).reshape(3, 4).T, y=np.arange(10.0)[::2]))
    for figure in (_figure(), with_nan, dated, image, turned, style(_figure(), True)):
        assert json.loads(figure_json(figure)) == json.loads(figure.to_json())
    assert json.loads(figure_json(with_nan))["data"][0]["y"][1] is None
    checked = go.Figure(go.Scatter(x=np.arange(COMPACT_FROM), y=np.linspace(0, 1, COMPACT_FROM), text=["a"] * 64))
    compact = json.loads(figure_json(checked, single_precision=True))["data"][0]  # a Figure plotly checked too
    assert compact["y"]["dtype"] == "f4" and compact["text"] == ["a"] * 64
    assert compact["x"]["dtype"] == "i1"  # integers narrowed as plotly narrows them: smaller than float32
    pixels = go.Figure(go.Image(z=np.zeros((8, 8, 3), np.uint8)))
    assert json.loads(figure_json(pixels, single_precision=True))["data"][0]["z"]["dtype"] == "u1"
    assert json.loads(figure_json(image, single_precision=True))["data"][0]["x"] == {"dtype": "i1", "bdata": "AAECAw=="}
