"""Colours and sizes shared by every chart: the Okabe–Ito palette, safe for colour-blind viewers,
and a larger, higher-contrast variant for projectors."""

from __future__ import annotations

import math
import textwrap

import plotly.graph_objects as go
import plotly.io as pio

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

CLASS_COLOURS = (OKABE_ITO[1], OKABE_ITO[0], OKABE_ITO[2], OKABE_ITO[3], OKABE_ITO[4], OKABE_ITO[5])
"""Class 0 orange and class 1 blue (the Playground's −1 and +1), then green, vermillion, pink, sky: every
chart of labelled points uses them."""

PNG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}
"""Plotly's toolbar config for every chart: its camera button saves the figure as a PNG at twice the
screen's resolution."""

DIVERGING_SCALE = [[0.0, "#E69F00"], [0.5, "#FFFFFF"], [1.0, "#0072B2"]]
"""Orange for class 0, blue for class 1, white on the boundary (Okabe–Ito ends)."""


FONT_SIZE, PROJECTOR_FONT_SIZE = 13, 20
FONT_FAMILY = "Source Sans, Source Sans Pro, sans-serif"
"""The page's own typeface (pages show charts with `theme=None`, so that Streamlit's theme does not
override these sizes)."""


TITLE_LINE = 52
"""Characters of a title that fit on one line of a chart in a half-width column (Plotly never wraps);
in projector mode proportionally fewer."""
TITLE_LINE_HEIGHT, PROJECTOR_TITLE_LINE_HEIGHT = 24, 34
"""Pixels one more line of a title takes."""
LEGEND_PER_ROW = 2
"""Legend entries a half-width chart fits on one row: more rows push its plot further down."""


def wrapped(title: str, width: int = TITLE_LINE) -> str:
    """A long title on as few lines as it needs, each within `width` where a space allows, and the lines
    balanced: the narrowest width that needs no more lines, so no word is left alone on the last one."""
    lines = _wrap(title, width)
    if len(lines) > 1:
        narrowest = next(
            w for w in range(math.ceil(len(title) / len(lines)), width + 1) if len(_wrap(title, w)) == len(lines)
        )
        lines = _wrap(title, narrowest)
    return "<br>".join(lines) or title


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)


def _enlarged(size):
    """A size a chart set for itself, scaled as the base font is (per-point lists stay as they are)."""
    return round(size * PROJECTOR_FONT_SIZE / FONT_SIZE) if isinstance(size, (int, float)) else size


def _house_template():
    """Plotly's white template, with tick labels drawn without checking each one for overflow (the margins
    leave them room): plotly.js otherwise measures every label on every redraw, a tenth of a live chart's
    drawing time in the browser."""
    template = go.layout.Template(pio.templates["plotly_white"])
    for axis in (template.layout.xaxis, template.layout.yaxis):
        axis.ticklabeloverflow = "allow"
    return template


pio.templates["edl"] = _house_template()
pio.templates.default = "edl"
"""Every figure starts from the house template. A figure takes its default template without a copy, while
`update_layout(template=…)` deep-copies and validates it (11 ms a figure, most of a live chart's cost)."""
HOUSE_TEMPLATE = pio.templates["edl"].to_plotly_json()
"""The house template as plotly writes it into a figure: a plain chart (`plain_figure`) gets it when it is sent."""


NOTHING_YET = "The curves start with the run's first results."


def nothing_yet() -> dict:
    """Layout for a run's chart with nothing to plot yet (the run still compiling): a sentence in place of empty
    axes, whose ranges would mean nothing."""
    return {
        "xaxis": {"visible": False},
        "yaxis": {"visible": False},
        "annotations": [{"text": NOTHING_YET, "showarrow": False, "xref": "paper", "yref": "paper"}],
    }


def plain_figure(data: list[dict], layout: dict) -> dict:
    """A chart as plotly.js reads it: plain dicts, `{"data": …, "layout": …}`, never a plotly.py Figure. A run's
    charts are rebuilt ten times a second while a class watches, in the same Python as the run (issue 24), and
    building and styling a Figure was most of a build: the template copied, every property set through plotly.py's
    machinery (the engine room's loss curves at 3,000 epochs, built, styled and written: 1.65 ms as a Figure, 0.74
    ms plain; its surface 0.95 and 0.26 ms). `go.Figure(chart)` makes one, with plotly's checks; the house template
    is added when the chart is sent (`HOUSE_TEMPLATE`). For the charts a run redraws; their tests hold them to
    plotly's checks and to plotly's own styling and JSON."""
    return {"data": data, "layout": layout}


