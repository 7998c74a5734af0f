"""Pictures of a GAN in training: the 2D duel (decision surface, real and generated samples, the
generator's gradient, the modes), the two losses against their values at equilibrium, D's outputs,
mode coverage over time, and image grids."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from core.charts.theme import OKABE_ITO
from core.charts.training import thin

REAL, FAKE = OKABE_ITO[2], OKABE_ITO[7]
D_SCALE = [[0.0, "#E69F00"], [0.5, "#FFFFFF"], [1.0, "#56B4E9"]]
"""D(x): orange where the discriminator says fake, sky blue where it says real, white at 0.5."""


def _finite(values) -> list:
    return [float(v) if math.isfinite(v) else None for v in values]


def _series(history: Sequence[Mapping[str, float]], key: str, window: int) -> tuple[list, list]:
    """A metric against its row number, as a running mean over `window` rows (a GAN's per-iteration
    losses are too noisy to read raw), thinned for sending."""
    values = np.array([row[key] for row in history], dtype=float)
    if window > 1 and len(values) >= window:
        cumulative = np.concatenate([[0.0], np.cumsum(values)])
        values = np.concatenate(
            [cumulative[1:window] / np.arange(1, window), (cumulative[window:] - cumulative[:-window]) / window]
        )
    keep = thin(values)
    return [history[i]["epoch"] for i in keep], _finite(values[keep])


def duel_plane(shot, title: str, arrow_length: float = 0.35) -> go.Figure:
    """D(x) as a heatmap behind the real (green) and generated (black) samples; arrows show where
    the generator's gradient pushes its samples (scaled so the longest is `arrow_length`); dashed
    circles are the modes the coverage counts. `shot` is the 2D GAN lesson's `DuelSnapshot` (its
    axis, surface, centres, radii, real, fake, arrows_at and arrows)."""
    axis = shot.axis
    fig = go.Figure(
        go.Heatmap(
            x=axis,
            y=axis,
            z=shot.surface,
            zmin=0,
            zmax=1,
            colorscale=D_SCALE,
            opacity=0.85,
            colorbar={"title": "D(x)", "thickness": 12},
            hovertemplate="(%{x:.2f}, %{y:.2f}): D = %{z:.3f}<extra></extra>",
        )
    )
    for centre, radius in zip(shot.centres, shot.radii):
        fig.add_shape(
            type="circle",
            x0=centre[0] - radius,
            x1=centre[0] + radius,
            y0=centre[1] - radius,
            y1=centre[1] + radius,
            line={"color": REAL, "dash": "dot", "width": 1},
        )
    real, fake = shot.real, shot.fake
    fig.add_trace(
        go.Scatter(
            x=real[:, 0],
            y=real[:, 1],
            mode="markers",
            name="real",
            marker={"size": 4, "color": REAL, "opacity": 0.6},
            hoverinfo="skip",
        )
    )
    finite = np.all(np.isfinite(fake), axis=1)
    fig.add_trace(
        go.Scatter(
            x=fake[finite, 0],
            y=fake[finite, 1],
            mode="markers",
            name="generated",
            marker={"size": 4, "color": FAKE, "opacity": 0.7},
            hoverinfo="skip",
        )
    )
    at, push = shot.arrows_at, shot.arrows
    longest = float(np.nanmax(np.linalg.norm(push, axis=1))) if len(push) else 0.0
    if longest > 0 and math.isfinite(longest):
        ends = at + push / longest * arrow_length
        xs = np.column_stack([at[:, 0], ends[:, 0], np.full(len(at), np.nan)]).ravel()
        ys = np.column_stack([at[:, 1], ends[:, 1], np.full(len(at), np.nan)]).ravel()
        fig.add_trace(
            go.Scatter(
                x=_finite(xs),
                y=_finite(ys),
                mode="lines",
                name="generator's push (−∇ loss)",
                line={"color": OKABE_ITO[3], "width": 1.5},
                hoverinfo="skip",
                connectgaps=False,
            )
        )
    extent = float(axis[-1])
    fig.update_layout(
        title=title,
        height=560,
        xaxis={"range": [-extent, extent], "constrain": "domain"},
        yaxis={"range": [-extent, extent], "scaleanchor": "x"},
        legend={"orientation": "h", "y": -0.08, "x": 0},
    )
    return fig


def loss_curves(history: Sequence[Mapping[str, float]], title: str, x_title: str, window: int = 1) -> go.Figure:
    """Both losses, with their values at the equilibrium D = ½ everywhere: the discriminator's
    −log ½ − log ½ = ln 4 and the non-saturating generator's −log ½ = ln 2."""
    fig = go.Figure()
    for key, name, colour in (("d_loss", "discriminator", OKABE_ITO[0]), ("g_loss", "generator", OKABE_ITO[1])):
        x, y = _series(history, key, window)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, line={"color": colour}))
    _level(fig, x, math.log(4), f"D at equilibrium: ln 4 = {math.log(4):.3f}", OKABE_ITO[0], "dash")
    _level(fig, x, math.log(2), f"G (non-saturating) at equilibrium: ln 2 = {math.log(2):.3f}", OKABE_ITO[1], "dot")
    fig.update_layout(
        title=title,
        xaxis_title=x_title,
        yaxis_title="loss",
        height=420,
        margin={"b": 110},
        legend={"orientation": "h", "yanchor": "top", "y": -0.3, "x": 0},
    )  # four entries: below, clear of the title
    return fig


