import numpy as np

from analysis_lib.demo import generate_csi_events
from analysis_lib.demo.coherent import TAU_MU_US


def test_deterministic():
    a = generate_csi_events(20_000, seed=3)
    b = generate_csi_events(20_000, seed=3)
    assert a.equals(b)


def test_beam_on_excess_is_the_injected_signal():
    ev = generate_csi_events(200_000, seed=1)
    on = ev[ev.beam_on]
    off = ev[~ev.beam_on]
    n_signal = (ev.truth == "cevns").sum()
    excess = len(on) - len(off)
    # beam-on minus beam-off recovers the injected CEvNS count within Poisson fluctuations
    assert abs(excess - n_signal) < 5 * np.sqrt(len(on) + len(off))
    # the excess sits at low energy (CEvNS: quenched recoils of a few tens of PE at most)
    assert (ev[ev.truth == "cevns"].energy_PE < 40).mean() > 0.9


def test_delayed_component_follows_muon_lifetime():
    ev = generate_csi_events(2_000_000, seed=2)
    t = ev[(ev.truth == "cevns") & (ev.time_us > 2.0) & (ev.time_us < 10.0)].time_us.to_numpy()
    # maximum-likelihood slope of an exponential truncated to [2, 10] µs, roughly τ_μ
    tau = np.mean(t - 2.0)
    assert 0.7 * TAU_MU_US < tau < 1.2 * TAU_MU_US
