"""SuperCDMS DAQ files: MIDAS framing around the SuperCDMS v8 payload → ``(channels, samples)``.

:func:`open_scdms` opens a ``.mid``/``.mid.gz`` file written by the SuperCDMS DAQ. The MIDAS
framing is streamed by :class:`~analysis_lib.io.midas.MidasFile` (one event in memory at a
time); each event's ``SCD0`` bank is parsed by the parser the official Kaitai compiler
generates from ``formats/scdms.ksy`` (the community's description, det-lab/dataReaderWriter,
MIT), with its sample arrays read by numpy (:mod:`analysis_lib.io.kaitai`). The channels of
one trigger become one ``(channels, samples)`` array — a zero-copy view into the event's
buffer when the channels are evenly spaced in the file, as the DAQ writes them.

Units: samples are raw ADC counts (``uint16``); times are UTC; the sampling rate comes from
the ODB (``/Detectors/DetNN/Readback/ReadoutControl/Phonon sampling rate (Hz)``).

The published ``scdms_v8.ksy`` names the two ``u2`` words after the sample counts
``sample_rate`` and ``downsample_factor``; in this data they hold 16 and 625, i.e. the
downsampling factor and the rate in kHz (625 kHz is the ODB's phonon sampling rate). RareHub
reports them as the file has them, under the published names, and takes the rate from the
ODB.

Where the pulse sits (the optimal filter's template onset). The ODB records the hybrid
trace's geometry in ``/Detectors/DetNN/Readback/ReadoutControl``: ``Phonon pre-pulse length
(samp)`` downsampled samples, ``Phonon on-pulse length (samp)`` full-rate samples and
``Phonon pre-trigger offset (samp)``, the DAQ trigger's place in the on-pulse window (each
channel word of the payload repeats it, bits 6–27; the published ``.ksy`` shifts that field
by 7, RareHub by 6, the mask's lowest bit). In the real file of tutorial 08 the offset is 0:
the DAQ's trigger time is the first on-pulse sample (full-rate sample 16384 of the 32768
the 52 ms trace spans, its middle — as for the random trigger, whose channel words say
16384 of 32768). The phonon pulse, however, rises 160 samples (256 µs) later: the level-1
trigger's alignment to the pulse is not in the ODB dump, so the ODB alone cannot place the
template. :class:`PulseOnsetMeter` therefore *measures* the onset on the file's own
physics triggers (mean baseline-subtracted phonon sum, leading edge) and checks it against
the ODB's trigger sample; :meth:`ScdmsFile.metadata` reports both (``detectors.DetNN``:
``phonon_pretrigger_offset_samples`` …; :meth:`ScdmsFile.pulse_onset`), ``rarehub ingest``
stores the measurement in the catalog and the processing steps use it as the template's
default onset.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .kaitai import buffer_stream, compile_ksy
from .midas import MidasError, MidasEvent, MidasFile

FORMATS = Path(__file__).with_name("formats")
SCDMS_KSY = FORMATS / "scdms.ksy"
PAYLOAD_BANK = "SCD0"
TRIGGER_TYPES = {
    1: "physics",
    2: "borr",  # begin-of-run random
    3: "irr",  # in-run random
    4: "eorr",  # end-of-run random
    5: "bcr",  # baseline-control random
    6: "borts",  # begin-of-run test signal
    7: "eorts",  # end-of-run test signal
}
RANDOM_TRIGGERS = ("borr", "irr", "eorr", "bcr")
_FILE_NAME = re.compile(r"^(?P<series>\d+_\d+)_F(?P<file>\d+)")
ODB_READOUT = "/Detectors/{det}/Readback/ReadoutControl"
ODB_PRETRIGGER_OFFSET = "Phonon pre-trigger offset (samp)"
ODB_ON_PULSE = "Phonon on-pulse length (samp)"
ODB_PRE_PULSE = "Phonon pre-pulse length (samp)"
ODB_POST_PULSE = "Phonon post-pulse length (samp)"
ODB_RATE = "Phonon sampling rate (Hz)"
ODB_RATE_LOW = "Phonon sampling rate low (Hz)"


@dataclass
class ScdmsEvent:
    """One trigger of one MIDAS event: ``traces`` is ``(channels, samples)`` ADC counts."""

    serial_number: int  # MIDAS event serial number
    time: dt.datetime  # MIDAS time stamp (UTC, 1 s resolution)
    offset: int  # byte offset of the MIDAS event (uncompressed)
    trigger_type: str  # 'physics', 'borr', … (TRIGGER_TYPES)
    trigger_code: int
    event_number: int  # the SuperCDMS event number
    channels: list[str]  # 'Det01:P05' — detector, channel type (P phonon, Q charge), number
    detectors: np.ndarray  # detector id of each channel
    channel_numbers: np.ndarray
    pre_pulse_samples: np.ndarray  # per channel
    on_pulse_samples: np.ndarray
    post_pulse_samples: np.ndarray
    # per channel: the DAQ trigger's place in the on-pulse window (full-rate samples), from
    # the channel word (bits 6–27); 0 on a physics trigger of the real file, 16384 (of
    # 32768) on its random trigger
    pre_trigger_offset_samples: np.ndarray
    arrays: list[np.ndarray] = field(repr=False)
    _traces: np.ndarray | None = field(default=None, repr=False)
    _buffer: memoryview | None = field(default=None, repr=False)
    _starts: list | None = field(default=None, repr=False)  # byte offset of each array

    @property
    def traces(self) -> np.ndarray:
        """``(channels, samples)`` uint16 ADC counts (read-only)."""
        if self._traces is None:
            lengths = {len(a) for a in self.arrays}
            if len(lengths) > 1:
                raise MidasError(
                    f"event serial {self.serial_number}: channels have different lengths"
                    f" {sorted(lengths)}; use event.trace(name) for each"
                )
            self._traces = _stack(self.arrays, self._buffer, self._starts)
        return self._traces

    def trace(self, channel: str | int) -> np.ndarray:
        """One channel's samples, by name (``'Det01:P05'``) or index."""
        if isinstance(channel, str):
            if channel not in self.channels:
                raise KeyError(f"no channel {channel!r}; channels: {self.channels}")
            channel = self.channels.index(channel)
        return self.arrays[channel]


