"""The optimal filter equals the textbook time-domain generalised least-squares fit.

The reference here is independent of the frequency-domain algebra: the noise covariance
matrix is built from the PSD (Wiener–Khinchin: autocovariance = fs · IDFT of the
two-sided PSD), and amplitude, offset and χ² come from ``numpy.linalg`` GLS normal
equations, with the delay found by a brute-force scan over circularly shifted templates.
A free baseline offset in the GLS model is what AC coupling (dropping the DC bin) means.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis_lib.pulses.noise import fold_weights, two_sided_psd
from analysis_lib.pulses.optimal_filter import OptimalFilter
from analysis_lib.pulses.simulate import (
    generate_noise,
    noise_psd_model,
    pulse_template,
    simulate_traces,
)

FS = 625e3
N = 256


def circulant_covariance(csd_one_sided: np.ndarray, n: int) -> np.ndarray:
    """Stacked (n_ch·n, n_ch·n) noise covariance of periodic noise with the given CSD."""
    csd = np.asarray(csd_one_sided, dtype=np.complex128)
    if csd.ndim == 1:
        csd = csd[None, None]
    s2 = csd / fold_weights(n)
    n_neg = n - s2.shape[-1]
    full = np.concatenate([s2, np.conj(s2[..., 1 : 1 + n_neg][..., ::-1])], axis=-1)
    r = FS * np.fft.ifft(full, axis=-1).real  # E[x_i[a] x_j[b]] = r_ij[(a - b) mod n]
    lag = (np.arange(n)[:, None] - np.arange(n)[None, :]) % n
    n_ch = csd.shape[0]
    return np.block([[r[i, j][lag] for j in range(n_ch)] for i in range(n_ch)])


def gls_fit(v: np.ndarray, columns: list[np.ndarray], cov_inv: np.ndarray):
    """Generalised least squares: parameters, χ² and the covariance of the parameters."""
    x = np.stack(columns, axis=1)
    fisher = x.T @ cov_inv @ x
    beta = np.linalg.solve(fisher, x.T @ cov_inv @ v)
    r = v - x @ beta
    return beta, float(r @ cov_inv @ r), np.linalg.inv(fisher)


def offsets(n_ch: int, n: int) -> list[np.ndarray]:
    """One free baseline per channel: the AC-coupling nuisance parameters."""
    cols = []
    for c in range(n_ch):
        e = np.zeros(n_ch * n)
        e[c * n : (c + 1) * n] = 1.0
        cols.append(e)
    return cols


@pytest.fixture(scope="module")
def setup():
    psd = noise_psd_model(N, fs_Hz=FS)
    template = pulse_template(N, fs_Hz=FS, pretrigger_samples=64, rise_s=20e-6, fall_s=100e-6)
    cov_inv = np.linalg.inv(circulant_covariance(psd, N))
    return psd, template, cov_inv


def test_amplitude_chi2_and_resolution_equal_gls(setup):
    psd, template, cov_inv = setup
    traces = simulate_traces(
        np.array([0.0, 30.0, 120.0]),
        n_samples=N,
        psd=psd,
        rng=7,
        pulse_times_s=64 / FS,
        fall_s=100e-6,
    )
    of = OptimalFilter(template, psd, fs_Hz=FS)
    res = of.fit(traces)
    for i, v in enumerate(traces):
        beta, chi2, cov = gls_fit(v, [template, *offsets(1, N)], cov_inv)
        assert res.amplitude[i] == pytest.approx(beta[0], rel=1e-9, abs=1e-9)
        assert res.chi2[i] == pytest.approx(chi2, rel=1e-9)
        assert of.sigma == pytest.approx(np.sqrt(cov[0, 0]), rel=1e-9)
    assert np.all(res.delay_samples == 0)


def test_dc_coupled_filter_equals_gls_without_offset(setup):
    psd, template, _ = setup
    cov_inv = np.linalg.inv(circulant_covariance(psd, N))
    v = simulate_traces(
        np.array([50.0]), n_samples=N, psd=psd, rng=8, pulse_times_s=64 / FS, fall_s=100e-6
    )[0]
    res = OptimalFilter(template, psd, fs_Hz=FS, coupling="DC").fit(v)
    beta, chi2, _ = gls_fit(v, [template], cov_inv)
    assert res.amplitude[0] == pytest.approx(beta[0], rel=1e-9)
    assert res.chi2[0] == pytest.approx(chi2, rel=1e-9)


def test_delay_search_equals_brute_force_scan(setup):
    psd, template, cov_inv = setup
    true_delays = np.array([-9, 0, 4, 11])
    traces = simulate_traces(
        np.full(4, 200.0),
        n_samples=N,
        psd=psd,
        rng=9,
        pulse_times_s=(64 + true_delays) / FS,
        fall_s=100e-6,
    )
    window = (-12, 12)
    res = OptimalFilter(template, psd, fs_Hz=FS).fit(traces, window_samples=window)
    for i, v in enumerate(traces):
        scan = [
            (gls_fit(v, [np.roll(template, m), *offsets(1, N)], cov_inv), m)
            for m in range(window[0], window[1] + 1)
        ]
        (beta, chi2, _), m_best = min(scan, key=lambda t: t[0][1])
        assert res.delay_samples[i] == m_best
        assert res.amplitude[i] == pytest.approx(beta[0], rel=1e-9)
        assert res.chi2[i] == pytest.approx(chi2, rel=1e-9)
    np.testing.assert_allclose(res.delay_samples, true_delays, atol=1)
    np.testing.assert_allclose(res.delay_s, res.delay_samples / FS)


def test_multichannel_combined_and_per_channel_equal_gls():
    n_ch = 2
    psd = noise_psd_model(N, fs_Hz=FS)
    csd = np.zeros((n_ch, n_ch, N // 2 + 1))
    csd[0, 0], csd[1, 1] = psd, 2.0 * psd
    csd[0, 1] = csd[1, 0] = 0.7 * np.sqrt(2.0) * psd  # correlated noise
    templates = np.stack(
        [
            pulse_template(N, fs_Hz=FS, pretrigger_samples=64, fall_s=100e-6),
            0.6 * pulse_template(N, fs_Hz=FS, pretrigger_samples=64, fall_s=150e-6),
        ]
    )
    noise = generate_noise(csd, 3, n_samples=N, fs_Hz=FS, rng=10)
    amps = np.array([10.0, 40.0, 80.0])
    traces = noise + amps[:, None, None] * templates[None]
    of = OptimalFilter(templates, csd, fs_Hz=FS)
    comb = of.fit(traces, lowfreq_cutoff_Hz=20e3)
    per = of.fit(traces, per_channel=True)
    assert comb.amplitude.shape == (3,)
    assert per.amplitude.shape == (3, 2)
    cov_inv = np.linalg.inv(circulant_covariance(csd, N))
    for i in range(3):
        v = traces[i].reshape(-1)
        beta, chi2, cov = gls_fit(v, [templates.reshape(-1), *offsets(n_ch, N)], cov_inv)
        assert comb.amplitude[i] == pytest.approx(beta[0], rel=1e-9)
        assert comb.chi2[i] == pytest.approx(chi2, rel=1e-9)
        assert of.sigma == pytest.approx(np.sqrt(cov[0, 0]), rel=1e-9)
        for c in range(n_ch):
            cov1 = np.linalg.inv(circulant_covariance(csd[c, c], N))
            b1, chi1, cv1 = gls_fit(traces[i, c], [templates[c], *offsets(1, N)], cov1)
            assert per.amplitude[i, c] == pytest.approx(b1[0], rel=1e-9)
            assert per.chi2[i, c] == pytest.approx(chi1, rel=1e-9)
            assert of.sigma_per_channel[c] == pytest.approx(np.sqrt(cv1[0, 0]), rel=1e-9)
    # using the correlations can only improve on the best single channel
    assert of.sigma < of.sigma_per_channel.min()


def test_lowfreq_chi2_is_the_low_band_of_the_residual(setup):
    psd, template, _ = setup
    v = simulate_traces(
        np.array([60.0]), n_samples=N, psd=psd, rng=11, pulse_times_s=66 / FS, fall_s=100e-6
    )
    of = OptimalFilter(template, psd, fs_Hz=FS)
    cutoff = 30e3
    res = of.fit(v, window_samples=(-5, 5), lowfreq_cutoff_Hz=cutoff)
    # direct: full complex DFT, two-sided PSD, bins with |f| ≤ cutoff, DC dropped (AC)
    resid = v[0] - res.amplitude[0] * np.roll(template, int(res.delay_samples[0]))
    spec = np.fft.fft(resid)
    f = np.fft.fftfreq(N, d=1 / FS)
    s2 = two_sided_psd(psd, N)
    sel = (np.abs(f) <= cutoff) & (f != 0)
    direct = np.sum(np.abs(spec[sel]) ** 2 / (N * FS * s2[sel]))
    assert res.chi2_lowfreq[0] == pytest.approx(direct, rel=1e-9)
    # and the full band of the same sum is the fit's χ²
    assert res.chi2[0] == pytest.approx(
        np.sum(np.abs(spec[f != 0]) ** 2 / (N * FS * s2[f != 0])), rel=1e-9
    )


def test_agrees_with_qetpy_to_1e_6(qetpy):
    n = 4096
    psd = noise_psd_model(n, fs_Hz=FS)
    template = pulse_template(n, fs_Hz=FS)
    delays = np.array([0, 3, -17, 40, 0])
    traces = simulate_traces(
        np.array([20.0, 50.0, 100.0, 300.0, 0.0]),
        n_samples=n,
        psd=psd,
        rng=12,
        pulse_times_s=(n // 2 + delays) / FS,
    )
    of = OptimalFilter(template, psd, fs_Hz=FS)
    nodelay = of.fit(traces)
    delay = of.fit(traces, window_samples=(-50, 50), lowfreq_cutoff_Hz=10e3)
    interp = of.fit(traces, window_samples=(-50, 50), interpolate=True)
    psd2 = two_sided_psd(psd, n)
    for i, v in enumerate(traces):
        q = qetpy.OptimumFilter(v, template, psd2, FS)
        a0, c0 = q.ofamp_nodelay()
        a1, t1, c1 = q.ofamp_withdelay(nconstrain=101)
        a2, t2, c2 = q.ofamp_withdelay(nconstrain=101, interpolate_t0=True)
        assert nodelay.amplitude[i] == pytest.approx(a0, rel=1e-6)
        assert nodelay.chi2[i] == pytest.approx(c0, rel=1e-6)
        assert delay.amplitude[i] == pytest.approx(a1, rel=1e-6)
        assert delay.delay_s[i] == pytest.approx(t1, abs=1e-12)
        assert delay.chi2[i] == pytest.approx(c1, rel=1e-6)
        assert delay.chi2_lowfreq[i] == pytest.approx(
            q.chi2_lowfreq(a1, t1, fcutoff=10e3), rel=1e-6
        )
        assert interp.amplitude[i] == pytest.approx(a2, rel=1e-6)
        assert interp.delay_s[i] == pytest.approx(t2, rel=1e-6, abs=1e-12)
        assert interp.chi2[i] == pytest.approx(c2, rel=1e-6)
        assert of.sigma == pytest.approx(q.energy_resolution(), rel=1e-9)


def test_float32_agrees_with_float64(setup):
    psd, template, _ = setup
    traces = simulate_traces(
        np.linspace(10, 500, 40), n_samples=N, psd=psd, rng=13, pulse_times_s=66 / FS, fall_s=100e-6
    )
    r64 = OptimalFilter(template, psd, fs_Hz=FS).fit(traces, window_samples=(-8, 8))
    r32 = OptimalFilter(template, psd, fs_Hz=FS, dtype=np.float32).fit(
        traces.astype(np.float32), window_samples=(-8, 8)
    )
    np.testing.assert_array_equal(r32.delay_samples, r64.delay_samples)
    np.testing.assert_allclose(r32.amplitude, r64.amplitude, rtol=1e-4)
    np.testing.assert_allclose(r32.chi2, r64.chi2, rtol=1e-3)


@pytest.mark.parametrize("n", [4096, 4095])
def test_float32_on_adc_counts_with_a_baseline_agrees_with_qetpy_to_1e_6(n, qetpy):
    # realistic pulses (10–500 σ) as int16 ADC counts on a baseline of 12000 counts: the
    # float32 kernel (in-place packed FFTs, baseline removed exactly) must give QETpy's
    # float64 amplitudes and delays; odd n exercises the packed layout without Nyquist
    psd = noise_psd_model(n, fs_Hz=FS)
    template = pulse_template(n, fs_Hz=FS)
    of32 = OptimalFilter(template, psd, fs_Hz=FS, dtype=np.float32)
    rng = np.random.default_rng(21)
    amps = rng.uniform(10, 500, 12) * of32.sigma
    delays = rng.integers(-40, 40, amps.size)
    traces = simulate_traces(
        amps, n_samples=n, psd=psd, rng=22, pulse_times_s=(n // 2 + delays) / FS
    )
    adc = (np.round(traces) + 12000).astype(np.int16)
    res = of32.fit(adc, window_samples=(-50, 50))
    psd2 = two_sided_psd(psd, n)
    q = qetpy.OptimumFilter(adc[0].astype(np.float64), template, psd2, FS)
    for i, v in enumerate(adc):
        q.update_signal(v.astype(np.float64))
        a, t0, chi2 = q.ofamp_withdelay(nconstrain=101)
        assert res.amplitude[i] == pytest.approx(a, rel=1e-6)
        assert res.delay_s[i] == pytest.approx(t0, abs=1e-12)
        assert res.chi2[i] == pytest.approx(chi2, rel=1e-4)


def test_float32_dc_coupled_fit_restores_the_baseline_exactly(setup):
    # DC coupling keeps the DC bin: the baseline removed before the float32 transform
    # must be put back, or the amplitude would absorb it
    psd, template, _ = setup
    traces = simulate_traces(
        np.linspace(20, 400, 10),
        n_samples=N,
        psd=psd,
        rng=23,
        pulse_times_s=64 / FS,
        fall_s=100e-6,
    )
    adc = (np.round(traces) + 9000).astype(np.int16)
    kw = {"coupling": "DC", "fs_Hz": FS}
    r64 = OptimalFilter(template, psd, **kw).fit(adc, window_samples=(-4, 4))
    r32 = OptimalFilter(template, psd, dtype=np.float32, **kw).fit(adc, window_samples=(-4, 4))
    r32_0 = OptimalFilter(template, psd, dtype=np.float32, **kw).fit(adc)
    r64_0 = OptimalFilter(template, psd, **kw).fit(adc)
    np.testing.assert_allclose(r32.amplitude, r64.amplitude, rtol=1e-6)
    np.testing.assert_allclose(r32_0.amplitude, r64_0.amplitude, rtol=1e-6)
    np.testing.assert_allclose(r32.chi2, r64.chi2, rtol=1e-4)


def test_resolution_matches_the_scatter_of_noise_fits(setup):
    psd, template, _ = setup
    noise = generate_noise(psd, 4000, n_samples=N, fs_Hz=FS, rng=14)
    of = OptimalFilter(template, psd, fs_Hz=FS)
    amps = of.fit(noise).amplitude
    assert amps.std() == pytest.approx(of.sigma, rel=0.05)  # 4000 fits: 1.1 % stat. error
    assert abs(amps.mean()) < 4 * of.sigma / np.sqrt(4000)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    amplitude=st.floats(-1e3, 1e3).filter(lambda a: abs(a) > 1e-3),
    delay=st.integers(-20, 20),
    offset=st.floats(-1e4, 1e4),
)
def test_noise_free_pulse_is_recovered_exactly(amplitude, delay, offset):
    psd = noise_psd_model(N, fs_Hz=FS)
    template = pulse_template(N, fs_Hz=FS, pretrigger_samples=64, fall_s=100e-6)
    v = amplitude * np.roll(template, delay) + offset
    res = OptimalFilter(template, psd, fs_Hz=FS).fit(v, window_samples=(-20, 20))
    assert res.delay_samples[0] == delay
    assert res.amplitude[0] == pytest.approx(amplitude, rel=1e-9)
    assert res.chi2[0] == pytest.approx(0.0, abs=1e-12 * (amplitude**2 + 1) / 1e-6)


@pytest.mark.parametrize(
    ("template", "psd", "match"),
    [
        (np.ones(100), np.ones(40), "length mismatch"),
        (np.ones(100), np.r_[np.ones(50), np.nan], "NaN"),
        (np.ones(100), np.r_[1.0, np.zeros(50)], "> 0"),
        (np.zeros(100), np.ones(51), "all zero"),
        (np.ones((2, 100)), np.ones((3, 51)), "channels"),
    ],
)
def test_bad_construction_is_refused(template, psd, match):
    with pytest.raises(ValueError, match=match):
        OptimalFilter(template, psd, fs_Hz=FS)


def test_traces_of_wrong_length_are_refused(setup):
    psd, template, _ = setup
    with pytest.raises(ValueError, match="length mismatch"):
        OptimalFilter(template, psd, fs_Hz=FS).fit(np.zeros((3, N + 1)))
