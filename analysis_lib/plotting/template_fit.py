"""Data against a stacked template fit, projected on one axis, with a residual panel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import holoviews as hv
import numpy as np

from .annotate import annotate
from .spectrum import GEHRELS_UPPER_N0

# Colour-blind-safe (Okabe & Ito 2008), in stacking order from the bottom.
_COLOURS = ("#999999", "#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#D55E00")


def _project(values: np.ndarray, axis: int) -> np.ndarray:
    others = tuple(i for i in range(values.ndim) if i != axis)
    return values.sum(axis=others) if others else values


def template_fit_projection(
    data: Any,
    components: Mapping[str, Any],
    *,
    axis: int | str = 0,
    edges: Any = None,
    label: str | None = None,
    unit: str | None = None,
    lineage: Any = None,
    caption: str | None = None,
    **kwds: Any,
) -> hv.Layout:
    """Observed counts against the stacked fitted components, projected on one axis.

    The top panel stacks the components' expected counts (first listed at the bottom) as
    filled steps and draws the data with Poisson error bars (√n; Gehrels' 1.841 upward for
    empty bins); the bottom panel shows the residual data − fit with the same error bars.

    Parameters
    ----------
    data
        Observed counts: a ``hist.Hist`` (its axes give the edges, names, labels and the
        ``metadata["unit"]``) or an N-d array with ``edges``.
    components
        Name → expected counts with the data's shape (e.g. ``TemplateFit.expected(
        component=name)``), in stacking order.
    axis
        The axis to project on: index, or name for a ``hist.Hist``.
    edges
        Bin edges of ``axis`` when ``data`` is an array.
    label, unit
        Axis label and unit (default: from the histogram axis).
    lineage, caption
        Passed to :func:`analysis_lib.plotting.annotate.annotate`.
    **kwds
        HoloViews options for the top panel's overlay (``width``, ``height``, ``title`` …).

    Returns
    -------
    holoviews.Layout
        Two panels: ``Overlay`` of ``Histogram`` (one per component, cumulative) ×
        ``ErrorBars`` × ``Scatter`` (data), and ``Overlay`` of the residual ``ErrorBars`` ×
        ``Scatter`` × ``HLine`` at 0.
    """
    if hasattr(data, "axes") and hasattr(data, "values"):
        names = [ax.name for ax in data.axes]
        if isinstance(axis, str):
            if axis not in names:
                raise ValueError(f"axis={axis!r}: the histogram's axes are {names}")
            axis = names.index(axis)
        ax = data.axes[axis]
        edges = np.asarray(ax.edges, dtype=float)
        label = label or ax.label or ax.name
        unit = unit if unit is not None else (ax.metadata or {}).get("unit")
        name = ax.name or f"axis{axis}"
        values = np.asarray(data.values(), dtype=float)
    else:
        values = np.asarray(data, dtype=float)
        if isinstance(axis, str) or edges is None:
            raise ValueError("an array needs an integer axis and its edges")
        edges = np.asarray(edges, dtype=float)
        name = f"axis{axis}"
        label = label or name
    if not 0 <= axis < values.ndim:
        raise ValueError(f"axis={axis}: the data have {values.ndim} dimension(s)")
    if not components:
        raise ValueError("components: give at least one")
    n = _project(values, axis)
    if edges.shape != (n.size + 1,):
        raise ValueError(f"edges: {edges.size} edges for {n.size} bins")
    parts = {}
    for cname, comp in components.items():
        c = np.asarray(comp.values() if hasattr(comp, "values") else comp, dtype=float)
        if c.shape != values.shape:
            raise ValueError(f"component {cname!r}: shape {c.shape} differs from {values.shape}")
        parts[cname] = _project(c, axis)
    total = np.sum(list(parts.values()), axis=0)
    centres = (edges[1:] + edges[:-1]) / 2
    kdim = hv.Dimension(name, label=label, unit=unit)
    counts = hv.Dimension("counts", label="Events per bin")
    err_lo = np.sqrt(n)
    err_hi = np.where(n > 0, np.sqrt(n), GEHRELS_UPPER_N0)

    stack = []
    cumulative = np.zeros_like(total)
    for i, (cname, part) in enumerate(parts.items()):
        cumulative = cumulative + part
        stack.append(
            hv.Histogram(
                (edges, cumulative.copy()), kdims=[kdim], vdims=[counts], label=cname
            ).opts(color=_COLOURS[i % len(_COLOURS)], line_color=None, fill_alpha=0.85)
        )
    data_bars = hv.ErrorBars(
        (centres, n, err_lo, err_hi), kdims=[kdim], vdims=[counts, "err_low", "err_high"]
    )
    data_points = hv.Scatter((centres, n), kdims=[kdim], vdims=[counts], label="data").opts(
        color="black", size=6, tools=["hover"]
    )
    top_opts: dict[str, Any] = {
        "legend_position": "top_right",
        "width": 600,
        "height": 320,
        "xlabel": "",
        "show_grid": True,
    }
    top_opts.update(kwds)
    top = hv.Overlay([*reversed(stack), data_bars, data_points]).opts(**top_opts)

    resid = hv.Dimension("residual", label="data − fit")
    r = n - total
    bottom = hv.Overlay(
        [
            hv.HLine(0).opts(color="grey", line_dash="dashed"),
            hv.ErrorBars(
                (centres, r, err_lo, err_hi), kdims=[kdim], vdims=[resid, "err_low", "err_high"]
            ),
            hv.Scatter((centres, r), kdims=[kdim], vdims=[resid]).opts(color="black", size=5),
        ]
    ).opts(width=top_opts["width"], height=160, show_grid=True)
    layout = (top + bottom).cols(1).opts(shared_axes=True)
    if caption is None:
        chi2 = float(np.sum(np.where(total > 0, (n - total) ** 2 / np.maximum(total, 1e-12), 0)))
        caption = (
            f"{int(n.sum())} events against the fit ({total.sum():.1f} expected: "
            + ", ".join(f"{k} {v.sum():.1f}" for k, v in parts.items())
            + f"), projected on {label}; Pearson χ² of the projection {chi2:.1f} for "
            f"{n.size} bins. Error bars: √n (Gehrels 1σ for empty bins)."
        )
    return annotate(layout, lineage=lineage, caption=caption)
