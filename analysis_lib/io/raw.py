"""Raw pulse storage: multi-channel integer ADC traces in HDF5 (h5py + hdf5plugin).

Layout of a raw file (all attributes carry units in their names)::

    /            attrs: format="rarehub-raw", version, sample_rate_Hz, channels (names),
                        adc_bits, detector, run_number, ...
    /traces      int16 (n_events, n_channels, n_samples), one chunk per event → random
                 access by event reads and decompresses exactly one chunk
    /events      compound table, one row per event: event (int64), time_ns (int64, UTC),
                 plus any per-event fields given at write time
    /stream      int16 (n_channels, n_total), chunked in blocks of ``stream_chunk`` samples
                 along time → streaming a continuous record reads block after block

Compression: Blosc with byte-shuffle and Zstd (``"blosc-zstd"``, default) or plain Zstd
(``"zstd"``). Shuffling puts the high bytes of neighbouring int16 samples together; for ADC
noise of a few counts those bytes are nearly constant and compress very well.

Writers write to a temporary file next to the target and rename it on close, so a reader
never sees a half-written raw file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import hdf5plugin
import numpy as np

from .atomic import AtomicWriter

FORMAT = "rarehub-raw"
VERSION = 1
COMPRESSIONS = ("blosc-zstd", "zstd", "none")


class RawFormatError(Exception):
    """A raw file is missing, malformed or asked for something it does not hold."""


def _filter(compression: str) -> Mapping[str, Any]:
    if compression == "blosc-zstd":
        return dict(hdf5plugin.Blosc(cname="zstd", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE))
    if compression == "zstd":
        return dict(hdf5plugin.Zstd(clevel=5))
    if compression == "none":
        return {}
    raise RawFormatError(f"compression {compression!r} not in {COMPRESSIONS}")


class RawWriter(AtomicWriter):
    """Write triggered events and/or a continuous stream to a raw HDF5 file, atomically.

    Parameters
    ----------
    path
        Target file; it appears only when the writer closes without error.
    sample_rate_Hz
        Digitizer sampling rate.
    channels
        Channel names (their number fixes ``n_channels``).
    n_samples
        Samples per triggered event (traces); ``None`` if the file holds only a stream.
    compression
        ``"blosc-zstd"`` (default), ``"zstd"`` or ``"none"``.
    attrs
        Extra file attributes (detector, run_number, adc_to_A …; JSON-like scalars).
    event_fields
        Extra per-event columns as ``{name: numpy dtype}``.
    stream_chunk
        Samples per chunk of the continuous stream.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        sample_rate_Hz: float,
        channels: Sequence[str],
        n_samples: int | None = None,
        compression: str = "blosc-zstd",
        attrs: Mapping[str, Any] | None = None,
        event_fields: Mapping[str, Any] | None = None,
        stream_chunk: int = 1 << 16,
        dtype: Any = np.int16,
    ):
        self.path = Path(path)  # for messages; the file is created below
        if sample_rate_Hz <= 0:
            raise RawFormatError(f"{self.path}: sample_rate_Hz must be > 0, got {sample_rate_Hz}")
        self.channels = list(channels)
        if not self.channels:
            raise RawFormatError(f"{self.path}: at least one channel is needed")
        self.n_samples = n_samples
        self.dtype = np.dtype(dtype)
        if self.dtype.kind not in "iu":
            raise RawFormatError(f"{self.path}: raw samples must be integers, got {self.dtype}")
        self._filter = _filter(compression)
        super().__init__(path)  # validated: now create the temporary file
        self._h5: h5py.File | None = None
        try:
            self._h5 = h5py.File(self.tmp, "w")
            a = self._h5.attrs
            a["format"] = FORMAT
            a["version"] = VERSION
            a["sample_rate_Hz"] = float(sample_rate_Hz)
            a["channels"] = np.array(self.channels, dtype=h5py.string_dtype())
            a["compression"] = compression
            for k, v in (attrs or {}).items():
                a[k] = v
            self._event_dtype = np.dtype(
                [("event", "i8"), ("time_ns", "i8")]
                + [(k, np.dtype(v)) for k, v in (event_fields or {}).items()]
            )
        except BaseException:
            self.abort()  # e.g. an attribute HDF5 cannot store: no file left behind
            raise
        self._stream_chunk = int(stream_chunk)
        self.n_events = 0
        self.n_stream = 0

    def _traces(self) -> tuple[h5py.Dataset, h5py.Dataset]:
        if "traces" not in self._h5:
            if self.n_samples is None:
                raise RawFormatError(f"{self.path}: n_samples was not given, cannot add events")
            n_ch = len(self.channels)
            self._h5.create_dataset(
                "traces",
                shape=(0, n_ch, self.n_samples),
                maxshape=(None, n_ch, self.n_samples),
                chunks=(1, n_ch, min(self.n_samples, 1 << 18)),
                dtype=self.dtype,
                **self._filter,
            )
            self._h5.create_dataset(
                "events", shape=(0,), maxshape=(None,), chunks=(4096,), dtype=self._event_dtype
            )
        return self._h5["traces"], self._h5["events"]

    def append_events(
        self,
        traces: np.ndarray,
        *,
        time_ns: np.ndarray,
        **fields: np.ndarray,
    ) -> None:
        """Append events: ``traces`` of shape (n, n_channels, n_samples), UTC ``time_ns``."""
        traces = np.asarray(traces)
        tr, ev = self._traces()
        want = (len(self.channels), self.n_samples)
        if traces.ndim != 3 or traces.shape[1:] != want:
            raise RawFormatError(
                f"{self.path}: traces must have shape (n, {want[0]}, {want[1]}), got {traces.shape}"
            )
        if not np.can_cast(traces.dtype, self.dtype, "same_kind") or traces.dtype.kind == "f":
            raise RawFormatError(f"{self.path}: traces are {traces.dtype}, expected {self.dtype}")
        n = len(traces)
        rows = np.zeros(n, self._event_dtype)
        rows["event"] = np.arange(self.n_events, self.n_events + n)
        rows["time_ns"] = np.broadcast_to(np.asarray(time_ns, dtype="i8"), (n,))
        unknown = set(fields) - set(self._event_dtype.names)
        if unknown:
            raise RawFormatError(f"{self.path}: unknown event field(s) {sorted(unknown)}")
        for k, v in fields.items():
            rows[k] = v
        tr.resize(self.n_events + n, axis=0)
        tr[self.n_events :] = traces.astype(self.dtype, copy=False)
        ev.resize(self.n_events + n, axis=0)
        ev[self.n_events :] = rows
        self.n_events += n

    def append_stream(self, block: np.ndarray) -> None:
        """Append a block of continuous data of shape (n_channels, n)."""
        block = np.asarray(block)
        n_ch = len(self.channels)
        if block.ndim != 2 or block.shape[0] != n_ch:
            raise RawFormatError(
                f"{self.path}: a stream block must be ({n_ch}, n), got {block.shape}"
            )
        if "stream" not in self._h5:
            self._h5.create_dataset(
                "stream",
                shape=(n_ch, 0),
                maxshape=(n_ch, None),
                chunks=(n_ch, self._stream_chunk),
                dtype=self.dtype,
                **self._filter,
            )
        ds = self._h5["stream"]
        ds.resize(self.n_stream + block.shape[1], axis=1)
        ds[:, self.n_stream :] = block.astype(self.dtype, copy=False)
        self.n_stream += block.shape[1]

    def _finish(self) -> None:
        self._h5.close()

    def _discard(self) -> None:
        if self._h5 is not None:
            self._h5.close()


