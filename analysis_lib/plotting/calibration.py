"""Calibration fit with residuals: measured line positions against known energies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import holoviews as hv
import numpy as np
from numpy.typing import ArrayLike

from .annotate import annotate


def calibration_fit(
    measured: ArrayLike,
    true_energy_keV: ArrayLike,
    model: Callable[[np.ndarray], np.ndarray],
    *,
    measured_err: ArrayLike | None = None,
    measured_unit: str = "ADC",
    line_names: list[str] | None = None,
    n_curve: int = 200,
    lineage: Any = None,
    caption: str | None = None,
    **kwds: Any,
) -> hv.Layout:
    """Calibration points, the fitted energy scale, and normalized residuals below.

    Parameters
    ----------
    measured
        Fitted line positions in detector units (e.g. ADC, PE, µA).
    true_energy_keV
        Known energies of those lines in keV.
    model
        The fitted energy scale: a callable mapping detector units to keV.
    measured_err
        Uncertainties of ``measured``; propagated to keV with the model's local slope
        (numerical derivative). Residuals are then ``(E_model − E_true) / σ_E``; without
        errors they are plain differences in keV.
    measured_unit
        Unit of ``measured`` for the axis label.
    line_names
        Names of the lines (hover text), e.g. ``["Fe-55 Kα", …]``.
    n_curve
        Points on the drawn model curve.
    lineage, caption
        Passed to :func:`analysis_lib.plotting.annotate.annotate`.
    **kwds
        Further ``Scatter`` options of the calibration points.

    Returns
    -------
    holoviews.Layout
        Two panels in one column: ``Scatter`` + ``ErrorBars`` + model ``Curve``
        (kdim ``measured``, vdim ``energy_keV``), then residual ``Scatter`` with a zero line.
    """
    x = np.asarray(measured, dtype=float)
    e_true = np.asarray(true_energy_keV, dtype=float)
    if x.shape != e_true.shape or x.ndim != 1 or x.size == 0:
        raise ValueError(f"measured {x.shape} and true_energy_keV {e_true.shape} must match (1-D)")
    names = line_names or [f"line {i}" for i in range(x.size)]
    e_model = np.asarray(model(x), dtype=float)
    if measured_err is not None:
        sx = np.asarray(measured_err, dtype=float)
        h = np.maximum(1e-6 * np.abs(x), 1e-9)
        slope = (np.asarray(model(x + h)) - np.asarray(model(x - h))) / (2 * h)
        sigma_e = np.abs(slope) * sx
        resid = (e_model - e_true) / sigma_e
        rdim = hv.Dimension("pull", label="(E_fit − E_true)/σ")
    else:
        sigma_e = np.zeros_like(x)
        resid = e_model - e_true
        rdim = hv.Dimension("residual_keV", label="E_fit − E_true", unit="keV")
    mdim = hv.Dimension("measured", label="Measured", unit=measured_unit)
    edim = hv.Dimension("energy_keV", label="Energy", unit="keV")
    points = hv.Scatter((x, e_true, names), kdims=[mdim], vdims=[edim, "line"], label="lines")
    points = points.opts(size=8, tools=["hover"], **kwds)
    errors = hv.ErrorBars((x, e_true, sigma_e), kdims=[mdim], vdims=[edim, "energy_err_keV"])
    pad = 0.05 * (x.max() - x.min() or 1.0)
    span = np.linspace(x.min() - pad, x.max() + pad, n_curve)
    curve = hv.Curve((span, np.asarray(model(span), dtype=float)), kdims=[mdim], vdims=[edim])
    curve = curve.opts(
        color="black",
        line_width=1,
    ).relabel("fit")
    top = (points * errors * curve).opts(height=300, responsive=True, show_legend=False)
    res = hv.Scatter((x, resid, names), kdims=[mdim], vdims=[rdim, "line"]).opts(
        size=8, tools=["hover"]
    )
    zero = hv.HLine(0).opts(color="gray", line_dash="dashed")
    bottom = (res * zero).opts(height=150, responsive=True)
    layout = (top + bottom).cols(1)
    if caption is None:
        caption = f"Energy calibration from {x.size} line(s); lower panel: " + (
            "pulls (residual/σ)." if measured_err is not None else "residuals in keV."
        )
    return annotate(layout, lineage=lineage, caption=caption)
