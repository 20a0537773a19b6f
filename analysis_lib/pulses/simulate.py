"""Realistic synthetic TES/phonon pulses and detector noise, deterministic by seed.

Conventions used across :mod:`analysis_lib.pulses`
--------------------------------------------------
* Traces are sampled at ``fs_Hz`` (625 kHz is typical of SuperCDMS-style DAQs) and have
  ``n_samples`` samples; frequencies are those of :func:`numpy.fft.rfftfreq`.
* A noise PSD is **one-sided** ("folded") in units of trace²/Hz (V²/Hz or ADC²/Hz):
  the variance of the trace is ``sum(psd) * fs / n`` (Parseval), i.e. the interior bins
  hold twice the two-sided density and the DC and Nyquist bins hold it once. This is the
  ``scaling='density'`` convention of :func:`scipy.signal.periodogram` and the folded PSD
  of QETpy's ``calc_psd(..., folded_over=True)``.
* For the unnormalised DFT ``X_k = sum_n x_n exp(-2πi kn/N)`` of stationary noise
  with one-sided PSD ``J``: ``E|X_k|² = N fs J_k / 2`` in interior bins and
  ``N fs J_k`` at DC and Nyquist (Welch 1967; Press et al., *Numerical Recipes* 3rd ed.
  §13.4). :func:`generate_noise` draws Fourier coefficients with exactly these
  variances, so the PSD estimated from its output converges to the input PSD.

All random functions take ``rng`` (a :class:`numpy.random.Generator` or an integer seed)
and never touch NumPy's global random state.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

__all__ = [
    "DEFAULT_FS_HZ",
    "edge_bin_mask",
    "generate_noise",
    "iter_noise_stream",
    "noise_psd_model",
    "pulse_shape",
    "pulse_template",
    "simulate_stream",
    "simulate_traces",
]

DEFAULT_FS_HZ = 625e3


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        raise ValueError(
            "pass rng= (a numpy Generator or an integer seed): results must be reproducible"
        )
    return np.random.default_rng(rng)


def edge_bin_mask(n_samples: int) -> np.ndarray:
    """True for the rfft bins that are their own mirror image: DC and (even ``n``) Nyquist."""
    mask = np.zeros(n_samples // 2 + 1, dtype=bool)
    mask[0] = True
    if n_samples % 2 == 0:
        mask[-1] = True
    return mask


def pulse_shape(
    t_s: np.ndarray, *, t0_s: float, rise_s: float = 20e-6, fall_s: float = 500e-6
) -> np.ndarray:
    """Two-exponential pulse ``exp(-(t-t0)/fall) - exp(-(t-t0)/rise)`` for t ≥ t0, peak 1.

    The shape is the small-signal response of a TES with an electrothermal fall time and a
    phonon-collection rise time (Irwin & Hilton 2005, "Transition-Edge Sensors", eq. 53).
    It is normalised so that its continuous-time maximum, reached at
    ``t0 + rise·fall/(fall-rise)·ln(fall/rise)``, equals 1.
    """
    if not 0 < rise_s < fall_s:
        raise ValueError(f"need 0 < rise_s < fall_s, got rise_s={rise_s}, fall_s={fall_s}")
    dt = np.asarray(t_s, dtype=np.float64) - t0_s
    t_peak = rise_s * fall_s / (fall_s - rise_s) * np.log(fall_s / rise_s)
    peak = np.exp(-t_peak / fall_s) - np.exp(-t_peak / rise_s)
    pos = np.clip(dt, 0.0, None)
    out = (np.exp(-pos / fall_s) - np.exp(-pos / rise_s)) / peak
    return np.where(dt >= 0, out, 0.0)


def pulse_template(
    n_samples: int,
    *,
    fs_Hz: float = DEFAULT_FS_HZ,
    pretrigger_samples: int | None = None,
    rise_s: float = 20e-6,
    fall_s: float = 500e-6,
) -> np.ndarray:
    """A sampled pulse template, onset at ``pretrigger_samples`` (default: ``n_samples // 2``).

    Normalised to a sampled peak of exactly 1 (the optimal-filter amplitude is then the
    pulse height). Rise of tens of µs and fall of 0.3–1 ms are typical of W-TES phonon
    sensors at 625 kHz.
    """
    if n_samples < 8:
        raise ValueError(f"n_samples must be ≥ 8, got {n_samples}")
    if pretrigger_samples is None:
        pretrigger_samples = n_samples // 2
    if not 0 <= pretrigger_samples < n_samples:
        raise ValueError(
            f"pretrigger_samples={pretrigger_samples} outside the trace of {n_samples} samples"
        )
    t_s = np.arange(n_samples) / fs_Hz
    tmpl = pulse_shape(t_s, t0_s=pretrigger_samples / fs_Hz, rise_s=rise_s, fall_s=fall_s)
    return tmpl / tmpl.max()


def noise_psd_model(
    n_samples: int,
    *,
    fs_Hz: float = DEFAULT_FS_HZ,
    white_per_Hz: float = 1e-2,
    one_over_f_at_1Hz_per_Hz: float = 1.0,
    one_over_f_exponent: float = 1.0,
    lines: Sequence[tuple[float, float]] = ((60.0, 5.0), (180.0, 2.0), (10e3, 0.5)),
) -> np.ndarray:
    """One-sided noise PSD (trace²/Hz) on the rfft grid: white + 1/f^α + narrow lines.

    Parameters
    ----------
    white_per_Hz
        The white floor (e.g. TES Johnson and SQUID noise).
    one_over_f_at_1Hz_per_Hz, one_over_f_exponent
        The 1/f^α component's value at 1 Hz and its exponent α.
    lines
        ``(frequency_Hz, power)`` pairs: each puts ``power`` (trace², the line's variance
        contribution) into the rfft bin nearest to ``frequency_Hz`` (mains pickup and its
        harmonics, pulse-tube and electronics lines).

    The DC bin, where 1/f diverges, gets the value of the first non-zero bin, so that the
    PSD is finite and strictly positive everywhere.
    """
    freqs = np.fft.rfftfreq(n_samples, d=1.0 / fs_Hz)
    psd = np.full(freqs.shape, float(white_per_Hz))
    f = freqs.copy()
    f[0] = freqs[1]
    psd += one_over_f_at_1Hz_per_Hz / f**one_over_f_exponent
    df = fs_Hz / n_samples
    for f_line, power in lines:
        k = round(f_line / df)
        if 0 < k < len(psd):
            psd[k] += power / df
    return psd


def _as_csd(psd_or_csd: np.ndarray, n_samples: int) -> np.ndarray:
    """A (n_channels, n_channels, n_freq) one-sided CSD from a PSD (n_freq,) / (n_ch, n_freq)."""
    a = np.asarray(psd_or_csd, dtype=np.float64 if np.isrealobj(psd_or_csd) else np.complex128)
    n_freq = n_samples // 2 + 1
    if a.shape[-1] != n_freq:
        raise ValueError(
            f"PSD/CSD has {a.shape[-1]} frequency bins; a trace of {n_samples} samples needs "
            f"{n_freq} (n_samples // 2 + 1)"
        )
    if not np.all(np.isfinite(a)):
        raise ValueError("PSD/CSD contains NaN or infinite values")
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim == 2:
        if np.any(a < 0):
            raise ValueError("PSD has negative values")
        csd = np.zeros((a.shape[0], a.shape[0], n_freq), dtype=np.complex128)
        idx = np.arange(a.shape[0])
        csd[idx, idx, :] = a
        return csd
    if a.ndim == 3 and a.shape[0] == a.shape[1]:
        return a.astype(np.complex128)
    raise ValueError(
        f"expected a PSD (n_freq,), (n_channels, n_freq) or a CSD "
        f"(n_channels, n_channels, n_freq); got shape {a.shape}"
    )


def _noise_spectrum_factors(csd: np.ndarray, n_samples: int, fs_Hz: float) -> np.ndarray:
    """Per-frequency matrices L with L Lᴴ = E[X Xᴴ] for the rfft coefficients X."""
    n_ch = csd.shape[0]
    # E[X Xᴴ] = N fs J / 2 (interior), N fs J (DC, Nyquist): see the module docstring.
    scale = np.where(edge_bin_mask(n_samples), 1.0, 0.5) * n_samples * fs_Hz
    cov = np.moveaxis(csd, -1, 0) * scale[:, None, None]  # (n_freq, n_ch, n_ch)
    # Hermitian PSD matrices may be only semi-definite (e.g. a fully common-mode noise):
    # factorise through the eigen-decomposition instead of Cholesky.
    w, v = np.linalg.eigh(cov)
    factors = v * np.sqrt(np.clip(w, 0.0, None))[:, None, :]
    # DC and Nyquist coefficients of a real signal are real: factorise the (real) covariance
    # there with real eigenvectors, so that no variance is lost in an imaginary part.
    edge = edge_bin_mask(n_samples)
    w_e, v_e = np.linalg.eigh(cov[edge].real)
    factors[edge] = v_e * np.sqrt(np.clip(w_e, 0.0, None))[:, None, :]
    del n_ch
    return factors


def generate_noise(
    psd: np.ndarray,
    n_traces: int,
    *,
    n_samples: int,
    fs_Hz: float = DEFAULT_FS_HZ,
    rng: np.random.Generator | int | None,
    dtype: type = np.float64,
) -> np.ndarray:
    """Gaussian noise traces whose one-sided PSD (or CSD) is ``psd``.

    Parameters
    ----------
    psd
        One-sided PSD ``(n_freq,)``, per-channel PSDs ``(n_channels, n_freq)`` (uncorrelated
        channels) or a one-sided CSD ``(n_channels, n_channels, n_freq)`` (Hermitian at each
        frequency), trace²/Hz, ``n_freq = n_samples // 2 + 1``.
    n_traces
        Number of independent traces.
    rng
        Generator or seed (required: results are reproducible).

    Returns
    -------
    ndarray
        ``(n_traces, n_samples)`` for a 1-D PSD, else ``(n_traces, n_channels, n_samples)``.

    Notes
    -----
    Each rfft coefficient is drawn as a circular complex Gaussian with the covariance that
    the PSD implies (module docstring); DC and Nyquist coefficients are real. The traces
    are periodic in ``n_samples`` (as every frequency-domain noise model is).
    """
    gen = _rng(rng)
    if n_traces < 0:
        raise ValueError(f"n_traces must be ≥ 0, got {n_traces}")
    one_d = np.ndim(psd) == 1
    csd = _as_csd(psd, n_samples)
    n_ch, n_freq = csd.shape[0], csd.shape[-1]
    factors = _noise_spectrum_factors(csd, n_samples, fs_Hz)  # (n_freq, n_ch, n_ch)
    edge = edge_bin_mask(n_samples)
    re = gen.standard_normal((n_traces, n_freq, n_ch))
    im = gen.standard_normal((n_traces, n_freq, n_ch))
    # unit circular complex normal in the interior (E|z|² = 1), real unit normal at the edges
    z = np.where(edge[None, :, None], re + 0j, (re + 1j * im) / np.sqrt(2.0))
    x_f = np.einsum("fij,tfj->tif", factors, z)
    traces = np.fft.irfft(x_f, n=n_samples, axis=-1).astype(dtype, copy=False)
    return traces[:, 0, :] if one_d else traces


def simulate_traces(
    amplitudes: np.ndarray,
    *,
    n_samples: int,
    psd: np.ndarray,
    fs_Hz: float = DEFAULT_FS_HZ,
    pulse_times_s: np.ndarray | float | None = None,
    rise_s: float | Sequence[float] = 20e-6,
    fall_s: float | Sequence[float] = 500e-6,
    channel_weights: Sequence[float] | None = None,
    baseline: float | Sequence[float] = 0.0,
    rng: np.random.Generator | int | None,
    dtype: type = np.float64,
) -> np.ndarray:
    """Triggered multi-channel traces: pulses of given amplitudes and times on noise.

    Parameters
    ----------
    amplitudes
        Pulse heights, one per trace ``(n_traces,)`` (shared by all channels, scaled by
        ``channel_weights``) or per trace and channel ``(n_traces, n_channels)``.
    psd
        One-sided noise PSD/CSD as for :func:`generate_noise`; its channel count sets the
        number of channels (a 1-D PSD gives single-channel output ``(n_traces, n_samples)``).
    pulse_times_s
        Pulse onset per trace (s from the trace start); default the trace middle
        ``n_samples // 2 / fs_Hz`` (where :func:`pulse_template` puts its onset).
        Non-integer sample times are exact: pulses are evaluated analytically.
    rise_s, fall_s
        Time constants, scalars or one per channel.
    channel_weights
        Share of the pulse seen by each channel (default 1 for all).
    baseline
        Constant offset added per channel (e.g. a DC bias level).

    Returns
    -------
    ndarray
        ``(n_traces, n_samples)`` for a 1-D PSD, else ``(n_traces, n_channels, n_samples)``.
    """
    gen = _rng(rng)
    one_d = np.ndim(psd) == 1
    noise = generate_noise(
        psd, len(np.atleast_1d(amplitudes)), n_samples=n_samples, fs_Hz=fs_Hz, rng=gen
    )
    if one_d:
        noise = noise[:, None, :]
    n_traces, n_ch, _ = noise.shape
    amps = np.asarray(amplitudes, dtype=np.float64)
    if amps.ndim == 1:
        w = np.ones(n_ch) if channel_weights is None else np.asarray(channel_weights, float)
        if w.shape != (n_ch,):
            raise ValueError(f"channel_weights needs {n_ch} values, got {w.shape}")
        amps = amps[:, None] * w[None, :]
    if amps.shape != (n_traces, n_ch):
        raise ValueError(f"amplitudes must be (n_traces,) or (n_traces, {n_ch}); got {amps.shape}")
    if pulse_times_s is None:
        pulse_times_s = (n_samples // 2) / fs_Hz
    t0 = np.broadcast_to(np.asarray(pulse_times_s, dtype=np.float64), (n_traces,))
    rise = np.broadcast_to(np.asarray(rise_s, dtype=np.float64), (n_ch,))
    fall = np.broadcast_to(np.asarray(fall_s, dtype=np.float64), (n_ch,))
    t_s = np.arange(n_samples) / fs_Hz
    for c in range(n_ch):
        shapes = pulse_shape(t_s[None, :] - t0[:, None], t0_s=0.0, rise_s=rise[c], fall_s=fall[c])
        noise[:, c, :] += amps[:, c, None] * shapes
    noise += np.broadcast_to(np.asarray(baseline, dtype=np.float64), (n_ch,))[None, :, None]
    out = noise.astype(dtype, copy=False)
    return out[:, 0, :] if one_d else out


def iter_noise_stream(
    psd: np.ndarray,
    *,
    n_samples_psd: int,
    chunk_samples: int,
    total_samples: int,
    fs_Hz: float = DEFAULT_FS_HZ,
    rng: np.random.Generator | int | None,
) -> Iterator[np.ndarray]:
    """Stationary noise of any length, in chunks, with memory bounded by the chunk size.

    White Gaussian noise is coloured by the zero-phase FIR filter whose frequency response
    is ``sqrt(J·fs/2)`` (one-sided PSD ``J`` on the grid of ``n_samples_psd`` samples;
    a white sequence of unit variance has one-sided PSD ``2/fs``), applied by overlap-save
    (Oppenheim & Schafer, *Discrete-Time Signal Processing* 3rd ed. §8.7.3). Unlike
    :func:`generate_noise` there is no periodicity at ``n_samples_psd``: the stream is
    continuous across chunk boundaries. Yields float64 arrays of ``chunk_samples``
    (the last one possibly shorter); single channel.
    """
    gen = _rng(rng)
    psd = np.asarray(psd, dtype=np.float64)
    if psd.ndim != 1 or psd.shape[0] != n_samples_psd // 2 + 1:
        raise ValueError(
            f"psd must be 1-D with n_samples_psd // 2 + 1 = "
            f"{n_samples_psd // 2 + 1} bins, got shape {psd.shape}"
        )
    if not np.all(np.isfinite(psd)) or np.any(psd < 0):
        raise ValueError("psd must be finite and ≥ 0")
    if chunk_samples <= 0 or total_samples < 0:
        raise ValueError("chunk_samples must be > 0 and total_samples ≥ 0")
    h_f = np.sqrt(psd * fs_Hz / 2.0)
    h = np.fft.fftshift(np.fft.irfft(h_f, n=n_samples_psd))  # zero-phase, centred
    n_taps = len(h)
    n_fft = 1 << int(np.ceil(np.log2(n_taps + chunk_samples)))
    step = n_fft - n_taps + 1
    h_fft = np.fft.rfft(h, n=n_fft)
    history = gen.standard_normal(n_taps - 1)
    done = 0
    pending = np.empty(0)
    while done < total_samples:
        while pending.size < min(chunk_samples, total_samples - done):
            fresh = gen.standard_normal(step)
            block = np.concatenate([history, fresh])
            y = np.fft.irfft(np.fft.rfft(block, n=n_fft) * h_fft, n=n_fft)[
                n_taps - 1 : n_taps - 1 + step
            ]
            history = block[-(n_taps - 1) :] if n_taps > 1 else np.empty(0)
            pending = np.concatenate([pending, y])
        n = min(chunk_samples, total_samples - done)
        yield pending[:n]
        pending = pending[n:]
        done += n


def simulate_stream(
    total_samples: int,
    *,
    pulse_samples: np.ndarray,
    amplitudes: np.ndarray,
    psd: np.ndarray,
    n_samples_psd: int,
    fs_Hz: float = DEFAULT_FS_HZ,
    rise_s: float = 20e-6,
    fall_s: float = 500e-6,
    chunk_samples: int = 1 << 18,
    rng: np.random.Generator | int | None,
) -> Iterator[np.ndarray]:
    """A continuous single-channel stream with pulses at ``pulse_samples`` (onset, may be
    fractional), yielded in chunks of ``chunk_samples`` — for offline-trigger tests.

    Pulses are summed analytically per chunk (each pulse affects ≈ 20 fall times after
    its onset), so memory stays bounded by the chunk size however long the stream is.
    """
    onsets = np.asarray(pulse_samples, dtype=np.float64)
    amps = np.asarray(amplitudes, dtype=np.float64)
    if onsets.shape != amps.shape or onsets.ndim != 1:
        raise ValueError("pulse_samples and amplitudes must be 1-D and of equal length")
    order = np.argsort(onsets)
    onsets, amps = onsets[order], amps[order]
    reach = int(np.ceil(20 * fall_s * fs_Hz))
    start = 0
    for chunk in iter_noise_stream(
        psd,
        n_samples_psd=n_samples_psd,
        chunk_samples=chunk_samples,
        total_samples=total_samples,
        fs_Hz=fs_Hz,
        rng=rng,
    ):
        stop = start + chunk.size
        lo = np.searchsorted(onsets, start - reach)
        hi = np.searchsorted(onsets, stop)
        if hi > lo:
            idx = np.arange(start, stop, dtype=np.float64)
            for t0, a in zip(onsets[lo:hi], amps[lo:hi], strict=True):
                first = max(int(np.floor(t0)), start)
                last = min(int(np.ceil(t0)) + reach, stop)
                if last > first:
                    sl = slice(first - start, last - start)
                    chunk[sl] += a * pulse_shape(
                        idx[sl] / fs_Hz, t0_s=t0 / fs_Hz, rise_s=rise_s, fall_s=fall_s
                    )
        yield chunk
        start = stop
