"""The standard pulse-processing steps: raw events → noise PSD → OF amplitudes, features.

Sources read RareHub raw HDF5 files (:class:`analysis_lib.io.raw.RawFile`) event batch by
event batch; the noise PSD is a per-run step over the run's companion noise run (or the
run itself when it is a noise run); OF and feature steps give one row per event.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..pulses.features import compute_features
from ..pulses.noise import calc_psd
from ..pulses.optimal_filter import OptimalFilter
from ..pulses.simulate import pulse_template
from .core import Option, PipelineError, RunInput, Step
from .trigger_steps import StreamSamples, Triggers

__all__ = ["Features", "NoiseEvents", "NoisePSD", "OFAmplitudes", "RawChunk", "RawEvents"]


@dataclass(frozen=True)
class RawChunk:
    """A batch of events: ``traces`` (n, n_samples) float32 ADC of one channel or the sum,
    the per-event ``events`` table (``event``, ``time_ns`` …), sampling rate, source file."""

    traces: np.ndarray
    events: dict[str, np.ndarray]
    fs_Hz: float
    file: str

    def __len__(self) -> int:
        return len(self.traces)


class RawEvents(Step):
    """Triggered events of one channel (or the sum of all) from the run's raw files."""

    provides = "raw_events"
    __version__ = "0.1.0"
    is_source = True
    channel = Option(-1, help="channel index in the raw files; -1 = sum of all channels")
    batch_events = Option(256, help="events per chunk (memory ≈ batch × samples × 8 B)")
    role = ""  # which file list of the run: "" = its own files

    def _files(self, run: RunInput) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if self.role and self.role in run.companions:
            return run.companions[self.role]
        return run.files, run.checksums

    def source_lineage(self, run: RunInput) -> dict:
        files, sums = self._files(run)
        return {
            "run_id": run.run_id,
            "role": self.role or "run",
            "files": [Path(f).name for f in files],
            "sha256": list(sums),
        }

    def iter_chunks(self, run: RunInput) -> Iterator[RawChunk]:
        from ..io.raw import RawFile

        if self.batch_events < 1:
            raise PipelineError(f"option 'batch_events' must be ≥ 1, got {self.batch_events}")
        files, _ = self._files(run)
        for path in files:
            with RawFile(path) as raw:
                if not -1 <= self.channel < len(raw.channels):
                    raise PipelineError(
                        f"{path}: channel {self.channel} out of range; the "
                        f"file has channels {raw.channels}"
                    )
                if raw.n_events == 0:
                    continue
                ev = raw.event_table()
                table = {c: ev[c].to_numpy() for c in ("event", "time_ns")}
                for first, traces in raw.iter_events(self.batch_events):
                    yield RawChunk(
                        # float32 once here (exact for ADC integers), shared by all steps
                        traces=(
                            traces.sum(axis=1, dtype=np.float32)
                            if self.channel == -1
                            else traces[:, self.channel, :].astype(np.float32)
                        ),
                        events={k: v[first : first + len(traces)] for k, v in table.items()},
                        fs_Hz=raw.sample_rate_Hz,
                        file=str(path),
                    )


class NoiseEvents(RawEvents):
    """Events of the run's companion noise run (role ``"noise"``), else of the run."""

    provides = "noise_events"
    __version__ = "0.1.0"
    role = "noise"


class NoisePSD(Step):
    """One-sided noise PSD (ADC²/Hz) of pulse-free noise traces, averaged over the run."""

    provides = "noise_psd"
    depends_on = ("noise_events",)
    __version__ = "0.1.0"
    per_run = True
    max_traces = Option(2000, help="use at most this many noise traces")
    reject_ptp_factor = Option(
        3.0,
        help="drop traces whose peak-to-peak exceeds this × the chunk's median "
        "peak-to-peak (pulses, glitches)",
    )

    def start(self) -> None:
        self._sum = None
        self._count = 0
        self._n = 0
        self._fs = 0.0

    def accumulate(self, noise_events: RawChunk) -> None:
        if self._count >= self.max_traces:
            return
        x = noise_events.traces[: self.max_traces - self._count]
        ptp = np.ptp(x, axis=1).astype(np.float64)
        keep = ptp <= self.reject_ptp_factor * np.median(ptp)
        x = x[keep]
        if not len(x):
            return
        # the library's PSD kernel (float32 for ADC traces), weighted by trace count
        _, psd = calc_psd(x, fs_Hz=noise_events.fs_Hz, detrend="constant")
        self._sum = psd * len(x) if self._sum is None else self._sum + psd * len(x)
        self._count += len(x)
        self._n = x.shape[1]
        self._fs = noise_events.fs_Hz

    def finish(self) -> pd.DataFrame:
        if not self._count:
            raise PipelineError("no pulse-free noise traces to estimate the noise PSD from")
        psd = self._sum / self._count
        return pd.DataFrame(
            {
                "freq_Hz": np.fft.rfftfreq(self._n, d=1.0 / self._fs),
                "psd_ADC2_per_Hz": psd,
                "n_traces": np.full(psd.size, self._count),
            }
        )


