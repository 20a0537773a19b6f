"""MIDAS files (PSI/TRIUMF DAQ), streamed event by event, ``.mid`` or ``.mid.gz``.

Layout (MIDAS documentation, "Event structure" and "Banks"; every integer little-endian):
a begin-of-run event (id ``0x8000``, trigger mask ``'MI'``, serial = run number, time
stamp = run start in Unix seconds) whose data is the ODB dump (XML), then events of a
16-byte header (``event_id u2, trigger_mask u2, serial_number u4, time_stamp u4,
data_size u4``) and a bank header (``all_bank_size u4, flags u4``) followed by banks
(``name[4]``, then ``type u2, size u2`` — or ``u4, u4`` with flag ``0x10``, with a further
``u4`` reserved word with flag ``0x20``), each padded to 8 bytes; an end-of-run event
(``0x8001``) may close the file with a second ODB dump.

:class:`MidasFile` reads one event at a time into its own buffer (never the whole file:
a ``.gz`` file is decompressed as it is read; an uncompressed one is memory-mapped and the
pages of each event are given back once the next is read, so arrays are views of the page
cache) and checks the framing: a truncated file, an
event or bank overrunning its bounds or a bank name that is not four ASCII letters or
digits raises :class:`MidasError` naming the file, the event serial number, the bank and
the byte offset (of the uncompressed stream) — the events before the damage have been
yielded already.
"""

from __future__ import annotations

import datetime as dt
import gzip
import mmap
import os
import re
import struct
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from .binary import BinaryDataError

BOR_ID = 0x8000
EOR_ID = 0x8001
MESSAGE_ID = 0x8002
MIDAS_MAGIC = 0x4D49  # "MI" as bytes: I, M as a little-endian u2
_EVENT_HEADER = struct.Struct("<HHIII")
_BANK_HEADER = struct.Struct("<II")
_BANK16 = struct.Struct("<4sHH")
_BANK32 = struct.Struct("<4sII")
_BANK32A = struct.Struct("<4sIII")
_BANK_NAME = re.compile(rb"^[A-Za-z0-9_]{4}$")
FLAG_BANK32 = 0x10
FLAG_BANK32A = 0x20


class MidasError(BinaryDataError):
    """A MIDAS file that breaks its framing (message: file, event serial, bank, byte offset)."""


@dataclass
class Bank:
    """One bank of an event: ``data`` is a memoryview into the event's buffer."""

    name: str
    type: int
    offset: int  # byte offset of the bank's data in the (uncompressed) file
    data: memoryview = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class MidasEvent:
    """One MIDAS event: header fields and its banks by name (in file order)."""

    event_id: int
    trigger_mask: int
    serial_number: int
    time_stamp: int  # Unix seconds
    offset: int  # byte offset of the event header in the (uncompressed) file
    banks: dict[str, Bank] = field(repr=False)
    buffer: bytes | memoryview = field(repr=False)

    @property
    def time(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.time_stamp, dt.UTC)


def _open_stream(path: Path) -> BinaryIO:
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return open(path, "rb")


