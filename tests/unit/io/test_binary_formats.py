"""Declarative binary formats (.ksy subset) read as numpy memory maps."""

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis_lib.io.binary import (
    BinaryDataError,
    FormatError,
    load_format,
    write_records,
)

DAQ = """
meta: {id: ge_daq, endian: le}
seq:
  - id: header
    type: file_header
  - id: records
    type: record
    repeat: eos
types:
  file_header:
    seq:
      - {id: magic, contents: "RHDQ"}
      - {id: n_channels, type: u2}
      - {id: n_samples, type: u4}
  record:
    seq:
      - {id: sync, contents: [0xEB, 0x90]}
      - {id: channel, type: u1}
      - {id: pad, size: 1}
      - {id: time_ns, type: s8be}
      - id: samples
        type: s2
        repeat: expr
        repeat-expr: _root.header.n_channels * _root.header.n_samples
"""


def write_daq(path, n_records, n_channels=2, n_samples=50):
    """Written with ``struct``, independently of the reader."""
    n = n_channels * n_samples
    rec_size = 2 + 1 + 1 + 8 + 2 * n
    with open(path, "wb") as f:
        f.write(b"RHDQ" + struct.pack("<HI", n_channels, n_samples))
        for i in range(n_records):
            samples = [(i * 7 + k) % 3000 - 1500 for k in range(n)]
            f.write(b"\xeb\x90" + struct.pack("<Bx", i % 4) + struct.pack(">q", 10**12 + i))
            f.write(struct.pack(f"<{n}h", *samples))
    return 10, rec_size


def test_header_drives_the_record_dtype_and_values_match_struct(tmp_path):
    fmt = load_format(DAQ)
    write_daq(tmp_path / "a.bin", 25)
    bf = fmt.open(tmp_path / "a.bin")
    assert bf.header["header"]["n_samples"] == 50
    assert bf.dtype["samples"].shape == (100,)
    assert isinstance(bf.records, np.memmap)
    assert bf.records["time_ns"][3] == 10**12 + 3
    assert bf.records["samples"][5][:3].tolist() == [-1465, -1464, -1463]
    bf.validate()
    head = bf.fields(["channel", "time_ns"])
    assert head.dtype.itemsize == 9, "repacked: only the selected fields remain"
    assert bf.table()["channel"].tolist() == [i % 4 for i in range(25)]


def test_written_records_read_back(tmp_path):
    fmt = load_format(DAQ)
    hdr = {"header": {"n_channels": 3, "n_samples": 8}}
    recs = np.zeros(6, fmt.record_dtype(hdr))
    recs["time_ns"] = np.arange(6) * 1000
    recs["samples"] = np.arange(24, dtype=np.int16)
    write_records(tmp_path / "w.bin", fmt, hdr, recs)
    bf = fmt.open(tmp_path / "w.bin")
    bf.validate()
    assert bf.records["time_ns"].tolist() == [0, 1000, 2000, 3000, 4000, 5000]
    assert not list(tmp_path.glob(".*tmp"))


