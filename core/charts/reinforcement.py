"""Grid worlds: each cell shaded by its value, an arrow for the action a table would take there, the special cells
lettered, and an episode's path drawn through the cells."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.charts.arrows import data_arrow
from core.charts.theme import OKABE_ITO

VALUE_SCALE = [[0.0, "#F7F7F7"], [1.0, "#0072B2"]]
LETTERS = {"S": "start", "H": "hole", "C": "cliff", "G": "goal"}
SPECIAL_FILL = {"H": "#3A3A3A", "C": "#8C3A1E", "G": "#009E73"}


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
