"""The playground's pictures: the output's decision surface over the data, and the network drawn as
a graph whose nodes show what each neuron computes over the plane and whose edges are coloured and
thickened by weight (TensorFlow Playground's picture, with any number of classes)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from core.charts.theme import CLASS_COLOURS, OKABE_ITO
from core.engine.text import plotly_literal

POSITIVE, NEGATIVE = OKABE_ITO[0], OKABE_ITO[1]
WHITE = np.array([255.0, 255.0, 255.0])
LAYER_GAP = 3.0
"""Distance between layers, in neuron spacings: room for the edges to show their colours."""
PLOT_WIDTH_PX = 760
"""About how wide the network is drawn on a laptop: its height follows, so that pictures stay square."""


def _rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)


def probability_image(probabilities: np.ndarray, discretise: bool = False) -> Image.Image:
    """(rows, cols, K) class probabilities as a picture: each class's colour, mixed by probability
    and faded to white where the network is unsure; discretised, the winning class's tint. Row 0 of
    the grid is the bottom of the plane, so the picture is flipped to stand upright."""
    k = probabilities.shape[-1]
    colours = np.stack([_rgb(c) for c in CLASS_COLOURS[:k]])
    if discretise:
        mixed = colours[probabilities.argmax(axis=-1)]
        confidence = np.full(probabilities.shape[:-1] + (1,), 0.55)
    else:
        mixed = probabilities @ colours
        confidence = ((probabilities.max(axis=-1, keepdims=True) - 1 / k) / (1 - 1 / k)) * 0.8
    pixels = WHITE + (mixed - WHITE) * confidence
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)[::-1])


def signed_image(values: np.ndarray) -> Image.Image:
    """(rows, cols) values in −1…1 (clipped): blue for positive, orange for negative, white for 0."""
    v = np.clip(values, -1, 1)[..., None]
    pixels = np.where(v >= 0, WHITE + (_rgb(POSITIVE) - WHITE) * v, WHITE + (_rgb(NEGATIVE) - WHITE) * -v)
    return Image.fromarray(pixels.astype(np.uint8)[::-1])


def _points(
    fig: go.Figure,
    points: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    outline: str,
    suffix: str,
    legend: bool,
) -> None:
    """One trace per class. Class names may come from a student's CSV: escaped for Plotly's HTML, and
    read into the hover box from the trace (a name is never part of the template, where %{…} is code)."""
    for k, name in enumerate(classes):
        mask = labels == k
        fig.add_trace(
            go.Scatter(
                x=points[mask, 0],
                y=points[mask, 1],
                mode="markers",
                name=plotly_literal(name),
                showlegend=legend,
                marker={"color": CLASS_COLOURS[k], "size": 7, "line": {"color": outline, "width": 1.2}},
                hovertemplate=f"%{{fullData.name}}{suffix}<br>x1=%{{x:.2f}}<br>x2=%{{y:.2f}}<extra></extra>",
            )
        )


def output_surface(
    data, extent: float, probabilities: np.ndarray | None, show_test: bool, discretise: bool, title: str
) -> go.Figure:
    """The data (training points outlined white, test points black) over the network's output."""
    fig = go.Figure()
    if probabilities is not None:
        fig.update_layout(
            images=[
                {
                    "source": probability_image(probabilities, discretise),
                    "xref": "x",
                    "yref": "y",
                    "x": -extent,
                    "y": extent,
                    "sizex": 2 * extent,
                    "sizey": 2 * extent,
                    "sizing": "stretch",
                    "layer": "below",
                }
            ]
        )
    _points(fig, data.x_train, data.y_train, data.classes, "white", "", legend=True)
    if show_test:
        _points(fig, data.x_test, data.y_test, data.classes, "black", " (test)", legend=False)
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name="test points (black rim)",
                marker={"color": "white", "size": 7, "line": {"color": "black", "width": 1.2}},
            )
        )
    axis = {"range": [-extent, extent], "showgrid": False, "zeroline": False, "constrain": "domain"}
    fig.update_layout(
        title=title,
        height=540,
        plot_bgcolor="white",
        xaxis={**axis, "title": "x1"},
        yaxis={**axis, "title": "x2", "scaleanchor": "x"},
        margin={"b": 110},
        legend={"orientation": "h", "yanchor": "top", "y": -0.14, "x": 0},
    )
    return fig


def class_image(probability: np.ndarray, k: int) -> Image.Image:
    """(rows, cols) probability of class k: white at 0, the class's colour at 1."""
    pixels = WHITE + (_rgb(CLASS_COLOURS[k]) - WHITE) * np.clip(probability, 0, 1)[..., None]
    return Image.fromarray(pixels.astype(np.uint8)[::-1])


