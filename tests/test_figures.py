"""The shared cache of a run's styled figures: one build per key, projector sizes apart, oldest dropped."""

import plotly.graph_objects as go

from core.charts.theme import PROJECTOR_FONT_SIZE
from core.ui.figures import FigureCache


def _figure():
    return go.Figure(go.Scatter(x=[0, 1], y=[1, 0]), layout={"title": {"text": "A chart"}})


def test_a_figure_is_built_once_per_key_and_styled_for_its_projector_size():
    cache, calls = FigureCache(size=4), []

    def build():
        calls.append(1)
        return _figure()

    first = [cache.styled(("run", 1, "loss", (), False), build, False) for _ in range(30)]
    assert len(calls) == cache.builds == 1 and all(f is first[0] for f in first)
    projected = cache.styled(("run", 1, "loss", (), True), build, True)
    assert len(calls) == 2 and projected.layout.font.size == PROJECTOR_FONT_SIZE != first[0].layout.font.size


def test_the_least_recently_used_figure_is_dropped_first():
    cache = FigureCache(size=2)
    for version in (1, 2):
        cache.styled(("run", version), _figure, False)
    cache.styled(("run", 1), _figure, False)  # used again: version 2 is now the oldest
    cache.styled(("run", 3), _figure, False)
    assert cache.builds == 3
    cache.styled(("run", 1), _figure, False)
    assert cache.builds == 3
    cache.styled(("run", 2), _figure, False)
    assert cache.builds == 4


def test_a_legend_of_several_rows_pushes_the_plot_down_under_the_title():
    from core.charts.theme import TITLE_LINE_HEIGHT, style

    def figure(entries):
        return go.Figure([go.Scatter(x=[0], y=[0], name=f"kind {i}") for i in range(entries)], layout={"title": "t"})

    assert style(figure(6)).layout.margin.t == style(figure(2)).layout.margin.t + 2 * TITLE_LINE_HEIGHT
