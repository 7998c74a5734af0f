"""Pictures of recurrent networks: loss against the guessing baseline, every gate as a heatmap over
a string, one unit's trace, the LSTM cell with its numbers, correlation bars and next-character
distributions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.charts.arrows import data_arrow
from core.charts.theme import DIVERGING_SCALE, OKABE_ITO
from core.charts.training import thin

GATE_SCALE = [[0.0, "#FFFFFF"], [1.0, "#0072B2"]]
"""A gate is a share between 0 (closed, white) and 1 (open, blue)."""


def loss_against_guessing(history: Sequence[Mapping[str, float]], baseline: float, title: str) -> go.Figure:
    """Training and held-out loss per character, with ln(classes), the loss of a uniform guess."""
    fig = go.Figure()
    keep = thin(history)
    epochs = [history[i]["epoch"] for i in keep]
    for name, label, colour in (("loss", "training", OKABE_ITO[0]), ("val_loss", "held out", OKABE_ITO[1])):
        if history and name in history[0]:
            fig.add_trace(
                go.Scatter(
                    x=epochs, y=[history[i][name] for i in keep], mode="lines", name=label, line={"color": colour}
                )
            )
    fig.add_hline(
        y=baseline,
        line={"dash": "dash", "color": "#555555"},
        annotation_text=f"guessing: ln(classes) = {baseline:.3f}",
        annotation_position="top right",
    )
    fig.update_layout(
        title=title,
        xaxis_title="epoch",
        yaxis_title="loss per character (nats)",
        height=330,
        yaxis={"rangemode": "tozero"},
    )
    return fig


def _step_labels(chars: Sequence[str]) -> list[str]:
    return [f"{t}:{'␣' if ch == ' ' else ch}" for t, ch in enumerate(chars)]


def gate_heatmaps(
    gates: Mapping[str, np.ndarray], chars: Sequence[str], title: str, step: int | None = None
) -> go.Figure:
    """One heatmap per gate and state (rows: units, columns: characters). Gates on 0–1; the
    candidate and the states diverging around 0. A chosen step is outlined in every panel."""
    names = list(gates)
    fig = make_subplots(rows=len(names), cols=1, subplot_titles=names, vertical_spacing=0.035, shared_xaxes=True)
    labels = _step_labels(chars)
    for row, name in enumerate(names, start=1):
        values = gates[name].T
        if "gate" in name:
            scale, low, high = GATE_SCALE, 0.0, 1.0
        else:
            bound = float(np.max(np.abs(values))) or 1.0
            scale, low, high = DIVERGING_SCALE, -bound, bound
        fig.add_trace(
            go.Heatmap(
                z=values,
                x=labels,
                y=list(range(values.shape[0])),
                zmin=low,
                zmax=high,
                colorscale=scale,
                colorbar={"len": 0.9 / len(names), "y": 1 - (row - 0.5) / len(names), "thickness": 10},
                hovertemplate=f"{name}<br>step %{{x}}<br>unit %{{y}}: %{{z:.3f}}<extra></extra>",
            ),
            row=row,
            col=1,
        )
        if step is not None:
            fig.add_vrect(x0=step - 0.5, x1=step + 0.5, line={"color": "black", "width": 2}, row=row, col=1)
        fig.update_yaxes(title="unit", row=row, col=1, autorange="reversed")
    fig.update_xaxes(type="category", tickangle=0)
    fig.update_layout(title=title, height=150 + 170 * len(names))
    return fig


def unit_trace(gates: Mapping[str, np.ndarray], unit: int, chars: Sequence[str], title: str) -> go.Figure:
    """One unit's gates and states along the string."""
    fig = go.Figure()
    labels = _step_labels(chars)
    for colour, (name, values) in zip(OKABE_ITO, gates.items()):
        dash = "solid" if "state" in name else "dot"
        fig.add_trace(
            go.Scatter(
                x=labels,
                y=values[:, unit],
                mode="lines+markers",
                name=name,
                line={"color": colour, "dash": dash},
                marker={"size": 5},
            )
        )
    fig.update_xaxes(type="category", tickangle=0)
    fig.update_layout(title=title, height=360, yaxis_title="value")
    return fig