def test_truncated_and_corrupt_files_name_the_record_and_offset(tmp_path):
    fmt = load_format(DAQ)
    header_size, rec_size = write_daq(tmp_path / "a.bin", 10)
    data = (tmp_path / "a.bin").read_bytes()
    (tmp_path / "t.bin").write_bytes(data[:-5])
    with pytest.raises(
        BinaryDataError, match=rf"t.bin: .*record 9 at byte offset {header_size + 9 * rec_size}"
    ):
        fmt.open(tmp_path / "t.bin")
    bad = bytearray(data)
    bad[header_size + 6 * rec_size] = 0
    (tmp_path / "c.bin").write_bytes(bytes(bad))
    with pytest.raises(
        BinaryDataError,
        match=rf"corrupt record 6 at byte offset {header_size + 6 * rec_size}: field 'sync'",
    ):
        fmt.open(tmp_path / "c.bin").validate()
    (tmp_path / "m.bin").write_bytes(b"XXXX" + data[4:])
    with pytest.raises(BinaryDataError, match=r"header field 'header.magic' at byte offset 0"):
        fmt.open(tmp_path / "m.bin")
    (tmp_path / "s.bin").write_bytes(b"RH")
    with pytest.raises(BinaryDataError, match="shorter than the 10-byte header"):
        fmt.open(tmp_path / "s.bin")


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("{id: x, type: u2, if: 'true'}", r"unsupported construct 'if' \(conditional fields\)"),
        ("{id: x, type: strz, encoding: ASCII}", r"unsupported construct 'encoding'"),
        ("{id: x, type: strz}", r"unsupported type 'strz'"),
        ("{id: x, type: b3}", r"unsupported type 'b3'"),
        ("{id: x, type: u2, process: zlib}", r"unsupported construct 'process'"),
        ("{id: x, type: u2, repeat: until, repeat-until: _ == 0}", "repeat-until"),
        ("{id: x, type: u3}", r"unknown type 'u3'"),
        ("{id: x, type: u2, repeat: expr, repeat-expr: 'foo(2)'}", "uses Call"),
    ],
)
def test_unsupported_constructs_are_named(snippet, message):
    text = (
        f"meta: {{id: t, endian: le}}\nseq:\n  - {snippet}\n  - {{id: r, type: u1, repeat: eos}}\n"
    )
    with pytest.raises(FormatError, match=message):
        load_format(text)


def test_description_errors_say_where():
    with pytest.raises(FormatError, match="instances"):
        load_format("meta: {id: t}\nseq: [{id: r, type: u1, repeat: eos}]\ninstances: {}\n")
    with pytest.raises(FormatError, match=r"seq\[0\] \(field 'r'\): the last top-level field"):
        load_format("meta: {id: t}\nseq: [{id: r, type: u1}]\n")
    with pytest.raises(FormatError, match="header must have a fixed size"):
        load_format(
            "meta: {id: t}\nseq:\n - {id: n, type: u1}\n"
            " - {id: b, size: n}\n - {id: r, type: u1, repeat: eos}\n"
        )
    with pytest.raises(FormatError, match="refers to 'm', which is not a header field"):
        load_format(
            "meta: {id: t}\nseq:\n - {id: n, type: u1}\n"
            " - {id: r, type: u1, repeat: expr, repeat-expr: _root.m}\n"
        )
    with pytest.raises(FormatError, match="refers to 'k', which is not a header field"):
        load_format(
            "meta: {id: t}\nseq:\n - {id: r, type: rec, repeat: eos}\ntypes:\n rec:\n"
            "  seq:\n   - {id: k, type: u1}\n   - {id: s, type: u1, repeat: expr,"
            " repeat-expr: k}\n"
        )


PRIMS = {
    "u1": "B",
    "u2": "H",
    "u4": "I",
    "u8": "Q",
    "s1": "b",
    "s2": "h",
    "s4": "i",
    "s8": "q",
    "f4": "f",
    "f8": "d",
}
FIELD = st.tuples(
    st.sampled_from(sorted(PRIMS)), st.sampled_from(["", "le", "be"]), st.integers(0, 3)
)