def _stack(arrays: list[np.ndarray], buffer: memoryview | None, starts: list | None):
    """Arrays at evenly spaced byte offsets ``starts`` of ``buffer`` → one strided view
    of it (no copy); otherwise a copy."""
    if not arrays:
        return np.empty((0, 0), np.uint16)
    first = arrays[0]
    n = len(first)
    if len(arrays) > 1 and n and buffer is not None and starts and None not in starts:
        step = starts[1] - starts[0]
        if step >= n * first.dtype.itemsize and all(
            starts[i + 1] - starts[i] == step for i in range(len(starts) - 1)
        ):
            out = np.ndarray(
                (len(arrays), n),
                first.dtype,
                buffer=buffer,
                offset=starts[0],
                strides=(step, first.dtype.itemsize),
            )
            out.flags.writeable = False
            return out
    out = np.stack(arrays)
    out.flags.writeable = False
    return out


class ScdmsFile(MidasFile):
    """A SuperCDMS MIDAS file: run facts from the ODB and a stream of :class:`ScdmsEvent`."""

    def __init__(self, path: str | Path):
        super().__init__(path)
        m = _FILE_NAME.match(self.path.name)
        self.series = m.group("series") if m else None
        self.file_number = int(m.group("file")) if m else None
        if self.bor_serial == 0 and self.series:
            # The DAQ leaves the MIDAS run number 0; the series id names the run.
            self.run_number = int(self.series.replace("_", ""))
        self._parser = None
        self._names: dict[tuple[int, int], tuple[str, int]] = {}

    @property
    def parser(self):
        if self._parser is None:
            self._parser = compile_ksy(SCDMS_KSY)
        return self._parser

    def metadata(self) -> dict[str, Any]:
        """Run metadata from the ODB: sample rates, detectors and their configuration.

        Each detector's trigger geometry comes from its ``ReadoutControl`` keys
        (:func:`phonon_trigger_geometry`: ``phonon_pretrigger_offset_samples`` … — None
        where the ODB lacks them); ``phonon_pulse_onset`` is None here: the measured onset
        needs a pass over the events (:meth:`pulse_onset`; ``rarehub ingest`` stores it).

        Raises
        ------
        MidasError
            If an ODB trigger setting cannot be right (names the key and the value).
        """
        odb = self.odb
        detectors = {}
        rate = None
        for name, det in (odb.get("Detectors") or {}).items():
            info = det.get("DCRCInfo", {})
            ctl = det.get("Readback", {}).get("ReadoutControl", {})
            phonon = det.get("Readback", {}).get("Phonon", {})
            geometry = phonon_trigger_geometry(ctl, detector=name, where=str(self.path))
            detectors[name] = {
                "tower": info.get("Tower"),
                "detector_type": info.get("DetectorType"),
                "phonon_sample_rate_hz": ctl.get("Phonon sampling rate (Hz)"),
                "phonon_sample_rate_low_hz": ctl.get("Phonon sampling rate low (Hz)"),
                "phonon_pre_pulse_samples": ctl.get("Phonon pre-pulse length (samp)"),
                "phonon_on_pulse_samples": ctl.get("Phonon on-pulse length (samp)"),
                "phonon_post_pulse_samples": ctl.get("Phonon post-pulse length (samp)"),
                "charge_sample_rate_hz": ctl.get("Charge sampling rate (Hz)"),
                "phonon_channels_enabled": ctl.get("Enable phonon channel"),
                "charge_channels_enabled": ctl.get("Enable charge channel"),
                **geometry,
                "phonon": phonon,
            }
            rate = rate or ctl.get("Phonon sampling rate (Hz)")
        return {
            "daq": "SuperCDMS (MIDAS + SCD0 v8 payload)",
            "series": self.series,
            "file_number": self.file_number,
            "midas_run_number": self.bor_serial,
            "sample_rate_hz": rate,
            "detectors": detectors,
            "phonon_pulse_onset": None,
            "odb": odb,
        }

    def pulse_onset(self) -> PulseOnset | None:
        """The phonon pulse onset measured on this file's first physics triggers (up to
        :attr:`PulseOnsetMeter.MAX_TRIGGERS`: the file is read only that far);
        None if there is no clear pulse to measure."""
        meter = PulseOnsetMeter()
        for event in self.events(trigger_type="physics"):
            meter.add(event)
            if meter.full:
                break
        return meter.result()

    def events(self, *, trigger_type: str | None = None) -> Iterator[ScdmsEvent]:  # type: ignore[override]
        """Yield one :class:`ScdmsEvent` per trigger, streaming (one MIDAS event in memory).

        ``trigger_type`` keeps only one kind (``'physics'``, ``'borr'``, …; ``'random'``
        for any random trigger).
        """
        for ev in super().events():
            for out in self._decode(ev):
                if (
                    trigger_type is None
                    or out.trigger_type == trigger_type
                    or (trigger_type == "random" and out.trigger_type in RANDOM_TRIGGERS)
                ):
                    yield out

    def __iter__(self) -> Iterator[ScdmsEvent]:
        return self.events()

    def _decode(self, ev: MidasEvent) -> list[ScdmsEvent]:
        from kaitaistruct import KaitaiStructError

        bank = ev.banks.get(PAYLOAD_BANK)
        if bank is None:
            raise MidasError(
                f"{self.path}: event serial {ev.serial_number} at {self._where(ev.offset)} has"
                f" no {PAYLOAD_BANK} bank (banks: {list(ev.banks) or 'none'})"
            )
        stream = buffer_stream(bank.data)
        offsets = stream._io.rarehub_offsets = {}  # where read_array found each array
        try:
            payload = self.parser.root(stream)
        except (EOFError, KaitaiStructError, ValueError) as e:
            raise MidasError(
                f"{self.path}: event serial {ev.serial_number}: bank {PAYLOAD_BANK!r} (data at"
                f" {self._where(bank.offset)}, {bank.size} bytes) does not parse as SuperCDMS v8"
                f" at {self._where(bank.offset + stream.pos())}: {e}"
            ) from None
        view = stream._io.rarehub_view
        # The parse tree is cyclic (_parent, _root): only the cyclic GC frees it. Drop its
        # link to the event's buffer now, so that the buffer goes with the last array
        # (the traces) that uses it, by reference counting.
        stream._io.rarehub_view = None
        out = []
        names = self._names
        for trig in payload.trigger_blk:
            labels, rows, arrays = [], [], []
            for det in trig.detector_blk:
                det_id = det.detector_hdr.det_id
                for ch in det.channel_blk:
                    key = (det_id, ch.channel_packed)
                    label = names.get(key)
                    if label is None:  # once per channel word: the .ksy's instances
                        kind = "P" if ch.channel_type == 1 else "Q"
                        label = (f"Det{det_id:02d}:{kind}{ch.channel_num:02d}", ch.channel_num)
                        names[key] = label
                    labels.append(label[0])
                    rows.append(
                        (
                            det_id,
                            label[1],
                            ch.num_pre_pulse_samples,
                            ch.num_on_pulse_samples,
                            ch.num_post_pulse_samples,
                            (ch.channel_packed & 0x0FFFFFC0) >> 6,
                        )
                    )
                    arrays.append(ch.sample)
            table = np.array(rows, dtype=np.int64).reshape(-1, 6).T
            code = trig.event_hdr.packed_type & 0xF
            out.append(
                ScdmsEvent(
                    serial_number=ev.serial_number,
                    time=ev.time,
                    offset=ev.offset,
                    trigger_type=TRIGGER_TYPES.get(code, f"unknown-{code}"),
                    trigger_code=code,
                    event_number=trig.event_hdr.event_number,
                    channels=labels,
                    detectors=table[0],
                    channel_numbers=table[1],
                    pre_pulse_samples=table[2],
                    on_pulse_samples=table[3],
                    post_pulse_samples=table[4],
                    pre_trigger_offset_samples=table[5],
                    arrays=arrays,
                    _buffer=view,
                    _starts=[offsets.get(id(a)) for a in arrays],
                )
            )
        return out


