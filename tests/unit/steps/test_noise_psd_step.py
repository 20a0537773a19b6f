"""The noise_psd step stores the textbook averaged periodogram of the noise run."""

from __future__ import annotations

import numpy as np

from analysis_lib.io.raw import RawFile
from analysis_lib.pulses.noise import fold_weights
from analysis_lib.steps import DEFAULT_STEPS, Pipeline


def test_stored_noise_psd_is_the_averaged_periodogram_of_the_noise_run(
    tmp_path, signal_run, raw_runs
):
    pipe = Pipeline(DEFAULT_STEPS, {"noise_events": {"batch_events": 64}}, storage=tmp_path)
    pipe.make(signal_run, "noise_psd")
    got = pipe.load("noise_psd", signal_run)
    with RawFile(raw_runs["noise"]) as raw:
        x = raw.events()[:, 0, :].astype(np.float64)  # one channel: the "sum" is itself
        fs = raw.sample_rate_Hz
    n = x.shape[1]
    # independent float64 reference: mean-subtracted DFT, c_k |X_k|² / (N fs), averaged
    spec = np.fft.rfft(x - x.mean(axis=1, keepdims=True), axis=1)
    ref = fold_weights(n) * np.mean(np.abs(spec) ** 2, axis=0) / (n * fs)
    assert got["n_traces"].iloc[0] == len(x)  # pulse-free run: nothing rejected
    np.testing.assert_allclose(got["freq_Hz"], np.fft.rfftfreq(n, 1 / fs))
    np.testing.assert_allclose(got["psd_ADC2_per_Hz"][1:], ref[1:], rtol=1e-5)
    assert got["psd_ADC2_per_Hz"][0] < 1e-6 * ref[1:].mean()  # DC removed per trace
