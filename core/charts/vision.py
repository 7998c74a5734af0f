"""Pictures for the vision lessons: images and what a kernel makes of them, the sliding window of
convolution arithmetic, mosaics of filters and feature maps, confusion matrices, galleries, bars."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.charts.theme import DIVERGING_SCALE, OKABE_ITO

GRAY_SCALE = [[0.0, "#000000"], [1.0, "#FFFFFF"]]
ACTIVATION_SCALE = "Viridis"
CELL_COLOURS = {0: "#D9D9D9", 1: "#FFFFFF", 2: OKABE_ITO[5], 3: OKABE_ITO[0]}
"""Arithmetic grids: padding, input, a cell the window reads, the output cell."""


def _image_axes(fig: go.Figure) -> None:
    """Every subplot as a picture: no ticks, row 0 at the top, square pixels."""
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, autorange="reversed", constrain="domain")
    fig.for_each_yaxis(lambda axis: axis.update(scaleanchor="x" + axis.plotly_name[len("yaxis") :]))


def image_trace(
    image: np.ndarray,
    signed: bool = False,
    name: str = "",
    showscale: bool = False,
    colorscale=None,
    zmax: float | None = None,
) -> go.Heatmap:
    """A 2D array as a picture: gray from 0 (black) to its maximum, or for signed values orange
    (negative), white (0) and blue (positive) on a range symmetric about 0."""
    if signed:
        bound = float(np.nanmax(np.abs(image))) or 1.0
        return go.Heatmap(
            z=image,
            zmin=-bound,
            zmax=bound,
            colorscale=DIVERGING_SCALE,
            showscale=showscale,
            name=name,
            hovertemplate="row %{y}, column %{x}: %{z:.3g}<extra></extra>",
        )
    top = zmax if zmax is not None else max(float(np.nanmax(image)), 1e-12)
    return go.Heatmap(
        z=image,
        zmin=min(0.0, float(np.nanmin(image))),
        zmax=top,
        colorscale=colorscale or GRAY_SCALE,
        showscale=showscale,
        name=name,
        hovertemplate="row %{y}, column %{x}: %{z:.3g}<extra></extra>",
    )


def pictures_side_by_side(
    images: Sequence[np.ndarray],
    titles: Sequence[str],
    signed: Sequence[bool],
    title: str,
    height: int = 380,
    colorscales: Sequence | None = None,
) -> go.Figure:
    """Pictures next to one another, each on its own scale (e.g. a photo and its filtered version)."""
    fig = make_subplots(rows=1, cols=len(images), subplot_titles=list(titles), horizontal_spacing=0.04)
    for column, (image, is_signed) in enumerate(zip(images, signed), start=1):
        colorscale = colorscales[column - 1] if colorscales else None
        fig.add_trace(image_trace(image, is_signed, titles[column - 1], colorscale=colorscale), row=1, col=column)
    _image_axes(fig)
    fig.update_layout(title=title, height=height)
    return fig


def kernel_numbers(kernel: np.ndarray, title: str) -> go.Figure:
    """A kernel's weights as a small grid of numbers, coloured by sign."""
    bound = float(np.max(np.abs(kernel))) or 1.0
    fig = go.Figure(
        go.Heatmap(
            z=kernel,
            zmin=-bound,
            zmax=bound,
            colorscale=DIVERGING_SCALE,
            showscale=False,
            text=[[f"{v:.3g}" for v in row] for row in kernel],
            texttemplate="%{text}",
            textfont={"size": 16},
            xgap=2,
            ygap=2,
            hoverinfo="skip",
        )
    )
    _image_axes(fig)
    fig.update_layout(title=title, height=260)
    return fig


def arithmetic_grids(
    padded_cells: np.ndarray, output_cells: np.ndarray, title: str, input_title: str, output_title: str
) -> go.Figure:
    """The padded input (grey padding, white input, blue where the window reads) beside the output
    grid (the cell being computed in dark blue). Cell codes as CELL_COLOURS."""
    codes = sorted(CELL_COLOURS)
    scale = []
    for position, code in enumerate(codes):
        scale += [[position / len(codes), CELL_COLOURS[code]], [(position + 1) / len(codes), CELL_COLOURS[code]]]
    widths = [padded_cells.shape[1], max(output_cells.shape[1], 1)]
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=[input_title, output_title], column_widths=widths, horizontal_spacing=0.08
    )
    for column, cells in enumerate((padded_cells, output_cells), start=1):
        fig.add_trace(
            go.Heatmap(
                z=cells,
                zmin=-0.5,
                zmax=len(codes) - 0.5,
                colorscale=scale,
                showscale=False,
                xgap=2,
                ygap=2,
                hovertemplate="row %{y}, column %{x}<extra></extra>",
            ),
            row=1,
            col=column,
        )
    _image_axes(fig)
    fig.update_layout(title=title, height=420, plot_bgcolor="#808080")
    return fig