def cell_diagram(values: Mapping[str, float], title: str) -> go.Figure:
    """One LSTM step for one unit, drawn as its data flow, with the numbers of that step:
    c_{t−1} → ×f → +(i·g) → c_t → tanh → ×o → h_t, and x_t, h_{t−1} feeding the four gates."""
    fig = go.Figure()
    boxes = {  # name: (x, y, text)
        "c_prev": (0.0, 3.0, f"c<sub>t−1</sub><br>{values['c_prev']:+.3f}"),
        "times_f": (2.0, 3.0, "×"),
        "plus": (4.0, 3.0, "+"),
        "c": (6.5, 3.0, f"c<sub>t</sub><br>{values['c']:+.3f}"),
        "f": (2.0, 1.0, f"forget f<br>σ: {values['f']:.3f}"),
        "i": (3.2, 1.0, f"input i<br>σ: {values['i']:.3f}"),
        "g": (4.6, 1.0, f"candidate g<br>tanh: {values['g']:+.3f}"),
        "times_i": (4.0, 2.0, "×"),
        "o": (6.0, 1.0, f"output o<br>σ: {values['o']:.3f}"),
        "tanh": (6.5, 2.0, "tanh"),
        "times_o": (7.5, 1.6, "×"),
        "h": (9.0, 1.6, f"h<sub>t</sub><br>{values['h']:+.3f}"),
        "inputs": (3.5, -0.4, f"x<sub>t</sub> = '{values['char']}' and h<sub>t−1</sub> feed all four gates"),
    }
    arrows = [
        ("c_prev", "times_f"),
        ("times_f", "plus"),
        ("plus", "c"),
        ("f", "times_f"),
        ("i", "times_i"),
        ("g", "times_i"),
        ("times_i", "plus"),
        ("c", "tanh"),
        ("tanh", "times_o"),
        ("o", "times_o"),
        ("times_o", "h"),
    ]
    for start, end in arrows:
        (x0, y0, _), (x1, y1, _) = boxes[start], boxes[end]
        data_arrow(fig, (x0, y0), (x1, y1), "#555555", standoff=18)
    for name, (x, y, text) in boxes.items():
        operator = text in ("×", "+", "tanh")
        fig.add_annotation(
            x=x,
            y=y,
            text=text,
            showarrow=False,
            font={"size": 15 if operator else 13},
            bgcolor="#FFFFFF" if name == "inputs" else "#E8F1FA" if not operator else "#FFF3D6",
            bordercolor="#0072B2" if not operator else "#E69F00",
            borderwidth=1.5,
            borderpad=6,
        )
    fig.update_xaxes(visible=False, range=[-0.8, 9.8])
    fig.update_yaxes(visible=False, range=[-1.0, 3.7])
    fig.update_layout(title=title, height=360, plot_bgcolor="#FFFFFF")
    return fig