class RawFile:
    """Read a raw file: random access by event, streaming of continuous data.

    Examples
    --------
    >>> with RawFile("run0003.h5") as raw:                    # doctest: +SKIP
    ...     trace = raw.event(17)                              # (n_channels, n_samples)
    ...     for t0, block in raw.stream_blocks(1 << 20, overlap=4096):
    ...         ...
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise RawFormatError(f"{self.path}: no such file")
        try:
            self._h5 = h5py.File(self.path, "r")
        except OSError as e:
            raise RawFormatError(f"{self.path}: not a readable HDF5 file: {e}") from None
        try:
            self._open()
        except BaseException:
            self._h5.close()
            raise

    def _bad(self, what: str) -> RawFormatError:
        return RawFormatError(
            f"{self.path}: {what}; the file is damaged or was not written by RawWriter:"
            " write it again from its source"
        )

    def _open(self) -> None:
        """Check everything the readers rely on, so that a damaged file fails here, named."""
        try:
            attrs = {k: self._h5.attrs[k] for k in self._h5.attrs}
        except (OSError, KeyError, TypeError, ValueError) as e:
            raise self._bad(f"its attributes cannot be read ({e})") from None
        fmt = attrs.get("format")
        if fmt != FORMAT:
            raise RawFormatError(
                f"{self.path}: not a RareHub raw file (attribute format={fmt!r},"
                f" expected {FORMAT!r})"
            )
        version = attrs.get("version")
        if not isinstance(version, int | np.integer) or not 1 <= version <= VERSION:
            raise RawFormatError(
                f"{self.path}: attribute version={version}: this RareHub reads raw files of"
                f" version 1…{VERSION}; a newer version needs a newer RareHub"
            )
        rate = attrs.get("sample_rate_Hz")
        try:
            self.sample_rate_Hz = float(rate)
        except (TypeError, ValueError):
            self.sample_rate_Hz = float("nan")
        if not (np.isfinite(self.sample_rate_Hz) and self.sample_rate_Hz > 0):
            raise self._bad(f"attribute sample_rate_Hz={rate} is not a rate > 0 Hz")
        channels = attrs.get("channels")
        if channels is None or np.ndim(channels) != 1 or len(channels) == 0:
            raise self._bad(f"attribute channels={channels!r} is not a list of channel names")
        try:
            self.channels = [c.decode() if isinstance(c, bytes) else str(c) for c in channels]
        except UnicodeDecodeError as e:
            raise self._bad(f"attribute channels holds a name that is not UTF-8 ({e})") from None
        self.attrs = attrs
        n_ch = len(self.channels)
        try:
            if "traces" in self._h5:
                tr = self._h5["traces"]
                if not isinstance(tr, h5py.Dataset) or tr.ndim != 3 or tr.dtype.kind not in "iu":
                    raise self._bad(
                        "dataset traces must be integers of shape (n_events, n_channels,"
                        f" n_samples), is {getattr(tr, 'dtype', 'a group')}"
                        f" {getattr(tr, 'shape', '')}"
                    )
                if tr.shape[1] != n_ch:
                    raise self._bad(
                        f"dataset traces has {tr.shape[1]} channels, attribute channels names"
                        f" {n_ch}"
                    )
                ev = self._h5.get("events")
                names = getattr(getattr(ev, "dtype", None), "names", None) or ()
                if not isinstance(ev, h5py.Dataset) or not {"event", "time_ns"} <= set(names):
                    raise self._bad("dataset events (event, time_ns, …) is missing or malformed")
                if ev.shape != (tr.shape[0],):
                    raise self._bad(
                        f"dataset events has {ev.shape} rows for {tr.shape[0]} events in traces"
                    )
            if "stream" in self._h5:
                st = self._h5["stream"]
                if not isinstance(st, h5py.Dataset) or st.ndim != 2 or st.dtype.kind not in "iu":
                    raise self._bad("dataset stream must be integers of shape (n_channels, n)")
                if st.shape[0] != n_ch:
                    raise self._bad(
                        f"dataset stream has {st.shape[0]} channels, attribute channels names"
                        f" {n_ch}"
                    )
        except (OSError, KeyError, TypeError, ValueError) as e:
            raise self._bad(f"its datasets cannot be opened ({e})") from None

    def _read(self, ds: h5py.Dataset, sel: Any, what: str) -> np.ndarray:
        """``ds[sel]``; a read failure names the file, the dataset, what was read and the
        byte offset of the first chunk involved."""
        try:
            return ds[sel]
        except (OSError, ValueError, TypeError, RuntimeError) as e:
            where = ""
            try:
                if ds.chunks:
                    first = []
                    padded = np.index_exp[sel] + (slice(None),) * ds.ndim
                    for s, c in zip(padded[: ds.ndim], ds.chunks, strict=True):
                        start = (s.start or 0) if isinstance(s, slice) else int(s)
                        first.append((start // c) * c)
                    info = ds.id.get_chunk_info_by_coord(tuple(first))
                    where = f" (chunk at byte offset {info.byte_offset}, {info.size} bytes)"
            except Exception:  # only a hint for the message
                where = ""
            raise self._bad(f"{ds.name} {what}{where} cannot be read: {e}") from None

    def close(self) -> None:
        self._h5.close()

    def __enter__(self) -> RawFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _need(self, name: str) -> h5py.Dataset:
        if name not in self._h5:
            raise RawFormatError(f"{self.path}: holds no {name!r} dataset (has {list(self._h5)})")
        return self._h5[name]

    @property
    def n_events(self) -> int:
        return self._h5["traces"].shape[0] if "traces" in self._h5 else 0

    @property
    def n_samples(self) -> int:
        return self._need("traces").shape[2]

    @property
    def stream_samples(self) -> int:
        return self._h5["stream"].shape[1] if "stream" in self._h5 else 0

    def event(self, i: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Traces of event ``i``: int array of shape (n_channels, n_samples).

        ``start``/``stop`` select a sample window, so a window of a seconds-long trace
        reads (and decompresses) only the chunks it overlaps.
        """
        n = self.n_events
        if not -n <= i < n:
            raise RawFormatError(f"{self.path}: event {i} out of range (file holds {n} events)")
        return self._read(self._need("traces"), np.s_[i, :, start:stop], f"event {i}")

    def events(self, indices: Sequence[int] | slice | None = None) -> np.ndarray:
        """Traces of several events (sorted index list or slice), shape (k, n_ch, n_samples)."""
        tr = self._need("traces")
        if indices is None:
            return self._read(tr, np.s_[:], "all events")
        if isinstance(indices, slice):
            return self._read(tr, indices, f"events {indices}")
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(tr)):
            raise RawFormatError(f"{self.path}: event index out of range 0…{len(tr) - 1}")
        order = np.argsort(idx)
        out = np.empty((len(idx), *tr.shape[1:]), tr.dtype)
        for j in order:
            out[j] = self._read(tr, int(idx[j]), f"event {idx[j]}")
        return out

    def event_table(self):
        """Per-event table (event number, time_ns, extra fields) as a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self._read(self._need("events"), np.s_[:], "the event table"))

    def iter_events(self, batch: int = 256) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_event, traces)`` batches of up to ``batch`` events."""
        tr = self._need("traces")
        for s in range(0, len(tr), batch):
            yield s, self._read(tr, np.s_[s : s + batch], f"events {s}…{s + batch - 1}")

    def stream(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Continuous samples [start, stop) of all channels, shape (n_channels, n)."""
        ds = self._need("stream")
        return self._read(ds, np.s_[:, start:stop], f"samples {start}…{stop}")

    def stream_blocks(
        self, block_samples: int, *, overlap: int = 0, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_sample, block)`` over the continuous stream.

        Consecutive blocks overlap by ``overlap`` samples, so a trigger or filter with a
        window of that length sees every pulse whole. Memory stays at one block.
        """
        ds = self._need("stream")
        stop = ds.shape[1] if stop is None else min(stop, ds.shape[1])
        if not 0 <= overlap < block_samples:
            raise RawFormatError(f"overlap {overlap} must be in [0, block_samples={block_samples})")
        step = block_samples - overlap
        s = start
        while s < stop:
            e = min(stop, s + block_samples)
            yield s, self._read(ds, np.s_[:, s:e], f"samples {s}…{e - 1}")
            if e == stop:
                break
            s += step
