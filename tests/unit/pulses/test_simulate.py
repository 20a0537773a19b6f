"""The simulated noise has the PSD it was asked for; pulses sit where they were put."""

from __future__ import annotations

import numpy as np
import pytest

from analysis_lib.pulses.simulate import (
    edge_bin_mask,
    generate_noise,
    iter_noise_stream,
    noise_psd_model,
    pulse_shape,
    pulse_template,
    simulate_stream,
    simulate_traces,
)

FS = 625e3


def periodogram_one_sided(x: np.ndarray, fs: float) -> np.ndarray:
    """Textbook one-sided periodogram averaged over the first axis (scipy 'density')."""
    n = x.shape[-1]
    fold = np.where(edge_bin_mask(n), 1.0, 2.0)
    return fold * np.mean(np.abs(np.fft.rfft(x, axis=-1)) ** 2, axis=0) / (n * fs)


def test_generated_noise_reproduces_input_psd():
    n, m = 2048, 3000
    psd = noise_psd_model(n, fs_Hz=FS)
    x = generate_noise(psd, m, n_samples=n, fs_Hz=FS, rng=11)
    ratio = periodogram_one_sided(x, FS) / psd
    # each interior bin is an average of m exponentials: relative error 1/sqrt(m)
    assert abs(ratio[1:-1].mean() - 1) < 5 / np.sqrt(m * n / 2)
    assert ratio[1:-1].std() == pytest.approx(1 / np.sqrt(m), rel=0.1)
    # Parseval: variance of the trace = sum(psd) * fs / n
    assert x.var() == pytest.approx(psd.sum() * FS / n, rel=0.02)


def test_correlated_channels_follow_the_csd():
    n, m = 1024, 3000
    psd = noise_psd_model(n, fs_Hz=FS)
    csd = np.zeros((2, 2, n // 2 + 1))
    csd[0, 0], csd[1, 1] = psd, 4 * psd
    csd[0, 1] = csd[1, 0] = 0.8 * 2 * psd  # correlation coefficient 0.8
    y = generate_noise(csd, m, n_samples=n, fs_Hz=FS, rng=3)
    assert y.shape == (m, 2, n)
    spec = np.fft.rfft(y, axis=-1)
    fold = np.where(edge_bin_mask(n), 1.0, 2.0)
    cross = fold * np.mean(spec[:, 0] * np.conj(spec[:, 1]), axis=0) / (n * FS)
    assert np.mean(cross.real / csd[0, 1]) == pytest.approx(1.0, abs=0.01)
    assert np.mean(periodogram_one_sided(y[:, 1], FS) / csd[1, 1]) == pytest.approx(1.0, abs=0.01)


def test_same_seed_same_noise_and_generator_required():
    psd = noise_psd_model(256)
    a = generate_noise(psd, 3, n_samples=256, rng=5)
    b = generate_noise(psd, 3, n_samples=256, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="rng"):
        generate_noise(psd, 3, n_samples=256, rng=None)


def test_template_peak_and_onset():
    t = pulse_template(4096, fs_Hz=FS, pretrigger_samples=1000, rise_s=20e-6, fall_s=600e-6)
    assert t.max() == 1.0
    assert np.all(t[:1001] == 0)
    assert t[1002] > 0
    t_peak_s = 20e-6 * 600e-6 / (580e-6) * np.log(30.0)
    assert abs(t.argmax() - 1000 - t_peak_s * FS) <= 1
    # the continuous shape peaks at exactly 1
    fine = pulse_shape(np.array([t_peak_s]), t0_s=0.0, rise_s=20e-6, fall_s=600e-6)
    assert fine[0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"psd": np.ones(10)}, "frequency bins"),
        ({"psd": np.r_[np.nan, np.ones(128)]}, "NaN"),
        ({"psd": -np.ones(129)}, "negative"),
    ],
)
def test_bad_psd_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_noise(n_traces=1, n_samples=256, rng=0, **kwargs)


def test_simulated_traces_carry_pulses_of_given_amplitude():
    n = 2048
    psd = noise_psd_model(n, white_per_Hz=1e-14, one_over_f_at_1Hz_per_Hz=0, lines=())
    amps = np.array([5.0, 10.0, 20.0])
    tr = simulate_traces(
        amps, n_samples=n, psd=psd, rng=1, pulse_times_s=np.array([0.0, 1e-3, 2e-3])
    )
    assert tr.shape == (3, n)
    np.testing.assert_allclose(tr.max(axis=1), amps, rtol=2e-3)
    onsets = np.argmax(tr > 0.05 * amps[:, None], axis=1)
    np.testing.assert_allclose(onsets, [0, 1e-3 * FS, 2e-3 * FS], atol=2)


def test_stream_is_stationary_and_pulses_are_placed():
    n = 1024
    psd = noise_psd_model(n, fs_Hz=FS)
    stream = np.concatenate(
        list(
            iter_noise_stream(
                psd, n_samples_psd=n, chunk_samples=7000, total_samples=n * 400, fs_Hz=FS, rng=2
            )
        )
    )
    assert stream.shape == (n * 400,)
    segments = stream.reshape(400, n) * np.hanning(n)
    est = periodogram_one_sided(segments, FS) / np.mean(np.hanning(n) ** 2)
    assert np.median(est[4:] / psd[4:]) == pytest.approx(1.0, abs=0.03)

    quiet = noise_psd_model(n, white_per_Hz=1e-14, one_over_f_at_1Hz_per_Hz=0, lines=())
    chunks = list(
        simulate_stream(
            50_000,
            pulse_samples=np.array([9_999.0, 30_000.0]),
            amplitudes=np.array([3.0, 7.0]),
            psd=quiet,
            n_samples_psd=n,
            chunk_samples=8192,
            rng=4,
        )
    )
    assert max(c.size for c in chunks) == 8192
    x = np.concatenate(chunks)
    assert x[9_999:12_000].max() == pytest.approx(3.0, rel=1e-2)
    assert x[30_000:33_000].max() == pytest.approx(7.0, rel=1e-2)
    assert abs(x[:9_999]).max() < 1e-3
