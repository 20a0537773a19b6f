"""Data against a stacked template fit: the projection, the stack and the residuals."""

from __future__ import annotations

import hist
import holoviews as hv
import numpy as np
import pytest
from scipy.stats import norm

from analysis_lib.plotting import lineage_of, template_fit_projection

# Gehrels (1986), ApJ 303, 336: the 1σ (84.13 % CL) upper limit for 0 observed events
# solves P(0 | μ) = 1 − 0.8413, i.e. μ = −ln(Φ(−1)) ≈ 1.841 (computed, not copied)
UPPER_1SIGMA_FOR_ZERO = -np.log(norm.sf(1.0))


def histogram():
    h = hist.Hist(
        hist.axis.Regular(3, 0, 6, name="pe", label="Photoelectrons", metadata={"unit": "PE"}),
        hist.axis.Regular(2, 0, 1, name="t", label="Time", metadata={"unit": "µs"}),
    )
    h.view()[...] = [[1, 2], [0, 0], [4, 5]]
    return h


def test_projection_stacks_components_in_order_and_shows_residuals():
    h = histogram()
    bkg = np.full((3, 2), 1.0)
    sig = np.array([[0.5, 0.5], [0.0, 0.0], [2.0, 2.0]])
    plot = template_fit_projection(h, {"background": bkg, "signal": sig}, axis="pe")
    assert isinstance(plot, hv.Layout)
    top, bottom = plot.values()
    hists = [e for e in top if isinstance(e, hv.Histogram)]
    # drawn from the top of the stack down: background + signal behind, background in front
    assert [e.label for e in hists] == ["signal", "background"]
    np.testing.assert_allclose(hists[0].dimension_values(1), [3.0, 2.0, 6.0])
    np.testing.assert_allclose(hists[1].dimension_values(1), [2.0, 2.0, 2.0])
    assert hists[0].kdims[0].unit == "PE"
    bars = next(e for e in top if isinstance(e, hv.ErrorBars))
    np.testing.assert_allclose(bars.dimension_values("counts"), [3, 0, 9])
    np.testing.assert_allclose(
        bars.dimension_values("err_high"), [np.sqrt(3), UPPER_1SIGMA_FOR_ZERO, 3], rtol=1e-4
    )
    resid = next(e for e in bottom if isinstance(e, hv.Scatter))
    np.testing.assert_allclose(resid.dimension_values("residual"), [0.0, -2.0, 3.0])
    # on the other axis too; the caption names the totals
    t = template_fit_projection(h, {"background": bkg, "signal": sig}, axis=1, lineage={"d": 1})
    assert "12 events" in lineage_of(t)["caption"]
    assert lineage_of(t)["lineage"] == {"d": 1}


def test_arrays_need_edges_and_shapes_must_match():
    with pytest.raises(ValueError, match="edges"):
        template_fit_projection(np.ones((3, 2)), {"b": np.ones((3, 2))}, axis=0)
    with pytest.raises(ValueError, match="shape"):
        template_fit_projection(histogram(), {"b": np.ones((2, 2))}, axis="pe")
    with pytest.raises(ValueError, match="axes are"):
        template_fit_projection(histogram(), {"b": np.ones((3, 2))}, axis="energy")
    plot = template_fit_projection(
        np.ones((3, 2)), {"b": np.ones((3, 2))}, axis=0, edges=[0, 1, 2, 3]
    )
    assert isinstance(plot, hv.Layout)