def _level(fig: go.Figure, x: Sequence, value: float, name: str, colour: str, dash: str) -> None:
    """A reference level across the curves' span, named in the legend (a label on the plot would sit on
    the curves, which hover around exactly these levels)."""
    span = [x[0], x[-1]] if len(x) else [0, 1]
    fig.add_trace(
        go.Scatter(
            x=span,
            y=[value, value],
            mode="lines",
            name=name,
            hoverinfo="skip",
            line={"color": colour, "dash": dash, "width": 1.5},
        )
    )


def d_outputs(history: Sequence[Mapping[str, float]], title: str, x_title: str, window: int = 1) -> go.Figure:
    """Mean D(x) on real and on generated batches; both tend to ½ when the generator fools D."""
    fig = go.Figure()
    for key, name, colour in (("d_real", "D(real)", REAL), ("d_fake", "D(generated)", FAKE)):
        x, y = _series(history, key, window)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, line={"color": colour}))
    _level(fig, x, 0.5, "½: D cannot tell", "#777777", "dash")
    fig.update_layout(title=title, xaxis_title=x_title, yaxis={"title": "mean D(x)", "range": [0, 1]}, height=360)
    return fig


def coverage_curve(history: Sequence[tuple[int, int, float]], modes: int, title: str) -> go.Figure:
    """Modes covered (left axis) and the share of samples near a mode (right axis) over iterations."""
    x = [h[0] for h in history]
    fig = go.Figure(
        [
            go.Scatter(
                x=x,
                y=[h[1] for h in history],
                mode="lines+markers",
                name="modes covered",
                line={"color": OKABE_ITO[0], "shape": "hv"},
            ),
            go.Scatter(
                x=x,
                y=[h[2] for h in history],
                mode="lines",
                name="share of samples near a mode",
                yaxis="y2",
                line={"color": OKABE_ITO[2], "dash": "dot"},
            ),
        ]
    )
    fig.update_layout(
        title=title,
        xaxis_title="iteration",
        height=330,
        yaxis={"title": "modes covered", "range": [0, modes + 0.5]},
        yaxis2={
            "title": "share near a mode",
            "range": [0, (modes + 0.5) / modes],
            "overlaying": "y",
            "side": "right",
            "dtick": 0.25,
            "tickformat": ".0%",
        },
    )
    return fig
