"""The perceptron's line moving update by update, as a plotly animation with its own Play button
(the whole run is computed at once: the browser plays it, nothing reruns)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.charts.animation import play_controls
from core.charts.theme import OKABE_ITO

EXTENT = 3.0


def _line(w: np.ndarray, b: float) -> tuple[list, list]:
    """Points of w·x + b = 0 inside the plotted square (none while w = 0)."""
    xs = np.array([-EXTENT, EXTENT])
    if abs(w[1]) > 1e-12:
        return xs.tolist(), (-(w[0] * xs + b) / w[1]).tolist()
    if abs(w[0]) > 1e-12:
        return [-b / w[0]] * 2, xs.tolist()
    return [], []


def perceptron_animation(x: np.ndarray, y: np.ndarray, updates, title: str, max_frames: int = 120) -> go.Figure:
    """Points by class, misclassified ones ringed in red, the line and the point that moved it."""
    keep = np.unique(np.linspace(0, len(updates) - 1, min(len(updates), max_frames)).round().astype(int))

    def frame_traces(update):
        line_x, line_y = _line(update.w, update.b)
        wrong = update.mistakes
        trigger = [] if update.point is None else [update.point]
        return [
            go.Scatter(
                x=x[wrong, 0],
                y=x[wrong, 1],
                mode="markers",
                name="misclassified",
                hoverinfo="skip",
                marker={"size": 16, "color": "rgba(0,0,0,0)", "line": {"color": "#D55E00", "width": 3}},
            ),
            go.Scatter(x=line_x, y=line_y, mode="lines", name="the neuron's line", line={"color": "black", "width": 3}),
            go.Scatter(
                x=x[trigger, 0],
                y=x[trigger, 1],
                mode="markers",
                name="point that caused the update",
                marker={"size": 20, "symbol": "star", "color": "#F0E442", "line": {"color": "black", "width": 1}},
            ),
        ]

    fig = go.Figure()
    for label, colour, symbol in ((-1, OKABE_ITO[1], "circle"), (1, OKABE_ITO[0], "diamond")):
        mask = y == label
        fig.add_trace(
            go.Scatter(
                x=x[mask, 0],
                y=x[mask, 1],
                mode="markers",
                name=f"class {label:+d}",
                hoverinfo="skip",
                marker={"size": 9, "color": colour, "symbol": symbol, "line": {"color": "black", "width": 1}},
            )
        )
    for trace in frame_traces(updates[0]):  # the start: no line yet, every point wrong; Play runs the rule
        fig.add_trace(trace)
    names = [str(k) for k in keep]  # short slider labels; the title names the update and its epoch
    fig.frames = [
        go.Frame(
            data=frame_traces(updates[k]),
            traces=[2, 3, 4],
            name=name,
            layout={"title": {"text": f"{title}: update {k}, epoch {updates[k].epoch}"}},
        )
        for k, name in zip(keep, names)
    ]
    fig.update_layout(
        title=f"{title}: update 0, epoch 0",
        height=520,
        xaxis={"range": [-EXTENT, EXTENT], "constrain": "domain"},
        yaxis={"range": [-EXTENT, EXTENT], "scaleanchor": "x", "constrain": "domain"},
        **play_controls(names, "update ", frame_ms=250),
    )
    return fig