def _merged(ours: dict, theirs: dict) -> dict:
    """`theirs` with `ours` on top, nested dictionaries merged key by key."""
    merged = dict(theirs)
    for key, value in ours.items():
        merged[key] = (
            _merged(value, merged[key]) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


def _merge_layout(fig, layout: dict) -> None:
    """`fig.update_layout(layout)` without Plotly's relayout machinery: what the chart set itself stays,
    unless the house style sets the same property."""
    for key, value in layout.items():
        current = fig.layout[key]
        if isinstance(value, dict) and hasattr(current, "to_plotly_json"):
            value = _merged(value, current.to_plotly_json())
        fig.layout[key] = value


def style(fig, projector: bool = False):
    """Apply the house style to a plotly Figure (in place) or a plain chart (`plain_figure`: a styled copy);
    projector mode enlarges text and lines for the back of a classroom: the base font, and every size a chart set
    for itself (annotations, text on marks) in proportion. A Figure's layout is merged by hand (`_merge_layout`):
    `update_layout` costs 3 ms a call, a tenth of that here, and live charts are styled many times a second."""
    if isinstance(fig, dict):
        return _styled_plain(fig, projector)
    layout = _house_layout(
        fig.layout.title.text,
        fig.layout.legend.y is not None,
        sum(1 for trace in fig.data if trace.name and trace.showlegend is not False),
        fig.layout.margin.to_plotly_json(),
        projector,
    )
    _merge_layout(fig, layout)
    if projector:
        fig.update_traces(selector={"type": "scatter", "mode": "lines"}, line={"width": 4})
        for annotation in fig.layout.annotations:
            annotation.font.size = _enlarged(annotation.font.size)
        for trace in fig.data:
            if "textfont" in trace:
                trace.textfont.size = _enlarged(trace.textfont.size)
    return fig


def _styled_plain(chart: dict, projector: bool) -> dict:
    """`style` for a plain chart, as plotly.py would style the same chart as a Figure (a test holds them equal)."""
    layout, traces = chart["layout"], chart["data"]
    title = layout.get("title")
    house = _house_layout(
        title.get("text") if isinstance(title, dict) else title,
        (layout.get("legend") or {}).get("y") is not None,
        sum(1 for trace in traces if trace.get("name") and trace.get("showlegend") is not False),
        layout.get("margin") or {},
        projector,
    )
    layout = _merged(house, layout)
    if projector:
        traces = [_enlarged_trace(trace) for trace in traces]
        if layout.get("annotations"):
            layout["annotations"] = [_with_font_size(note, "font") for note in layout["annotations"]]
    return {**chart, "data": traces, "layout": layout}


def _enlarged_trace(trace: dict) -> dict:
    """A trace as projector mode draws it: a line chart's lines 4 px wide, the sizes of its own text enlarged."""
    if trace.get("type", "scatter") == "scatter" and trace.get("mode") == "lines":
        trace = {**trace, "line": {**(trace.get("line") or {}), "width": 4}}
    return _with_font_size(trace, "textfont") if "textfont" in trace else trace


def _with_font_size(item: dict, font: str) -> dict:
    size = (item.get(font) or {}).get("size")
    return item if size is None else {**item, font: {**item[font], "size": _enlarged(size)}}


def _house_layout(title: str | None, legend_placed: bool, legend_entries: int, margin: dict, projector: bool) -> dict:
    """What the house style sets of a chart's layout, given the chart's own title, whether it placed its legend,
    how many legend entries it has and its own margins."""
    line = PROJECTOR_TITLE_LINE_HEIGHT if projector else TITLE_LINE_HEIGHT
    if title and "<br>" not in title:
        title = wrapped(title, round(TITLE_LINE * FONT_SIZE / PROJECTOR_FONT_SIZE) if projector else TITLE_LINE)
    extra_lines = title.count("<br>") if title else 0
    top = max(80, (96 if projector else 80) + line * extra_lines) if extra_lines else 80
    # Plotly tops a title as if it had one line: the title and the plot move down by the others
    layout = {
        "colorway": list(OKABE_ITO),
        "font": {
            "size": PROJECTOR_FONT_SIZE if projector else FONT_SIZE,
            "color": "#000000" if projector else "#262730",
            "family": FONT_FAMILY,
        },
        "title": {"y": 1, "yref": "container", "yanchor": "top", "pad": {"t": 12 + line * extra_lines}},
    }
    if title:
        layout["title"]["text"] = title
    if not legend_placed:  # a chart that placed its own legend keeps it
        layout["legend"] = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0}
        top += line * max(0, math.ceil(legend_entries / LEGEND_PER_ROW) - 1)  # the legend grows up from the plot
    # a chart that needs room at its sides (a parallel-coordinates plot's labels) keeps it
    own = {side: size for side, size in margin.items() if size is not None}
    layout["margin"] = {
        "l": own.get("l", 10),
        "r": own.get("r", 10),
        "t": max(top, own.get("t", 0)),
        "b": own.get("b", 10),
    }
    return layout
