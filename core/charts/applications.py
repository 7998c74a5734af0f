"""Pictures of the vision-applications lesson: residual blocks drawn as the course draws them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from core.charts.arrows import data_arrow
from core.charts.theme import OKABE_ITO

CLASS_PALETTE = (*OKABE_ITO[:7], "#999999", "#882255", "#44AA99")
"""Ten distinct colours, one per digit."""

BOX_WIDTH, BOX_HEIGHT = 0.8, 0.5
KIND_COLOURS = {"conv": "#DCEBF7", "bn": "#FDF0D5", "relu": "#DDF2E9", "add": "#FFFFFF", "io": "#F2F2F2"}


def _box(fig: go.Figure, x: float, y: float, text: str, kind: str, dashed: bool = False) -> None:
    fig.add_shape(
        type="rect" if kind != "add" else "circle",
        x0=x - (BOX_WIDTH if kind != "add" else BOX_HEIGHT) / 2,
        x1=x + (BOX_WIDTH if kind != "add" else BOX_HEIGHT) / 2,
        y0=y - BOX_HEIGHT / 2,
        y1=y + BOX_HEIGHT / 2,
        fillcolor=KIND_COLOURS[kind],
        line={"color": "#555555", "width": 1.2, "dash": "dot" if dashed else "solid"},
    )
    fig.add_annotation(x=x, y=y, text=text, showarrow=False, font={"size": 12})


def residual_blocks() -> go.Figure:
    """The identity block (top) and the convolutional block (bottom): conv → (BN) → ReLU → conv → (BN) → + → ReLU,
    with the skip connection over them; batch normalisation drawn dotted (a run may leave it out)."""
    fig = go.Figure()
    steps = [("conv 3×3", "conv"), ("batch<br>norm", "bn"), ("ReLU", "relu"), ("conv 3×3", "conv")]
    steps += [("batch<br>norm", "bn"), ("+", "add"), ("ReLU", "relu")]
    rows = (
        (2.2, "identity block: same shape in and out", "identity: the input itself", "x"),
        (0.0, "convolutional block: stride 2, more channels", "conv 1×1, stride 2 (+ batch norm)", "x"),
    )
    skip_colour = OKABE_ITO[3]
    for y, title, skip, _ in rows:
        xs = [0.0] + [1.0 + i for i in range(len(steps))] + [1.0 + len(steps)]
        _box(fig, xs[0], y, "input", "io")
        for x, (text, kind) in zip(xs[1:-1], steps):
            stride = "<br>stride 2" if kind == "conv" and x == 1.0 and y == 0.0 else ""
            _box(fig, x, y, text + stride, kind, dashed=kind == "bn")
        _box(fig, xs[-1], y, "output", "io")
        for a, b in zip(xs, xs[1:]):
            data_arrow(fig, (a + BOX_WIDTH / 2, y), (b - (BOX_HEIGHT if b == xs[6] else BOX_WIDTH) / 2, y), "#555555")
        add_x, top = xs[6], y + 0.75
        fig.add_trace(
            go.Scatter(
                x=[xs[0], xs[0], add_x, add_x],
                y=[y + BOX_HEIGHT / 2, top, top, y + BOX_HEIGHT / 2 + 0.08],
                mode="lines",
                line={"color": skip_colour, "width": 2.4},
                hoverinfo="skip",
                showlegend=False,
            )
        )
        data_arrow(fig, (add_x, top), (add_x, y + BOX_HEIGHT / 2), skip_colour, width=2.4)
        fig.add_annotation(
            x=(xs[0] + add_x) / 2, y=top + 0.12, text=skip, showarrow=False, font={"color": skip_colour, "size": 12}
        )
        fig.add_annotation(
            x=xs[0] - BOX_WIDTH / 2, y=top + 0.45, text=f"<b>{title}</b>", showarrow=False, xanchor="left"
        )
    fig.update_layout(
        title=(
            "Residual blocks: a plain network is the same without the orange path<br>"
            "(dotted: batch normalisation, where the run has it)"
        ),
        height=420,
        xaxis={"visible": False, "range": [-0.6, 9.6]},
        yaxis={"visible": False, "range": [-0.5, 3.6], "scaleanchor": None},
        margin={"l": 10, "r": 10},
    )
    return fig


def accuracy_by_labels(
    history: Sequence[Mapping[str, float]], keys: Mapping[str, str], title: str, chance: float
) -> go.Figure:
    """Held-out accuracy against labelled examples per class (log axis), one line per strategy (`keys`: row key →
    name), with the level of guessing."""
    fig = go.Figure()
    for colour, (key, name) in zip(OKABE_ITO, keys.items()):
        rows = [row for row in history if key in row]
        fig.add_trace(
            go.Scatter(
                x=[row["labels_per_class"] for row in rows],
                y=[row[key] for row in rows],
                mode="lines+markers",
                name=name,
                line={"color": colour},
                hovertemplate=f"{name}<br>%{{x}} per class: %{{y:.1%}}<extra></extra>",
            )
        )
    if history:
        xs = [history[0]["labels_per_class"], history[-1]["labels_per_class"]]
        fig.add_trace(
            go.Scatter(
                x=xs, y=[chance, chance], mode="lines", name="guessing", line={"color": "#555555", "dash": "dot"}
            )
        )
    fig.update_layout(
        title=title,
        height=340,
        xaxis={
            "title": "labelled examples per class",
            "type": "log",
            "tickvals": [row["labels_per_class"] for row in history],
        },
        yaxis={"title": "held-out accuracy", "range": [0, 1.02], "tickformat": ".0%"},
    )
    return fig


def _blank(fig: go.Figure, size: tuple[int, int]) -> None:
    """Axes for a picture `size` = (height, width) pixels: row 0 at the top, square pixels, no ticks."""
    height, width = size
    fig.update_xaxes(
        range=[-0.5, width - 0.5], showticklabels=False, showgrid=False, zeroline=False, constrain="domain"
    )
    fig.update_yaxes(
        range=[height - 0.5, -0.5],
        showticklabels=False,
        showgrid=False,
        zeroline=False,
        scaleanchor="x",
        constrain="domain",
    )


def _rectangle(fig: go.Figure, box, colour: str, dash: str = "solid", width: float = 2.0, fill: str | None = None):
    """A box (x0, y0, x1, y1) in pixel edges over a picture whose pixel centres are at whole numbers."""
    x0, y0, x1, y1 = (float(v) - 0.5 for v in box)
    fig.add_shape(
        type="rect",
        x0=x0,
        y0=y0,
        x1=x1,
        y1=y1,
        line={"color": colour, "dash": dash, "width": width},
        fillcolor=fill or "rgba(0,0,0,0)",
        layer="above",
    )


def iou_picture(a, b, shared_box, shared: float, covered: float, size: int = 100) -> go.Figure:
    """Two boxes on a blank square, the box they share (if any) filled, the IoU worked out in the title."""
    fig = go.Figure(go.Heatmap(z=np.zeros((size, size)), colorscale=[[0, "#FFFFFF"], [1, "#FFFFFF"]], showscale=False))
    fig.data[0].hoverinfo = "skip"
    _rectangle(fig, a, OKABE_ITO[0], width=3, fill="rgba(0,114,178,0.10)")
    _rectangle(fig, b, OKABE_ITO[1], width=3, fill="rgba(230,159,0,0.10)")
    if shared_box is not None:
        _rectangle(fig, shared_box, OKABE_ITO[2], width=1, fill="rgba(0,158,115,0.45)")
    value = shared / covered if covered > 0 else 0.0
    fig.update_layout(
        title=f"IoU = shared ÷ covered = {shared:,.0f} ÷ {covered:,.0f} = {value:.3f}", height=420, margin={"l": 10}
    )
    _blank(fig, (size, size))
    return fig


def detection_picture(
    image: np.ndarray | None,
    size: tuple[int, int],
    truth: np.ndarray,
    boxes: np.ndarray,
    labels: Sequence[str],
    outcomes: Sequence[str],
    title: str,
    grid: int | None = None,
    chart_height: int = 440,
    labelled: int | None = None,
) -> go.Figure:
    """Proposed boxes over a picture (grayscale or RGB, or a blank one): kept ones solid and labelled, suppressed ones
    dotted grey, those under the score threshold faint (each says what it is when its corner is hovered); the true
    boxes dashed black; the detector's grid of `grid` cells drawn where it has one. With `labelled`, only the first
    that many kept boxes are labelled and coloured; the other kept ones are thin orange lines."""
    rows, columns = size
    picture = np.zeros(size) if image is None else np.asarray(image, dtype=float)
    if picture.ndim == 3:
        fig = go.Figure(go.Image(z=(np.clip(picture, 0, 1) * 255).astype("uint8"), hoverinfo="skip"))
    else:
        fig = go.Figure(
            go.Heatmap(
                z=picture,
                colorscale=[[0, "#FFFFFF"], [1, "#3A3A3A"]],
                zmin=0,
                zmax=1,
                showscale=False,
                hoverinfo="skip",
            )
        )
    if grid:
        for k in range(1, grid):
            fig.add_shape(
                type="line",
                x0=k * columns / grid - 0.5,
                x1=k * columns / grid - 0.5,
                y0=-0.5,
                y1=rows - 0.5,
                line={"color": "#BBBBBB", "width": 1},
            )
            fig.add_shape(
                type="line",
                y0=k * rows / grid - 0.5,
                y1=k * rows / grid - 0.5,
                x0=-0.5,
                x1=columns - 0.5,
                line={"color": "#BBBBBB", "width": 1},
            )
    for box in np.asarray(truth).reshape(-1, 4):
        _rectangle(fig, box, "#000000", dash="dash", width=1.5)
    kept_colour = 0
    hover_x, hover_y, hover_text = [], [], []
    for box, label, outcome in zip(np.asarray(boxes).reshape(-1, 4), labels, outcomes):
        if outcome == "kept" and labelled is not None and kept_colour >= labelled:
            colour, dash, width = OKABE_ITO[1], "solid", 1.0
        elif outcome == "kept":
            colour, dash, width = OKABE_ITO[kept_colour % 6], "solid", 3.0
            kept_colour += 1
            fig.add_annotation(
                x=float(box[0]) - 0.5,
                y=float(box[1]) - 0.5,
                text=label,
                showarrow=False,
                xanchor="left",
                yanchor="bottom",
                font={"size": 12, "color": colour},
                bgcolor="rgba(255,255,255,0.8)",
            )
        elif outcome == "suppressed":
            colour, dash, width = "#8A8A8A", "dot", 1.5
        else:
            colour, dash, width = "#D0D0D0", "dot", 1.0
        _rectangle(fig, box, colour, dash=dash, width=width)
        hover_x.append(float(box[0]) - 0.5)
        hover_y.append(float(box[1]) - 0.5)
        hover_text.append(f"{label}: {outcome}")
    fig.add_trace(
        go.Scatter(
            x=hover_x,
            y=hover_y,
            mode="markers",
            marker={"size": 6, "color": "rgba(0,0,0,0.25)"},
            text=hover_text,
            hovertemplate="%{text}<extra></extra>",
            showlegend=False,
        )
    )
    fig.update_layout(title=title, height=chart_height, margin={"l": 10})
    _blank(fig, size)
    return fig


def face_map(probability: np.ndarray, scale: float) -> go.Figure:
    """P-Net's face probability for every 12×12 window at one scale of the pyramid: the network as a sliding window."""
    fig = go.Figure(
        go.Heatmap(
            z=probability,
            zmin=0,
            zmax=1,
            colorscale="Viridis",
            colorbar={"title": "P(face)"},
            hovertemplate="window at row %{y}, column %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Every window's chance of a face, at scale {scale:.3f}<br>(one pixel here: a 12×12 window, 2 apart)",
        height=440,
        margin={"l": 10},
    )
    _blank(fig, probability.shape)
    return fig


def embedding_map(points: np.ndarray, labels: np.ndarray, unseen: int, title: str) -> go.Figure:
    """Embeddings in 2-D, one colour per class; the first `unseen` points (classes never trained on) drawn as large
    crosses, the rest (known classes) as small dots."""
    fig = go.Figure()
    for group, rows, symbol, size in (
        ("never trained on", np.arange(unseen), "x", 8),
        ("trained on", np.arange(unseen, len(points)), "circle", 4),
    ):
        for label in np.unique(labels[rows]):
            chosen = rows[labels[rows] == label]
            fig.add_trace(
                go.Scatter(
                    x=points[chosen, 0],
                    y=points[chosen, 1],
                    mode="markers",
                    name=f"{label} ({group})",
                    marker={"symbol": symbol, "size": size, "color": CLASS_PALETTE[int(label) % len(CLASS_PALETTE)]},
                    hovertemplate=f"digit {label}<extra></extra>",
                )
            )
    fig.update_layout(
        title=title,
        height=420,
        xaxis={"title": "first principal component", "zeroline": False},
        yaxis={"title": "second", "zeroline": False, "scaleanchor": "x"},
        legend={"font": {"size": 10}},
    )
    return fig


def roc_curves(curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]], title: str) -> go.Figure:
    """ROC curves (name → false positive rates, true positive rates, area), with the diagonal of guessing."""
    fig = go.Figure()
    for colour, (name, (false_positive, true_positive, area)) in zip(OKABE_ITO, curves.items()):
        keep = np.unique(np.linspace(0, len(false_positive) - 1, 400).astype(int))
        fig.add_trace(
            go.Scatter(
                x=false_positive[keep],
                y=true_positive[keep],
                mode="lines",
                name=f"{name} (area {area:.3f})",
                line={"color": colour},
            )
        )
    fig.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="guessing", line={"color": "#555555", "dash": "dot"})
    )
    fig.update_layout(
        title=title,
        height=400,
        xaxis={"title": "different pairs called the same", "range": [0, 1]},
        yaxis={"title": "same pairs called the same", "range": [0, 1.02]},
    )
    return fig
