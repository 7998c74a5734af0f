"""Pictures of deep networks looked at layer by layer: race curves, decision surfaces side by side,
per-layer profiles on a log scale, per-layer histograms as heatmaps (Glorot & Bengio's figures 6–7,
one row per layer), and each layer's gradient norm over the run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.charts.theme import CLASS_COLOURS, DIVERGING_SCALE, OKABE_ITO, plain_figure
from core.charts.training import metric_series, thinned

DENSITY_SCALE = [[0.0, "#FFFFFF"], [0.15, "#C6DBEF"], [0.5, "#4292C6"], [1.0, "#08306B"]]
"""White (empty) to deep blue (the layer's most crowded bin)."""
GRADIENT_SCALE = "Viridis"


def scheme_colour(index: int) -> str:
    return OKABE_ITO[index % len(OKABE_ITO)]


def race_curves(
    history: Sequence[Mapping[str, float]],
    schemes: Sequence[str],
    metrics: Sequence[str],
    title: str,
    log_y: bool = False,
) -> dict:
    """One colour per scheme; the first metric solid, the second dotted (train and test)."""
    kept = thinned(history)
    traces = []
    for index, scheme in enumerate(schemes):
        for metric, dash in zip(metrics, ("solid", "dot")):
            series = metric_series(kept, f"{scheme}: {metric}")
            if series is not None:
                traces.append(
                    {
                        "type": "scatter",
                        "x": series[0],
                        "y": series[1],
                        "mode": "lines",
                        "name": f"{scheme} · {metric.split('_')[0]}",
                        "line": {"color": scheme_colour(index), "dash": dash},
                    }
                )
    layout = {
        "title": {"text": title},
        "height": 330,
        "xaxis": {"title": {"text": "epoch"}},
        "yaxis": {"type": "log" if log_y else "linear", "exponentformat": "power"},
    }
    return plain_figure(traces, layout)


def race_surfaces(
    axis: np.ndarray,
    surfaces: np.ndarray,
    points: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    schemes: Sequence[str],
    notes: Mapping[str, str],
    title: str,
) -> go.Figure:
    """Each network's P(class 1) over the plane, side by side, with the training points on top."""
    fig = make_subplots(
        rows=1, cols=len(schemes), subplot_titles=[f"{s}{notes.get(s, '')}" for s in schemes], horizontal_spacing=0.03
    )
    for column, (scheme, surface) in enumerate(zip(schemes, surfaces), start=1):
        fig.add_trace(
            go.Heatmap(
                x=axis,
                y=axis,
                z=np.nan_to_num(surface, nan=0.5),
                zmin=0,
                zmax=1,
                colorscale=DIVERGING_SCALE,
                showscale=column == 1,
                colorbar={"title": f"P({classes[1]})", "len": 0.8},
                hovertemplate=f"{scheme}<br>x1=%{{x:.2f}}<br>x2=%{{y:.2f}}<br>P=%{{z:.3f}}<extra></extra>",
            ),
            row=1,
            col=column,
        )
        for k, name in enumerate(classes):
            mask = labels == k
            fig.add_trace(
                go.Scatter(
                    x=points[mask, 0],
                    y=points[mask, 1],
                    mode="markers",
                    name=name,
                    showlegend=column == 1,
                    marker={"color": CLASS_COLOURS[k], "size": 5, "line": {"color": "white", "width": 0.6}},
                    hoverinfo="skip",
                ),
                row=1,
                col=column,
            )
        fig.update_xaxes(range=[axis[0], axis[-1]], showticklabels=False, row=1, col=column)
        fig.update_yaxes(
            range=[axis[0], axis[-1]],
            showticklabels=False,
            scaleanchor=f"x{column if column > 1 else ''}",
            row=1,
            col=column,
        )
    fig.update_layout(title=title, height=330, legend={"orientation": "h", "y": -0.05, "yanchor": "top", "x": 0})
    return fig


def zero_level(values) -> float:
    """Where a log-scale chart draws an exact 0: a decade below the smallest positive value."""
    values = np.asarray(values, dtype=float)
    positive = values[np.isfinite(values) & (values > 0)]
    return 10.0 ** (np.floor(np.log10(positive.min())) - 1) if positive.size else 1e-12


def layer_profile(
    values: np.ndarray, schemes: Sequence[str], title: str, y_title: str, x_title: str = "layer"
) -> go.Figure:
    """(K, layers) values against the layer index, one line per scheme, on a log scale (an exact 0
    is drawn at `zero_level` and says so when hovered)."""
    fig = go.Figure()
    layers = np.arange(1, values.shape[1] + 1)
    floor = zero_level(values)
    for index, (scheme, row) in enumerate(zip(schemes, values)):
        shown = np.where(np.isfinite(row), np.maximum(row, floor), np.nan)
        text = [f"{v:.3g}" if v > 0 else "0 (drawn below the smallest value)" for v in row]
        fig.add_trace(
            go.Scatter(
                x=layers,
                y=shown,
                mode="lines+markers",
                name=scheme,
                text=text,
                line={"color": scheme_colour(index)},
                marker={"size": 5},
                hovertemplate=f"{scheme}<br>layer %{{x}}: %{{text}}<extra></extra>",
            )
        )
    fig.update_layout(
        title=title,
        height=330,
        xaxis={"title": x_title, "dtick": max(1, len(layers) // 10)},
        yaxis={"type": "log", "title": y_title, "exponentformat": "power"},
    )
    return fig


def _decade_label(value: float) -> str:
    return f"10<sup>{int(round(value))}</sup>"


def layer_histograms(
    edges: np.ndarray,
    shares: np.ndarray,
    schemes: Sequence[str],
    title: str,
    x_title: str,
    log_values: bool = False,
    zero_share: np.ndarray | None = None,
) -> go.Figure:
    """Per scheme, a heatmap with one row per layer (layer 1 on top) and one column per bin: how the
    layer's values spread. Each row is shaded against its own fullest bin, so a narrow spread shows
    as sharply as a wide one; hovering gives the share. With `log_values`, bins are decades of |value|
    and `zero_share` adds a column for values that are exactly 0."""
    n_layers = shares.shape[1]
    fig = make_subplots(
        rows=1, cols=len(schemes), subplot_titles=list(schemes), horizontal_spacing=0.04, shared_yaxes=True
    )
    layers = np.arange(1, n_layers + 1)
    for column, scheme in enumerate(schemes, start=1):
        lo, hi = edges[column - 1][0], edges[column - 1][-1]
        centres = (edges[column - 1][:-1] + edges[column - 1][1:]) / 2
        z = shares[column - 1]
        if zero_share is not None:
            width = centres[1] - centres[0]
            centres = np.concatenate([[lo - 3 * width], centres])
            z = np.concatenate([zero_share[column - 1][:, None], z], axis=1)
        shade = z / np.maximum(z.max(axis=1, keepdims=True), 1e-12)
        fig.add_trace(
            go.Heatmap(
                x=centres,
                y=layers,
                z=shade,
                customdata=z,
                zmin=0,
                zmax=1,
                colorscale=DENSITY_SCALE,
                showscale=False,
                xgap=0,
                ygap=1,
                hovertemplate=f"{scheme}<br>layer %{{y}}<br>bin %{{x:.3g}}<br>share %{{customdata:.1%}}<extra></extra>",
            ),
            row=1,
            col=column,
        )
        axis = {"title": x_title}
        if log_values:
            ticks = np.arange(np.ceil(lo), np.floor(hi) + 1, max(1, int(np.ceil((hi - lo) / 4))))
            ticks = ticks[ticks > lo] if zero_share is not None else ticks  # room for the '0' column's label
            axis.update(
                tickvals=([centres[0]] if zero_share is not None else []) + list(ticks),
                ticktext=(["0"] if zero_share is not None else []) + [_decade_label(t) for t in ticks],
            )
        else:
            axis.update(range=[lo, hi])
        fig.update_xaxes(**axis, row=1, col=column)
    fig.update_yaxes(autorange="reversed", title="layer", dtick=max(1, n_layers // 10), row=1, col=1)
    fig.update_layout(title=title, height=max(260, 120 + 9 * n_layers))
    return fig


def gradient_norm_history(
    history: Sequence[tuple[int, np.ndarray]], copy: int, title: str, unit: str = "layer"
) -> go.Figure:
    """Each Dense layer's ‖∂L/∂W‖ (log10, colour) at every measurement of the run: which layers learn, and when."""
    epochs = [epoch for epoch, _ in history]
    norms = np.stack([values[copy] for _, values in history], axis=1)
    floor = zero_level(norms)
    z = np.log10(np.maximum(np.nan_to_num(norms, nan=floor), floor))
    layers = np.arange(1, norms.shape[0] + 1)
    fig = go.Figure(
        go.Heatmap(
            x=epochs,
            y=layers,
            z=z,
            colorscale=GRADIENT_SCALE,
            customdata=norms,
            colorbar={"title": "log<sub>10</sub> ‖∂L/∂W‖"},
            hovertemplate=f"epoch %{{x}}<br>{unit} %{{y}}<br>‖∂L/∂W‖ = %{{customdata:.3g}}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        height=330,
        xaxis={"title": "epoch", "range": [epochs[0], epochs[-1]] if len(epochs) > 1 else None},
        yaxis={"title": unit, "autorange": "reversed", "dtick": max(1, len(layers) // 10)},
    )  # a cell is centred on its measurement: the axis ends at the run's last one, not half a cell past it
    return fig


def derivative_curves(
    x: np.ndarray, derivatives: Mapping[str, tuple[np.ndarray, float, float]], title: str
) -> go.Figure:
    """Each activation's derivative over x, its largest value marked (and given in the legend)."""
    fig = go.Figure()
    for index, (name, (derivative, peak, where)) in enumerate(derivatives.items()):
        colour = scheme_colour(index)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=derivative,
                mode="lines",
                name=f"{name} (max {peak:.3g})",
                line={"color": colour},
                legendgroup=name,
                hovertemplate=f"{name}'(%{{x:.2f}}) = %{{y:.3f}}<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[where],
                y=[peak],
                mode="markers",
                marker={"color": colour, "size": 10, "symbol": "diamond"},
                showlegend=False,
                legendgroup=name,
                hovertemplate=f"{name}: largest derivative {peak:.4g} at x = {where:.2f}<extra></extra>",
            )
        )
    fig.update_layout(title=title, height=330, xaxis_title="x", yaxis={"title": "derivative", "range": [-0.15, 1.25]})
    return fig


def derivative_products(peaks: Mapping[str, float], depth: int, title: str) -> go.Figure:
    """The largest activation derivative raised to the number of layers a gradient crosses: the most
    of it that can survive the activations alone."""
    layers = np.arange(1, depth + 1)
    fig = go.Figure()
    for index, (name, peak) in enumerate(peaks.items()):
        fig.add_trace(
            go.Scatter(
                x=layers,
                y=peak ** layers.astype(float),
                mode="lines+markers",
                name=f"{name} ({peak:.3g}ⁿ)",
                line={"color": scheme_colour(index)},
                marker={"size": 4},
                hovertemplate=f"{name}: {peak:.3g}<sup>%{{x}}</sup> = %{{y:.3g}}<extra></extra>",
            )
        )
    fig.update_layout(
        title=title,
        height=330,
        xaxis_title="layers crossed n",
        yaxis={"type": "log", "title": "largest derivativeⁿ", "exponentformat": "power"},
    )
    return fig


def gradient_through_time(
    initial: np.ndarray, now: np.ndarray, kinds: Sequence[str], distance: int, epoch: int, title: str
) -> go.Figure:
    """Per model, the gradient reaching each step's input against its distance from the end (log):
    dotted at the start, solid now, with the step that holds the answer marked."""
    fig = go.Figure()
    floor = zero_level(np.stack([initial, now]))
    steps = np.arange(1, initial.shape[1] + 1)
    for index, kind in enumerate(kinds):
        for values, dash, when in (
            (initial[index], "dot", "at the start"),
            (now[index], "solid", f"after epoch {epoch}"),
        ):
            if dash == "solid" and epoch == 0:
                continue
            fig.add_trace(
                go.Scatter(
                    x=steps,
                    y=np.maximum(values, floor),
                    mode="lines",
                    name=f"{kind} · {when}",
                    line={"color": scheme_colour(index), "dash": dash},
                    customdata=values,
                    hovertemplate=f"{kind} {when}<br>%{{x}} steps back: %{{customdata:.3g}}<extra></extra>",
                )
            )
    fig.add_vline(
        x=distance,
        line={"color": "#555555", "dash": "dash"},
        annotation_text=f"the marked input ({distance} back)",
        annotation_position="bottom right",
    )
    fig.update_layout(
        title=title,
        height=360,
        xaxis={"title": "steps back from the end", "dtick": 5},
        yaxis={"type": "log", "title": "mean |∂L/∂x|", "exponentformat": "power"},
    )
    return fig