class OFAmplitudes(Step):
    """Optimal-filter amplitude, delay, χ² and low-frequency χ² of every event."""

    provides = "of_amplitudes"
    depends_on = ("raw_events", "noise_psd")
    __version__ = "0.1.0"
    rise_us = Option(20.0, help="template rise time (µs)")
    fall_us = Option(500.0, help="template fall time (µs)")
    pretrigger_fraction = Option(0.5, help="template onset as a fraction of the trace length")
    window_us = Option(100.0, help="± delay window of the OF fit (µs)")
    lowfreq_cutoff_Hz = Option(10e3, help="cutoff of the low-frequency χ² (Hz)")
    single_precision = Option(True, help="compute the FFTs in float32 (≈2× faster)")

    def _filter(self, n: int, fs: float, psd: pd.DataFrame) -> OptimalFilter:
        # keyed by the PSD's content, not id(psd): an id is reused once its frame is freed
        # (the next run's noise PSD), which would reuse a filter of another noise run
        values = psd["psd_ADC2_per_Hz"].to_numpy()
        cached = getattr(self, "_cache_key", None)
        if cached is None or cached[:2] != (n, fs) or not np.array_equal(cached[2], values):
            key = (n, fs, values.copy())
            if len(psd) != n // 2 + 1:
                raise PipelineError(
                    f"noise PSD has {len(psd)} bins but traces have {n} samples"
                    f" (need {n // 2 + 1}): noise and signal runs differ"
                )
            tmpl = pulse_template(
                n,
                fs_Hz=fs,
                pretrigger_samples=int(self.pretrigger_fraction * n),
                rise_s=self.rise_us * 1e-6,
                fall_s=self.fall_us * 1e-6,
            )
            self._of = OptimalFilter(
                tmpl,
                values,
                fs_Hz=fs,
                dtype=np.float32 if self.single_precision else np.float64,
            )
            self._cache_key = key
        return self._of

    def compute(self, raw_events: RawChunk, noise_psd: pd.DataFrame) -> dict[str, np.ndarray]:
        of = self._filter(raw_events.traces.shape[1], raw_events.fs_Hz, noise_psd)
        w = round(self.window_us * 1e-6 * raw_events.fs_Hz)
        res = of.fit(
            raw_events.traces, window_samples=(-w, w), lowfreq_cutoff_Hz=self.lowfreq_cutoff_Hz
        )
        return {
            "event": raw_events.events["event"],
            **res.as_columns("of"),
            "of_sigma": np.full(len(raw_events), of.sigma),
        }


class Features(Step):
    """Baseline, peak, integral, rise and fall time of every event."""

    provides = "features"
    depends_on = ("raw_events",)
    __version__ = "0.1.0"
    pretrigger_fraction = Option(0.5, help="pulse onset as a fraction of the trace length")

    def compute(self, raw_events: RawChunk) -> dict[str, np.ndarray]:
        n = raw_events.traces.shape[1]
        feats = compute_features(
            raw_events.traces,
            fs_Hz=raw_events.fs_Hz,
            pretrigger_samples=int(self.pretrigger_fraction * n),
        )
        return {
            "event": raw_events.events["event"],
            "time_ns": raw_events.events["time_ns"],
            **feats,
        }


DEFAULT_STEPS = (
    RawEvents,
    NoiseEvents,
    NoisePSD,
    OFAmplitudes,
    Features,
    StreamSamples,
    Triggers,
)