def is_midas_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` (``.mid`` or gzip-compressed) starts with a MIDAS begin-of-run event
    header (id ``0x8000``, trigger mask ``'MI'``); False for any other or unreadable file."""
    try:
        with _open_stream(Path(path)) as f:
            head = f.read(4)
    except (OSError, EOFError, zlib.error):
        return False
    return len(head) == 4 and struct.unpack("<HH", head) == (BOR_ID, MIDAS_MAGIC)


def parse_odb(xml_text: str | bytes) -> dict[str, Any]:
    """An ODB XML dump → nested dicts: ``dir`` → dict, ``key`` → value, ``keyarray`` → list.

    Values are typed by the ODB type: INT/DWORD/WORD/… → int, FLOAT/DOUBLE → float,
    BOOL (``y``/``n``) → bool, STRING → str.
    """
    root = ET.fromstring(xml_text)

    def value(text: str | None, typ: str):
        text = (text or "").strip()
        if typ == "BOOL":
            return text.lower() in ("y", "1", "true")
        if typ in ("FLOAT", "DOUBLE"):
            return float(text)
        if typ in ("INT", "UINT", "DWORD", "WORD", "SHORT", "BYTE", "SBYTE", "INT64", "UINT64"):
            try:
                return int(text, 0)
            except ValueError:
                return text
        return text

    def walk(node) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for child in node:
            name = child.get("name", "")
            if child.tag == "dir":
                out[name] = walk(child)
            elif child.tag == "key":
                out[name] = value(child.text, child.get("type", "STRING"))
            elif child.tag == "keyarray":
                typ = child.get("type", "STRING")
                out[name] = [value(v.text, typ) for v in child if v.tag == "value"]
        return out

    return walk(root)


class MidasFile:
    """A MIDAS file (``.mid`` or gzip-compressed ``.mid.gz``), read as a stream of events.

    On opening, only the begin-of-run event is read: :attr:`run_number`,
    :attr:`start_time` and the ODB (:attr:`odb_xml`, parsed: :attr:`odb`). Iterating
    (:meth:`events`) reads one event at a time.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise MidasError(f"{self.path}: no such file")
        self.compressed = False
        with _open_stream(self.path) as f:
            self.compressed = isinstance(f, gzip.GzipFile)
            head = self._read(f, _EVENT_HEADER.size, 0, "the begin-of-run header")
            eid, mask, serial, ts, size = _EVENT_HEADER.unpack(head)
            if eid != BOR_ID or mask != MIDAS_MAGIC:
                raise MidasError(
                    f"{self.path}: not a MIDAS file: byte offset 0 holds event id {eid:#06x} and"
                    f" trigger mask {mask:#06x}; a MIDAS file starts with a begin-of-run event"
                    f" (id {BOR_ID:#06x}, mask {MIDAS_MAGIC:#06x} 'MI')"
                )
            odb = self._read(f, size, 16, f"the ODB dump ({size} bytes announced)")
        self.bor_serial = serial
        self.run_number = serial
        self.start_time = dt.datetime.fromtimestamp(ts, dt.UTC)
        self.first_event_offset = 16 + size
        self.odb_xml = bytes(odb).decode("latin-1")
        self._odb: dict | None = None

    def __repr__(self) -> str:
        return (
            f"MidasFile({str(self.path)!r}, run_number={self.run_number},"
            f" start_time={self.start_time.isoformat()})"
        )

    @property
    def odb(self) -> dict[str, Any]:
        """The begin-of-run ODB dump as nested dicts (:func:`parse_odb`)."""
        if self._odb is None:
            try:
                self._odb = parse_odb(self.odb_xml)
            except ET.ParseError as e:
                raise MidasError(
                    f"{self.path}: the ODB dump at byte offset 16 is not valid XML: {e}"
                ) from None
        return self._odb

    def _where(self, offset: int) -> str:
        return f"byte offset {offset}" + (" (uncompressed)" if self.compressed else "")

    def _read(self, f: BinaryIO, n: int, offset: int, what: str, *, serial=None) -> bytes:
        # one read into a fresh bytes object: no zero-filling, no second copy
        try:
            data = f.read(n)
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as e:
            where = f"event serial {serial}: " if serial is not None else ""
            raise MidasError(
                f"{self.path}: {where}the compressed stream is damaged or cut short while"
                f" reading {what} at {self._where(offset)}: {e}"
            ) from None
        if len(data) < n:
            where = f"event serial {serial}: " if serial is not None else ""
            raise MidasError(
                f"{self.path}: truncated: {where}{what} at {self._where(offset)} needs {n}"
                f" bytes, only {len(data)} remain"
            )
        return data

    def events(self, *, include_special: bool = False) -> Iterator[MidasEvent]:
        """Yield the events after the begin-of-run header, one buffer each.

        End-of-run and message events (ids ``0x8001``, ``0x8002``) are skipped unless
        ``include_special``.
        """
        if not self.compressed:
            yield from self._events_mapped(include_special)
            return
        with _open_stream(self.path) as f:
            self._skip(f, self.first_event_offset)
            offset = self.first_event_offset
            previous = None
            while True:
                try:
                    head = f.read(_EVENT_HEADER.size)
                except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as e:
                    raise MidasError(
                        f"{self.path}: the compressed stream is damaged or cut short after"
                        f" event serial {previous}, at {self._where(offset)}: {e}"
                    ) from None
                if not head:
                    return
                if len(head) < _EVENT_HEADER.size:
                    raise MidasError(
                        f"{self.path}: truncated: after event serial {previous}, the event"
                        f" header at {self._where(offset)} has {len(head)} of 16 bytes"
                    )
                eid, mask, serial, ts, size = _EVENT_HEADER.unpack(head)
                what = (
                    f"the event data ({size} bytes announced by the header at"
                    f" {self._where(offset)})"
                )
                body = self._read(f, size, offset + 16, what, serial=serial)
                event = self._event(eid, mask, serial, ts, offset, body, include_special)
                if event is not None:
                    yield event
                previous = serial
                offset += 16 + size

    def __iter__(self) -> Iterator[MidasEvent]:
        return self.events()

    def _event(
        self, eid: int, mask: int, serial: int, ts: int, offset: int, body, include_special: bool
    ) -> MidasEvent | None:
        """The event one header and its body make (banks parsed), for both readers; None
        for a begin/end-of-run or message event when those were not asked for."""
        if eid in (EOR_ID, MESSAGE_ID, BOR_ID):
            if not include_special:
                return None
            return MidasEvent(eid, mask, serial, ts, offset, {}, body)
        return MidasEvent(eid, mask, serial, ts, offset, self._banks(body, serial, offset), body)

    def _events_mapped(self, include_special: bool) -> Iterator[MidasEvent]:
        """Events of an uncompressed file as views of one read-only memory map (no copy).

        After each event the pages before the next one are given back (``MADV_DONTNEED``):
        the resident memory stays about one event, and an array of an earlier event that
        is still in use is refilled from the page cache when it is read again.
        """
        with open(self.path, "rb") as f:
            total = os.fstat(f.fileno()).st_size
            if total <= self.first_event_offset:
                return
            mm = mmap.mmap(f.fileno(), total, access=mmap.ACCESS_READ)
        whole = memoryview(mm)
        page = mmap.PAGESIZE
        offset = self.first_event_offset
        released = 0
        previous = None
        while offset < total:
            if offset + 16 > total:
                raise MidasError(
                    f"{self.path}: truncated: after event serial {previous}, the event"
                    f" header at {self._where(offset)} has {total - offset} of 16 bytes"
                )
            eid, mask, serial, ts, size = _EVENT_HEADER.unpack_from(whole, offset)
            if offset + 16 + size > total:
                raise MidasError(
                    f"{self.path}: truncated: event serial {serial}: the event data ({size}"
                    f" bytes announced by the header at {self._where(offset)}) at"
                    f" {self._where(offset + 16)} needs {size} bytes, only"
                    f" {total - offset - 16} remain"
                )
            body = whole[offset + 16 : offset + 16 + size]
            event = self._event(eid, mask, serial, ts, offset, body, include_special)
            if event is not None:
                yield event
            previous = serial
            offset += 16 + size
            upto = offset - offset % page
            if upto > released and hasattr(mm, "madvise"):
                mm.madvise(mmap.MADV_DONTNEED, released, upto - released)
                released = upto

    def _skip(self, f: BinaryIO, n: int) -> None:
        if isinstance(f, gzip.GzipFile):
            while n:
                chunk = f.read(min(n, 1 << 20))
                if not chunk:
                    break
                n -= len(chunk)
        else:
            f.seek(n)

    def _banks(self, body: bytes | memoryview, serial: int, event_offset: int) -> dict[str, Bank]:
        view = memoryview(body)
        base = event_offset + 16
        if len(body) < _BANK_HEADER.size:
            raise MidasError(
                f"{self.path}: event serial {serial} at {self._where(event_offset)}: its"
                f" {len(body)} data bytes cannot hold the 8-byte bank header"
            )
        all_size, flags = _BANK_HEADER.unpack_from(body)
        end = _BANK_HEADER.size + all_size
        if end > len(body):
            raise MidasError(
                f"{self.path}: event serial {serial} at {self._where(event_offset)}: the bank"
                f" header (at {self._where(base)}) announces {all_size} bytes of banks, but the"
                f" event holds {len(body) - 8}"
            )
        hdr = _BANK32A if flags & FLAG_BANK32A else _BANK32 if flags & FLAG_BANK32 else _BANK16
        hsize = hdr.size
        banks: dict[str, Bank] = {}
        pos = _BANK_HEADER.size
        while pos < end:
            if pos + hsize > end:
                raise MidasError(
                    f"{self.path}: event serial {serial}: a bank header at"
                    f" {self._where(base + pos)} needs {hsize} bytes, only {end - pos} remain in"
                    f" the event's banks (which end at {self._where(base + end)})"
                )
            name, btype, bsize = hdr.unpack_from(body, pos)[:3]
            shown = name.decode("ascii", "backslashreplace")
            if not _BANK_NAME.match(name):
                raise MidasError(
                    f"{self.path}: event serial {serial}: bank name {name!r} at"
                    f" {self._where(base + pos)} is not a MIDAS bank name (4 ASCII letters or"
                    f" digits; banks so far: {list(banks) or 'none'}) — corrupt event?"
                )
            data_at = pos + hsize
            if data_at + bsize > end:
                raise MidasError(
                    f"{self.path}: event serial {serial}: bank {shown!r} at"
                    f" {self._where(base + pos)} declares {bsize} data bytes, which overrun the"
                    f" event's banks (ending at {self._where(base + end)}) by"
                    f" {data_at + bsize - end} bytes"
                )
            banks[shown] = Bank(shown, btype, base + data_at, view[data_at : data_at + bsize])
            pos = data_at + (bsize + 7) // 8 * 8
        return banks