def phonon_trigger_geometry(
    ctl: dict[str, Any], *, detector: str = "DetNN", where: str = "ODB"
) -> dict[str, Any]:
    """The DAQ's phonon trigger geometry from one detector's ODB ``ReadoutControl`` keys.

    Returns ``phonon_pretrigger_offset_samples`` (``Phonon pre-trigger offset (samp)``: the
    trigger's place in the on-pulse window, full-rate samples), ``phonon_downsample_factor``
    (``Phonon sampling rate`` / ``… low``), ``phonon_daq_trigger_on_pulse_fraction``
    (offset / on-pulse length), ``phonon_daq_trigger_sample`` (the trigger's index in a
    stored hybrid trace: pre-pulse samples + offset), ``phonon_trace_full_rate_samples``
    and ``phonon_daq_trigger_full_rate_sample`` (the trace and the trigger in full-rate
    samples: downsampled parts × the factor). A key the ODB lacks gives None for what
    depends on it. This is the DAQ's *trigger* time, not the pulse's onset (see the module
    docstring and :class:`PulseOnsetMeter`).

    Raises
    ------
    MidasError
        If the offset is not a whole number of samples inside the on-pulse window
        ``[0, on-pulse length)``, or a length is negative; the message names the ODB key.
    """

    folder = ODB_READOUT.format(det=detector)

    def count(key: str) -> int | None:
        value = ctl.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise MidasError(
                f"{where}: ODB key {folder}/{key} = {value!r}: a length must be a whole"
                " number of samples ≥ 0"
            )
        return value

    on, pre, post = count(ODB_ON_PULSE), count(ODB_PRE_PULSE), count(ODB_POST_PULSE)
    offset = ctl.get(ODB_PRETRIGGER_OFFSET)
    if offset is not None:
        bad = isinstance(offset, bool) or not isinstance(offset, int) or offset < 0
        if bad or (on is not None and offset >= on):
            raise MidasError(
                f"{where}: ODB key {folder}/{ODB_PRETRIGGER_OFFSET} = {offset!r} cannot"
                " be the trigger's place in the on-pulse window: it must be a whole number"
                f" of samples in [0, {on if on is not None else '…'}) ({ODB_ON_PULSE} ="
                f" {on!r}), i.e. a fraction of the window in [0, 1)"
            )
    rate, low = ctl.get(ODB_RATE), ctl.get(ODB_RATE_LOW)
    factor = None
    if isinstance(rate, int | float) and isinstance(low, int | float) and rate > 0 and low > 0:
        ratio = rate / low
        factor = round(ratio) if math.isclose(ratio, round(ratio), rel_tol=1e-9) else None
    known = offset is not None and pre is not None
    full = None if None in (factor, pre, on, post) else pre * factor + on + post * factor
    return {
        "phonon_pretrigger_offset_samples": offset,
        "phonon_downsample_factor": factor,
        "phonon_daq_trigger_on_pulse_fraction": (
            offset / on if offset is not None and on else None
        ),
        "phonon_daq_trigger_sample": pre + offset if known else None,
        "phonon_trace_full_rate_samples": full,
        "phonon_daq_trigger_full_rate_sample": (
            pre * factor + offset if known and factor is not None else None
        ),
    }


