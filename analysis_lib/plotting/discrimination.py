"""Discrimination parameter versus energy (e.g. yield or pulse shape) for millions of events."""

from __future__ import annotations

from typing import Any

import holoviews as hv
import pandas as pd

from ._density import datashaded_points


def discrimination_vs_energy(
    events: pd.DataFrame,
    *,
    energy: str = "energy_keV",
    discriminator: str = "ionization_yield",
    energy_unit: str = "keV",
    discriminator_label: str | None = None,
    energy_range: tuple[float, float] | None = None,
    discriminator_range: tuple[float, float] | None = None,
    cmap: str = "kbc_r",
    logz: bool = True,
    width: int = 600,
    height: int = 400,
    lineage: Any = None,
    caption: str | None = None,
    **kwds: Any,
) -> hv.DynamicMap:
    """Event density of a discrimination parameter against energy, datashaded.

    Electron and nuclear recoils separate in such planes (ionization yield, pulse-shape
    parameter, prompt fraction); with millions of calibration events only a server-side
    aggregation stays responsive.

    Parameters
    ----------
    events
        Event table (pandas).
    energy, discriminator
        Column names.
    energy_unit
        Unit shown on the energy axis.
    discriminator_label
        Axis label of the discriminator (default: the column name).
    energy_range, discriminator_range
        Axis ranges; computed from the data when ``None``.
    cmap, logz, width, height
        Colormap, log colour scale and aggregation grid.
    lineage, caption
        Passed to :func:`analysis_lib.plotting.annotate.annotate`.
    **kwds
        Further ``Image`` options.

    Returns
    -------
    holoviews.DynamicMap
        DynamicMap (driven by a ``RangeXY`` stream) of ``Image`` counts per pixel, vdim
        ``count`` (kdims ``energy``, ``discriminator``).
    """
    if caption is None:
        caption = f"{discriminator} versus energy of {len(events)} events (counts per pixel)."
    return datashaded_points(
        events,
        hv.Dimension(energy, label="Energy", unit=energy_unit),
        hv.Dimension(discriminator, label=discriminator_label or discriminator),
        x_range=energy_range,
        y_range=discriminator_range,
        cmap=cmap,
        logz=logz,
        width=width,
        height=height,
        lineage=lineage,
        caption=caption,
        kwds=kwds,
    )
