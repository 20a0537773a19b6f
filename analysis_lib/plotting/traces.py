"""Multi-channel pulse traces with template and fit overlays."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import holoviews as hv
import numpy as np
from numpy.typing import ArrayLike

from .annotate import annotate

#: Time units of a trace axis, from the largest: (dimension suffix, unit, seconds per unit).
TIME_UNITS = (("s", "s", 1.0), ("ms", "ms", 1e-3), ("us", "µs", 1e-6), ("ns", "ns", 1e-9))


def time_unit(span_s: float) -> tuple[str, str, float]:
    """The largest unit in which ``span_s`` is at least 1 (so that tick labels read 0 … 6 ms,
    never 0.000e+0 … 6.000e-3 s): (dimension suffix, unit label, seconds per unit)."""
    span_s = abs(float(span_s))
    for unit in TIME_UNITS:
        if span_s >= unit[2]:
            return unit
    return TIME_UNITS[-1]


def _by_channel(arrays: Any, names: list[str] | None, what: str) -> dict[str, np.ndarray]:
    if arrays is None:
        return {}
    if isinstance(arrays, Mapping):
        return {str(k): np.asarray(v, dtype=float) for k, v in arrays.items()}
    a = np.asarray(arrays, dtype=float)
    if a.ndim == 1:
        a = a[np.newaxis]
    if a.ndim != 2:
        raise ValueError(f"{what} must be 1-D, 2-D (channel, sample) or a mapping, got {a.shape}")
    if names is None:
        names = [f"ch{i}" for i in range(a.shape[0])]
    if len(names) != a.shape[0]:
        raise ValueError(f"{what} has {a.shape[0]} channels but {len(names)} names were given")
    return dict(zip(names, a, strict=True))


def trace_viewer(
    traces: ArrayLike | Mapping[str, ArrayLike],
    *,
    sample_rate_Hz: float,
    channels: list[str] | None = None,
    t0_s: float = 0.0,
    templates: ArrayLike | Mapping[str, ArrayLike] | None = None,
    fits: ArrayLike | Mapping[str, ArrayLike] | None = None,
    value_dim: str = "amplitude",
    value_unit: str | None = None,
    lineage: Any = None,
    caption: str | None = None,
    **kwds: Any,
) -> hv.Overlay:
    """Overlay the traces of one event, channel by channel, with templates and fits.

    Parameters
    ----------
    traces
        Array ``(n_channels, n_samples)`` (or 1-D for one channel), or a mapping
        channel name → samples.
    sample_rate_Hz
        Sampling rate in Hz; sample *k* is at ``t0_s + k / sample_rate_Hz`` seconds.
    channels
        Channel names for array input (default ``ch0``, ``ch1`` …).
    t0_s
        Time of the first sample, s (e.g. negative pre-trigger). The time axis is drawn in
        the largest of s, ms, µs, ns in which the traces span at least 1 (6 ms traces:
        0 … 6 ms).
    templates, fits
        Same shapes as ``traces`` (a subset of channels for mappings): the pulse template
        scaled to the event (dashed) and the fitted pulse (dotted).
    value_dim, value_unit
        Name and unit of the y dimension.
    lineage, caption
        Passed to :func:`analysis_lib.plotting.annotate.annotate`.
    **kwds
        Further HoloViews options for the trace curves.

    Returns
    -------
    holoviews.Overlay
        ``Curve`` elements with group ``Trace``, ``Template`` or ``Fit`` and the channel as
        label; kdim ``time_<unit>`` (``time_s``, ``time_ms``, ``time_us`` or ``time_ns``,
        see :func:`time_unit`), in that unit.
    """
    data = _by_channel(traces, channels, "traces")
    names = list(data)
    extra = {
        "Template": _by_channel(templates, names, "templates"),
        "Fit": _by_channel(fits, names, "fits"),
    }
    n_samples = max((y.size for y in data.values()), default=0)
    suffix, unit, per_unit_s = time_unit(n_samples / sample_rate_Hz)
    kdim = hv.Dimension(f"time_{suffix}", label="Time", unit=unit)
    vdim = hv.Dimension(value_dim, unit=value_unit)
    palette = hv.Cycle.default_cycles["default_colors"]
    curves = []
    for i, name in enumerate(names):
        color = palette[i % len(palette)]
        y = data[name]
        t = (t0_s + np.arange(y.size) / sample_rate_Hz) / per_unit_s
        trace = hv.Curve((t, y), kdims=[kdim], vdims=[vdim], group="Trace", label=name)
        curves.append(trace.opts(color=color, **kwds))
        for group, dash in (("Template", "dashed"), ("Fit", "dotted")):
            if name in extra[group]:
                z = extra[group][name]
                if z.size != y.size:
                    raise ValueError(
                        f"{group.lower()} of channel {name!r} has {z.size} samples, "
                        f"the trace has {y.size}"
                    )
                c = hv.Curve((t, z), kdims=[kdim], vdims=[vdim], group=group, label=name)
                curves.append(c.opts(color=color, line_dash=dash, line_width=2))
    for group, found in extra.items():
        unknown = set(found) - set(names)
        if unknown:
            raise ValueError(f"{group.lower()}s given for unknown channels {sorted(unknown)}")
    overlay = hv.Overlay(curves).opts(legend_position="right", responsive=True, height=350)
    if caption is None:
        caption = f"Traces of {len(names)} channel(s) at {sample_rate_Hz:g} Hz" + (
            "; dashed: template, dotted: fit." if any(extra.values()) else "."
        )
    return annotate(overlay, lineage=lineage, caption=caption)