@dataclass(frozen=True)
class PulseOnset:
    """A phonon pulse onset measured on a file's physics triggers (:class:`PulseOnsetMeter`).

    ``on_pulse_sample`` counts full-rate samples from the start of the on-pulse window (the
    traces the processing steps see); ``fraction`` is it over the window's length.
    """

    on_pulse_sample: float
    on_pulse_samples: int
    daq_trigger_on_pulse_sample: int  # the trigger's place in the window (channel words)
    n_triggers: int
    peak_adc: float  # peak of the mean phonon sum above its baseline (ADC counts)
    noise_adc: float  # noise of that smoothed mean before the rise (ADC counts, rms)
    method: str

    @property
    def fraction(self) -> float:
        return self.on_pulse_sample / self.on_pulse_samples

    @property
    def latency_samples(self) -> float:
        """Onset minus the DAQ trigger's sample (256 µs = 160 samples in the real file)."""
        return self.on_pulse_sample - self.daq_trigger_on_pulse_sample

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the catalog's run metadata."""
        return {
            "on_pulse_sample": round(self.on_pulse_sample, 3),
            "on_pulse_samples": self.on_pulse_samples,
            "fraction_of_on_pulse": round(self.fraction, 6),
            "daq_trigger_on_pulse_sample": self.daq_trigger_on_pulse_sample,
            "latency_samples": round(self.latency_samples, 3),
            "n_physics_triggers": self.n_triggers,
            "peak_adc": round(self.peak_adc, 3),
            "noise_adc": round(self.noise_adc, 3),
            "method": self.method,
        }