def correlation_bars(correlations: np.ndarray, top: int, title: str) -> go.Figure:
    """The units whose cell state follows a property most closely, by |r|."""
    order = np.argsort(-np.abs(correlations))[:top]
    fig = go.Figure(
        go.Bar(
            x=[f"unit {u}" for u in order],
            y=correlations[order],
            marker_color=[OKABE_ITO[0] if correlations[u] >= 0 else OKABE_ITO[1] for u in order],
            text=[f"{correlations[u]:+.2f}" for u in order],
            textposition="outside",
            hovertemplate="%{x}: r = %{y:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(type="category")
    fig.update_yaxes(title="correlation r", range=[-1.1, 1.1])
    fig.update_layout(title=title, height=320)
    return fig


def next_character_heatmap(
    distributions: np.ndarray, vocabulary: Sequence[str], chosen: Sequence[str], title: str
) -> go.Figure:
    """At each generated step (rows) the probability of every character (columns); the one drawn is marked."""
    labels = ["␤" if ch == "\n" else ch for ch in vocabulary]
    rows = [f"{t}: '{ch}'" for t, ch in enumerate(chosen)]
    fig = go.Figure(
        go.Heatmap(
            z=distributions,
            x=labels,
            y=rows,
            colorscale=GATE_SCALE,
            zmin=0,
            zmax=1,
            hovertemplate="step %{y}<br>'%{x}': %{z:.3f}<extra></extra>",
        )
    )
    columns = [vocabulary.index(ch) for ch in chosen]
    fig.add_trace(
        go.Scatter(
            x=[labels[c] for c in columns],
            y=rows,
            mode="markers",
            name="drawn",
            marker={"symbol": "circle-open", "size": 12, "color": OKABE_ITO[3], "line": {"width": 2}},
        )
    )
    fig.update_xaxes(type="category", side="top")
    fig.update_yaxes(type="category", autorange="reversed")
    fig.update_layout(title=title, height=140 + 22 * len(rows), showlegend=False)
    return fig


def attention_map(
    weights: np.ndarray, inputs: Sequence[str], outputs: Sequence[str], title: str, unit: str = "character"
) -> go.Figure:
    """Attention weights: one row per output `unit` (character, word), one column per input one (each row
    sums to 1 over the input)."""
    columns = [f"{t}:{'␣' if ch == ' ' else ch}" for t, ch in enumerate(inputs)]
    rows = [f"{t}:{ch}" for t, ch in enumerate(outputs)]
    fig = go.Figure(
        go.Heatmap(
            z=weights,
            x=columns,
            y=rows,
            zmin=0,
            zmax=float(max(weights.max(), 1e-6)),
            colorscale=GATE_SCALE,
            colorbar={"title": "weight"},
            hovertemplate="writing %{y}<br>looking at %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(type="category", title=f"input {unit}", tickangle=0 if unit == "character" else -45)
    fig.update_yaxes(type="category", title=f"output {unit}", autorange="reversed")
    fig.update_layout(title=title, height=140 + 28 * len(rows))
    return fig


def head_maps(weights: np.ndarray, digits: Sequence[int], title: str) -> go.Figure:
    """Each head's self-attention: row i is position i's weights over every position (each row sums to 1)."""
    labels = [f"{t}:{d}" for t, d in enumerate(digits)]
    fig = make_subplots(
        rows=1, cols=len(weights), subplot_titles=[f"head {h}" for h in range(len(weights))], horizontal_spacing=0.08
    )
    for head, matrix in enumerate(weights, start=1):
        fig.add_trace(
            go.Heatmap(
                z=matrix,
                x=labels,
                y=labels,
                zmin=0,
                zmax=1,
                colorscale=GATE_SCALE,
                showscale=head == 1,
                hovertemplate=f"head {head - 1}<br>position %{{y}} looks at %{{x}}: %{{z:.3f}}<extra></extra>",
            ),
            row=1,
            col=head,
        )
        fig.update_xaxes(type="category", title="looks at", row=1, col=head)
        fig.update_yaxes(
            type="category", autorange="reversed", title="position" if head == 1 else None, row=1, col=head
        )
    fig.update_layout(title=title, height=420)
    return fig


def attention_step_matrices(steps: Mapping[str, np.ndarray], title: str) -> go.Figure:
    """Q·Kᵀ → ÷ √d → mask → softmax for one head, each as a matrix with its numbers (−∞: masked)."""
    names = ["Q·Kᵀ", "÷ √d", "masked", "softmax"]
    fig = make_subplots(rows=1, cols=4, subplot_titles=names, horizontal_spacing=0.04)
    for column, name in enumerate(names, start=1):
        matrix = steps[name]
        finite = np.where(np.isfinite(matrix), matrix, np.nan)
        text = [
            ["−∞" if not np.isfinite(v) else f"{v:.2f}" if abs(v) < 10 else f"{v:.0f}" for v in row] for row in matrix
        ]
        scale = GATE_SCALE if name == "softmax" else DIVERGING_SCALE
        bound = float(np.nanmax(np.abs(finite))) or 1.0
        fig.add_trace(
            go.Heatmap(
                z=finite,
                zmin=0 if name == "softmax" else -bound,
                zmax=1 if name == "softmax" else bound,
                colorscale=scale,
                showscale=False,
                text=text,
                texttemplate="%{text}",
                textfont={"size": 9},
                hovertemplate=f"{name}<br>row %{{y}}, column %{{x}}: %{{text}}<extra></extra>",
            ),
            row=1,
            col=column,
        )
        fig.update_yaxes(autorange="reversed", row=1, col=column)
    fig.update_layout(title=title, height=380)
    return fig


def accuracy_by_length(
    bins: Sequence[tuple[int, int]], counts: Sequence[int], accuracies: Mapping[str, np.ndarray], title: str
) -> go.Figure:
    """Exact-match share per input-length bin, one line per model."""
    labels = [f"{low}–{high} chars ({n})" for (low, high), n in zip(bins, counts)]
    fig = go.Figure()
    for colour, (name, values) in zip(OKABE_ITO, accuracies.items()):
        fig.add_trace(go.Scatter(x=labels, y=values, mode="lines+markers", name=name, line={"color": colour}))
    fig.update_xaxes(type="category", title="length of the written date (held-out dates in the bin)")
    fig.update_yaxes(title="exactly right", range=[0, 1.05], tickformat=".0%")
    fig.update_layout(title=title, height=340)
    return fig


def spectrogram_with_output(
    frame_times: np.ndarray,
    spectrum: np.ndarray,
    step_times: np.ndarray,
    chances: np.ndarray,
    words: Sequence[tuple[str, float, float]],
    windows: Sequence[tuple[float, float]],
    title: str,
) -> go.Figure:
    """A clip's spectrogram (mel bands over time) with a detector's output under it on the same time axis: the
    words spoken named over the spectrogram, the windows where the output should be 1 shaded, the 0.5 threshold
    dotted."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4], vertical_spacing=0.08)
    fig.add_trace(
        go.Heatmap(x=frame_times, z=np.asarray(spectrum).T, colorscale="Viridis", showscale=False, hoverinfo="skip"),
        row=1,
        col=1,
    )
    for word, start, end in words:
        fig.add_vrect(x0=start, x1=end, line={"color": "white", "width": 1, "dash": "dot"}, row=1, col=1)
        fig.add_annotation(
            x=(start + end) / 2, y=1.0, yref="y domain", text=word, showarrow=False, yanchor="bottom", row=1, col=1
        )
    fig.add_trace(
        go.Scatter(
            x=step_times,
            y=chances,
            mode="lines",
            name="detector's output",
            line={"color": OKABE_ITO[0], "width": 2.5},
            hovertemplate="%{x:.2f} s: %{y:.2f}<extra></extra>",
        ),
        row=2,
        col=1,
    )
    for start, end in windows:  # after the trace: plotly adds shapes only to subplots that have one
        fig.add_vrect(x0=start, x1=end, fillcolor=OKABE_ITO[2], opacity=0.3, line_width=0, row=2, col=1)
    fig.add_hline(y=0.5, line={"dash": "dot", "color": "#555555"}, row=2, col=1)
    fig.update_yaxes(title="mel band", row=1, col=1)
    fig.update_yaxes(title="trigger just ended?", range=[0, 1.05], row=2, col=1)
    fig.update_xaxes(title="seconds", row=2, col=1)
    fig.update_layout(title=title, height=520, showlegend=False, margin={"t": 90})
    return fig
