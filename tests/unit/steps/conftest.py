"""Small raw files (real RareHub HDF5 written by analysis_lib.io.raw) for step tests."""

from __future__ import annotations

import numpy as np
import pytest

from analysis_lib.catalog.store import sha256_file
from analysis_lib.io.raw import RawWriter
from analysis_lib.pulses.simulate import noise_psd_model, simulate_traces
from analysis_lib.steps import RunInput

FS = 625e3
N = 1024


def write_run(path, amplitudes, *, seed, baseline=2000):
    psd = noise_psd_model(N, fs_Hz=FS, white_per_Hz=4e-4, one_over_f_at_1Hz_per_Hz=2e-2)
    tr = simulate_traces(
        np.asarray(amplitudes, float),
        n_samples=N,
        psd=psd,
        rng=seed,
        fall_s=300e-6,
        baseline=baseline,
    )
    adc = np.clip(np.rint(tr), -32768, 32767).astype(np.int16)[:, None, :]
    with RawWriter(path, sample_rate_Hz=FS, channels=["A"], n_samples=N) as w:
        w.append_events(adc, time_ns=np.arange(len(adc)) * 10**8)
    return path


@pytest.fixture(scope="session")
def raw_runs(tmp_path_factory):
    """A noise run and a signal run with pulses of known heights (ADC)."""
    d = tmp_path_factory.mktemp("raw")
    noise = write_run(d / "run0001.h5", np.zeros(300), seed=1)
    amps = np.random.default_rng(5).uniform(50, 400, 700)
    signal = write_run(d / "run0002.h5", amps, seed=2)
    return {"noise": noise, "signal": signal, "amplitudes": amps}


@pytest.fixture
def signal_run(raw_runs):
    n, s = raw_runs["noise"], raw_runs["signal"]
    return RunInput(
        "run0002",
        (str(s),),
        (sha256_file(s),),
        companions={"noise": ((str(n),), (sha256_file(n),))},
    )
