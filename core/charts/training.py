"""Charts of a run: metric curves over epochs and a 2D decision surface."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from core.charts.theme import DIVERGING_SCALE, OKABE_ITO, nothing_yet, plain_figure

MAX_POINTS = 1500
"""Charts are resent whole on every tick: curves are thinned to this many points."""


def thin(values: Sequence, max_points: int = MAX_POINTS) -> np.ndarray:
    """Indices that keep at most `max_points` evenly spread entries, always the first and last."""
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


def metric_series(rows: Sequence[Mapping[str, float]], name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """A metric's epochs and values over the rows that have it (a copy of a race that diverged stops where its rows
    do), as arrays: a list travels as JSON digits, an array as binary. None where no row has it."""
    have = [row for row in rows if name in row]
    if not have:
        return None
    return (
        np.fromiter([row["epoch"] for row in have], float, len(have)),
        np.fromiter([row[name] for row in have], float, len(have)),
    )


def thinned(history: Sequence[Mapping[str, float]]) -> list[Mapping[str, float]]:
    """The rows of a history that a chart draws (`thin`)."""
    return [history[i] for i in thin(history).tolist()]


def metric_curves(
    history: Sequence[Mapping[str, float]],
    metrics: Sequence[str],
    title: str,
    y_title: str = "",
    labels: Mapping[str, str] | None = None,
    log_y: bool = False,
    x_title: str = "epoch",
    x_per_epoch: float = 1,
    reference: tuple[float, str] | None = None,
    y_range: tuple[float, float] | None = None,
) -> dict:
    """One line per metric against epoch (times `x_per_epoch`: a row that stands for 50 steps), named in the legend
    by `labels` (else by the metric); metrics missing from the history are left out, and a metric missing from some
    rows (a copy of a race that diverged) stops where its rows do. Colours follow the order of `metrics`, drawn or
    not. `reference` (value, name) is a dotted level across the run (a trace, so that it is right on a log axis
    too). `y_range` fixes the vertical axis (else plotly fits it to the curves)."""
    kept = thinned(history)
    traces = []
    for colour, name in zip(OKABE_ITO, metrics):
        series = metric_series(kept, name)
        if series is not None:
            traces.append(
                {
                    "type": "scatter",
                    "x": series[0] * x_per_epoch,
                    "y": series[1],
                    "mode": "lines",
                    "name": (labels or {}).get(name, name),
                    "line": {"color": colour},
                }
            )
    if reference is not None and history:
        value, name = reference
        traces.append(
            {
                "type": "scatter",
                "x": [history[0]["epoch"] * x_per_epoch, history[-1]["epoch"] * x_per_epoch],
                "y": [value, value],
                "mode": "lines",
                "name": name,
                "line": {"color": "#555555", "dash": "dot"},
            }
        )
    y_axis = {"title": {"text": y_title}, **({"type": "log", "exponentformat": "power"} if log_y else {})}
    if y_range is not None:
        y_axis["range"] = list(y_range)
    layout = {"title": {"text": title}, "xaxis": {"title": {"text": x_title}}, "yaxis": y_axis, "height": 320}
    if not traces:
        layout |= nothing_yet()
    return plain_figure(traces, layout)


def decision_surface(
    axis: np.ndarray, probabilities: np.ndarray, points: np.ndarray, labels: np.ndarray, title: str
) -> dict:
    """The model's P(class 1) over the plane as a heatmap, with the data points on top."""
    traces = [
        {
            "type": "heatmap",
            "x": axis,
            "y": axis,
            "z": probabilities,
            "zmin": 0,
            "zmax": 1,
            "colorscale": DIVERGING_SCALE,
            "colorbar": {"title": {"text": "P(class 1)"}},
            "hoverinfo": "skip",
        }
    ]
    for label, colour, symbol in ((0, OKABE_ITO[1], "circle"), (1, OKABE_ITO[0], "diamond")):
        mask = labels == label
        traces.append(
            {
                "type": "scatter",
                "x": points[mask, 0],
                "y": points[mask, 1],
                "mode": "markers",
                "name": f"class {label}",
                "marker": {"color": colour, "symbol": symbol, "size": 7, "line": {"color": "black", "width": 1}},
            }
        )
    span = [float(axis[0]), float(axis[-1])]
    layout = {
        "title": {"text": title},
        "height": 420,
        "xaxis": {"range": span},
        "yaxis": {"range": span, "scaleanchor": "x"},
    }
    return plain_figure(traces, layout)


def iteration_curves(curves: Mapping[str, np.ndarray], bold: str, title: str, y_title: str) -> go.Figure:
    """One curve per setting over iterations (log scale), the chosen one (`bold`) drawn thick and the others thin."""
    fig = go.Figure()
    for colour, (name, values) in zip(OKABE_ITO, curves.items()):
        keep = thin(values)
        fig.add_trace(
            go.Scatter(
                x=keep + 1,
                y=np.asarray(values)[keep],
                mode="lines",
                name=name,
                line={"color": colour, "width": 3.5 if name == bold else 1.2},
                opacity=1.0 if name == bold else 0.7,
            )
        )
    fig.update_layout(title=title, xaxis_title="iteration", yaxis_title=y_title, height=340)
    fig.update_yaxes(type="log", exponentformat="power")
    return fig


def series_against_truth(
    times: Sequence, truth: np.ndarray, prediction: np.ndarray, split: int, title: str, y_title: str
) -> go.Figure:
    """A time series and a model's prediction of it, with the line where the held-out part begins."""
    fig = go.Figure(
        [
            go.Scatter(x=list(times), y=truth, mode="lines", name="what happened", line={"color": "#555555"}),
            go.Scatter(x=list(times), y=prediction, mode="lines", name="predicted", line={"color": OKABE_ITO[0]}),
        ]
    )
    fig.add_vline(x=times[split], line={"dash": "dot", "color": OKABE_ITO[3]})
    fig.add_annotation(x=times[split], y=1, yref="paper", text="held out →", showarrow=False, xanchor="left")
    fig.update_layout(title=title, height=340, yaxis_title=y_title)
    return fig