class PulseOnsetMeter:
    """Measure where the phonon pulse rises in the on-pulse window of physics triggers.

    Feed events with :meth:`add` (others than physics triggers, and those after the first
    ``MAX_TRIGGERS``, are ignored: the mean of a thousand pulses places the onset, and the
    steps' pass that measures it before processing stays short), then :meth:`result`.
    Method (``METHOD``): each physics trigger's phonon channels, minus each
    channel's baseline (the median of its pre-pulse samples; without pre-pulse samples, of
    its on-pulse samples before the DAQ trigger), summed over channels and averaged over
    triggers; smoothed with the kernel [¼, ½, ¼] (which removes the sample-to-sample
    alternation seen on this detector's sum); the peak after the DAQ trigger's sample; the
    onset is where the straight line through the leading edge's 10 % and 50 % points
    (interpolated between samples) meets the baseline — a constant-fraction estimate of the
    rise's start, within a few samples of a two-exponential template fit on the real file
    (161.8 vs 158.7 of 1024). None — then pass the onset by hand — when there is no
    physics trigger, fewer than 16 samples before the rise, a pulse already risen at the
    trigger's sample, or a peak below ``min_snr`` × the rms of the mean before the rise.
    """

    METHOD = (
        "mean phonon sum of the first <= 1000 physics triggers, leading edge 10-50 % to baseline/1"
    )
    MAX_TRIGGERS = 1000

    def __init__(self, *, min_snr: float = 10.0):
        self.min_snr = min_snr
        self._sum: np.ndarray | None = None
        self._n = 0
        self._trigger = 0

    @property
    def full(self) -> bool:
        """Whether ``MAX_TRIGGERS`` physics triggers are in (later ones are ignored)."""
        return self._n >= self.MAX_TRIGGERS

    def add(self, event: ScdmsEvent) -> None:
        if event.trigger_type != "physics" or self.full:
            return
        idx = phonon_channels(event)
        if not idx:
            return
        window = on_pulse_window(event, idx).astype(np.float64)
        on = window.shape[1]
        trigger = int(event.pre_trigger_offset_samples[idx[0]])
        for i in idx:
            offset = int(event.pre_trigger_offset_samples[i])
            if not 0 <= offset < on:
                raise MidasError(
                    f"event serial {event.serial_number}: channel {event.channels[i]}: the"
                    f" channel word's pre-trigger offset {offset} lies outside its on-pulse"
                    f" window of {on} samples"
                )
        baseline = 0.0
        for k, i in enumerate(idx):
            pre = int(event.pre_pulse_samples[i])
            if pre > 0:
                baseline += float(np.median(event.arrays[i][:pre]))
            elif trigger >= 16:
                baseline += float(np.median(window[k, :trigger]))
            else:
                return  # no pulse-free samples to take this trigger's baseline from
        x = window.sum(axis=0) - baseline
        if self._sum is None:
            self._sum, self._trigger = x, trigger
        elif len(x) != len(self._sum) or trigger != self._trigger:
            raise MidasError(
                f"event serial {event.serial_number}: on-pulse window of {len(x)} samples with"
                f" the trigger at {trigger}, unlike the earlier physics triggers ({len(self._sum)},"
                f" {self._trigger}): measure the onset of each configuration apart"
            )
        else:
            self._sum += x
        self._n += 1

    def result(self) -> PulseOnset | None:
        if not self._n or self._sum is None:
            return None
        mean = self._sum / self._n
        smooth = np.convolve(mean, [0.25, 0.5, 0.25], mode="same")
        after = smooth[self._trigger :]
        if len(after) < 3:
            return None
        p = int(np.argmax(after))
        peak = float(after[p])
        if peak <= 0:
            return None

        def crossing(level: float) -> float | None:
            above = np.flatnonzero(after[: p + 1] >= level * peak)
            i = int(above[0])
            if i == 0:
                return None  # already risen at the trigger: no leading edge to see
            lo, hi = after[i - 1], after[i]
            return i - 1 + float((level * peak - lo) / (hi - lo))

        t10, t50 = crossing(0.1), crossing(0.5)
        if t10 is None or t50 is None or t50 <= t10:
            return None
        onset = max(0.0, t10 - (t50 - t10) * 0.1 / 0.4)
        # the noise of the smoothed mean before the rise (≥ 16 samples, else no measurement)
        quiet = smooth[1 : self._trigger + int(onset) - 1]
        if len(quiet) < 16:
            return None
        noise = float(np.std(quiet))
        if peak < self.min_snr * noise:
            return None
        return PulseOnset(
            on_pulse_sample=float(self._trigger + onset),
            on_pulse_samples=len(mean),
            daq_trigger_on_pulse_sample=self._trigger,
            n_triggers=self._n,
            peak_adc=peak,
            noise_adc=noise,
            method=self.METHOD,
        )


