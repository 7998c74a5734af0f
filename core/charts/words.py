"""Pictures of word vectors: scored word lists, a custom two-axis projection, explained variance,
words along the gender direction (before and after debiasing), neutralise and equalise drawn as
arrows in the plane they happen in, a WEAT strip; for word2vec, how negative samples are drawn, a map of
chosen words on their principal components and their vectors as a heatmap; for sentiment, a sentence's logit
taken apart word by word."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from core.charts.arrows import data_arrow
from core.charts.theme import OKABE_ITO

FEMALE_SIDE, MALE_SIDE, NEUTRAL = OKABE_ITO[1], OKABE_ITO[0], "#777777"
"""Orange for the she side of the direction, blue for the he side, grey for what is neither."""
POSITIVE, NEGATIVE = OKABE_ITO[1], OKABE_ITO[0]
"""A push towards a positive sentiment, and towards a negative one."""


def _bar_height(count: int) -> int:
    return 140 + 22 * max(count, 3)


def scored_words(
    scores: Sequence[tuple[str, float]], title: str, x_title: str = "cosine similarity", colour: str = OKABE_ITO[0]
) -> go.Figure:
    """Words and a score each, the first at the top (neighbours, analogy answers, the ends of g)."""
    words = [w for w, _ in scores][::-1]
    values = [s for _, s in scores][::-1]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=words,
            orientation="h",
            marker_color=colour,
            text=[f"{v:.3f}" for v in values],
            textposition="auto",
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    fig.update_layout(title=title, xaxis_title=x_title, height=_bar_height(len(words)), yaxis={"type": "category"})
    return fig


PROJECTION_HEIGHT, PROJECTION_WIDTH = 520, 700
LABEL_SIDES = ("top center", "bottom center", "middle right", "middle left")


def label_boxes(
    points: Sequence[tuple[str, float, float]], sides: Sequence[str]
) -> list[tuple[float, float, float, float]]:
    """Where each word's label lands (x0, y0, x1, y1, in data units), roughly: 7.5 px a character and
    16 px a line on a PROJECTION_WIDTH × PROJECTION_HEIGHT chart spanning the points."""
    xs, ys = [p[1] for p in points], [p[2] for p in points]
    char = 7.5 * max(max(xs) - min(xs), 1e-6) / PROJECTION_WIDTH
    line = 16 * max(max(ys) - min(ys), 1e-6) / PROJECTION_HEIGHT
    return [_label_box(word, x, y, side, char, line) for (word, x, y), side in zip(points, sides)]


def _label_box(word: str, x: float, y: float, side: str, char: float, line: float) -> tuple[float, float, float, float]:
    width = len(word) * char
    return {
        "top center": (x - width / 2, y + 0.3 * line, x + width / 2, y + 1.3 * line),
        "bottom center": (x - width / 2, y - 1.3 * line, x + width / 2, y - 0.3 * line),
        "middle right": (x + char, y - line / 2, x + char + width, y + line / 2),
        "middle left": (x - char - width, y - line / 2, x - char, y + line / 2),
    }[side]


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def label_sides(points: Sequence[tuple[str, float, float]]) -> list[str]:
    """A side for each word's label, chosen greedily from the top of the chart down: above its point,
    else the first of below, right, left whose box meets no label already placed."""
    everywhere = {side: label_boxes(points, [side] * len(points)) for side in LABEL_SIDES}
    sides = ["top center"] * len(points)
    placed: list[tuple[float, float, float, float]] = []
    for index in sorted(range(len(points)), key=lambda i: -points[i][2]):
        side = next(
            (side for side in LABEL_SIDES if not any(_overlap(everywhere[side][index], box) for box in placed)),
            "top center",
        )
        sides[index] = side
        placed.append(everywhere[side][index])
    return sides


def custom_projection(points: Sequence[tuple[str, float, float]], x_title: str, y_title: str, title: str) -> go.Figure:
    """Words placed by their cosine with two word-pair directions, labelled on the side where a label
    does not cover another."""
    fig = go.Figure(
        go.Scatter(
            x=[p[1] for p in points],
            y=[p[2] for p in points],
            text=[p[0] for p in points],
            mode="markers+text",
            textposition=label_sides(points) if points else "top center",
            marker={"size": 9, "color": OKABE_ITO[0]},
            hovertemplate="%{text}: (%{x:.3f}, %{y:.3f})<extra></extra>",
        )
    )
    fig.add_hline(y=0, line={"color": "#bbbbbb"})
    fig.add_vline(x=0, line={"color": "#bbbbbb"})
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, height=PROJECTION_HEIGHT)
    return fig


def explained_variance(definitional: np.ndarray, random: np.ndarray, pairs: int, title: str) -> go.Figure:
    """The share of variance of each principal component: gender pairs against random pairs."""
    components = [f"PC{i + 1}" for i in range(len(definitional))]
    fig = go.Figure(
        [
            go.Bar(
                x=components,
                y=definitional,
                name=f"the {pairs} definitional pairs",
                marker_color=FEMALE_SIDE,
                hovertemplate="%{x}: %{y:.1%}<extra></extra>",
            ),
            go.Bar(
                x=components,
                y=random,
                name=f"{pairs} random pairs of frequent words",
                marker_color=NEUTRAL,
                hovertemplate="%{x}: %{y:.1%}<extra></extra>",
            ),
        ]
    )
    fig.update_layout(title=title, yaxis_title="share of variance", yaxis_tickformat=".0%", barmode="group", height=360)
    return fig


def gender_bars(values: Mapping[str, float], title: str, after: Mapping[str, float] | None = None) -> go.Figure:
    """Words sorted by their cosine with the gender direction; with `after`, a black diamond marks
    each word's value after debiasing (on the axis when it is 0)."""
    words = sorted(values, key=values.get)
    colours = [FEMALE_SIDE if values[w] > 0 else MALE_SIDE for w in words]
    fig = go.Figure(
        go.Bar(
            x=[values[w] for w in words],
            y=words,
            orientation="h",
            marker_color=colours,
            name="before",
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    if after is not None:
        fig.add_trace(
            go.Scatter(
                x=[after[w] for w in words],
                y=words,
                mode="markers",
                name="after debiasing",
                marker={"symbol": "diamond", "size": 11, "color": "#000000"},
                hovertemplate="%{y} after: %{x:.4f}<extra></extra>",
            )
        )
    fig.add_vline(x=0, line={"color": "#444444"})
    fig.update_layout(
        title=title,
        xaxis_title="cosine with g   (← he side · she side →)",
        yaxis={"type": "category"},
        height=_bar_height(len(words)) + 40,
        showlegend=after is not None,
    )
    return fig


HEAD_SHARE = 0.04
"""How much of a dotted arrow the solid annotation covers: just its head."""


def _arrow(fig: go.Figure, start, end, colour: str, label: str, dash: bool = False) -> None:
    """A line from start to end with an arrowhead. A dotted arrow gets only its head from the annotation
    (whose shaft is always solid, and would hide the dots)."""
    tail = start if not dash else (end[0] - HEAD_SHARE * (end[0] - start[0]), end[1] - HEAD_SHARE * (end[1] - start[1]))
    data_arrow(fig, tail, end, colour, width=3, head=3, size=1.3)
    fig.add_trace(
        go.Scatter(
            x=[start[0], end[0]],
            y=[start[1], end[1]],
            mode="lines",
            name=label,
            line={"color": colour, "width": 3, "dash": "dot" if dash else "solid"},
            hoverinfo="skip",
        )
    )


def neutralise_arrows(along_before: float, across: float, word: str, title: str) -> go.Figure:
    """The plane of g and the word: its vector, its component along g and what is left (the
    neutralised vector), in the vector's own units."""
    fig = go.Figure()
    _arrow(fig, (0, 0), (along_before, across), OKABE_ITO[0], f"e_{word}")
    _arrow(fig, (0, 0), (along_before, 0), FEMALE_SIDE if along_before > 0 else MALE_SIDE, "bias component (along g)")
    _arrow(fig, (0, 0), (0, across), "#000000", f"e_{word} neutralised")
    fig.add_trace(
        go.Scatter(
            x=[along_before, 0],
            y=[across, across],
            mode="lines",
            line={"color": "#999999", "dash": "dot"},
            showlegend=False,
            hoverinfo="skip",
        )
    )
    reach = max(abs(along_before), across) * 1.15
    fig.update_layout(
        title=title,
        height=420,
        xaxis={"title": "along g (← he · she →)", "range": [-reach, reach], "zeroline": True},
        yaxis={"title": "orthogonal to g", "range": [-0.1 * reach, reach * 1.05], "scaleanchor": "x"},
        legend={"orientation": "h", "y": -0.25, "x": 0},
    )
    return fig


def equalise_plane(
    before: Mapping[str, tuple[float, float]],
    after: Mapping[str, tuple[float, float]],
    neutral: tuple[str, tuple[float, float]] | None,
    title: str,
) -> go.Figure:
    """A pair before (dotted) and after equalising (solid) in the plane of g and μ⊥, and a
    neutralised word, equally far from both words after."""
    fig = go.Figure()
    for index, word in enumerate(before):
        colour = (FEMALE_SIDE, MALE_SIDE)[index]
        _arrow(fig, (0, 0), before[word], colour, f"{word} before (its shadow on this plane)", dash=True)
        _arrow(fig, (0, 0), after[word], colour, f"{word} equalised")
    if neutral is not None:
        name, point = neutral
        fig.add_trace(
            go.Scatter(
                x=[point[0]],
                y=[point[1]],
                mode="markers+text",
                text=[name],
                textposition="top center",
                marker={"size": 12, "color": "#000000", "symbol": "diamond"},
                name=f"{name} (neutralised)",
            )
        )
        for word in after:
            fig.add_trace(
                go.Scatter(
                    x=[after[word][0], point[0]],
                    y=[after[word][1], point[1]],
                    mode="lines",
                    line={"color": "#999999", "dash": "dot"},
                    showlegend=False,
                    hoverinfo="skip",
                )
            )
    values = np.array(list(before.values()) + list(after.values()) + ([neutral[1]] if neutral else []))
    reach = float(np.max(np.abs(values))) * 1.2
    fig.update_layout(
        title=title,
        height=460,
        xaxis={"title": "along g (← he · she →)", "range": [-reach, reach]},
        yaxis={"title": "along μ⊥ (the pair's shared meaning)", "range": [-0.2 * reach, reach], "scaleanchor": "x"},
        legend={"orientation": "h", "y": -0.25, "x": 0},
    )
    return fig


def weat_strip(
    association: Mapping[str, float],
    targets_x: Sequence[str],
    targets_y: Sequence[str],
    attribute_names: tuple[str, str],
    title: str,
) -> go.Figure:
    """s(w, A, B) of every target word, one row per target set: the gap between the rows is the
    effect. Labels alternate above and below the dots so that neighbours stay readable."""
    fig = go.Figure()
    for row, (words, colour) in enumerate(((targets_x, OKABE_ITO[0]), (targets_y, OKABE_ITO[1]))):
        name = ("X: " if row == 0 else "Y: ") + ", ".join(words[:3]) + " …"
        ordered = sorted(words, key=association.get)
        fig.add_trace(
            go.Scatter(
                x=[association[w] for w in ordered],
                y=[name] * len(ordered),
                text=ordered,
                mode="markers+text",
                marker={"size": 11, "color": colour},
                name=name,
                textposition=["top center" if i % 2 else "bottom center" for i in range(len(ordered))],
                hovertemplate="%{text}: s = %{x:.4f}<extra></extra>",
            )
        )
    fig.add_vline(x=0, line={"color": "#444444"})
    fig.update_layout(
        title=title,
        height=380,
        showlegend=False,
        yaxis={"type": "category", "range": [-0.6, 1.6]},
        xaxis_title=f"s(w) = mean cos with {attribute_names[0]} − mean cos with {attribute_names[1]}",
    )
    return fig


def negative_chances(words: Sequence[str], share: np.ndarray, chance: np.ndarray, title: str) -> go.Figure:
    """Each word's share of the text beside its chance of being drawn as a negative sample, on a log axis so that
    rare words' bars show."""
    fig = go.Figure(
        [
            go.Bar(x=list(words), y=share, name="share of the text", marker_color=OKABE_ITO[0]),
            go.Bar(x=list(words), y=chance, name="chance of being drawn (count^0.75)", marker_color=OKABE_ITO[1]),
        ]
    )
    fig.update_layout(title=title, barmode="group", height=340, xaxis={"type": "category"})
    fig.update_yaxes(type="log", exponentformat="power", title="probability")
    return fig


def word_map(words: Sequence[str], points: np.ndarray, title: str) -> go.Figure:
    """Words at their place on two principal components of their vectors, labelled where labels do not collide."""
    placed = [(word, float(x), float(y)) for word, (x, y) in zip(words, points)]
    return custom_projection(placed, "first principal component", "second principal component", title)


def word_contributions(words: Sequence[str], parts: np.ndarray, bias: float, title: str) -> go.Figure:
    """A sentence's logit taken apart: the model's starting bias, then each word's push (orange towards positive,
    blue towards negative) in reading order, and the logit they add up to."""
    labels = ["(start)", *[f"{i + 1}. {w}" for i, w in enumerate(words)], "= logit"]
    values = [bias, *map(float, parts)]
    colours = [NEUTRAL] + [POSITIVE if v >= 0 else NEGATIVE for v in values[1:]] + ["#222222"]
    values.append(float(sum(values)))
    fig = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker_color=colours,
            text=[f"{v:+.2f}" for v in values],
            textposition="auto",
            hovertemplate="%{y}: %{x:+.3f}<extra></extra>",
        )
    )
    fig.add_vline(x=0, line={"color": "#bbbbbb"})
    fig.update_layout(
        title=title,
        xaxis_title="part of the logit (> 0: positive)",
        height=_bar_height(len(labels)),
        yaxis={"type": "category", "autorange": "reversed"},
    )
    return fig


def vector_heatmap(words: Sequence[str], vectors: np.ndarray, title: str) -> go.Figure:
    """Word vectors as rows of coloured cells (red positive, blue negative, white zero), the way wevi shows a
    word2vec network's weights: words that mean alike come to share a pattern."""
    vectors = np.asarray(vectors, dtype="float64")
    limit = float(np.abs(vectors).max()) or 1.0
    fig = go.Figure(
        go.Heatmap(
            z=vectors,
            x=list(range(1, vectors.shape[1] + 1)),
            y=list(words),
            colorscale="RdBu",
            reversescale=True,
            zmin=-limit,
            zmax=limit,
            hovertemplate="%{y}, dimension %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(title="dimension")
    fig.update_yaxes(type="category", autorange="reversed")
    fig.update_layout(title=title, height=160 + 18 * len(words))
    return fig
