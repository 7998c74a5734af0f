"""An arrow between two points in a chart's data coordinates, the one way every chart here draws one."""

from __future__ import annotations

import plotly.graph_objects as go


def data_arrow(
    fig: go.Figure,
    start: tuple[float, float],
    end: tuple[float, float],
    colour: str,
    width: float = 1.6,
    head: int = 2,
    size: float = 1.2,
    standoff: float = 0,
) -> None:
    """An arrow from `start` to `end` (data coordinates of the first axes), its ends `standoff` pixels short of the
    points (room for a marker drawn there)."""
    fig.add_annotation(
        x=end[0],
        y=end[1],
        ax=start[0],
        ay=start[1],
        xref="x",
        yref="y",
        axref="x",
        ayref="y",
        showarrow=True,
        arrowhead=head,
        arrowsize=size,
        arrowwidth=width,
        arrowcolor=colour,
        standoff=standoff,
        startstandoff=standoff,
        text="",
    )
