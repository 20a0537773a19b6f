"""Any .ksy through the official compiler (npm kaitai-struct-compiler 0.11.0, run with Node.js
as ./dev installs it), parsed with the kaitaistruct runtime; primitive arrays read by numpy
must give exactly the stock parser's values, field by field (real SuperCDMS file; Hypothesis
files for synthetic formats)."""

from __future__ import annotations

import enum
import filecmp
import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis_lib.io import kaitai
from analysis_lib.io.kaitai import KsyDataError, KsyError, compile_ksy, run_compiler

FORMATS = Path(kaitai.__file__).with_name("formats")
REAL = FORMATS / "51230216_125838_F0001.mid.gz"


@pytest.fixture(scope="module")
def cache(tmp_path_factory, monkeypatch_module):
    d = tmp_path_factory.mktemp("ksy-cache")
    monkeypatch_module.setenv("RAREHUB_KAITAI_CACHE", str(d))
    return d


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def real_bytes() -> bytes:
    return gzip.decompress(REAL.read_bytes())


def same(fast, stock, path="root", seen=None) -> int:
    """Compare two parsed trees field by field; return the number of leaf values compared."""
    from kaitaistruct import KaitaiStruct

    seen = set() if seen is None else seen
    if isinstance(stock, KaitaiStruct):
        assert type(fast).__name__ == type(stock).__name__, path
        if id(stock) in seen:
            return 0
        seen.add(id(stock))
        n = 0
        names = [k for k in vars(stock) if not k.startswith("_")]
        assert names == [k for k in vars(fast) if not k.startswith("_")], path
        for k in names:
            n += same(getattr(fast, k), getattr(stock, k), f"{path}.{k}", seen)
        # instances (computed values) too
        for k, v in vars(type(stock)).items():
            if isinstance(v, property) and not k.startswith("_"):
                n += same(getattr(fast, k), getattr(stock, k), f"{path}.{k}", seen)
        return n
    if isinstance(fast, np.ndarray):
        assert isinstance(stock, list), path
        want = np.array(stock, dtype=fast.dtype) if stock else np.empty(0, fast.dtype)
        assert fast.shape == want.shape, path
        # bitwise: NaNs and signed zeros too
        assert fast.tobytes() == want.tobytes(), path
        return len(stock)
    if isinstance(stock, list):
        assert isinstance(fast, list), path
        assert len(fast) == len(stock), path
        return sum(
            same(a, b, f"{path}[{i}]", seen)
            for i, (a, b) in enumerate(zip(fast, stock, strict=False))
        )
    if isinstance(stock, float) and stock != stock:
        assert fast != fast, path
        return 1
    if isinstance(stock, enum.Enum):  # the two parsers' enum classes are distinct objects
        assert type(fast).__qualname__ == type(stock).__qualname__, path
        assert (fast.name, fast.value) == (stock.name, stock.value), path
        return 1
    assert type(fast) is type(stock), (path, fast, stock)
    assert fast == stock, (path, fast, stock)
    return 1


def parse_or_error(fmt, raw):
    """(parsed root, None) or (None, the KsyDataError)."""
    try:
        return fmt.parse(raw), None
    except KsyDataError as e:
        return None, e


# ------------------------------------------------------------------ the real file
def test_scdms_v8_fast_parser_equals_stock_on_the_real_file(cache, real_bytes):
    fast = compile_ksy(FORMATS / "scdms_v8.ksy")
    stock = compile_ksy(FORMATS / "scdms_v8.ksy", fast=False)
    assert fast.fast_fields == ["test.sample", "test.sdu_channel_sample"]
    assert stock.fast_fields == []
    a, b = fast.parse(real_bytes), stock.parse(real_bytes)
    n = same(a, b)
    chan = b.entry[0].scdms_data.trigger_blk[0].detector_blk[0].channel_blk
    assert len(chan) == 12
    assert len(chan[0].sample) == 32768
    assert n > 12 * 32768  # every sample of the random event was compared
    assert isinstance(
        a.entry[0].scdms_data.trigger_blk[0].detector_blk[0].channel_blk[0].sample, np.ndarray
    )


def test_imports_midas_ksy_uses_the_scdms_type(cache, real_bytes):
    """midas.ksy imports scdms (the payload type): the event stream parses through both."""
    from kaitaistruct import KaitaiStream

    from analysis_lib.io.kaitai import ViewIO

    fmt = compile_ksy(FORMATS / "midas.ksy")
    stock = compile_ksy(FORMATS / "midas.ksy", fast=False)
    assert set(fmt.modules) == {"midas", "scdms"}
    assert fmt.fast_fields == ["scdms.sample", "scdms.sdu_channel_sample"]
    # midas.ksy reads one bank per event (its published form); parse the first two events
    out = []
    for f in (fmt, stock):
        io = KaitaiStream(ViewIO(real_bytes))
        root_cls = f.root
        odb = root_cls.Event(io, None, None)
        ev = root_cls.Event(io, None, None)
        out.append((odb, ev))
    assert out[0][0].event_header.event_id == 0x8000
    assert len(out[0][0].data_block.odb) == 17628
    bank = out[0][1].data_block.bank
    assert bank.name == "SCD0"
    assert same(out[0][1], out[1][1]) > 12 * 32768


