"""The standard pulse-processing steps: raw events → noise PSD → OF amplitudes, features.

Sources read RareHub raw HDF5 files (:class:`analysis_lib.io.raw.RawFile`) event batch by
event batch, or SuperCDMS MIDAS files (``.mid``/``.mid.gz``, recognised by their content;
``rarehub ingest`` registers them in the catalog): there the run's own events are its
physics triggers, each as its full-rate on-pulse window, and the noise events are the
random triggers cut into pulse-free windows of that length (the convention of
:mod:`analysis_lib.io.scdms`, :func:`~analysis_lib.io.scdms.on_pulse_window` and
:func:`~analysis_lib.io.scdms.noise_windows`). A MIDAS run's chunks carry the pulse onset
measured on its physics triggers (:class:`~analysis_lib.io.scdms.PulseOnsetMeter`): the
OF template and the features' pre-trigger region start there unless the caller passes
``pretrigger_fraction`` (RareHub HDF5 files: half the trace, as before). The noise PSD
is a per-run step over the run's companion noise run (or the run itself when it is a noise
run); OF and feature steps give one row per event.
"""

from __future__ import annotations

import warnings
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
    the per-event ``events`` table (``event``, ``time_ns`` …), sampling rate, source file.

    ``pulse_onset_samples``: where the pulses rise in the traces (samples from their start)
    when the source file tells (a MIDAS run's measured onset), else None;
    ``pulse_onset_missing``: why a source that should tell could not (empty otherwise).
    """

    traces: np.ndarray
    events: dict[str, np.ndarray]
    fs_Hz: float
    file: str
    pulse_onset_samples: float | None = None
    pulse_onset_missing: str = ""

    def __len__(self) -> int:
        return len(self.traces)


MIDAS_WINDOWING = (
    "scdms-full-rate/1: run events = physics triggers' on-pulse windows [pre, pre+on);"
    " noise events = random triggers cut into consecutive windows of the ODB's phonon"
    " on-pulse length; channel -1 = sum of the phonon channels"
)
AUTO_PRETRIGGER = -1.0
PRETRIGGER_HELP = (
    "onset as a fraction of the trace length, in [0, 1); -1 (default) = the onset the raw"
    " data give: a SuperCDMS MIDAS run's onset measured on its physics triggers"
    " (io.scdms.PulseOnsetMeter), else 0.5"
)


def _check_pretrigger(step: Step) -> None:
    f = step.pretrigger_fraction
    if f != AUTO_PRETRIGGER and not 0.0 <= f < 1.0:
        raise PipelineError(
            f"step {step.provides!r}: option 'pretrigger_fraction' = {f!r} is not a fraction"
            f" of the trace in [0, 1); pass e.g. 0.158 (onset at sample 161 of 1024), or"
            f" {AUTO_PRETRIGGER} for the onset the raw data give"
        )


def pretrigger_samples(step: Step, chunk: RawChunk) -> int:
    """The pulse onset (samples) ``step`` uses on ``chunk``: its explicit
    ``pretrigger_fraction`` × the trace length; by default the onset the chunk's source
    measured (a MIDAS run), else half the trace — with a warning naming what to pass when
    a MIDAS source could not measure it."""
    n = chunk.traces.shape[1]
    if step.pretrigger_fraction != AUTO_PRETRIGGER:
        return int(step.pretrigger_fraction * n)
    if chunk.pulse_onset_samples is not None:
        onset = round(chunk.pulse_onset_samples)
        if not 0 <= onset < n:
            raise PipelineError(
                f"{chunk.file}: the measured pulse onset {chunk.pulse_onset_samples} lies"
                f" outside the {n}-sample traces; pass {step.provides}.pretrigger_fraction"
            )
        return onset
    if chunk.pulse_onset_missing and not getattr(step, "_warned_onset", False):
        step._warned_onset = True
        warnings.warn(
            f"{chunk.pulse_onset_missing}; step {step.provides!r} places the onset at half"
            f" the {n}-sample trace — pass {step.provides}.pretrigger_fraction=<onset sample"
            f" / {n}> (tutorial 08's file: 0.158)",
            stacklevel=2,
        )
    return int(0.5 * n)


class RawEvents(Step):
    """Triggered events of one channel (or the sum of all) from the run's raw files.

    SuperCDMS MIDAS files: the physics triggers, each as its full-rate on-pulse window
    (the noise role: the random triggers, cut into windows of that length); channel
    indices count the phonon channels, -1 is their sum.
    """

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
        from ..io.midas import is_midas_file

        files, sums = self._files(run)
        lin = {
            "run_id": run.run_id,
            "role": self.role or "run",
            "files": [Path(f).name for f in files],
            "sha256": list(sums),
        }
        if any(is_midas_file(f) for f in files):  # RareHub HDF5 lineages stay as they were
            from ..io.scdms import PulseOnsetMeter

            lin["format"] = "midas"
            lin["windowing"] = MIDAS_WINDOWING
            if self.role != "noise":
                lin["pulse_onset"] = PulseOnsetMeter.METHOD
        return lin

    def iter_chunks(self, run: RunInput) -> Iterator[RawChunk]:
        from ..io.raw import RawFile

        if self.batch_events < 1:
            raise PipelineError(f"option 'batch_events' must be ≥ 1, got {self.batch_events}")
        from ..io.midas import is_midas_file

        files, _ = self._files(run)
        for path in files:
            if is_midas_file(path):
                yield from self._midas_chunks(path)
                continue
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

    def _midas_chunks(self, path: str) -> Iterator[RawChunk]:
        """Chunks of a SuperCDMS MIDAS file (the convention in the module docstring),
        streamed: one MIDAS event plus one batch of windows in memory."""
        from ..io.scdms import noise_windows, on_pulse_window, open_scdms, phonon_channels

        f = open_scdms(path)
        meta = f.metadata()
        fs = meta.get("sample_rate_hz")
        if not (isinstance(fs, int | float) and fs > 0):
            raise PipelineError(
                f"{path}: the ODB gives no phonon sampling rate (Phonon sampling rate (Hz)"
                f" = {fs!r}); it is needed for the PSD and the optimal filter"
            )
        noise = self.role == "noise"
        onset, missing = None, ""
        if not noise:  # one pass over the physics triggers first: where the pulses rise
            measured = f.pulse_onset()
            if measured is None:
                missing = (
                    f"{path}: no phonon pulse onset could be measured on its physics triggers"
                    " (none, or no clear pulse: io.scdms.PulseOnsetMeter)"
                )
            else:
                onset = measured.on_pulse_sample
        n_win = 0
        if noise:
            ons = {
                d.get("phonon_on_pulse_samples") for d in (meta.get("detectors") or {}).values()
            } - {None}
            if len(ons) != 1 or not isinstance(next(iter(ons)), int) or next(iter(ons)) < 2:
                raise PipelineError(
                    f"{path}: the ODB's phonon on-pulse lengths {sorted(ons, key=str)} are not"
                    " one length ≥ 2 samples: the noise windows' length is undefined"
                )
            n_win = next(iter(ons))
        traces: list[np.ndarray] = []
        table: dict[str, list] = {"event": [], "time_ns": [], "serial_number": [], "window": []}

        def flush() -> RawChunk:
            chunk = RawChunk(
                traces=np.stack(traces),
                events={k: np.asarray(v, dtype=np.int64) for k, v in table.items()},
                fs_Hz=float(fs),
                file=str(path),
                pulse_onset_samples=onset,
                pulse_onset_missing=missing,
            )
            traces.clear()
            for v in table.values():
                v.clear()
            return chunk

        for ev in f.events(trigger_type="random" if noise else "physics"):
            idx = phonon_channels(ev)
            if not -1 <= self.channel < len(idx):
                raise PipelineError(
                    f"{path}: event serial {ev.serial_number}: channel {self.channel} out of"
                    f" range; the phonon channels are {[ev.channels[i] for i in idx]}"
                )
            chans = idx if self.channel == -1 else [idx[self.channel]]
            pieces = noise_windows(ev, n_win, chans) if noise else on_pulse_window(ev, chans)[None]
            # float32 (exact for sums of ≤ 256 uint16 channels), as for the HDF5 files
            x = pieces.sum(axis=1, dtype=np.float32)
            time_ns = int(ev.time.timestamp()) * 1_000_000_000
            for w, row in enumerate(x):
                traces.append(row)
                table["event"].append(ev.event_number)
                table["time_ns"].append(time_ns)
                table["serial_number"].append(ev.serial_number)
                table["window"].append(w)
                if len(traces) == self.batch_events:
                    yield flush()
        if traces:
            yield flush()


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
    pretrigger_fraction = Option(AUTO_PRETRIGGER, help="template " + PRETRIGGER_HELP)
    window_us = Option(100.0, help="± delay window of the OF fit (µs)")
    lowfreq_cutoff_Hz = Option(10e3, help="cutoff of the low-frequency χ² (Hz)")
    single_precision = Option(True, help="compute the FFTs in float32 (≈2× faster)")

    def __init__(self, **config) -> None:
        super().__init__(**config)
        _check_pretrigger(self)

    def _filter(
        self, n: int, fs: float, psd: pd.DataFrame, onset_samples: int | None = None
    ) -> OptimalFilter:
        # keyed by the PSD's content, not id(psd): an id is reused once its frame is freed
        # (the next run's noise PSD), which would reuse a filter of another noise run
        if onset_samples is None:
            onset_samples = (
                int(0.5 * n)
                if self.pretrigger_fraction == AUTO_PRETRIGGER
                else (int(self.pretrigger_fraction * n))
            )
        values = psd["psd_ADC2_per_Hz"].to_numpy()
        cached = getattr(self, "_cache_key", None)
        if (
            cached is None
            or cached[:3] != (n, fs, onset_samples)
            or not np.array_equal(cached[3], values)
        ):
            key = (n, fs, onset_samples, values.copy())
            if len(psd) != n // 2 + 1:
                raise PipelineError(
                    f"noise PSD has {len(psd)} bins but traces have {n} samples"
                    f" (need {n // 2 + 1}): noise and signal runs differ"
                )
            tmpl = pulse_template(
                n,
                fs_Hz=fs,
                pretrigger_samples=onset_samples,
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
        onset = pretrigger_samples(self, raw_events)
        of = self._filter(raw_events.traces.shape[1], raw_events.fs_Hz, noise_psd, onset)
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
    pretrigger_fraction = Option(AUTO_PRETRIGGER, help="pulse " + PRETRIGGER_HELP)

    def __init__(self, **config) -> None:
        super().__init__(**config)
        _check_pretrigger(self)

    def compute(self, raw_events: RawChunk) -> dict[str, np.ndarray]:
        feats = compute_features(
            raw_events.traces,
            fs_Hz=raw_events.fs_Hz,
            pretrigger_samples=pretrigger_samples(self, raw_events),
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
