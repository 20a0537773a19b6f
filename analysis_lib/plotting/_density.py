"""Shared machinery of the datashaded 2-D event-density plots (private)."""

from __future__ import annotations

from typing import Any

import datashader as ds
import holoviews as hv
import numba
import numpy as np
import pandas as pd
from holoviews.streams import RangeXY

from .annotate import annotation_options


@numba.njit(cache=False, nogil=True)
def _nan_minmax(values: np.ndarray) -> tuple[float, float]:  # pragma: no cover - compiled
    """Minimum and maximum ignoring NaN, in one pass (pandas' min + max take two, slowly)."""
    lo, hi = np.inf, -np.inf
    for v in values:
        if v < lo:
            lo = v
        if v > hi:
            hi = v
    return lo, hi


def finite_range(values: Any) -> tuple[float, float]:
    """The (min, max) of a column, ignoring NaN; one pass through the data."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "fiu":
        return (float(np.nanmin(arr)), float(np.nanmax(arr)))
    lo, hi = _nan_minmax(arr.astype(np.float64, copy=False))
    if lo > hi:
        raise ValueError("no finite values to plot")
    return float(lo), float(hi)


def datashaded_points(
    data: pd.DataFrame | dict[str, Any],
    x: hv.Dimension,
    y: hv.Dimension,
    *,
    x_range: tuple[float, float] | None,
    y_range: tuple[float, float] | None,
    cmap: str,
    logz: bool,
    width: int,
    height: int,
    lineage: Any,
    caption: str,
    kwds: dict[str, Any],
) -> hv.DynamicMap:
    """Aggregate the (x, y) points of ``data`` with Datashader, again on every zoom or pan.

    A ``RangeXY`` stream drives a DynamicMap whose callback runs ``datashader.Canvas.points``
    on the visible ranges and returns an ``Image`` of counts (empty pixels NaN, so they stay
    transparent on a log colour scale). This is what ``holoviews.operation.datashader.
    rasterize`` does, minus its per-frame operation set-up, which measured as large as the
    aggregation itself at 10 M points (benchmarks/bench_plot_density.py).
    """
    if isinstance(data, pd.DataFrame):
        missing = [d.name for d in (x, y) if d.name not in data.columns]
        if missing:
            raise KeyError(f"columns {missing} not in the table (has {list(data.columns)})")
        frame = data[[x.name, y.name]]
    else:
        frame = pd.DataFrame({x.name: np.asarray(data[x.name]), y.name: np.asarray(data[y.name])})
    # Full ranges in one numba pass each (pandas' min and max are several times slower).
    full_x = tuple(x_range) if x_range is not None else finite_range(frame[x.name].to_numpy())
    full_y = tuple(y_range) if y_range is not None else finite_range(frame[y.name].to_numpy())
    full_x, full_y = _padded(full_x), _padded(full_y)
    count = hv.Dimension("count", label="events per pixel")
    image_opts = dict(
        cmap=cmap,
        cnorm="log" if logz else "linear",
        colorbar=True,
        tools=["hover"],
        xlim=full_x,
        ylim=full_y,
        **kwds,
    )
    image_opts.update(annotation_options(lineage, caption))

    def aggregate(x_range=None, y_range=None) -> hv.Image:
        xr = full_x if x_range is None or None in x_range else tuple(map(float, x_range))
        yr = full_y if y_range is None or None in y_range else tuple(map(float, y_range))
        canvas = ds.Canvas(plot_width=width, plot_height=height, x_range=xr, y_range=yr)
        agg = canvas.points(frame, x.name, y.name, agg=ds.count()).data
        counts = np.where(agg > 0, agg, np.nan)[::-1]  # Image rows run from the top down
        image = hv.Image(counts, bounds=(xr[0], yr[0], xr[1], yr[1]), kdims=[x, y], vdims=[count])
        # Options and lineage go on each frame: a DynamicMap's own .opts() would wrap its
        # callback in one more operation per call, costing more than the aggregation saves.
        return image.opts(backend="bokeh", **image_opts)

    return hv.DynamicMap(aggregate, streams=[RangeXY()])


def _padded(r: tuple[float, float]) -> tuple[float, float]:
    """A range that is never empty (a single value gets ±0.5)."""
    lo, hi = float(r[0]), float(r[1])
    if not lo < hi:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi
