"""Grid worlds: each cell shaded by its value, an arrow for the action a table would take there, the special cells
lettered, and an episode's path drawn through the cells; CartPole's cart drawn from its state, alone or as an episode
played back, and a network's action values as bars."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.charts.animation import play_controls
from core.charts.arrows import data_arrow
from core.charts.theme import OKABE_ITO

VALUE_SCALE = [[0.0, "#F7F7F7"], [1.0, "#0072B2"]]
LETTERS = {"S": "start", "H": "hole", "C": "cliff", "G": "goal", "W": "wall"}
SPECIAL_FILL = {"H": "#3A3A3A", "C": "#8C3A1E", "G": "#009E73", "W": "#A0A0A0"}


def q_grid(
    shape: tuple[int, int],
    cells: Sequence[str],
    q: np.ndarray,
    moves: Sequence[tuple[int, int]],
    path: Sequence[int],
    title: str,
) -> go.Figure:
    """A table of action values on its grid: each cell coloured by max_a Q(s, a) (holes, cliff and goal in their own
    colours), an arrow towards the best action where the table knows anything, and `path` (states) as a line."""
    rows, columns = shape
    values = q.max(axis=1).reshape(rows, columns)
    learned = np.abs(q).max(axis=1) > 0
    special = np.array([cell in SPECIAL_FILL for cell in cells]).reshape(rows, columns)
    shown = np.where(special, np.nan, values)
    fig = go.Figure(
        go.Heatmap(
            z=shown,
            colorscale=VALUE_SCALE,
            showscale=True,
            colorbar={"title": "max Q", "thickness": 12},
            hovertemplate="row %{y}, column %{x}: max Q %{z:.3f}<extra></extra>",
            xgap=2,
            ygap=2,
        )
    )
    for index, cell in enumerate(cells):
        row, column = divmod(index, columns)
        if cell in SPECIAL_FILL:
            fig.add_shape(
                type="rect",
                x0=column - 0.5,
                x1=column + 0.5,
                y0=row - 0.5,
                y1=row + 0.5,
                fillcolor=SPECIAL_FILL[cell],
                line={"width": 0},
                layer="below",
            )
        if cell in LETTERS:
            fig.add_annotation(
                x=column,
                y=row,
                text=cell,
                showarrow=False,
                font={"color": "#FFFFFF" if cell in SPECIAL_FILL else "#000000"},
            )
        elif learned[index]:
            d_row, d_column = moves[int(q[index].argmax())]
            data_arrow(
                fig,
                (column - 0.2 * d_column, row - 0.2 * d_row),
                (column + 0.32 * d_column, row + 0.32 * d_row),
                "#000000",
                size=1.0,
            )
    if len(path) > 1:
        points = np.array([divmod(state, columns) for state in path], dtype=float)
        fig.add_trace(
            go.Scatter(
                x=points[:, 1],
                y=points[:, 0],
                mode="lines",
                line={"color": OKABE_ITO[1], "width": 3},
                opacity=0.8,
                name="the latest episode",
                hoverinfo="skip",
            )
        )
    fig.update_layout(
        title=title,
        height=max(240, 110 + 52 * rows),
        xaxis={"visible": False, "range": [-0.5, columns - 0.5], "constrain": "domain"},
        yaxis={"visible": False, "range": [rows - 0.5, -0.5], "scaleanchor": "x"},
        plot_bgcolor="#FFFFFF",
        showlegend=len(path) > 1,
    )
    return fig


CART_WIDTH, CART_HEIGHT, POLE_LENGTH = 0.4, 0.24, 1.0
"""gymnasium's drawing of CartPole in its world units (its 50 × 30 pixel cart on a 4.8-wide track, a pole twice
the half-length of its physics)."""


def _cart_traces(state: Sequence[float]) -> tuple[dict, dict]:
    """The cart (a filled rectangle) and the pole (a line from the cart's top at angle θ from upright), as
    scatter data."""
    x, theta = float(state[0]), float(state[2])
    half, top = CART_WIDTH / 2, CART_HEIGHT
    cart = {"x": [x - half, x + half, x + half, x - half, x - half], "y": [0, 0, top, top, 0]}
    pole = {"x": [x, x + POLE_LENGTH * np.sin(theta)], "y": [top, top + POLE_LENGTH * np.cos(theta)]}
    return cart, pole


def cartpole(state: Sequence[float], x_limit: float, title: str, height: int = 220) -> go.Figure:
    """The cart on its track at state (x, ẋ, θ, θ̇), the track's ends marked where the episode ends."""
    cart, pole = _cart_traces(state)
    fig = go.Figure(
        [
            go.Scatter(
                **cart, fill="toself", mode="lines", line={"color": "#3A3A3A"}, fillcolor="#555555", hoverinfo="skip"
            ),
            go.Scatter(**pole, mode="lines", line={"color": OKABE_ITO[4], "width": 8}, hoverinfo="skip"),
        ]
    )
    fig.add_shape(type="line", x0=-x_limit - 0.3, x1=x_limit + 0.3, y0=0, y1=0, line={"color": "#000000", "width": 2})
    for side in (-1, 1):
        fig.add_shape(
            type="line",
            x0=side * x_limit,
            x1=side * x_limit,
            y0=-0.1,
            y1=0.5,
            line={"color": SPECIAL_FILL["C"], "width": 3, "dash": "dot"},
        )
    fig.update_layout(
        title=title,
        height=height,
        showlegend=False,
        plot_bgcolor="#FFFFFF",
        xaxis={
            "range": [-x_limit - 0.4, x_limit + 0.4],
            "title": "cart position x",
            "zeroline": False,
            "constrain": "domain",
        },
        yaxis={"range": [-0.2, 1.4], "visible": False, "scaleanchor": "x"},
    )
    return fig


def cartpole_episode(states: np.ndarray, x_limit: float, title: str, frame_ms: int = 20) -> go.Figure:
    """An episode played back in the browser: one frame per step (`frame_ms` each: 20 ms is the cart's own
    time), with Play, Pause and a slider over the steps."""
    fig = cartpole(states[0], x_limit, title, height=340)
    names = [str(step) for step in range(len(states))]
    fig.frames = [
        go.Frame(data=[go.Scatter(**cart), go.Scatter(**pole)], traces=[0, 1], name=name)
        for name, (cart, pole) in zip(names, map(_cart_traces, states))
    ]
    fig.update_layout(**play_controls(names, "step ", frame_ms))
    return fig


def action_values(q: Sequence[float], actions: Sequence[str], title: str) -> go.Figure:
    """The network's Q-value of each action in one state, the greedy one highlighted."""
    best = int(np.argmax(q))
    fig = go.Figure(
        go.Bar(
            x=list(actions),
            y=[float(v) for v in q],
            marker_color=[OKABE_ITO[2] if i == best else "#BBBBBB" for i in range(len(q))],
            text=[f"{float(v):.2f}" for v in q],
            textposition="auto",
        )
    )
    fig.update_layout(title=title, height=220, yaxis_title="Q(s, a)", showlegend=False)
    return fig


def episode_trace(states: np.ndarray, x_limit: float, theta_limit: float, title: str) -> go.Figure:
    """The pole's angle and the cart's position through an episode, each with the limits that end it."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    steps = np.arange(len(states))
    rows = ((np.degrees(states[:, 2]), np.degrees(theta_limit), "pole angle θ (°)"), (states[:, 0], x_limit, "cart x"))
    for row, (values, limit, name) in enumerate(rows, start=1):
        fig.add_trace(go.Scatter(x=steps, y=values, mode="lines", name=name, line={"color": OKABE_ITO[row]}), row, 1)
        for side in (-1, 1):
            fig.add_hline(y=side * limit, line={"dash": "dot", "color": SPECIAL_FILL["C"]}, row=row, col=1)
        fig.update_yaxes(title_text=name, range=[-1.15 * limit, 1.15 * limit], row=row, col=1)
    fig.update_xaxes(title_text="step", row=2, col=1)
    fig.update_layout(title=title, height=380, showlegend=False)
    return fig
