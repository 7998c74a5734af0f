"""Optimisers' paths over a loss surface's contours, played step by step, and their loss curves on a log scale."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from core.charts.animation import play_controls
from core.charts.theme import OKABE_ITO, nothing_yet

CONTOUR_SCALE = [[0.0, "#FFFFFF"], [1.0, "#D4D4D4"]]
"""Grey contours: the paths carry the colours."""
SCORE_SCALE = [[0.0, "#C9D7E6"], [1.0, "#08306B"]]
"""A score from pale (worst) to dark (best), every line still visible on white."""


def _colour(optimiser: str, optimisers: Sequence[str]) -> str:
    return OKABE_ITO[list(optimisers).index(optimiser) % len(OKABE_ITO)]


def race_animation(
    x: np.ndarray,
    y: np.ndarray,
    gap: np.ndarray,
    paths: Sequence[tuple[str, np.ndarray]],
    optimisers: Sequence[str],
    title: str,
    max_frames: int = 50,
    trail: int = 12,
) -> go.Figure:
    """The loss surface (contours of log₁₀ of the gap to its minimum), each optimiser's whole path faint, and, frame
    by frame, its point and its last `trail` steps bold. `paths` are (optimiser, points from the start); a path that
    diverged stops. Frames carry only the heads and trails: a whole path in every frame would weigh a megabyte."""
    longest = max(len(points) for _, points in paths)
    keep = np.unique(np.linspace(0, longest - 1, min(longest, max_frames)).round().astype(int))
    rounded = [(name, points.astype("float32")) for name, points in paths]  # half the bytes; a pixel is coarser

    def heads(step: int) -> list[go.Scatter]:
        """Only where the trails and points are: a frame's traces keep the style the figure gave them."""
        drawn = []
        for _, points in rounded:
            recent = points[max(0, min(step, len(points) - 1) - trail) : step + 1]
            drawn.append(go.Scatter(x=recent[:, 0], y=recent[:, 1]))
            drawn.append(go.Scatter(x=recent[-1:, 0], y=recent[-1:, 1]))
        return drawn

    fig = go.Figure(
        go.Contour(
            x=x.astype("float32"),
            y=y.astype("float32"),
            z=np.log10(np.maximum(gap, 1e-6)).astype("float32"),
            colorscale=CONTOUR_SCALE,
            ncontours=24,
            showscale=False,
            contours={"coloring": "fill", "showlines": True},
            line={"color": "#9A9A9A", "width": 0.6},
            hoverinfo="skip",
        )
    )
    for name, points in rounded:
        fig.add_trace(
            go.Scatter(
                x=points[:, 0],
                y=points[:, 1],
                mode="lines",
                line={"color": _colour(name, optimisers), "width": 1.5},
                opacity=0.45,
                name=name,
                legendgroup=name,
                hoverinfo="skip",
            )
        )
    start = paths[0][1][0]
    fig.add_trace(
        go.Scatter(
            x=[start[0]],
            y=[start[1]],
            mode="markers",
            marker={"symbol": "x", "size": 12, "color": "black"},
            name="start",
            hoverinfo="skip",
        )
    )
    for (name, _), (trail_trace, head_trace) in zip(rounded, zip(*[iter(heads(0))] * 2)):
        colour = _colour(name, optimisers)
        trail_trace.update(mode="lines", line={"color": colour, "width": 3}, hoverinfo="skip")
        head_trace.update(
            mode="markers",
            marker={"color": colour, "size": 12, "line": {"color": "black", "width": 1}},
            hovertemplate=f"{name}<br>x %{{x:.3f}}, y %{{y:.3f}}<extra></extra>",
        )
        for trace in (trail_trace, head_trace):
            trace.update(legendgroup=name, showlegend=False)
            fig.add_trace(trace)
    names = [str(step) for step in keep]
    first_moving = 2 + len(paths)
    moving = list(range(first_moving, first_moving + 2 * len(paths)))
    fig.frames = [
        go.Frame(data=heads(step), traces=moving, name=name, layout={"title": {"text": f"{title}: step {step}"}})
        for step, name in zip(keep, names)
    ]
    fig.update_layout(
        title=f"{title}: step 0",
        height=560,
        xaxis={"range": [float(x[0]), float(x[-1])], "title": "x", "constrain": "domain"},
        yaxis={"range": [float(y[0]), float(y[-1])], "title": "y", "scaleanchor": "x", "constrain": "domain"},
        **play_controls(names, "step ", frame_ms=120),
    )
    return fig


