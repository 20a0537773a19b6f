"""Offline trigger on a continuous stream: optimal-filter the stream in overlapping
chunks, find pulses above a threshold in units of the baseline resolution, cut traces.

The stream filter is the optimal filter's time-domain kernel applied as a running
cross-correlation (the "FIR" offline trigger of SuperCDMS/CDMSlite analyses; Golwala 2000
App. B; QETpy/detprocess ``OptimumFilterTrigger``): with ``q = irfft(conj(Ψ))`` for the
filter ``Ψ`` of :class:`~analysis_lib.pulses.optimal_filter.OptimalFilter`, the filtered
stream ``a(t) = Σ_n q[n] s[t + n]`` is the OF amplitude of a pulse whose onset is at
``t + pretrigger`` (the template's onset). It is computed by overlap-save FFT
convolution (Oppenheim & Schafer, *Discrete-Time Signal Processing* 3rd ed. §8.7.3) in
blocks of ``fft_samples``; only one block of samples and filter output is held at any
time, so memory is bounded by the block size whatever the stream length.

Trigger logic: contiguous samples with ``a(t) ≥ threshold_sigma · σ`` form a candidate;
candidates closer than ``merge_samples`` are merged; the trigger is the candidate's
maximum. A trace of the template's length is cut so that the pulse onset sits at the
template's pre-trigger position.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft

from .optimal_filter import OptimalFilter

__all__ = ["TriggerBatch", "find_triggers", "raw_stream_chunks"]


@dataclass(frozen=True)
class TriggerBatch:
    """Triggers found in one block of the stream.

    Attributes
    ----------
    onset_sample
        Pulse onset (sample index in the stream) of each trigger.
    filter_amplitude
        The filtered stream at the trigger: the OF amplitude (template units).
    traces
        ``(n, n_samples)`` cut traces, onset at ``pretrigger_samples``.
    """

    onset_sample: np.ndarray
    filter_amplitude: np.ndarray
    traces: np.ndarray


def raw_stream_chunks(
    raw, *, channel: int = -1, block_samples: int = 1 << 18
) -> Iterator[np.ndarray]:
    """Consecutive 1-D sample blocks of a raw file's continuous stream (an open
    :class:`analysis_lib.io.raw.RawFile`), one channel or (``-1``) the sum of all channels,
    as float64 — the input :func:`find_triggers` expects. One block in memory at a time."""
    n_ch = len(raw.channels)
    if not -1 <= channel < n_ch:
        raise ValueError(f"{raw.path}: channel {channel} out of range (channels {raw.channels})")
    for _, block in raw.stream_blocks(block_samples):
        yield (
            block.sum(axis=0, dtype=np.float64)
            if channel == -1
            else block[channel].astype(np.float64)
        )


def _rechunk(chunks: Iterable[np.ndarray], step: int, overlap: int) -> Iterator[np.ndarray]:
    """Yield windows of ``step + overlap`` samples advancing by ``step`` (the last may be
    shorter), holding at most one window plus one input chunk in memory."""
    buf = np.empty(0)
    for chunk in chunks:
        c = np.asarray(chunk)
        if c.ndim != 1:
            raise ValueError(f"stream chunks must be 1-D sample arrays; got shape {c.shape}")
        buf = np.concatenate([buf, c.astype(np.float64, copy=False)])
        while buf.size >= step + overlap:
            yield buf[: step + overlap]
            buf = buf[step:]
    if buf.size > overlap:
        yield buf


def find_triggers(
    stream_chunks: Iterable[np.ndarray],
    of: OptimalFilter,
    *,
    threshold_sigma: float = 5.0,
    pretrigger_samples: int,
    merge_samples: int | None = None,
    fft_samples: int | None = None,
) -> Iterator[TriggerBatch]:
    """Find pulses in a continuous single-channel stream; yield them block by block.

    Parameters
    ----------
    stream_chunks
        Iterable of 1-D sample arrays of any sizes, consecutive pieces of one stream
        (e.g. a generator reading a raw file piece by piece).
    of
        A single-channel :class:`OptimalFilter` built from the template and the noise PSD
        of traces of the length to cut.
    threshold_sigma
        Trigger threshold in units of the OF baseline resolution ``of.sigma``.
    pretrigger_samples
        Where the template's onset is (as given to ``pulse_template``).
    merge_samples
        Candidates closer than this merge into one trigger (default: the template length
        / 4, roughly a pulse's fall).
    fft_samples
        Block FFT length (power of two ≥ 2× the template length; default 4×).

    Yields
    ------
    TriggerBatch
        Triggers whose trace lies fully inside the stream, in time order. A trigger
        closer than a trace length to the stream's end or start is dropped.
    """
    if not of.single_channel:
        raise ValueError("find_triggers needs a single-channel OptimalFilter")
    n = of.n_samples
    if not 0 <= pretrigger_samples < n:
        raise ValueError(f"pretrigger_samples={pretrigger_samples} outside the template ({n})")
    if not threshold_sigma > 0:
        raise ValueError(f"threshold_sigma must be > 0, got {threshold_sigma}")
    m = fft_samples or 1 << int(np.ceil(np.log2(4 * n)))
    if m < 2 * n:
        raise ValueError(f"fft_samples={m} must be ≥ twice the template length {n}")
    merge = n // 4 if merge_samples is None else int(merge_samples)
    step = m - n + 1  # valid correlation outputs per block
    # time-domain kernel q (length n) with DFT conj(Ψ); zero-padded to m for correlation
    q = sfft.irfft(np.conj(of._filt_comb[0]).astype(np.complex128), n=n)
    q_conj_f = np.conj(sfft.rfft(q, n=m))
    threshold = threshold_sigma * of.sigma

    # an open candidate (may continue into the next block): [start, best_t, best_a, trace]
    open_cand: list | None = None
    last_end = -(10**18)
    for block_no, seg in enumerate(_rechunk(stream_chunks, step, n - 1)):
        b0 = block_no * step
        if seg.size < n:
            break
        a = sfft.irfft(q_conj_f * sfft.rfft(seg, n=m), n=m)[: seg.size - n + 1]
        above = a >= threshold
        onsets, amps, traces = [], [], []

        def close(cand, onsets=onsets, amps=amps, traces=traces):
            onsets.append(cand[1] + pretrigger_samples)
            amps.append(cand[2])
            traces.append(cand[3])

        if above.any() or open_cand is not None:
            edges = np.flatnonzero(np.diff(np.r_[0, above.astype(np.int8), 0]))
            for s, e in zip(edges[::2], edges[1::2], strict=True):
                t_best = s + int(np.argmax(a[s:e]))
                cand_t, cand_a = b0 + t_best, float(a[t_best])
                cand_trace = seg[t_best : t_best + n].copy()
                if open_cand is not None and b0 + s - last_end <= merge:
                    if cand_a > open_cand[2]:
                        open_cand[1:] = [cand_t, cand_a, cand_trace]
                else:
                    if open_cand is not None:
                        close(open_cand)
                    open_cand = [b0 + s, cand_t, cand_a, cand_trace]
                last_end = b0 + e
            # a candidate is final once the merge gap has passed without a new one
            if open_cand is not None and b0 + a.size - last_end > merge:
                close(open_cand)
                open_cand = None
        if onsets:
            yield TriggerBatch(
                np.asarray(onsets, dtype=np.int64), np.asarray(amps), np.stack(traces)
            )
    if open_cand is not None:
        yield TriggerBatch(
            np.asarray([open_cand[1] + pretrigger_samples], dtype=np.int64),
            np.asarray([open_cand[2]]),
            open_cand[3][None],
        )