def open_scdms(path: str | Path) -> ScdmsFile:
    """Open a SuperCDMS ``.mid``/``.mid.gz`` file (see :class:`ScdmsFile`)."""
    return ScdmsFile(path)


# --- windowing convention for the uniformly sampled analyses (noise PSD, optimal filter) ---
#
# A SuperCDMS phonon trace is *hybrid*: ``pre_pulse_samples`` downsampled samples, then
# ``on_pulse_samples`` at the full rate, then ``post_pulse_samples`` downsampled (the ODB's
# ``ReadoutControl`` lengths; the factor is the payload's ``sample_rate`` word, 16 here).
# Only the on-pulse part is uniformly sampled at the ODB's phonon rate, so RareHub's PSD and
# optimal-filter steps see:
#   * a triggered event: its on-pulse window, ``[pre, pre + on)`` of each channel
#     (``on_pulse_window``);
#   * a random event: its full-rate part (all of it for the random triggers of this DAQ,
#     pre = post = 0) cut into consecutive, non-overlapping windows of the triggered
#     events' on-pulse length (the ODB's ``Phonon on-pulse length (samp)``), the remainder
#     dropped (``noise_windows``) — pulse-free pieces of the length the filter sees.


def phonon_channels(event: ScdmsEvent) -> list[int]:
    """Indices of the phonon (``P``) channels of an event, in file order."""
    return [i for i, name in enumerate(event.channels) if name.split(":")[-1].startswith("P")]


