import numpy as np

from analysis_lib.demo import generate_csi_events
from analysis_lib.demo.coherent import TAU_MU_US, beam_power_MW, simulate_beam


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


def test_beam_has_nominal_pot_trips_and_signal_follows_pot():
    beam = simulate_beam(400_000, seed=4)  # ~1.9 h of 60 Hz spills
    on = beam.pot > 0
    # 1.4 MW of 1 GeV protons at 60 Hz: ~1.46e14 POT per spill
    assert abs(beam.pot[on].mean() / 1.457e14 - 1) < 0.01
    assert 0.5 < on.mean() < 1.0, "some trips, mostly beam"
    ev = generate_csi_events(400_000, seed=4, beam=beam)
    sig = ev[ev.truth == "cevns"]
    assert (beam.pot.to_numpy()[sig.spill] > 0).all(), "no CEvNS during a trip"
    # events carry UTC times that join onto the beam's spill times
    on_win = ev[ev.beam_on]
    dt_ns = on_win.time_ns.to_numpy() - beam.time_ns.to_numpy()[on_win.spill]
    np.testing.assert_allclose(dt_ns, on_win.time_us.to_numpy() * 1e3, atol=1)


def test_beam_power_is_pot_rate_times_proton_energy():
    beam = simulate_beam(6_000, seed=1)
    power = beam_power_MW(beam)
    assert len(power) == 100
    full = power.value[power.value > 0].median()
    assert abs(full - 1.4) < 0.05
