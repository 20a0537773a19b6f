"""Exclusion-limit curve: cross-section upper limit versus dark-matter mass."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import holoviews as hv
import numpy as np
from numpy.typing import ArrayLike

from .annotate import annotate


def exclusion_limit(
    mass_GeV: ArrayLike,
    cross_section_cm2: ArrayLike,
    *,
    label: str = "this work",
    cl: float = 0.9,
    expected_1sigma: tuple[ArrayLike, ArrayLike] | None = None,
    expected_2sigma: tuple[ArrayLike, ArrayLike] | None = None,
    others: Mapping[str, tuple[ArrayLike, ArrayLike]] | None = None,
    lineage: Any = None,
    caption: str | None = None,
    **kwds: Any,
) -> hv.Overlay:
    """Upper limit on the WIMP–nucleon cross-section versus mass, log-log.

    Parameters
    ----------
    mass_GeV
        Dark-matter masses in GeV/c² (> 0).
    cross_section_cm2
        Upper limits on the spin-independent WIMP–nucleon cross-section in cm² at ``cl``.
    label
        Legend label of the limit.
    cl
        Confidence level, for the axis label and caption (e.g. 0.9).
    expected_1sigma, expected_2sigma
        ``(low, high)`` arrays of the expected-limit band (sensitivity) on ``mass_GeV``
        (green and yellow, as in the Brazil-band convention).
    others
        Published limits for comparison: name → ``(mass_GeV, cross_section_cm2)``.
    lineage, caption
        Passed to :func:`analysis_lib.plotting.annotate.annotate`.
    **kwds
        Further options of this work's limit curve.

    Returns
    -------
    holoviews.Overlay
        ``Area`` bands (vdims ``low``/``high``), this work's ``Curve`` (kdim ``mass_GeV``,
        vdim ``cross_section_cm2``) and one dashed ``Curve`` per comparison limit.
    """
    m = np.asarray(mass_GeV, dtype=float)
    s = np.asarray(cross_section_cm2, dtype=float)
    if m.shape != s.shape or m.ndim != 1:
        raise ValueError(f"mass_GeV {m.shape} and cross_section_cm2 {s.shape} must match (1-D)")
    if np.any(m <= 0) or np.any(s <= 0):
        raise ValueError("masses and cross-sections must be > 0 for a log-log plot")
    mdim = hv.Dimension("mass_GeV", label="WIMP mass", unit="GeV/c²")
    sdim = hv.Dimension(
        "cross_section_cm2", label=f"σ_SI ({100 * cl:g} % CL upper limit)", unit="cm²"
    )
    layers: list[hv.Element] = []
    for band, color, name in (
        (expected_2sigma, "#ffdd44", "expected ±2σ"),
        (expected_1sigma, "#44bb44", "expected ±1σ"),
    ):
        if band is not None:
            lo, hi = (np.asarray(b, dtype=float) for b in band)
            if lo.shape != m.shape or hi.shape != m.shape:
                raise ValueError(f"{name} band must have the shape of mass_GeV {m.shape}")
            area = hv.Area((m, lo, hi), kdims=[mdim], vdims=["low", "high"], label=name)
            layers.append(area.opts(color=color, alpha=0.6, line_width=0))
    main = hv.Curve((m, s), kdims=[mdim], vdims=[sdim], label=label)
    layers.append(main.opts(color="black", line_width=2, **kwds))
    for name, (om, os_) in (others or {}).items():
        other = hv.Curve((np.asarray(om), np.asarray(os_)), kdims=[mdim], vdims=[sdim], label=name)
        layers.append(other.opts(line_dash="dashed"))
    overlay = hv.Overlay(layers).opts(logx=True, logy=True, legend_position="top_right")
    if caption is None:
        caption = (
            f"{100 * cl:g} % CL upper limit on the spin-independent WIMP–nucleon cross-section"
            + (f", compared with {', '.join(others)}." if others else ".")
        )
    return annotate(overlay, lineage=lineage, caption=caption)