def on_pulse_window(event: ScdmsEvent, channels: list[int] | None = None) -> np.ndarray:
    """The full-rate on-pulse window ``[pre, pre + on)`` of ``channels`` (default: the
    phonon channels) as a ``(channels, on)`` uint16 array of ADC counts (read-only views
    stacked; one copy)."""
    idx = phonon_channels(event) if channels is None else list(channels)
    if not idx:
        raise MidasError(f"event serial {event.serial_number}: no phonon channels")
    ons = {int(event.on_pulse_samples[i]) for i in idx}
    if len(ons) != 1:
        raise MidasError(
            f"event serial {event.serial_number}: the channels' on-pulse windows differ in"
            f" length {sorted(ons)}; choose channels with one length"
        )
    rows = []
    for i in idx:
        pre, on = int(event.pre_pulse_samples[i]), int(event.on_pulse_samples[i])
        a = event.arrays[i]
        if pre + on > len(a):
            raise MidasError(
                f"event serial {event.serial_number}: channel {event.channels[i]} has"
                f" {len(a)} samples, fewer than its pre-pulse {pre} + on-pulse {on}"
            )
        rows.append(a[pre : pre + on])
    return np.stack(rows)


def noise_windows(
    event: ScdmsEvent, n_samples: int, channels: list[int] | None = None
) -> np.ndarray:
    """A random event's full-rate part cut into ``(windows, channels, n_samples)``
    consecutive non-overlapping pieces (the remainder dropped; see the convention above)."""
    if n_samples < 1:
        raise ValueError(f"n_samples must be ≥ 1, got {n_samples}")
    full = on_pulse_window(event, channels)
    k = full.shape[1] // n_samples
    return full[:, : k * n_samples].reshape(full.shape[0], k, n_samples).transpose(1, 0, 2)
