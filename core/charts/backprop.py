"""The tiny network of the backprop walkthrough drawn as a graph. Colour means one thing: blue for
forward values, orange for gradients, written on the nodes and edges as far as the walkthrough has
gone. Edges are grey, thickened by the weight's size, solid for a positive weight and dashed for a
negative one; the legend says so."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from core.charts.arrows import data_arrow
from core.charts.theme import OKABE_ITO

BLUE, ORANGE = OKABE_ITO[0], OKABE_ITO[3]
EDGE = "#8C8C8C"


def backprop_graph(params, fwd, grads, forward_nodes: int, backward_nodes: int, title: str) -> go.Figure:
    n_in, n_hidden = params["W1"].shape[1], params["W1"].shape[0]
    spread = lambda n: np.linspace(1, -1, n) if n > 1 else np.zeros(1)
    layers = {"x": (0.0, spread(n_in)), "h": (1.0, spread(n_hidden)), "y": (2.0, np.zeros(1)), "L": (2.8, np.zeros(1))}
    fig = go.Figure()
    biggest = max(np.abs(params["W1"]).max(), np.abs(params["W2"]).max(), 1e-9)

    def edge(x0, y0, x1, y1, weight, gradient=None, label_at=0.45):
        fig.add_trace(
            go.Scatter(
                x=[x0, x1],
                y=[y0, y1],
                mode="lines",
                hoverinfo="skip",
                showlegend=False,
                line={
                    "color": EDGE,
                    "width": 1 + 6 * abs(weight) / biggest,
                    "dash": "solid" if weight >= 0 else "dash",
                },
            )
        )
        label = f"w={weight:.3f}" + (
            f"<br><span style='color:{ORANGE}'>∂={gradient:.3f}</span>" if gradient is not None else ""
        )
        fig.add_annotation(
            x=x0 + label_at * (x1 - x0),
            y=y0 + label_at * (y1 - y0),
            text=label,
            showarrow=False,
            font={"size": 11},
            bgcolor="rgba(255,255,255,0.85)",
        )

    x_in, y_in = layers["x"]
    x_h, y_h = layers["h"]
    for j in range(n_hidden):
        for i in range(n_in):
            edge(
                x_in,
                y_in[i],
                x_h,
                y_h[j],
                params["W1"][j, i],
                grads["W1"][j, i] if backward_nodes >= 4 else None,
                label_at=0.25,
            )  # near the input: the labels of crossing edges stay apart
        edge(x_h, y_h[j], layers["y"][0], 0.0, params["W2"][0, j], grads["W2"][0, j] if backward_nodes >= 2 else None)
    fig.add_trace(
        go.Scatter(
            x=[layers["y"][0], layers["L"][0]],
            y=[0, 0],
            mode="lines",
            hoverinfo="skip",
            showlegend=False,
            line={"color": "#999999", "width": 1, "dash": "dot"},
        )
    )

    def node(x, y, name, value_lines):
        fig.add_trace(
            go.Scatter(
                x=[x],
                y=[y],
                mode="markers",
                hoverinfo="skip",
                showlegend=False,
                marker={"size": 46, "color": "white", "line": {"color": "#333333", "width": 2}},
            )
        )
        fig.add_annotation(x=x, y=y, text=f"<b>{name}</b>", showarrow=False, font={"size": 14})
        if value_lines:
            fig.add_annotation(
                x=x,
                y=y - 0.28,
                text="<br>".join(value_lines),
                showarrow=False,
                font={"size": 11},
                yanchor="top",
                bgcolor="rgba(255,255,255,0.85)",
            )

    for i in range(n_in):
        node(x_in, y_in[i], f"x{i + 1}", [f"<span style='color:{BLUE}'>{fwd.x[0, i]:.3f}</span>"])
    for j in range(n_hidden):
        lines = []
        if forward_nodes >= 1:
            lines.append(f"<span style='color:{BLUE}'>z={fwd.z1[0, j]:.3f}</span>")
        if forward_nodes >= 2:
            lines.append(f"<span style='color:{BLUE}'>a={fwd.a1[0, j]:.3f}</span>")
        if backward_nodes >= 3:
            lines.append(f"<span style='color:{ORANGE}'>∂L/∂z={grads['dz1'][0, j]:.3f}</span>")
        node(x_h, y_h[j], f"h{j + 1}", lines)
    output = []
    if forward_nodes >= 3:
        output.append(f"<span style='color:{BLUE}'>ŷ={fwd.y_hat[0, 0]:.3f}</span>")
    if backward_nodes >= 1:
        output.append(f"<span style='color:{ORANGE}'>∂L/∂z={grads['dz2'][0, 0]:.3f}</span>")
    node(layers["y"][0], 0.0, "ŷ", output)
    node(layers["L"][0], 0.0, "L", [f"<span style='color:{BLUE}'>{fwd.loss:.4f}</span>"] if forward_nodes >= 4 else [])
    legend = (
        ("forward values", {"color": BLUE, "width": 4}),
        ("gradients", {"color": ORANGE, "width": 4}),
        ("weight > 0", {"color": EDGE, "width": 3}),
        ("weight < 0", {"color": EDGE, "width": 3, "dash": "dash"}),
    )
    for name, line in legend:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=name, line=line, hoverinfo="skip"))
    fig.update_layout(
        title=title,
        height=400,
        xaxis={"visible": False, "range": [-0.4, 3.2]},
        yaxis={"visible": False, "range": [-1.8, 1.5]},
        plot_bgcolor="white",
        legend={"orientation": "h", "yanchor": "top", "y": -0.02, "x": 0},
    )
    return fig


def gradient_check_bars(rows, threshold: float, title: str) -> go.Figure:
    """Relative difference of each parameter's gradient against both references, on a log scale,
    with the pass threshold as a line: a bug stands out by orders of magnitude."""
    fig = go.Figure()
    names = [row["parameter"] for row in rows]
    floor = 1e-18  # a difference of exactly 0 cannot sit on a log axis
    for colour, reference in ((BLUE, "vs jax.grad"), (OKABE_ITO[2], "vs finite differences")):
        fig.add_trace(
            go.Bar(x=names, y=[max(row[reference], floor) for row in rows], name=reference, marker_color=colour)
        )
    fig.add_hline(
        y=threshold,
        line={"color": ORANGE, "dash": "dash", "width": 2},
        annotation_text=f"pass below {threshold:g}",
        annotation_position="top left",
    )
    fig.update_layout(
        title=title,
        height=340,
        barmode="group",
        yaxis={"type": "log", "title": "relative difference", "exponentformat": "power"},
    )
    return fig


def node_graph(
    positions: Mapping[str, tuple[float, float]],
    edges: Sequence[tuple[str, str]],
    labels: Mapping[str, str],
    reached: Collection[str],
    current: str | None,
    colour: str,
    hover: Mapping[str, str],
    title: str,
) -> go.Figure:
    """A computational graph: a circle a node (its name above, its operation beneath), an arrow from each input to the
    node that uses it. Nodes `reached` are filled with `colour`, the `current` one ringed; the others are grey."""
    fig = go.Figure()
    for source, target in edges:
        data_arrow(fig, positions[source], positions[target], EDGE, width=1.5, standoff=16)
    names = list(positions)
    fig.add_trace(
        go.Scatter(
            x=[positions[name][0] for name in names],
            y=[positions[name][1] for name in names],
            mode="markers+text",
            text=[f"<b>{name}</b>" for name in names],
            textposition="top center",
            marker={
                "size": 30,
                "color": [colour if name in reached else "#EEEEEE" for name in names],
                "line": {
                    "color": ["#000000" if name == current else EDGE for name in names],
                    "width": [4 if name == current else 1 for name in names],
                },
            },
            hovertext=[hover.get(name, name) for name in names],
            hoverinfo="text",
            showlegend=False,
        )
    )
    for name in names:
        x, y = positions[name]
        fig.add_annotation(x=x, y=y - 0.3, text=labels[name], showarrow=False, font={"size": 11, "color": "#555555"})
    xs = [x for x, _ in positions.values()]
    ys = [y for _, y in positions.values()]
    fig.update_layout(
        title=title,
        height=max(260, 150 + 90 * (max(ys) - min(ys) + 1)),
        xaxis={"visible": False, "range": [min(xs) - 0.5, max(xs) + 0.5]},
        yaxis={"visible": False, "range": [min(ys) - 0.7, max(ys) + 0.6]},
        plot_bgcolor="#FFFFFF",
    )
    return fig