def mosaic(tiles: np.ndarray, columns: int, gap: int = 1) -> np.ndarray:
    """(n, h, w) tiles laid out in rows of `columns`, with NaN between them (drawn as background)."""
    n, height, width = tiles.shape
    rows = int(np.ceil(n / columns))
    out = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap), np.nan)
    for index in range(n):
        r, c = divmod(index, columns)
        out[r * (height + gap) : r * (height + gap) + height, c * (width + gap) : c * (width + gap) + width] = tiles[
            index
        ]
    return out


def filter_mosaic(kernels: np.ndarray, title: str) -> go.Figure:
    """A conv layer's kernels (k, k, C, F), one tile per filter, each scaled to its own largest
    weight (orange negative, blue positive); for colour input, each filter's channels summed."""
    tiles = kernels.sum(axis=2).transpose(2, 0, 1)
    tiles = tiles / np.maximum(np.abs(tiles).max(axis=(1, 2), keepdims=True), 1e-12)
    columns = min(len(tiles), 8)
    fig = go.Figure(
        go.Heatmap(
            z=mosaic(tiles, columns),
            zmin=-1,
            zmax=1,
            colorscale=DIVERGING_SCALE,
            showscale=False,
            hovertemplate="weight / filter's largest: %{z:.2f}<extra></extra>",
        )
    )
    _image_axes(fig)
    rows = int(np.ceil(len(tiles) / columns))
    fig.update_layout(title=title, height=110 + 60 * rows, plot_bgcolor="#FFFFFF")
    return fig


def feature_map_mosaic(maps: np.ndarray, title: str, columns: int = 8, height: int | None = None) -> go.Figure:
    """One layer's feature maps (h, w, channels), all on the layer's own scale, so a map that stays
    dark is a filter that found nothing in this image."""
    tiles = maps.transpose(2, 0, 1)
    columns = min(len(tiles), columns)
    rows = int(np.ceil(len(tiles) / columns))
    fig = go.Figure(
        image_trace(mosaic(tiles, columns), colorscale=ACTIVATION_SCALE, zmax=max(float(np.max(maps)), 1e-12))
    )
    _image_axes(fig)
    fig.update_layout(title=title, height=height or 80 + 55 * rows, plot_bgcolor="#FFFFFF")
    return fig


def confusion_heatmap(matrix: np.ndarray, class_names: Sequence[str], title: str, items: str = "images") -> go.Figure:
    """Counts of test `items` (images, sentences) by true class (rows) and predicted class (columns)."""
    names = list(class_names)
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=names,
            y=names,
            colorscale="Blues",
            showscale=False,
            text=matrix,
            texttemplate="%{text}",
            xgap=1,
            ygap=1,
            hovertemplate=f"true %{{y}}, predicted %{{x}}: %{{z}} {items}<extra></extra>",
        )
    )
    fig.update_xaxes(title="predicted class", type="category", side="bottom")
    fig.update_yaxes(title="true class", type="category", autorange="reversed")
    fig.update_layout(title=title, height=460)
    return fig


def class_bars(
    values: np.ndarray,
    class_names: Sequence[str],
    title: str,
    axis_title: str,
    highlight: int | None = None,
    as_percent: bool = True,
) -> go.Figure:
    """One bar per class (e.g. accuracy, or the probability the model gives each class); the
    highlighted class in a second colour."""
    colours = [OKABE_ITO[1] if index == highlight else OKABE_ITO[0] for index in range(len(values))]
    text = [f"{v:.0%}" if as_percent else f"{v:.3g}" for v in values]
    fig = go.Figure(
        go.Bar(
            x=list(class_names),
            y=values,
            marker_color=colours,
            text=text,
            textposition="outside",
            hovertemplate="%{x}: %{y:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(type="category")
    fig.update_yaxes(
        title=axis_title, range=[0, 1.15] if as_percent else None, tickformat=".0%" if as_percent else None
    )
    fig.update_layout(title=title, height=320)
    return fig


def gallery(images: np.ndarray, captions: Sequence[str], title: str, columns: int = 4) -> go.Figure:
    """Images (n, h, w, C) in a grid with a caption above each (colour images shown in colour)."""
    n = len(images)
    rows = max(1, int(np.ceil(n / columns)))
    fig = make_subplots(
        rows=rows, cols=columns, subplot_titles=list(captions), horizontal_spacing=0.02, vertical_spacing=0.12
    )
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        if image.shape[-1] == 3:
            trace = go.Image(z=(np.clip(image, 0, 1) * 255).astype("uint8"), hoverinfo="skip")
        else:
            trace = image_trace(image[..., 0], zmax=1.0)
        fig.add_trace(trace, row=row + 1, col=column + 1)
    _image_axes(fig)
    fig.update_annotations(font={"size": 12})
    fig.update_layout(title=title, height=90 + 170 * rows)
    return fig
