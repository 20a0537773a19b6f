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

Trigger logic: contiguous samples with ``a(t) ≥ threshold_sigma · σ`` form a candidate
at their maximum. The filter's response to one pulse has side lobes wherever the pulse
overlaps an edge of the filter window: for the Ge demo's 4096-sample template (onset at
2048, 500 µs fall) they reach from 2021 samples before to 3012 after the pulse at 1 % of
its height, i.e. a 200 σ pulse makes 2 σ … 40 σ side lobes. So candidates are thinned
as ``scipy.signal.find_peaks`` does with ``distance``: in a chain of candidates each
within ``merge_samples`` of the next, the largest is kept, then every candidate within
``merge_samples`` of a kept one is dropped, and so on in descending height. The default
``merge_samples`` is one trace length (no side lobe reaches farther than the window):
pulses closer than that pile up in one cut trace anyway, and the larger one is kept.
A trace of the template's length is cut so that the pulse onset sits at the template's
pre-trigger position.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft

from .optimal_filter import OptimalFilter

__all__ = ["StreamTrigger", "TriggerBatch", "find_triggers", "raw_stream_chunks"]


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


class StreamTrigger:
    """The offline trigger as a push-style state machine: :meth:`feed` consecutive 1-D
    pieces of one stream (any sizes), then :meth:`flush` at its end; each call returns
    the triggers that became final (or ``None``). :func:`find_triggers` is the
    generator form; pipeline steps that receive a stream chunk by chunk use this.

    Parameters are those of :func:`find_triggers`. Memory: one block of
    ``fft_samples`` samples and its filter output, plus at most one open candidate's
    trace, whatever the stream length.
    """

    def __init__(
        self,
        of: OptimalFilter,
        *,
        threshold_sigma: float = 5.0,
        pretrigger_samples: int,
        merge_samples: int | None = None,
        fft_samples: int | None = None,
    ) -> None:
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
        self.n, self.m, self.pretrigger = n, m, int(pretrigger_samples)
        self.merge = n if merge_samples is None else int(merge_samples)
        if self.merge < 0:
            raise ValueError(f"merge_samples must be ≥ 0, got {merge_samples}")
        self.step = m - n + 1  # valid correlation outputs per block
        # time-domain kernel q (length n) with DFT conj(Ψ); zero-padded to m for correlation
        q = sfft.irfft(np.conj(of._filt_comb[0]).astype(np.complex128), n=n)
        self._q_conj_f = np.conj(sfft.rfft(q, n=m))
        self.threshold = threshold_sigma * of.sigma
        self._buf = np.empty(0)
        self._block_no = 0
        # the open chain of candidates (t, a, trace), each within merge of the next
        self._chain: list[tuple[int, float, np.ndarray]] = []
        self._done = False

    def feed(self, chunk: np.ndarray) -> TriggerBatch | None:
        """Add the next piece of the stream; return the triggers made final by it."""
        c = np.asarray(chunk)
        if c.ndim != 1:
            raise ValueError(f"stream chunks must be 1-D sample arrays; got shape {c.shape}")
        if self._done:
            raise ValueError("the stream was flushed: start a new StreamTrigger")
        # windows of step + (n - 1) samples advancing by step: at most one window plus
        # one input chunk in memory
        self._buf = np.concatenate([self._buf, c.astype(np.float64, copy=False)])
        found: list[tuple] = []
        while self._buf.size >= self.step + self.n - 1:
            self._block(self._buf[: self.step + self.n - 1], found)
            self._buf = self._buf[self.step :]
        return _batch(found)

    def flush(self) -> TriggerBatch | None:
        """End of stream: filter what is left and close the last candidate."""
        found: list[tuple] = []
        if not self._done and self._buf.size >= self.n:
            self._block(self._buf, found)
        self._buf = np.empty(0)
        self._done = True
        self._close_chain(found)
        return _batch(found)

    def _close_chain(self, found: list) -> None:
        """Keep the chain's candidates by descending height, each farther than
        ``merge`` from every one kept before (``scipy.signal.find_peaks`` distance)."""
        kept: list[tuple[int, float, np.ndarray]] = []
        for c in sorted(self._chain, key=lambda c: -c[1]):
            if all(abs(c[0] - k[0]) > self.merge for k in kept):
                kept.append(c)
        found.extend((t + self.pretrigger, a, tr) for t, a, tr in sorted(kept, key=lambda c: c[0]))
        self._chain = []

    def _block(self, seg: np.ndarray, found: list) -> None:
        n, m, merge = self.n, self.m, self.merge
        b0 = self._block_no * self.step
        self._block_no += 1
        a = sfft.irfft(self._q_conj_f * sfft.rfft(seg, n=m), n=m)[: seg.size - n + 1]
        above = a >= self.threshold
        if not above.any() and not self._chain:
            return
        edges = np.flatnonzero(np.diff(np.r_[0, above.astype(np.int8), 0]))
        for s, e in zip(edges[::2], edges[1::2], strict=True):
            t_best = s + int(np.argmax(a[s:e]))
            cand = (b0 + t_best, float(a[t_best]), seg[t_best : t_best + n].copy())
            if self._chain and cand[0] - self._chain[-1][0] > merge:
                self._close_chain(found)
            self._chain.append(cand)
        # the chain is final once no later candidate can be within merge of its last one
        if self._chain and b0 + a.size - self._chain[-1][0] > merge:
            self._close_chain(found)


def _batch(found: list[tuple]) -> TriggerBatch | None:
    if not found:
        return None
    onsets, amps, traces = zip(*found, strict=True)
    return TriggerBatch(np.asarray(onsets, dtype=np.int64), np.asarray(amps), np.stack(traces))


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
        Minimum distance between triggers: of candidates closer than this, the larger
        wins (default: the template length, beyond the filter's side lobes; see the
        module docstring).
    fft_samples
        Block FFT length (power of two ≥ 2× the template length; default 4×).

    Yields
    ------
    TriggerBatch
        Triggers whose trace lies fully inside the stream, in time order. A trigger
        closer than a trace length to the stream's end or start is dropped.
    """
    trig = StreamTrigger(
        of,
        threshold_sigma=threshold_sigma,
        pretrigger_samples=pretrigger_samples,
        merge_samples=merge_samples,
        fft_samples=fft_samples,
    )
    for chunk in stream_chunks:
        batch = trig.feed(chunk)
        if batch is not None:
            yield batch
    batch = trig.flush()
    if batch is not None:
        yield batch
