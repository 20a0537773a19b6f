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
"""

from __future__ import annotations

import datetime as dt
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
        """Run metadata from the ODB: sample rates, detectors and their configuration."""
        odb = self.odb
        detectors = {}
        rate = None
        for name, det in (odb.get("Detectors") or {}).items():
            info = det.get("DCRCInfo", {})
            ctl = det.get("Readback", {}).get("ReadoutControl", {})
            phonon = det.get("Readback", {}).get("Phonon", {})
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
            "odb": odb,
        }

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
                        )
                    )
                    arrays.append(ch.sample)
            table = np.array(rows, dtype=np.int64).reshape(-1, 5).T
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
                    arrays=arrays,
                    _buffer=view,
                    _starts=[offsets.get(id(a)) for a in arrays],
                )
            )
        return out


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
