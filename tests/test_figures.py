"""The shared cache of a run's styled figures: one build per chart and version, projector sizes apart, oldest
dropped; while a run trains, a picture a few hundredths of a second old serves a newer version."""

import ast
import json
import pathlib

import numpy as np
import plotly.graph_objects as go
import pytest

from core.charts.layers import race_curves
from core.charts.optimisation import batch_losses_chart
from core.charts.theme import NOTHING_YET, PROJECTOR_FONT_SIZE, plain_figure, style
from core.charts.training import decision_surface, metric_curves
from core.ui.figures import COMPACT_FROM, FigureCache, _typed_array, figure_json

ROOT = pathlib.Path(__file__).resolve().parents[1]


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
        show_run_figure(view, "chart", lambda view: go.Figure(layout={"title": {"text": f"version {view.version}"}}))


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


def _charts_drawn_with_earlier_states(in_control: bool):
    """A script: a run's curves and a chart of its snapshot, with the run's states since the last redraw."""
    import dataclasses

    import plotly.graph_objects as go

    from core.engine.jobs import JobStatus, JobView
    from core.ui.figures import drawing_for, show_run_figure

    def titled(text):
        return go.Figure(layout={"title": {"text": text}})

    now = JobView("played-run", "r", JobStatus.RUNNING, "", 9, 99, 0, None, (), {"shot": 3}, {}, 2, None, 1.0, 20)
    now = dataclasses.replace(now, snapshot_version=3)
    earlier = [
        dataclasses.replace(now, epoch=epoch, version=version, snapshot_version=shot, snapshot={"shot": shot})
        for epoch, version, shot in ((6, 14, 1), (7, 16, 1), (8, 18, 2))
    ]
    with drawing_for(in_control, earlier if in_control else ()):
        show_run_figure(now, "curves", lambda view: titled(f"curves at epoch {view.epoch}"))
        show_run_figure(now, "snapshot", lambda view: titled(f"snapshot {view.snapshot['shot']}"), snapshot_only=True)


def test_the_page_in_control_gets_the_pictures_of_the_snapshots_since_its_last_redraw_to_play_back():
    """Its charts of the snapshot play the snapshots in between (one picture each, oldest first, each built for
    that state); its curves play the points added (liveplot.js: no picture needed); a watcher gets the newest."""
    from streamlit.testing.v1 import AppTest

    from tests.helpers import LIVE_PLOT

    for in_control in (True, False):
        at = AppTest.from_function(_charts_drawn_with_earlier_states, args=(in_control,)).run()
        assert not at.exception
        payloads = {
            chart.proto.id.split("-")[-1]: json.loads(chart.proto.bytes)
            for chart in at.get("bidi_component")
            if chart.proto.component_name == LIVE_PLOT
        }
        curves, snapshot = payloads["curves"], payloads["snapshot"]
        assert curves["live"] and "frames" not in curves
        assert curves["figure"]["layout"]["title"]["text"] == "curves at epoch 9"
        assert snapshot["figure"]["layout"]["title"]["text"] == "snapshot 3"
        played = [frame["figure"]["layout"]["title"]["text"] for frame in snapshot.get("frames", [])]
        assert played == (["snapshot 1", "snapshot 2"] if in_control else [])
        assert len({frame["version"] for frame in snapshot.get("frames", [])} | {snapshot["version"]}) == 1 + len(
            played
        )


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


RUN_STATE = {
    "snapshot",
    "history",
    "epoch",
    "batch",
    "hyperparams",
    "version",
    "snapshot_version",
    "status",
    "elapsed_s",
}
"""What of a `JobView` changes while its run trains (its id, run, epochs and unit do not)."""


def _names(node, state: set[str]) -> set[str]:
    """The names an expression reads, and 'view' where it reads the run's changing state through `view`."""
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id != "view"}
    if any(
        isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "view" and n.attr in RUN_STATE
        for n in ast.walk(node)
    ):
        names.add("view")
    return names


def _run_state_names(function) -> set[str]:
    """The names a function binds, directly or through others, to the run's changing state (`view.snapshot`…)."""
    state = {"view"}
    while True:
        before = len(state)
        for node in ast.walk(function):
            if isinstance(node, ast.Assign):
                bound = [(target, node.value) for target in node.targets]
            elif isinstance(node, (ast.For, ast.comprehension)):
                bound = [(node.target, node.iter)]
            else:
                continue
            for target, value in bound:
                if _names(value, state) & state:
                    state |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        if len(state) == before:
            return state


def builds_reading_the_run_around_their_view(source: str) -> list[str]:
    """Each `show_run_figure` whose build reads the run otherwise than through the view it is given, as 'line:
    names': the page in control also builds a chart for the run's earlier states (`drawing_for`), so a build must
    take the state it draws as its argument, `view` (a module function, or a lambda whose first parameter is
    `view`). It may read the session's `choices` and its own defaults (a loop's key)."""
    tree = ast.parse(source)
    module_functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    problems = []
    for function in [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]:
        inner = {
            id(call)
            for f in ast.walk(function)
            if f is not function and isinstance(f, ast.FunctionDef)
            for call in ast.walk(f)
        }
        state = _run_state_names(function)
        for call in ast.walk(function):
            if id(call) in inner or not (
                isinstance(call, ast.Call) and getattr(call.func, "id", None) == "show_run_figure"
            ):
                continue
            build = call.args[2]
            if isinstance(build, ast.Name) and build.id in module_functions:
                continue
            if not isinstance(build, ast.Lambda) or not build.args.args or build.args.args[0].arg != "view":
                problems.append(f"{call.lineno}: not a build of the view")
                continue
            allowed = {a.arg for a in build.args.args} - {"view"}
            allowed |= {
                n.id
                for keyword in call.keywords
                if keyword.arg == "choices"
                for n in ast.walk(keyword.value)
                if isinstance(n, ast.Name)
            }
            allowed |= {
                n.id
                for c in ast.walk(build.body)
                if isinstance(c, ast.comprehension)
                for n in ast.walk(c.target)
                if isinstance(n, ast.Name)
            }
            read = (_names(build.body, state) - allowed) & (state - {"view"})
            if read:
                problems.append(f"{call.lineno}: {', '.join(sorted(read))}")
    return problems


def test_every_live_chart_reads_the_run_through_the_view_its_build_is_given():
    pages = sorted((ROOT / "views").glob("*.py")) + sorted((ROOT / "core" / "ui").glob("*.py"))
    problems = {
        str(path.relative_to(ROOT)): builds_reading_the_run_around_their_view(path.read_text()) for path in pages
    }
    assert not {path: found for path, found in problems.items() if found}
    planted = """
def draw(view):
    shot = view.snapshot
    title = f"epoch {shot.epoch}"
    show_run_figure(view, "a", lambda view: chart(view.snapshot.grid, title), snapshot_only=True)
    show_run_figure(view, "b", lambda: chart(view.history))
    show_run_figure(view, "c", lambda view, name=name: chart(view.snapshot.maps[name]), choices=index)
"""
    assert builds_reading_the_run_around_their_view(planted) == ["5: title", "6: not a build of the view"]
