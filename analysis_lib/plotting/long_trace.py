"""Seconds-long traces drawn through min/max decimation that re-decimates on every zoom."""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np
from bokeh.models import BasicTickFormatter
from holoviews.streams import RangeX
from numpy.typing import ArrayLike

from .annotate import annotation_options
from .decimate import minmax_decimate


def long_trace(
    samples: ArrayLike,
    *,
    sample_rate_Hz: float,
    t0_s: float = 0.0,
    n_bins: int = 1500,
    label: str = "trace",
    value_dim: str = "amplitude",
    value_unit: str | None = None,
    lineage: Any = None,
    caption: str | None = None,
    **kwds: Any,
) -> hv.DynamicMap:
    """A zoomable line plot of a long trace (millions of samples) for a Bokeh server.

    A :class:`holoviews.streams.RangeX` stream follows the visible x range; on each change
    only the visible samples are reduced with
    :func:`analysis_lib.plotting.decimate.minmax_decimate` to ``n_bins`` min/max pairs, so
    the browser receives a few thousand points whatever the zoom, and sees raw samples once
    zoomed in far enough.

    Parameters
    ----------
    samples
        Trace values (1-D), uniformly sampled.
    sample_rate_Hz
        Sampling rate in Hz.
    t0_s
        Time of the first sample in s.
    n_bins
        Output bins per redraw (about the plot width in pixels).
    label
        Curve label (e.g. the channel name).
    value_dim, value_unit
        Name and unit of the y dimension (e.g. ``"current"``, ``"µA"``).
    lineage, caption
        Passed to :func:`analysis_lib.plotting.annotate.annotate`.
    **kwds
        Further HoloViews ``Curve`` options.

    Returns
    -------
    holoviews.DynamicMap
        Yields ``Curve`` (kdim ``time_s``) elements; its ``streams[0]`` is the ``RangeX``.
    """
    y = np.asarray(samples)
    if y.ndim != 1:
        raise ValueError(f"samples must be 1-D, got shape {y.shape}")
    duration_s = y.size / sample_rate_Hz
    kdim = hv.Dimension("time_s", label="Time", unit="s")
    vdim = hv.Dimension(value_dim, unit=value_unit)
    full_range = (t0_s, t0_s + duration_s)

    if caption is None:
        caption = (
            f"{label}: {y.size} samples at {sample_rate_Hz:g} Hz ({duration_s:g} s), "
            f"drawn as min/max of {n_bins} bins of the visible window."
        )
    # Keep the full extent zoomable-out to, and the y axis following the visible data.
    # Plain numbers on the time axis at every zoom (0.0001 s, not 1.000e-4; the unit stays
    # s because the window changes from the whole stream to microseconds)
    curve_opts = dict(
        xlim=full_range,
        framewise=True,
        tools=["xwheel_zoom"],
        xformatter=BasicTickFormatter(use_scientific=False),
        **kwds,
    )
    curve_opts.update(annotation_options(lineage, caption))

    def draw(x_range: tuple[float, float] | None) -> hv.Curve:
        window = full_range if x_range is None or None in x_range else x_range
        t, v = minmax_decimate(
            y, sample_rate_Hz=sample_rate_Hz, t0_s=t0_s, n_bins=n_bins, x_range_s=window
        )
        # A dict of arrays skips building a DataFrame per redraw; options and lineage go
        # on each frame (a DynamicMap's own .opts() adds a wrapper operation per redraw).
        data = {kdim.name: t, vdim.name: v}
        curve = hv.Curve(data, kdims=[kdim], vdims=[vdim], label=label, datatype=["dictionary"])
        return curve.opts(backend="bokeh", **curve_opts)

    return hv.DynamicMap(draw, streams=[RangeX(x_range=None)])