def gap_curves(
    gaps: Sequence[tuple[str, np.ndarray]], optimisers: Sequence[str], target: float, title: str
) -> go.Figure:
    """The loss minus the surface's minimum, step by step, on a log scale (a gap below float32's reach, or exactly 0,
    is drawn at 1e-12), with the target line 'converged' is measured against."""
    floor = 1e-12
    fig = go.Figure()
    for name, gap in gaps:
        fig.add_trace(
            go.Scatter(
                x=np.arange(len(gap)),
                y=np.maximum(gap, floor),
                mode="lines",
                name=name,
                line={"color": _colour(name, optimisers), "width": 2},
            )
        )
    fig.add_hline(y=target, line={"dash": "dash", "color": "#555555", "width": 1})
    fig.add_annotation(
        x=1, xref="paper", xanchor="right", y=np.log10(target), yanchor="bottom", text=f"{target:g}", showarrow=False
    )
    fig.update_layout(
        title=title,
        height=360,
        xaxis_title="step",
        yaxis={"type": "log", "title": "loss − minimum", "exponentformat": "power"},
    )
    return fig


def schedule_chart(epoch: np.ndarray, factor: np.ndarray, now: float, title: str) -> go.Figure:
    """The learning rate's multiplier over the run, with the epoch the run has reached marked."""
    fig = go.Figure(go.Scatter(x=epoch, y=factor, mode="lines", line={"color": OKABE_ITO[0], "width": 2}))
    fig.add_vline(x=now, line={"dash": "dot", "color": "#555555", "width": 1})
    fig.update_layout(
        title=title,
        height=240,
        showlegend=False,
        xaxis_title="epoch",
        yaxis={"title": "× the base rate", "range": [0, 1.05]},
    )
    return fig


def batch_losses_chart(losses: Sequence[tuple[str, np.ndarray]], optimisers: Sequence[str], title: str) -> go.Figure:
    """Each optimiser's loss on every batch of one epoch, in the order it met them: the noise of small batches."""
    fig = go.Figure()
    for name, values in losses:
        fig.add_trace(
            go.Scatter(
                x=np.arange(1, len(values) + 1),
                y=values,
                mode="lines" if len(values) > 1 else "markers",
                name=name,
                line={"color": _colour(name, optimisers), "width": 1},
            )
        )
    fig.update_layout(title=title, height=320, xaxis_title="batch", yaxis={"title": "loss on the batch", "type": "log"})
    fig.update_yaxes(exponentformat="power")
    if not losses:
        fig.update_layout(nothing_yet())
    return fig


def train_validation_curves(
    history: Sequence[Mapping[str, float]],
    series: Sequence[tuple[str, str, str]],
    names: Sequence[str],
    title: str,
    marks: Mapping[str, int] | None = None,
) -> go.Figure:
    """For each (name, training key, held-out key): the training loss solid and the held-out loss dotted in the
    name's colour (its place in `names`), over epochs; a name with a marked epoch gets a ring there on its held-out
    curve. The gap between a pair is what overfitting looks like."""
    fig = go.Figure()
    for name, train_key, test_key in series:
        colour = _colour(name, names)
        for data_key, dash, label in ((train_key, "solid", "training"), (test_key, "dot", "held out")):
            rows = [row for row in history if data_key in row]
            fig.add_trace(
                go.Scatter(
                    x=[row["epoch"] for row in rows],
                    y=[row[data_key] for row in rows],
                    mode="lines",
                    name=f"{name}, {label}",
                    legendgroup=name,
                    line={"color": colour, "dash": dash, "width": 2},
                )
            )
        marked = (marks or {}).get(name)
        point = next((row for row in history if row["epoch"] == marked and test_key in row), None)
        if point is not None:
            fig.add_trace(
                go.Scatter(
                    x=[marked],
                    y=[point[test_key]],
                    mode="markers",
                    marker={"size": 13, "color": "rgba(0,0,0,0)", "line": {"color": colour, "width": 2.5}},
                    name=f"{name}: best epoch {marked}",
                    legendgroup=name,
                )
            )
    fig.update_layout(title=title, height=400, xaxis_title="epoch")
    fig.update_yaxes(title="loss (cross-entropy)", type="log", exponentformat="power")
    return fig


