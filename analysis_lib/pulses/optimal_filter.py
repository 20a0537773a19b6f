"""Batched frequency-domain optimal filter (OF): amplitude, delay, χ², baseline resolution.

Derivation (Golwala, PhD thesis, UC Berkeley 2000, App. B "Optimal filtering"; the same
algebra is in QETpy's ``OptimumFilter`` documentation and in Gatti & Manfredi 1986,
Riv. Nuovo Cim. 9, 1). A trace ``v`` is modelled as ``A·s(t − t0) + n`` with stationary
Gaussian noise ``n`` of two-sided PSD ``S2(f)``. In the DFT basis the noise is diagonal,
so the χ² of the model is::

    χ²(A, t0) = Σ_k |V_k − A e^{−2πi f_k t0} S_k|² / (N fs S2_k)            (sum over all k)

Minimising over ``A`` at fixed ``t0`` gives::

    A(t0) = Re Σ_k S_k* V_k e^{+2πi f_k t0} / (N fs S2_k) / norm,
    norm  = Σ_k |S_k|² / (N fs S2_k),           σ_A = 1 / sqrt(norm),
    χ²(t0) = χ0 − A(t0)² · norm,                 χ0 = Σ_k |V_k|² / (N fs S2_k),

and ``A(t0)`` for all integer delays at once is an inverse DFT of the filtered spectrum
(Golwala eq. B.25). Here the sums run over rfft bins with the fold weights ``c_k``
(2 inside, 1 at DC/Nyquist), and the one-sided PSD ``J = c·S2`` is used; ``c_k/S2_k =
c_k²/J_k``. With AC coupling (default, as QETpy's ``coupling='AC'``) the DC bin is
dropped (infinite noise), which is equivalent to fitting a free baseline offset.

Multi-channel (Golwala App. B.4; QETpy ``OFnxm``): with a one-sided CSD matrix ``J_k``
(channels × channels) the χ² is ``Σ_k c_k² (V_k − A S_k)ᴴ J_k⁻¹ (V_k − A S_k)/(N fs)`` with
one shared amplitude (``combined``), and ``S_k`` the vector of channel templates. The
per-channel fit uses each channel's own PSD.

Positive delays mean the pulse arrives *later* than in the template (QETpy's ``t0``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft

from . import _packed
from .noise import fold_weights

__all__ = ["OFResult", "OptimalFilter"]

# traces per in-place FFT block: 8 × 32768 samples (1–2 MB) stay in L2 between the
# passes (copy, rfft, multiply, irfft); measured 5–10 % faster than 32 on a 2-core EPYC
_BLOCK_TRACES = 8


@dataclass(frozen=True)
class OFResult:
    """Optimal-filter fit results, one entry per trace (and channel, for per-channel fits).

    Attributes
    ----------
    amplitude
        Best-fit amplitude in template units (the template's peak is 1: trace units).
    chi2
        χ² of the fit (``n_freq_used`` degrees of freedom × ~1 for a good fit).
    delay_samples
        Best delay in samples (0 for a no-delay fit).
    chi2_lowfreq
        χ² restricted to frequencies ≤ ``lowfreq_cutoff_Hz`` (NaN when not computed).
    fs_Hz
        Sampling frequency, for :attr:`delay_s`.
    """

    amplitude: np.ndarray
    chi2: np.ndarray
    delay_samples: np.ndarray
    chi2_lowfreq: np.ndarray
    fs_Hz: float

    @property
    def delay_s(self) -> np.ndarray:
        """Best delay in seconds."""
        return self.delay_samples / self.fs_Hz

    def as_columns(self, prefix: str = "of") -> dict[str, np.ndarray]:
        """Flat columns ``{prefix}_amplitude`` … for an event table."""
        return {
            f"{prefix}_amplitude": self.amplitude,
            f"{prefix}_chi2": self.chi2,
            f"{prefix}_delay_s": self.delay_s,
            f"{prefix}_chi2_lowfreq": self.chi2_lowfreq,
        }


def _check_spectrum(name: str, a: np.ndarray, n_freq: int, ac: bool) -> None:
    if a.shape[-1] != n_freq:
        raise ValueError(
            f"{name} has {a.shape[-1]} frequency bins but the template's length needs "
            f"{n_freq} (n_samples // 2 + 1): template/PSD length mismatch"
        )
    bad = ~np.isfinite(a)
    if bad.any():
        idx = np.argwhere(bad)[0].tolist()
        raise ValueError(f"{name} contains NaN/inf at index {idx}")


class OptimalFilter:
    """The frequency-domain optimal filter for one template and one noise spectrum.

    Parameters
    ----------
    template
        ``(n_samples,)`` (one channel) or ``(n_channels, n_samples)``; normalised to unit
        peak, so that amplitudes are pulse heights.
    psd
        One-sided noise PSD ``(n_freq,)`` / per-channel ``(n_channels, n_freq)``, or a
        one-sided CSD ``(n_channels, n_channels, n_freq)``, trace²/Hz, as from
        :func:`analysis_lib.pulses.noise.calc_psd` / ``calc_csd`` on noise traces of the
        template's length. Must be finite and positive (except DC under AC coupling).
    fs_Hz
        Sampling frequency.
    coupling
        ``'AC'`` (default) ignores the DC bin (a free baseline); ``'DC'`` keeps it.
    dtype
        ``np.float64`` (default) or ``np.float32`` for the per-trace transforms (one
        core each: parallelism comes from the runner); the filter itself is always
        designed in float64. float32 is ~2× faster and, since each trace's baseline
        offset is removed exactly before the transform, its amplitudes agree with the
        float64 ones to ~1e-7 relative on pulses well above the noise (tested).

    Raises
    ------
    ValueError
        On a template/PSD length mismatch, NaN/inf or non-positive PSD values, an all-zero
        template or a channel-count mismatch — at construction, naming the problem.
    """

    def __init__(
        self,
        template: np.ndarray,
        psd: np.ndarray,
        *,
        fs_Hz: float,
        coupling: str = "AC",
        dtype=np.float64,
    ) -> None:
        tmpl = np.asarray(template, dtype=np.float64)
        if tmpl.ndim not in (1, 2) or tmpl.shape[-1] < 4:
            raise ValueError(
                f"template must be (n_samples,) or (n_channels, n_samples); got {tmpl.shape}"
            )
        if not np.all(np.isfinite(tmpl)) or not np.any(tmpl):
            raise ValueError("template must be finite and not all zero")
        if coupling not in ("AC", "DC"):
            raise ValueError(f"coupling must be 'AC' or 'DC', got {coupling!r}")
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        if not fs_Hz > 0:
            raise ValueError(f"fs_Hz must be > 0, got {fs_Hz}")
        self.single_channel = tmpl.ndim == 1
        tmpl2 = tmpl[None, :] if self.single_channel else tmpl
        n_ch, n = tmpl2.shape
        n_freq = n // 2 + 1
        self.n_samples, self.n_channels, self.fs_Hz = n, n_ch, float(fs_Hz)
        self.dtype = np.dtype(dtype)
        self.ctype = np.result_type(self.dtype, np.complex64)
        self.ac = coupling == "AC"

        spec = np.asarray(psd)
        _check_spectrum("psd", spec, n_freq, self.ac)
        if spec.ndim == 1:
            spec = spec[None, :]
        if spec.ndim == 2:
            if spec.shape[0] != n_ch:
                raise ValueError(f"psd has {spec.shape[0]} channels, template has {n_ch}")
            csd = np.zeros((n_ch, n_ch, n_freq), dtype=np.complex128)
            csd[np.arange(n_ch), np.arange(n_ch)] = spec
        elif spec.ndim == 3 and spec.shape[:2] == (n_ch, n_ch):
            csd = spec.astype(np.complex128)
        else:
            raise ValueError(
                f"psd must be (n_freq,), ({n_ch}, n_freq) or ({n_ch}, {n_ch}, n_freq); "
                f"got {spec.shape}"
            )
        diag = np.real(np.diagonal(csd, axis1=0, axis2=1)).T  # (n_ch, n_freq)
        used = slice(1 if self.ac else 0, None)
        if np.any(diag[:, used] <= 0):
            ch, k = np.argwhere(diag[:, used] <= 0)[0]
            raise ValueError(
                f"psd must be > 0 at every used frequency: channel {ch}, bin {k + used.start} "
                f"({(k + used.start) * fs_Hz / n:g} Hz) is {diag[ch, k + used.start]}"
            )

        c = fold_weights(n)
        # inverse-noise weights c_k²/(N fs J_k) (module docstring), as matrices per bin
        s_f = sfft.rfft(tmpl2, axis=-1)  # (n_ch, n_freq)
        csd_f = np.moveaxis(csd, -1, 0)  # (n_freq, n_ch, n_ch)
        inv = np.zeros_like(csd_f)
        inv[used] = np.linalg.inv(csd_f[used])
        inv *= (c**2 / (n * fs_Hz))[:, None, None]
        # per channel (diagonal only)
        inv_diag = np.zeros((n_ch, n_freq))
        inv_diag[:, used] = c[used] ** 2 / (n * fs_Hz * diag[:, used])
        self._inv_diag = inv_diag
        self._inv = inv
        self._s_f = s_f
        self._fold = c

        # Σ over all DFT bins of f_k/(N fs S2_k) = Σ_rfft f_k · c_k²/(N fs J_k): the fold
        # weight is inside the inverse-noise weights, so norms and χ² are plain rfft sums.
        norm_ch = np.sum(np.abs(s_f) ** 2 * inv_diag, axis=-1)
        if np.any(norm_ch <= 0):
            raise ValueError("template has no power at the frequencies the PSD allows")
        self.norm_per_channel = norm_ch
        # A(m) = Σ_rfft Re(conj(S) W V e^{2πikm/N}) / norm = irfft(Y)[m] with
        # Y = N conj(S) W V / (c norm), since irfft(Y)[m] = (1/N) Σ_rfft c_k Re(Y_k e^{…}).
        phi_ch = np.conj(s_f) * inv_diag
        self._filt_ch = (phi_ch * (n / (c * norm_ch[:, None]))).astype(self.ctype)

        # combined filter (shared amplitude): Φ_k,i = Σ_j conj(S_k,j) W_k,ji
        phi_comb = np.einsum("jf,fji->if", np.conj(s_f), inv)
        norm_comb = float(np.real(np.sum(phi_comb * s_f)))
        self.norm = norm_comb
        self._filt_comb = (phi_comb * (n / (c * norm_comb))).astype(self.ctype)
        self.freqs_Hz = np.fft.rfftfreq(n, d=1.0 / fs_Hz)
        # the same filters for the in-place packed kernel (module _packed): interior bins
        # as contiguous complex (n_ch, m), DC and Nyquist as reals; and the no-delay
        # amplitude A(0) = (1/N) Σ c_k Re(V_k F_k) as one real weight vector per channel
        # on the packed spectrum: [c_0 F_0, 2 Re F_k, −2 Im F_k, …, c F_{N/2}] / N
        self._packed_filters = {
            key: (
                np.ascontiguousarray(f[:, 1 : _packed.n_interior(n) + 1]),
                f[:, 0].real.copy(),
                f[:, -1].real.copy(),
                _packed.packed_from_complex(np.conj(f) * c, n, self.dtype) / n,
            )
            for key, f in (("ch", self._filt_ch), ("comb", self._filt_comb))
        }
        # χ0 weights c_k²/(N fs J_k) in packed layout (each interior weight twice)
        self._inv_diag_packed = _packed.packed_from_complex(inv_diag * (1 + 1j), n, self.dtype)

    # ------------------------------------------------------------------ resolution
    @property
    def sigma(self) -> float:
        """Expected baseline resolution σ_A = 1/sqrt(Σ |S|²/(N fs S2)) (combined fit)."""
        return float(1.0 / np.sqrt(self.norm))

    @property
    def sigma_per_channel(self) -> np.ndarray:
        """Expected baseline resolution of each channel's own fit."""
        return 1.0 / np.sqrt(self.norm_per_channel)

    # ------------------------------------------------------------------ fitting
    def _check_traces(self, traces: np.ndarray) -> np.ndarray:
        x = np.asarray(traces)
        want = (self.n_samples,) if self.single_channel else (self.n_channels, self.n_samples)
        if x.ndim == len(want):
            x = x[None]
        if x.shape[1:] != want:
            raise ValueError(
                f"traces have shape {x.shape}, expected (n_traces, "
                f"{', '.join(map(str, want))}): template/trace length mismatch"
            )
        if not self.single_channel:
            return x
        return x[:, None, :]

    def fit(
        self,
        traces: np.ndarray,
        *,
        window_samples: tuple[int, int] | None = (0, 0),
        per_channel: bool = False,
        lowfreq_cutoff_Hz: float | None = None,
        interpolate: bool = False,
        positive_only: bool = False,
    ) -> OFResult:
        """Fit amplitude (and delay) of every trace.

        Parameters
        ----------
        traces
            ``(n_traces, n_samples)`` or ``(n_traces, n_channels, n_samples)``.
        window_samples
            Inclusive ``(earliest, latest)`` delay in samples relative to the template;
            ``(0, 0)`` (default) is the no-delay fit, ``None`` allows every delay
            ``[-N//2, N - N//2 - 1]``.
        per_channel
            Fit each channel on its own (results ``(n_traces, n_channels)``) instead of
            one shared amplitude (``(n_traces,)``).
        lowfreq_cutoff_Hz
            Also compute the χ² over frequencies ≤ this cutoff (QETpy's ``chi2_lowfreq``).
        interpolate
            Refine the delay by a parabola through the χ² minimum and its neighbours
            (QETpy ``interpolate_t0``).
        positive_only
            Only accept positive amplitudes in the delay search.
        """
        x = self._check_traces(traces)
        n = self.n_samples
        if window_samples is None:
            lo, hi = -(n // 2), n - n // 2 - 1
        else:
            lo, hi = (int(v) for v in window_samples)
            if hi < lo or hi - lo + 1 > n:
                raise ValueError(
                    f"window_samples={window_samples}: need earliest ≤ latest and "
                    f"at most {n} delays"
                )
        shifts = np.arange(lo - (1 if interpolate else 0), hi + 1 + (1 if interpolate else 0))
        idx = np.mod(shifts, n)
        no_delay = lo == hi
        out_shape = (x.shape[0], self.n_channels) if per_channel else (x.shape[0],)
        amp = np.empty(out_shape)
        chi2 = np.empty(out_shape)
        delay = np.empty(out_shape)
        chi2_lf = np.full(out_shape, np.nan)
        if lowfreq_cutoff_Hz is not None:
            k_lf = int(np.searchsorted(self.freqs_Hz, lowfreq_cutoff_Hz, side="right"))
        norm = self.norm_per_channel if per_channel else self.norm
        f_int, f_dc, f_nyq, g0 = self._packed_filters["ch" if per_channel else "comb"]
        even = n % 2 == 0
        offset = self.dtype == np.float32
        buf = np.empty((min(_BLOCK_TRACES, x.shape[0]), *x.shape[1:]), self.dtype)
        scratch = np.empty_like(buf)
        for start in range(0, x.shape[0], _BLOCK_TRACES):
            block = x[start : start + _BLOCK_TRACES]
            v = buf[: len(block)]
            np.copyto(v, block, casting="unsafe")
            shift = offset and self._remove_baseline(block, v)
            v = _packed.rfft_inplace(v)  # (b, n_ch, n) packed spectra
            if shift is not False and not self.ac:
                v[..., 0] += (shift[..., 0] * n).astype(self.dtype)
            chi0 = self._chi0(v, per_channel, scratch)
            if lowfreq_cutoff_Hz is not None:
                v_low = _packed.packed_to_complex(v, k_lf)
            if no_delay and not interpolate:
                # A(0) = (1/N) Σ_rfft c_k Re(V_k F_k): a dot product, no inverse FFT
                a_ch = np.einsum("bcn,cn->bc", v, g0)
                a_win = (a_ch if per_channel else a_ch.sum(axis=1))[..., None]
            else:
                # Y = V F in place on the packed spectra, then one in-place inverse FFT
                vi = _packed.interior(v)
                vi *= f_int
                v[..., 0] *= f_dc
                if even:
                    v[..., -1] *= f_nyq
                if not per_channel:
                    v = v[:, 0] if self.n_channels == 1 else v.sum(axis=1)  # (b, n)
                a_win = _packed.irfft_inplace(v)[..., idx]
            # χ²(t0) = χ0 − A(t0)² norm: minimise χ² ⇔ maximise A² (or A, if positive only)
            score = a_win if positive_only else np.abs(a_win)
            core = slice(1, -1) if interpolate else slice(None)
            best = np.argmax(score[..., core], axis=-1) + (1 if interpolate else 0)
            a_best = np.take_along_axis(a_win, best[..., None], axis=-1)[..., 0].astype(np.float64)
            d_best = shifts[best].astype(np.float64)
            if interpolate:
                chi_win = (
                    chi0[..., None] - a_win.astype(np.float64) ** 2 * np.asarray(norm)[..., None]
                )
                d_off, a_best, chi_best = _parabola(chi_win, a_win.astype(np.float64), best)
                d_best = d_best + d_off
            else:
                chi_best = chi0 - a_best**2 * norm
            sl = slice(start, start + block.shape[0])
            amp[sl], chi2[sl], delay[sl] = a_best, chi_best, d_best
            if lowfreq_cutoff_Hz is not None:
                chi2_lf[sl] = self._chi2_lowfreq(v_low, a_best, d_best, k_lf, per_channel)
        return OFResult(amp, chi2, delay, chi2_lf, self.fs_Hz)

    def _remove_baseline(self, block: np.ndarray, v: np.ndarray) -> np.ndarray | bool:
        """float32 path: subtract each trace's baseline from ``v`` (a copy of ``block``)
        when it is large against the noise, lest its rounding spread over all bins.

        The offset (mean of every 64th sample; rounded for integer ADC counts, so exact)
        only moves the DC bin, which AC coupling ignores and the caller restores
        otherwise. Returns the offsets, or ``False`` if none was needed (|mean| ≤ 4 ×
        the sampled standard deviation: then rounding is at the float32 level of the
        noise itself, and the pass is saved).
        """
        sample = block[..., ::64].astype(np.float64)
        o = sample.mean(axis=-1, keepdims=True)
        if np.all(np.abs(o) <= 4 * sample.std(axis=-1, keepdims=True)):
            return False
        if np.issubdtype(block.dtype, np.integer):
            o = np.round(o)
        v -= o.astype(self.dtype)
        return o

    def _chi0(self, v: np.ndarray, per_channel: bool, scratch: np.ndarray) -> np.ndarray:
        """χ0 = Σ_rfft Vᴴ W V per trace (and channel), from packed spectra ``v``."""
        if per_channel or self.n_channels == 1:
            # |V|² weighted: square the packed reals into scratch, one BLAS dot per channel
            sq = np.multiply(v, v, out=scratch[: len(v)])
            chi0 = np.empty(v.shape[:2])
            for ch in range(v.shape[1]):
                chi0[:, ch] = sq[:, ch] @ self._inv_diag_packed[ch]
            return chi0 if per_channel else chi0[:, 0]
        z = _packed.packed_to_complex(v).astype(np.complex128)
        return np.einsum("bif,fij,bjf->b", np.conj(z), self._inv, z).real

    def _chi2_lowfreq(self, v_f, amp, delay, k_lf, per_channel):
        """χ² over bins with f ≤ cutoff for the fitted amplitude and delay (QETpy
        ``chi2_lowfreq``: Σ_{|f|≤fc} |V − A e^{−2πift0} S|²/(N fs S2))."""
        v = v_f[..., :k_lf].astype(np.complex128)  # (b, n_ch, k)
        phase = np.exp(
            -2j * np.pi * np.arange(k_lf) * (np.asarray(delay)[..., None] / self.n_samples)
        )
        s = self._s_f[:, :k_lf]
        if per_channel:
            r = v - amp[..., None] * phase * s[None]
            return np.sum(np.abs(r) ** 2 * self._inv_diag[:, :k_lf], axis=-1)
        r = v - (amp[:, None] * phase)[:, None, :] * s[None]
        return np.einsum("bif,fij,bjf->b", np.conj(r), self._inv[:k_lf], r).real


def _parabola(chi: np.ndarray, amp: np.ndarray, best: np.ndarray):
    """Vertex of the parabola through χ² at best-1, best, best+1 (unit spacing), and the
    amplitude parabola evaluated there (QETpy ``_interpolate_parabola``)."""
    take = lambda a, o: np.take_along_axis(a, (best + o)[..., None], axis=-1)[..., 0]  # noqa: E731
    cm, c0, cp = take(chi, -1), take(chi, 0), take(chi, 1)
    am, a0, ap = take(amp, -1), take(amp, 0), take(amp, 1)
    a2 = 0.5 * (cp - 2 * c0 + cm)
    b1 = 0.5 * (cp - cm)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(a2 != 0, -b1 / (2 * a2), 0.0)
    chi_t = a2 * t**2 + b1 * t + c0
    amp_t = 0.5 * (ap - 2 * a0 + am) * t**2 + 0.5 * (ap - am) * t + a0
    return t, amp_t, chi_t