def test_bundled_parsers_are_what_the_compiler_makes_now(tmp_path):
    """The parsers shipped for the image (formats/compiled/<key>) equal a fresh compile."""
    keys = set()
    for ksy in sorted(FORMATS.glob("*.ksy")):
        closure = kaitai._import_closure(ksy.resolve(), [])
        key = kaitai.cache_key(ksy.resolve(), closure)
        keys.add(key)
        shipped = FORMATS / "compiled" / key
        assert (shipped / "files.json").is_file(), (
            f"{ksy.name}: run python -m analysis_lib.io.kaitai --bundle"
        )
        out = tmp_path / ksy.stem
        out.mkdir()
        files = run_compiler(ksy, out)
        assert sorted(files) == sorted(json.loads((shipped / "files.json").read_text())["files"])
        for f in files:
            assert filecmp.cmp(out / f, shipped / f, shallow=False), f"{ksy.name}: {f} is stale"
    assert {p.name for p in (FORMATS / "compiled").iterdir()} == keys


# ------------------------------------------------------------------ errors and caching
def test_compiler_errors_name_the_file_line_and_column(cache, tmp_path):
    bad = tmp_path / "bad.ksy"
    bad.write_text(
        "meta:\n  id: bad\n  endian: le\nseq:\n  - id: a\n    type: u2\n"
        "  - id: b\n    type: nosuch\n"
    )
    with pytest.raises(KsyError) as e:
        compile_ksy(bad)
    msg = str(e.value)
    assert msg.startswith(f"{bad}:8:11: /seq/1/type:"), msg
    assert "nosuch" in msg

    broken = tmp_path / "broken.ksy"
    broken.write_text("meta:\n  id: broken\nseq:\n  - id: a\n   type: u2\n")
    with pytest.raises(KsyError, match=rf"^{broken}:5:\d+: "):
        compile_ksy(broken)

    imp = tmp_path / "imp.ksy"
    imp.write_text(
        "meta:\n  id: imp\n  imports:\n    - missing_one\nseq:\n  - id: a\n    type: u1\n"
    )
    with pytest.raises(KsyError, match=rf"^{imp}:4:7: meta/imports/0: imported 'missing_one'"):
        compile_ksy(imp)

    # an error inside an imported file names that file
    (tmp_path / "inner.ksy").write_text("meta:\n  id: inner\nseq:\n  - id: x\n    type: wrong_t\n")
    outer = tmp_path / "outer.ksy"
    outer.write_text(
        "meta:\n  id: outer\n  imports:\n    - inner\nseq:\n  - id: i\n    type: inner\n"
    )
    with pytest.raises(KsyError) as e:
        compile_ksy(outer)
    assert "wrong_t" in str(e.value), str(e.value)
    assert "inner.ksy" in str(e.value), str(e.value)


def test_cache_is_keyed_by_the_ksy_and_its_imports(cache, tmp_path, monkeypatch):
    (tmp_path / "part.ksy").write_text("meta:\n  id: part\nseq:\n  - id: v\n    type: u2le\n")
    top = tmp_path / "top.ksy"
    top.write_text(
        "meta:\n  id: top\n  endian: le\n  imports:\n    - part\nseq:\n  - id: p\n    type: part\n"
    )
    a = compile_ksy(top)
    assert a.parse(b"\x01\x02").p.v == 0x0201
    kaitai._LOADED.clear()

    def no_compiler(*args, **kw):
        raise AssertionError("the compiler ran although the cache holds this parser")

    monkeypatch.setattr(kaitai, "_run_compiler", no_compiler)
    assert compile_ksy(top).key == a.key  # from the cache: no compiler run
    monkeypatch.undo()
    (tmp_path / "part.ksy").write_text("meta:\n  id: part\nseq:\n  - id: v\n    type: u2be\n")
    b = compile_ksy(top)  # an import changed: a new key, a new compile
    assert b.key != a.key
    assert b.parse(b"\x01\x02").p.v == 0x0102


