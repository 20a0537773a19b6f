"""Offline triggering of continuous-stream runs as pipeline steps.

``stream_samples`` reads a run's continuous stream (the ``stream`` dataset of its RareHub
raw files) block by block; ``triggers`` runs the optimal-filter offline trigger
(:class:`analysis_lib.pulses.trigger.StreamTrigger`) over it, with the filter built from
the template options and the run's ``noise_psd`` (its companion noise run), and refits
each cut trace with the full OF. One row per trigger, stored like every step result:
lineage-keyed Parquet with the lineage JSON beside it, so a changed threshold or template
gives a new key and an unchanged lineage reuses the stored triggers.

Memory is bounded by one stream block (``block_samples``) plus the filter's FFT block and
one open candidate's trace, whatever the stream length; the trigger table itself grows
by a few numbers per trigger.

Run it with ``rarehub process --run N --target triggers`` (continuous runs default to
this target).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..pulses.optimal_filter import OptimalFilter
from ..pulses.simulate import pulse_template
from ..pulses.trigger import StreamTrigger, TriggerBatch, raw_stream_chunks
from .core import Option, PipelineError, RunInput, Step

__all__ = ["StreamChunk", "StreamSamples", "Triggers"]

TRIGGER_COLUMNS = {
    "file": object,
    "onset_sample": np.int64,
    "time_ns": np.int64,
    "filter_amplitude": np.float64,
    "of_amplitude": np.float64,
    "of_delay_s": np.float64,
    "of_chi2": np.float64,
    "of_sigma": np.float64,
}


@dataclass(frozen=True)
class StreamChunk:
    """Consecutive samples of one file's continuous stream: ``samples`` (1-D float64,
    one channel or the sum of all), the index of the first one in the file's stream,
    the sampling rate, the file and its stream start time (ns since the epoch, or 0)."""

    samples: np.ndarray
    first_sample: int
    fs_Hz: float
    file: str
    start_ns: int

    def __len__(self) -> int:
        return len(self.samples)


class StreamSamples(Step):
    """The continuous stream of the run's raw files, block by block."""

    provides = "stream_samples"
    __version__ = "0.1.0"
    is_source = True
    channel = Option(-1, help="channel index in the raw files; -1 = sum of all channels")
    block_samples = Option(
        1 << 18,
        help="samples read per chunk (memory ≈ block × (2 B × channels + 8 B)); "
        "does not change results, so it is not part of the lineage",
        track=False,
    )

    def source_lineage(self, run: RunInput) -> dict:
        return {
            "run_id": run.run_id,
            "role": "stream",
            "files": [Path(f).name for f in run.files],
            "sha256": list(run.checksums),
        }

    def iter_chunks(self, run: RunInput) -> Iterator[StreamChunk]:
        from ..io.raw import RawFile

        if self.block_samples < 1:
            raise PipelineError(f"option 'block_samples' must be ≥ 1, got {self.block_samples}")
        found = False
        for path in run.files:
            with RawFile(path) as raw:
                if raw.stream_samples == 0:
                    continue
                if not -1 <= self.channel < len(raw.channels):
                    raise PipelineError(
                        f"{path}: channel {self.channel} out of range; the file has "
                        f"channels {raw.channels}"
                    )
                found = True
                start_ns = int(raw.attrs.get("start_ns", 0))
                first = 0
                for samples in raw_stream_chunks(
                    raw, channel=self.channel, block_samples=self.block_samples
                ):
                    yield StreamChunk(samples, first, raw.sample_rate_Hz, str(path), start_ns)
                    first += len(samples)
        if not found:
            raise PipelineError(
                f"run {run.run_id}: none of its raw files {[Path(f).name for f in run.files]} "
                f"holds a continuous stream: nothing to trigger on"
            )


