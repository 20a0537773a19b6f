"""Energy versus time for millions of events, datashaded."""

from __future__ import annotations

from typing import Any

import holoviews as hv
import pandas as pd

from ._density import datashaded_points


def energy_vs_time(
    events: pd.DataFrame,
    *,
    time: str = "time_s",
    energy: str = "energy_keV",
    time_unit: str = "s",
    energy_unit: str = "keV",
    time_range: tuple[float, float] | None = None,
    energy_range: tuple[float, float] | None = None,
    cmap: str = "fire",
    logz: bool = True,
    width: int = 600,
    height: int = 400,
    lineage: Any = None,
    caption: str | None = None,
    **kwds: Any,
) -> hv.DynamicMap:
    """Event density in the energy–time plane, aggregated server-side by Datashader.

    Parameters
    ----------
    events
        Event table (pandas), one row per event.
    time, energy
        Column names of the time and energy.
    time_unit, energy_unit
        Units shown on the axes.
    time_range, energy_range
        Axis ranges; computed from the data when ``None``.
    cmap
        Colormap of the counts per pixel.
    logz
        Logarithmic colour scale.
    width, height
        Aggregation grid in pixels (re-aggregated on every zoom or pan).
    lineage, caption
        Passed to :func:`analysis_lib.plotting.annotate.annotate`.
    **kwds
        Further ``Image`` options.

    Returns
    -------
    holoviews.DynamicMap
        DynamicMap (driven by a ``RangeXY`` stream) yielding ``Image`` elements of counts
        per pixel, vdim ``count`` (kdims ``time``, ``energy``).
    """
    if caption is None:
        caption = f"Energy versus time of {len(events)} events (counts per pixel)."
    return datashaded_points(
        events,
        hv.Dimension(time, label="Time", unit=time_unit),
        hv.Dimension(energy, label="Energy", unit=energy_unit),
        x_range=time_range,
        y_range=energy_range,
        cmap=cmap,
        logz=logz,
        width=width,
        height=height,
        lineage=lineage,
        caption=caption,
        kwds=kwds,
    )