# ------------------------------------------------------------------ synthetic formats
SYNTH = """
meta:
  id: synth
  endian: le
seq:
  - id: n
    type: u1
  - id: kind
    type: u1
  - id: body
    type:
      switch-on: kind
      cases:
        0: arrays_le
        _: arrays_be
  - id: tail
    type: u2
    repeat: eos
types:
  arrays_le:
    seq:
      - {id: a_u1, type: u1, repeat: expr, repeat-expr: _root.n}
      - {id: a_s2, type: s2, repeat: expr, repeat-expr: _root.n}
      - {id: a_u4, type: u4, repeat: expr, repeat-expr: _root.n}
      - {id: a_f4, type: f4, repeat: expr, repeat-expr: _root.n}
      - {id: a_s8, type: s8, repeat: expr, repeat-expr: _root.n / 2}
      - {id: first_used, type: u2, repeat: expr, repeat-expr: 2}
    instances:
      sum_first:
        value: first_used[0] + first_used[1]
  arrays_be:
    meta:
      endian: be
    seq:
      - {id: b_u2, type: u2, repeat: expr, repeat-expr: _root.n}
      - {id: b_f8, type: f8, repeat: expr, repeat-expr: _root.n}
      - {id: b_s4, type: s4, repeat: expr, repeat-expr: _root.n}
"""


@pytest.fixture(scope="module")
def synth(cache, tmp_path_factory):
    d = tmp_path_factory.mktemp("synth")
    (d / "synth.ksy").write_text(SYNTH)
    fast, stock = compile_ksy(d / "synth.ksy"), compile_ksy(d / "synth.ksy", fast=False)
    # first_used is read by an instance: it must stay a list of ints (no numpy scalars)
    assert sorted(fast.fast_fields) == sorted(
        f"synth.{f}"
        for f in ["a_u1", "a_s2", "a_u4", "a_f4", "a_s8", "b_u2", "b_f8", "b_s4", "tail"]
    )
    return fast, stock


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(n=st.integers(0, 40), kind=st.integers(0, 3), data=st.binary(min_size=0, max_size=900))
def test_synthetic_format_fast_equals_stock(synth, n, kind, data):
    fast, stock = synth
    raw = bytes([n, kind]) + data
    want, want_error = parse_or_error(stock, raw)
    got, got_error = parse_or_error(fast, raw)
    if want_error is not None:  # the fast parser must fail the same way
        assert got_error is not None
        assert type(got_error.__cause__) is type(want_error.__cause__)
        assert str(got_error).startswith("<bytes>: does not parse as")
        return
    same(got, want)


@pytest.fixture(scope="module")
def sensor(cache):
    ksy = FORMATS / "sensor_demo.ksy"
    return compile_ksy(ksy), compile_ksy(ksy, fast=False)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n_ch=st.integers(1, 4),
    n_s=st.integers(0, 50),
    records=st.lists(
        st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 1), st.text("abcXYZ ", max_size=8)),
        max_size=6,
    ),
    seed=st.integers(0, 2**32 - 1),
    cut=st.integers(0, 3),
)
def test_sensor_demo_format_fast_equals_stock(sensor, n_ch, n_s, records, seed, cut):
    fast, stock = sensor
    rng = np.random.default_rng(seed)
    raw = b"SNS1" + struct.pack("<BHf", n_ch, n_s, 625e3)
    for ev, kind, note in records:
        raw += struct.pack("<IBB", ev, kind, len(note)) + note.encode()
        raw += rng.integers(-(2**15), 2**15, n_ch * n_s, dtype="<i2").tobytes()
    raw = raw[: len(raw) - cut] if records else raw
    want, want_error = parse_or_error(stock, raw)
    got, got_error = parse_or_error(fast, raw)
    if want_error is not None:  # the fast parser must fail the same way
        assert got_error is not None
        assert type(got_error.__cause__) is type(want_error.__cause__)
        assert str(got_error).startswith("<bytes>: does not parse as")
        return
    same(got, want)
    assert [r.event for r in got.records] == [r[0] for r in records]


def test_data_that_do_not_match_name_the_file_the_ksy_and_the_offset(sensor, tmp_path):
    fast, stock = sensor
    p = tmp_path / "short.dat"
    p.write_bytes(b"SNS1" + struct.pack("<BHf", 2, 100, 625e3) + struct.pack("<IBB", 7, 1, 3))
    for fmt in (fast, stock):
        with pytest.raises(KsyDataError) as e:
            fmt.parse(p)
        assert str(e.value).startswith(f"{p}: does not parse as sensor_demo.ksy (stopped at")
        assert "EndOfStreamError" in str(e.value)
    p.write_bytes(b"XXXX" + bytes(7))
    with pytest.raises(KsyDataError, match=r"stopped at byte offset \d+\): ValidationNotEqual"):
        fast.parse(p)