class Triggers(Step):
    """Offline OF trigger over a continuous stream: one row per pulse found."""

    provides = "triggers"
    depends_on = ("stream_samples", "noise_psd")
    __version__ = "0.1.0"
    per_run = True
    threshold_sigma = Option(5.0, help="trigger threshold in units of the OF resolution σ")
    rise_us = Option(20.0, help="template rise time (µs)")
    fall_us = Option(500.0, help="template fall time (µs)")
    pretrigger_fraction = Option(
        0.5, help="template onset as a fraction of the trace length (cut traces alike)"
    )
    merge_us = Option(
        0.0, help="minimum distance between triggers (µs; the larger wins); 0 = a trace length"
    )
    refit_window_us = Option(20.0, help="± delay window of the OF refit of each cut trace (µs)")

    def start(self) -> None:
        if not self.threshold_sigma > 0:
            raise PipelineError(f"option 'threshold_sigma' must be > 0, got {self.threshold_sigma}")
        self._rows: dict[str, list] = {k: [] for k in TRIGGER_COLUMNS}
        self._trig: StreamTrigger | None = None
        self._chunk: StreamChunk | None = None
        self._next_sample = 0
        self._of_key = None

    def _filter(self, fs: float, psd: pd.DataFrame) -> OptimalFilter:
        # keyed by the PSD's content, not id(psd): an id is reused once its frame is freed
        values = psd["psd_ADC2_per_Hz"].to_numpy()
        cached = self._of_key
        if cached is None or cached[0] != fs or not np.array_equal(cached[1], values):
            key = (fs, values.copy())
            f = psd["freq_Hz"].to_numpy()
            n = round(fs / (f[1] - f[0])) if len(f) > 1 else 0
            if len(f) < 3 or n // 2 + 1 != len(f) or not np.isclose(f[-1], (n // 2) * fs / n):
                raise PipelineError(
                    f"noise PSD with {len(f)} bins up to {f[-1] if len(f) else 0:g} Hz does "
                    f"not fit a stream sampled at {fs:g} Hz: noise and stream runs differ"
                )
            tmpl = pulse_template(
                n,
                fs_Hz=fs,
                pretrigger_samples=int(self.pretrigger_fraction * n),
                rise_s=self.rise_us * 1e-6,
                fall_s=self.fall_us * 1e-6,
            )
            self._of = OptimalFilter(tmpl, values, fs_Hz=fs)
            self._of_key = key
        return self._of

    def accumulate(self, stream_samples: StreamChunk, noise_psd: pd.DataFrame) -> None:
        chunk = stream_samples
        if self._chunk is None or chunk.file != self._chunk.file:
            self._close_file()  # each file's stream is triggered on its own
            of = self._filter(chunk.fs_Hz, noise_psd)
            n = of.n_samples
            self._trig = StreamTrigger(
                of,
                threshold_sigma=self.threshold_sigma,
                pretrigger_samples=int(self.pretrigger_fraction * n),
                merge_samples=round(self.merge_us * 1e-6 * chunk.fs_Hz) or None,
            )
            self._next_sample = 0
        if chunk.first_sample != self._next_sample:
            raise PipelineError(
                f"{chunk.file}: stream chunk starts at sample {chunk.first_sample}, "
                f"expected {self._next_sample} (chunks must be consecutive)"
            )
        self._next_sample += len(chunk)
        self._chunk = chunk
        self._collect(self._trig.feed(chunk.samples))

    def _close_file(self) -> None:
        if self._trig is not None:
            self._collect(self._trig.flush())
            self._trig = None

    def _collect(self, batch: TriggerBatch | None) -> None:
        if batch is None:
            return
        of, c = self._of, self._chunk
        w = round(self.refit_window_us * 1e-6 * c.fs_Hz)
        fit = of.fit(batch.traces, window_samples=(-w, w))
        k = len(batch.onset_sample)
        rows = self._rows
        rows["file"] += [Path(c.file).name] * k
        rows["onset_sample"] += batch.onset_sample.tolist()
        # integer ns: a float64 of ~1.8e18 ns would round to 256 ns
        offset_ns = np.round(batch.onset_sample * (1e9 / c.fs_Hz)).astype(np.int64)
        rows["time_ns"] += (c.start_ns + offset_ns).tolist()
        rows["filter_amplitude"] += batch.filter_amplitude.tolist()
        rows["of_amplitude"] += fit.amplitude.tolist()
        rows["of_delay_s"] += fit.delay_s.tolist()
        rows["of_chi2"] += fit.chi2.tolist()
        rows["of_sigma"] += [of.sigma] * k

    def finish(self) -> pd.DataFrame:
        self._close_file()
        return pd.DataFrame(
            {k: np.asarray(v, dtype=TRIGGER_COLUMNS[k]) for k, v in self._rows.items()}
        )
