"""Event rate versus time with the beam power on a second y axis."""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np
from bokeh.models import BasicTickFormatter
from numpy.typing import ArrayLike

from .annotate import annotate


def _plain_time_axis(plot, element) -> None:
    """Plain numbers on the time axis (a run of days: 172800 s, not 1.728e+5); a hook,
    because HoloViews drops ``xformatter`` on overlays with ``multi_y``."""
    for axis in plot.state.xaxis:
        axis.formatter = BasicTickFormatter(use_scientific=False)


def rate_vs_time(
    event_time_s: ArrayLike,
    *,
    bin_s: float = 60.0,
    range_s: tuple[float, float] | None = None,
    beam_time_s: ArrayLike | None = None,
    beam_power_MW: ArrayLike | None = None,
    lineage: Any = None,
    caption: str | None = None,
    **kwds: Any,
) -> hv.Overlay:
    """Bin event times into a rate (Hz) with Poisson errors; overlay the beam power.

    Parameters
    ----------
    event_time_s
        Event times in s (e.g. Unix time or time since run start).
    bin_s
        Bin width in s (> 0).
    range_s
        ``(start, end)`` in s; defaults to the span of the events.
    beam_time_s, beam_power_MW
        Beam power samples (time in s, power in MW), drawn as a step line on a right-hand
        y axis (HoloViews ``multi_y``). Both or neither.
    lineage, caption
        Passed to :func:`analysis_lib.plotting.annotate.annotate`.
    **kwds
        Further options for the rate curve.

    Returns
    -------
    holoviews.Overlay
        ``Curve`` of ``rate_Hz`` (kdim ``time_s``), ``ErrorBars``, and, with beam data, a
        ``Curve`` of ``beam_power_MW``.
    """
    t = np.asarray(event_time_s, dtype=float)
    if not bin_s > 0:
        raise ValueError(f"bin_s must be > 0, got {bin_s!r}")
    if (beam_time_s is None) != (beam_power_MW is None):
        raise ValueError("beam_time_s and beam_power_MW must be given together")
    if range_s is None:
        if t.size == 0:
            raise ValueError("no events and no range_s: cannot choose the time axis")
        range_s = (float(t.min()), float(t.max()))
    start, end = range_s
    n_bins = max(int(np.ceil((end - start) / bin_s)), 1)
    edges = start + bin_s * np.arange(n_bins + 1)
    counts, _ = np.histogram(t, bins=edges)
    centers = 0.5 * (edges[1:] + edges[:-1])
    rate = counts / bin_s
    err = np.sqrt(counts) / bin_s
    kdim = hv.Dimension("time_s", label="Time", unit="s")
    rdim = hv.Dimension("rate_Hz", label="Event rate", unit="Hz")
    rate_curve = hv.Curve((centers, rate), kdims=[kdim], vdims=[rdim], label="event rate")
    rate_curve = rate_curve.opts(tools=["hover"], **kwds)
    bars = hv.ErrorBars((centers, rate, err), kdims=[kdim], vdims=[rdim, "rate_err_Hz"])
    layers = [rate_curve, bars]
    if beam_time_s is not None:
        bt = np.asarray(beam_time_s, dtype=float)
        bp = np.asarray(beam_power_MW, dtype=float)
        if bt.shape != bp.shape:
            raise ValueError(f"beam_time_s {bt.shape} and beam_power_MW {bp.shape} differ")
        pdim = hv.Dimension("beam_power_MW", label="Beam power", unit="MW")
        beam = hv.Curve((bt, bp), kdims=[kdim], vdims=[pdim], label="beam power")
        layers.append(beam.opts(interpolation="steps-post", color="gray", alpha=0.7))
    overlay = hv.Overlay(layers).opts(
        multi_y=beam_time_s is not None,
        legend_position="top",
        hooks=[_plain_time_axis],
    )
    if caption is None:
        caption = f"Event rate in {bin_s:g} s bins (Poisson errors)" + (
            "; grey: beam power (right axis)." if beam_time_s is not None else "."
        )
    return annotate(overlay, lineage=lineage, caption=caption)