@settings(max_examples=40, deadline=None, derandomize=True)  # same cases every run
@given(
    fields=st.lists(FIELD, min_size=1, max_size=6),
    endian=st.sampled_from(["le", "be"]),
    n_records=st.integers(0, 20),
    by_count=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_memmap_reads_what_struct_wrote(
    tmp_path_factory, fields, endian, n_records, by_count, seed
):
    """Any seq of primitives (mixed endianness, fixed repeats) reads back value for value."""
    rng = np.random.default_rng(seed)
    lines = [
        f"meta: {{id: prop, endian: {endian}}}",
        "seq:",
        "  - {id: n, type: u4}",
        "  - {id: recs, type: rec, repeat: %s}" % ("expr, repeat-expr: n" if by_count else "eos"),
        "types:",
        "  rec:",
        "    seq:",
    ]
    fmt_chars = []
    for i, (t, e, rep) in enumerate(fields):
        extra = f", repeat: expr, repeat-expr: {rep}" if rep else ""
        lines.append(f"      - {{id: f{i}, type: {t}{e}{extra}}}")
        order = {"le": "<", "be": ">", "": "<" if endian == "le" else ">"}[e]
        fmt_chars.append((order, PRIMS[t], max(rep, 1), rep > 0))
    fmt = load_format("\n".join(lines) + "\n")
    expected = []
    blob = bytearray(struct.pack("<I" if endian == "le" else ">I", n_records))
    for _ in range(n_records):
        rec = []
        for order, c, k, _ in fmt_chars:
            if c in "fd":
                vals = [float(np.float32(v)) for v in rng.normal(0, 1e3, k)]
            else:
                lo, hi = {
                    "B": (0, 255),
                    "H": (0, 65535),
                    "I": (0, 2**32 - 1),
                    "Q": (0, 2**63 - 1),
                    "b": (-128, 127),
                    "h": (-32768, 32767),
                    "i": (-(2**31), 2**31 - 1),
                    "q": (-(2**62), 2**62),
                }[c]
                vals = [int(v) for v in rng.integers(lo, hi, k, endpoint=True)]
            blob += struct.pack(order + c * k, *vals)
            rec.append(vals)
        expected.append(rec)
    path = tmp_path_factory.mktemp("p") / "d.bin"
    path.write_bytes(bytes(blob))
    bf = fmt.open(path)
    assert len(bf) == n_records
    for r, rec in enumerate(expected):
        for i, (vals, (_, _, _, is_array)) in enumerate(zip(rec, fmt_chars, strict=True)):
            got = bf.records[f"f{i}"][r]
            assert (got.tolist() if is_array else [got.item()]) == vals
    if n_records and bf.dtype.itemsize > 1:  # cut into the last record, keep part of it
        cut = int(rng.integers(1, bf.dtype.itemsize))
        path.write_bytes(bytes(blob[:-cut]))
        with pytest.raises(
            BinaryDataError, match=f"byte offset {4 + (n_records - 1) * bf.dtype.itemsize}"
        ):
            fmt.open(path)


# ------------------------------------------------------------------ issue 19: header-driven sizes
def _set_header(path, n_channels=None, n_samples=None):
    b = bytearray(path.read_bytes())
    if n_channels is not None:
        struct.pack_into("<H", b, 4, n_channels)
    if n_samples is not None:
        struct.pack_into("<I", b, 6, n_samples)
    path.write_bytes(bytes(b))


def test_a_record_of_2_gib_or_more_is_refused_naming_the_header_fields(tmp_path):
    p = tmp_path / "huge.bin"
    write_daq(p, 2)
    _set_header(p, n_channels=40000, n_samples=40000)  # 3.2 GB per record: a corrupt header
    with pytest.raises(BinaryDataError) as e:
        load_format(DAQ).open(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}: ")
    assert "header.n_channels = 40000" in msg
    assert "header.n_samples = 40000" in msg
    assert "would be 3200000000 bytes" in msg


def test_zero_channels_is_refused_not_read_as_garbage_records(tmp_path):
    p = tmp_path / "zero.bin"
    write_daq(p, 3, n_channels=2, n_samples=50)  # 3 × 212 bytes = 53 records of 12 bytes
    _set_header(p, n_channels=0)
    with pytest.raises(BinaryDataError) as e:
        load_format(DAQ).open(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}: ")
    assert "'samples'" in msg
    assert "header.n_channels = 0" in msg


def test_not_a_whole_number_of_records_names_the_header_fields(tmp_path):
    p = tmp_path / "ragged.bin"
    write_daq(p, 3, n_channels=2, n_samples=50)
    _set_header(p, n_samples=49)  # records of 208 bytes where 212 were written
    with pytest.raises(BinaryDataError) as e:
        load_format(DAQ).open(p)
    msg = str(e.value)
    assert "not a whole number of 208-byte records" in msg
    assert "header.n_channels = 2" in msg
    assert "header.n_samples = 49" in msg
