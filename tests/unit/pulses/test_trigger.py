"""The offline trigger finds injected pulses in a long stream with bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from analysis_lib.pulses.optimal_filter import OptimalFilter
from analysis_lib.pulses.simulate import noise_psd_model, pulse_template, simulate_stream
from analysis_lib.pulses.trigger import find_triggers

FS = 625e3
N, PRE, FALL = 4096, 1024, 300e-6


@pytest.fixture(scope="module")
def of():
    psd = noise_psd_model(N, fs_Hz=FS)
    return OptimalFilter(
        pulse_template(N, fs_Hz=FS, pretrigger_samples=PRE, fall_s=FALL), psd, fs_Hz=FS
    ), psd


def stream_of(total, onsets, amps, psd, *, rng, chunk, fall=FALL):
    """Chunks of a simulated stream with pulses of the given onsets and heights."""
    return simulate_stream(
        total,
        pulse_samples=onsets,
        amplitudes=amps,
        psd=psd,
        n_samples_psd=N,
        fall_s=fall,
        rng=rng,
        chunk_samples=chunk,
    )


def test_injected_pulses_are_found_with_their_times_and_amplitudes(of):
    flt, psd = of
    rng = np.random.default_rng(0)
    total = 4 * 625_000  # 4 s
    onsets = np.sort(rng.choice(np.arange(10_000, total - 10_000, 6_000), 150, replace=False))
    onsets = onsets + rng.uniform(0, 1, onsets.size)
    amps = rng.uniform(10, 60, onsets.size) * flt.sigma
    chunks = stream_of(total, onsets, amps, psd, rng=1, chunk=77_777)
    batches = list(find_triggers(chunks, flt, threshold_sigma=6.0, pretrigger_samples=PRE))
    found = np.concatenate([b.onset_sample for b in batches])
    amp = np.concatenate([b.filter_amplitude for b in batches])
    traces = np.concatenate([b.traces for b in batches])
    assert np.all(np.diff(found) > 0)
    assert found.size == onsets.size  # every pulse once, no noise triggers at 6 σ
    dt = found - onsets
    assert np.median(np.abs(dt)) < 2
    assert np.all(np.abs(dt[amps > 30 * flt.sigma]) < 4)
    pull = (amp - amps) / flt.sigma
    assert abs(pull.mean()) < 0.5
    assert 0.7 < pull.std() < 1.5  # the running filter is the OF: σ-sized scatter
    # cut traces have the pulse at the template's onset: refit them with the full OF
    refit = flt.fit(traces, window_samples=(-5, 5))
    assert np.all(np.abs(refit.delay_samples) <= 5)
    np.testing.assert_allclose(refit.amplitude, amps, atol=6 * flt.sigma)


def test_memory_is_bounded_by_the_block_not_the_stream(of):
    flt, _ = of
    rng = np.random.default_rng(3)
    sigma_white = 50.0
    total, chunk = 6_000_000, 65_536  # 48 MB of float64 samples

    def stream():
        for start in range(0, total, chunk):
            x = rng.normal(scale=sigma_white, size=min(chunk, total - start))
            if start == 3_000_000 - 3_000_000 % chunk:
                x[1000 : 1000 + N] += 1e4 * pulse_template(
                    N, fs_Hz=FS, pretrigger_samples=0, fall_s=FALL
                )
            yield x

    tracemalloc.start()
    try:
        batches = list(find_triggers(stream(), flt, threshold_sigma=10.0, pretrigger_samples=PRE))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    found = np.concatenate([b.onset_sample for b in batches])
    assert abs(found[0] - (3_000_000 - 3_000_000 % chunk + 1000)) <= 2
    assert found.size == 1
    assert peak < 8e6, f"peak traced memory {peak / 1e6:.1f} MB for a 48 MB stream"


def test_bad_arguments_are_refused(of):
    flt, psd = of
    with pytest.raises(ValueError, match="pretrigger"):
        next(find_triggers([np.zeros(10 * N)], flt, pretrigger_samples=N))
    with pytest.raises(ValueError, match="fft_samples"):
        next(find_triggers([np.zeros(10 * N)], flt, pretrigger_samples=PRE, fft_samples=N))
    with pytest.raises(ValueError, match="1-D"):
        next(find_triggers([np.zeros((2, 10 * N))], flt, pretrigger_samples=PRE))
    two = OptimalFilter(np.stack([pulse_template(N)] * 2), np.stack([psd] * 2), fs_Hz=FS)
    with pytest.raises(ValueError, match="single-channel"):
        next(find_triggers([np.zeros(10 * N)], two, pretrigger_samples=PRE))


def test_triggers_on_a_raw_file_stream(of, tmp_path):
    from analysis_lib.io.raw import RawFile, RawWriter
    from analysis_lib.pulses.trigger import raw_stream_chunks

    flt, psd = of
    onsets = np.array([20_000.0, 150_000.0, 400_000.0])
    amps = np.array([40.0, 80.0, 25.0]) * flt.sigma
    path = tmp_path / "stream.h5"
    with RawWriter(path, sample_rate_Hz=FS, channels=["A", "B"], stream_chunk=1 << 15) as w:
        for block in stream_of(500_000, onsets, amps, psd, rng=5, chunk=65_536):
            adc = np.rint(block + 1000).astype(np.int16)
            w.append_stream(np.stack([adc, np.zeros_like(adc)]))  # pulses in channel A only
    with RawFile(path) as raw:
        chunks = raw_stream_chunks(raw, channel=-1, block_samples=50_000)
        batches = list(find_triggers(chunks, flt, threshold_sigma=8.0, pretrigger_samples=PRE))
    found = np.concatenate([b.onset_sample for b in batches])
    np.testing.assert_allclose(found, onsets, atol=3)
    amp = np.concatenate([b.filter_amplitude for b in batches])
    np.testing.assert_allclose(amp, amps, atol=5 * flt.sigma)


def test_filter_side_lobes_of_a_huge_pulse_make_no_triggers():
    # Ge-demo-like noise (strong 1/f) and template (onset mid-trace, 500 µs fall): the
    # running filter's response where a pulse meets the window edges reaches 14 % of the
    # pulse (≈ 40 σ for 300 σ), yet only the pulses themselves may trigger
    pre, fall = N // 2, 500e-6
    psd = noise_psd_model(N, fs_Hz=FS, white_per_Hz=4e-4, one_over_f_at_1Hz_per_Hz=2e-2)
    flt = OptimalFilter(
        pulse_template(N, fs_Hz=FS, pretrigger_samples=pre, fall_s=fall), psd, fs_Hz=FS
    )
    onsets = np.array([40_000.0, 40_000.0 + 1.5 * N, 100_000.0])
    amps = np.array([300.0, 40.0, 300.0]) * flt.sigma
    chunks = list(stream_of(160_000, onsets, amps, psd, rng=7, chunk=30_000, fall=fall))

    def onsets_found(**kw):
        batches = find_triggers(chunks, flt, threshold_sigma=6, pretrigger_samples=pre, **kw)
        return np.concatenate([b.onset_sample for b in batches])

    np.testing.assert_allclose(onsets_found(), onsets, atol=2)
    # the side lobes are really there: without thinning they trigger
    assert onsets_found(merge_samples=64).size > onsets.size


def test_pulses_closer_than_merge_keep_the_larger_and_chunking_does_not_matter(of):
    from analysis_lib.pulses.trigger import StreamTrigger

    flt, psd = of
    onsets = np.array([30_000.0, 30_000.0 + N // 2, 60_000.0])
    amps = np.array([50.0, 80.0, 30.0]) * flt.sigma
    stream = np.concatenate(list(stream_of(90_000, onsets, amps, psd, rng=8, chunk=90_000)))
    results = []
    for size in (1_000, 17_321, 90_000):
        trig = StreamTrigger(flt, threshold_sigma=6, pretrigger_samples=PRE)
        batches = [trig.feed(stream[i : i + size]) for i in range(0, stream.size, size)]
        batches.append(trig.flush())
        results.append(np.concatenate([b.onset_sample for b in batches if b is not None]))
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    np.testing.assert_allclose(results[0], onsets[1:], atol=2)  # the 50 σ one piles up