def rate_sweep_chart(
    rates: Sequence[float], accuracy: Mapping[str, np.ndarray], threshold: float, title: str
) -> go.Figure:
    """Each network's held-out accuracy after a short run at each learning rate (log axis), with the line a rate
    must reach to count as usable; a run whose loss stopped being finite is drawn as a cross at 0."""
    fig = go.Figure()
    names = list(accuracy)
    for name, values in accuracy.items():
        colour = _colour(name, names)
        fig.add_trace(
            go.Scatter(
                x=list(rates),
                y=values,
                mode="lines+markers",
                name=name,
                line={"color": colour, "width": 2},
                hovertemplate=f"{name}<br>rate %{{x:g}}: %{{y:.1%}}<extra></extra>",
            )
        )
        failed = [rate for rate, value in zip(rates, values) if np.isnan(value)]
        if failed:
            fig.add_trace(
                go.Scatter(
                    x=failed,
                    y=[0.0] * len(failed),
                    mode="markers",
                    name=f"{name}: diverged",
                    marker={"symbol": "x", "size": 11, "color": colour},
                    hovertemplate=f"{name}<br>rate %{{x:g}}: the loss stopped being finite<extra></extra>",
                )
            )
    fig.add_hline(y=threshold, line={"dash": "dot", "color": "#555555", "width": 1})
    fig.update_layout(title=title, height=340)
    fig.update_xaxes(type="log", title="learning rate", exponentformat="power", dtick=1)  # decades: no small 2s, 5s
    fig.update_yaxes(title="held-out accuracy", range=[-0.03, 1.03], tickformat=".0%")
    return fig


def trials_by_rate(
    trials: Sequence[Mapping[str, float]], strategy_of, strategies: Sequence[str], rate: str, score: str, title: str
) -> go.Figure:
    """Every trial's score against its learning rate (log axis), one colour per strategy (`strategy_of(trial)`):
    a grid's trials stand in a few columns, random search's spread along the axis."""
    fig = go.Figure()
    for strategy in strategies:
        chosen = [trial for trial in trials if strategy_of(trial) == strategy]
        fig.add_trace(
            go.Scatter(
                x=[trial[rate] for trial in chosen],
                y=[trial[score] for trial in chosen],
                mode="markers",
                name=strategy,
                marker={"size": 10, "color": _colour(strategy, strategies), "opacity": 0.8},
                hovertemplate=f"{strategy}<br>{rate} %{{x:.2g}}<br>{score} %{{y:.1%}}<extra></extra>",
            )
        )
    fig.update_layout(title=title, height=340)
    fig.update_xaxes(type="log", title=rate, exponentformat="power")
    fig.update_yaxes(title=score, tickformat=".0%")
    return fig


def _log_ticks(values: Sequence[float], base: float) -> dict:
    exponents = np.arange(np.floor(min(values)), np.ceil(max(values)) + 1)
    return {"tickvals": list(exponents), "ticktext": [f"{base**e:g}" for e in exponents]}


def parallel_coordinates(
    trials: Sequence[Mapping[str, float]],
    axes: Sequence[tuple[str, str, str]],
    score: str,
    labels: Mapping[str, Mapping[float, str]],
    title: str,
) -> go.Figure:
    """TensorBoard's HParams view: one line a trial through one vertical axis per hyperparameter, ending at its
    score, coloured by the score (the best the darkest). `axes` are (key, label, scale) with scale 'linear', 'log10'
    or 'log2'; `labels` name the values of categorical axes."""
    dimensions = []
    for key, label, scale in axes:
        values = np.asarray([trial[key] for trial in trials], dtype=float)
        dimension = {"label": label, "values": values}
        if scale in ("log10", "log2"):
            base = 10.0 if scale == "log10" else 2.0
            dimension["values"] = np.log(values) / np.log(base)
            dimension.update(_log_ticks(dimension["values"], base))
        if key in labels:
            dimension.update(tickvals=list(labels[key]), ticktext=list(labels[key].values()))
        dimensions.append(dimension)
    scores = [trial[score] for trial in trials]
    dimensions.append({"label": score, "values": scores, "tickformat": ".0%"})
    fig = go.Figure(
        go.Parcoords(
            line={"color": scores, "colorscale": SCORE_SCALE, "showscale": False},
            dimensions=dimensions,
            labelangle=0,
        )
    )
    fig.update_layout(title=title, height=420, margin={"l": 70, "r": 50, "t": 150})  # room for the axes' labels
    return fig