def network_graph(
    features: Sequence[str],
    feature_maps: np.ndarray,
    neuron_maps: Sequence[np.ndarray],
    output_probabilities: np.ndarray,
    classes: Sequence[str],
    weights: Sequence[tuple[np.ndarray, np.ndarray]],
    title: str,
) -> go.Figure:
    """Columns of nodes (input features, each hidden layer, the outputs); each node is a picture of
    what it computes over the plane, each edge a line coloured by its weight's sign and as thick as
    its size relative to the largest weight. Hover a node for its bias, an edge for its weight. A
    hidden neuron's picture is divided by its largest |value| when that exceeds 1, so that the shape
    of an unbounded (ReLU) neuron shows instead of a saturated square."""
    k = output_probabilities.shape[-1]
    pictures = [[signed_image(m) for m in feature_maps]] + [
        [signed_image(m / max(1.0, float(np.abs(m).max()))) for m in layer] for layer in neuron_maps
    ]
    pictures.append(
        [probability_image(output_probabilities)]
        if k == 2
        else [class_image(output_probabilities[..., c], c) for c in range(k)]
    )
    half, rows, gap = 0.36, max(len(column) for column in pictures), LAYER_GAP
    largest = max((float(np.abs(kernel).max()) for kernel, _ in weights), default=1.0) or 1.0
    fig = go.Figure()

    edges: dict[tuple[bool, int], tuple[list, list]] = {}
    hover_x, hover_y, hover_text = [], [], []
    for layer, (kernel, _) in enumerate(weights):
        for i in range(kernel.shape[0]):
            for j in range(kernel.shape[1]):
                w = float(kernel[i, j])
                xs, ys = edges.setdefault((w >= 0, min(3, int(4 * abs(w) / largest))), ([], []))
                xs += [layer * gap + half, (layer + 1) * gap - half, None]
                ys += [-i, -j, None]
                hover_x.append((layer + 0.5) * gap)
                hover_y.append(-(i + j) / 2)
                hover_text.append(f"weight {w:+.3f}")
    for (positive, bucket), (xs, ys) in sorted(edges.items()):
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                hoverinfo="skip",
                showlegend=False,
                opacity=0.12 + 0.28 * bucket,
                line={"color": POSITIVE if positive else NEGATIVE, "width": 0.5 + 2 * bucket},
            )
        )
    fig.add_trace(
        go.Scatter(
            x=hover_x,
            y=hover_y,
            mode="markers",
            marker={"size": 6, "opacity": 0},
            hovertext=hover_text,
            hoverinfo="text",
            showlegend=False,
        )
    )

    node_x, node_y, node_text, images, frames = [], [], [], [], []
    for c, column in enumerate(pictures):
        for j, picture in enumerate(column):
            images.append(
                {
                    "source": picture,
                    "xref": "x",
                    "yref": "y",
                    "x": c * gap - half,
                    "y": -j + half,
                    "sizex": 2 * half,
                    "sizey": 2 * half,
                    "sizing": "stretch",
                    "layer": "above",
                }
            )
            frames.append(
                {
                    "type": "rect",
                    "x0": c * gap - half,
                    "x1": c * gap + half,
                    "y0": -j - half,
                    "y1": -j + half,
                    "line": {"color": "#9a9a9a", "width": 1},
                    "layer": "above",
                }
            )
            node_x.append(c * gap)
            node_y.append(-j)
            if c == 0:
                node_text.append(f"input feature {features[j]}")
                continue
            bias = f"bias {float(weights[c - 1][1][j]):+.3f}"
            if c < len(pictures) - 1:
                node_text.append(f"hidden layer {c}, neuron {j + 1}<br>{bias}")
            else:
                node_text.append(f"output: P({plotly_literal(classes[1] if k == 2 else classes[j])})<br>{bias}")
    fig.add_trace(
        go.Scatter(
            x=node_x,
            y=node_y,
            mode="markers",
            hovertext=node_text,
            hoverinfo="text",
            showlegend=False,
            marker={"symbol": "square", "size": 28, "opacity": 0},
        )
    )
    headings = ["features"] + [f"hidden {c} ({len(pictures[c])})" for c in range(1, len(pictures) - 1)] + ["output"]
    annotations = [
        {"x": -half - 0.05, "y": -j, "text": name, "showarrow": False, "xanchor": "right"}
        for j, name in enumerate(features)
    ] + [
        {"x": c * gap, "y": half + 0.1, "text": text, "showarrow": False, "yanchor": "bottom"}
        for c, text in enumerate(headings)
    ]
    x_range = [-2.2, (len(pictures) - 1) * gap + half + 0.1]
    y_range = [-(rows - 1) - half - 0.1, half + 0.7]
    plot_height = PLOT_WIDTH_PX * (y_range[1] - y_range[0]) / (x_range[1] - x_range[0])
    fig.update_layout(
        title=title,
        images=images,
        annotations=annotations,
        shapes=frames,
        plot_bgcolor="white",
        hovermode="closest",
        height=int(np.clip(plot_height, 160, 760)) + 110,
        xaxis={"range": x_range, "visible": False, "constrain": "domain"},
        yaxis={"range": y_range, "visible": False, "scaleanchor": "x"},
    )
    return fig
