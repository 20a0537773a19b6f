"""The energy spectrum is a differential rate with Poisson errors."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pytest
from scipy.stats import norm

from analysis_lib.plotting import energy_spectrum, lineage_of

# Gehrels (1986), ApJ 303, 336: the 1σ (84.13 % CL) upper limit for 0 observed events
# solves P(0 | μ) = 1 − 0.8413, i.e. μ = −ln(Φ(−1)) ≈ 1.841 (computed, not copied)
UPPER_1SIGMA_FOR_ZERO = -np.log(norm.sf(1.0))


def test_rate_is_counts_per_kev_per_kg_day_with_poisson_errors():
    energies = [0.5, 1.5, 1.6, 1.7, 3.9]  # 1, 3, 0, 1 events in four 1-keV bins
    plot = energy_spectrum(energies, bins=[0, 1, 2, 3, 4], exposure_kg_day=2.0, logy=False)
    assert isinstance(plot, hv.Overlay)
    hist, bars = plot.values()
    assert [d.name for d in hist.kdims] == ["energy_keV"]
    assert hist.vdims[0].unit == "counts/keV/kg/day"
    np.testing.assert_allclose(hist.dimension_values("rate"), [0.5, 1.5, 0.0, 0.5])
    np.testing.assert_allclose(bars.dimension_values("rate_err_low"), np.sqrt([1, 3, 0, 1]) / 2)
    np.testing.assert_allclose(
        bars.dimension_values("rate_err_high"),
        [0.5, np.sqrt(3) / 2, UPPER_1SIGMA_FOR_ZERO / 2, 0.5],
        rtol=1e-4,  # the code keeps Gehrels' 4 digits
    )


def test_efficiency_and_bin_width_scale_the_rate():
    plot = energy_spectrum(np.full(10, 1.0), bins=[0, 4], exposure_kg_day=5.0, efficiency=0.5)
    # 10 events / (4 keV · 5 kg·day · 0.5)
    assert plot.values()[0].dimension_values("rate")[0] == pytest.approx(1.0)


def test_log_axes_are_options_and_caption_names_exposure():
    plot = energy_spectrum(
        np.random.default_rng(1).exponential(5, 500), range_keV=(0.1, 30), logx=True, color="red"
    )
    opts = hv.Store.lookup_options("bokeh", plot.values()[0], "plot").kwargs
    assert opts["logx"]
    assert opts["logy"]
    assert hv.Store.lookup_options("bokeh", plot.values()[0], "style").kwargs["color"] == "red"
    assert "1 kg·day" in lineage_of(plot)["caption"]
    hv.render(plot)  # renders without a log-axis warning (turned into an error here)


@pytest.mark.parametrize(
    ("kw", "match"), [({"exposure_kg_day": 0}, "exposure"), ({"efficiency": 2}, "efficiency")]
)
def test_bad_normalisation_is_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        energy_spectrum([1.0], **kw)
