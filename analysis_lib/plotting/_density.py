"""Shared machinery of the datashaded 2-D event-density plots (private)."""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np
import pandas as pd
from holoviews.operation.datashader import rasterize

from .annotate import annotate


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
    """Rasterize the (x, y) points of ``data`` with Datashader, re-aggregating on zoom."""
    if isinstance(data, pd.DataFrame):
        missing = [d.name for d in (x, y) if d.name not in data.columns]
        if missing:
            raise KeyError(f"columns {missing} not in the table (has {list(data.columns)})")
        frame = data[[x.name, y.name]]
    else:
        frame = pd.DataFrame({x.name: np.asarray(data[x.name]), y.name: np.asarray(data[y.name])})
    points = hv.Points(frame, kdims=[x, y])
    # Ranges known up front save HoloViews a pass over the millions of points.
    if x_range is None:
        x_range = (float(frame[x.name].min()), float(frame[x.name].max()))
    if y_range is None:
        y_range = (float(frame[y.name].min()), float(frame[y.name].max()))
    points = points.redim.range(**{x.name: x_range, y.name: y_range})
    raster = rasterize(points, width=width, height=height, dynamic=True)
    raster.opts(
        {
            "Image": dict(
                cmap=cmap,
                cnorm="log" if logz else "linear",
                colorbar=True,
                tools=["hover"],
                clabel="events per pixel",
                **kwds,
            )
        },
        backend="bokeh",
    )
    return annotate(raster, lineage=lineage, caption=caption)
