"""The real SuperCDMS MIDAS file (det-lab/dataReaderWriter, MIT) streamed event by event, and
damaged copies of it: every error names the file, the event serial number, the bank and the
byte offset, and the events before the damage stay readable."""

from __future__ import annotations

import datetime as dt
import gzip
import re
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis_lib.io.kaitai import compile_ksy
from analysis_lib.io.midas import MidasError, MidasFile
from analysis_lib.io.scdms import FORMATS, open_scdms

REAL = FORMATS / "51230216_125838_F0001.mid.gz"
ODB_END = 16 + 17628  # first event header
EV1_BANKS = ODB_END + 24  # SCD0 bank header of event 1
EV2 = 804688  # event 2's header


@pytest.fixture(scope="module")
def raw() -> bytes:
    return gzip.decompress(REAL.read_bytes())


@pytest.fixture(scope="module")
def events():
    return list(open_scdms(REAL).events())


def test_real_file_run_facts_and_events(events, raw, tmp_path):
    f = open_scdms(REAL)
    assert f.compressed
    assert f.start_time == dt.datetime(2023, 2, 16, 20, 59, 13, tzinfo=dt.UTC)
    assert (f.series, f.file_number, f.bor_serial) == ("51230216_125838", 1, 0)
    meta = f.metadata()
    assert meta["sample_rate_hz"] == 625000.0
    det = meta["detectors"]["Det01"]
    assert (det["tower"], det["detector_type"]) == (1, 710)
    assert det["phonon_channels_enabled"] == [True] * 12
    assert (det["phonon_pre_pulse_samples"], det["phonon_on_pulse_samples"]) == (1024, 1024)
    rnd, trig = events
    assert (rnd.serial_number, rnd.trigger_type, rnd.traces.shape) == (1, "borr", (12, 32768))
    assert (trig.serial_number, trig.trigger_type, trig.traces.shape) == (2, "physics", (12, 3008))
    assert list(trig.pre_pulse_samples) == [1024] * 12
    assert sorted(trig.channel_numbers) == list(range(12))
    assert rnd.channels[0] == "Det01:P05"
    assert rnd.trace("Det01:P05") is rnd.arrays[0]
    # baselines as the README says; a pulse on the physics trigger, none on the random one
    assert 28000 < np.median(rnd.traces) < 32000
    on = trig.traces[:, 1024:2048].astype(float)
    base = np.median(trig.traces[:, :1024], axis=1)
    assert (on.max(axis=1) - base).max() > 1000
    assert (rnd.traces.max(axis=1) - np.median(rnd.traces, axis=1)).max() < 400
    # the (channels, samples) array is a view into the event buffer, not a copy
    assert not rnd.traces.flags.owndata
    assert rnd.traces.strides == (65556, 2)
    # the same values from the uncompressed file
    plain = tmp_path / "run.mid"
    plain.write_bytes(raw)
    again = list(open_scdms(plain).events())
    assert not open_scdms(plain).compressed
    for a, b in zip(events, again, strict=True):
        assert np.array_equal(a.traces, b.traces)
        assert a.channels == b.channels


def test_events_equal_the_stock_kaitai_parser_sample_by_sample(events, raw):
    """Each SCD0 bank through the stock generated parser (lists of ints) vs our arrays."""
    stock = compile_ksy(FORMATS / "scdms.ksy", fast=False)
    mf = MidasFile(REAL)
    for ev, ours in zip(mf.events(), events, strict=True):
        p = stock.parse(bytes(ev.banks["SCD0"].data))
        chans = [c for d in p.trigger_blk[0].detector_blk for c in d.channel_blk]
        assert len(chans) == ours.traces.shape[0]
        for i, c in enumerate(chans):
            assert ours.traces[i].tolist() == c.sample
            assert ours.channel_numbers[i] == c.channel_num
        assert ours.trigger_code == p.trigger_blk[0].event_hdr.trigger_type.value


def test_trigger_type_filter(events):
    f = open_scdms(REAL)
    assert [e.serial_number for e in f.events(trigger_type="random")] == [1]
    assert [e.serial_number for e in f.events(trigger_type="physics")] == [2]


def read_until_error(path) -> tuple[list[int], MidasError]:
    """The serial numbers read before the error, and the error."""
    seen = []
    try:
        for ev in open_scdms(path).events():
            seen.append(ev.serial_number)
    except MidasError as e:
        return seen, e
    raise AssertionError(f"{path}: read without an error")


def _damaged(tmp_path, raw: bytes, name: str, gz: bool) -> object:
    p = tmp_path / (name + (".mid.gz" if gz else ".mid"))
    p.write_bytes(gzip.compress(raw, compresslevel=1) if gz else raw)
    return p


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_file_keeps_the_events_before(tmp_path, raw, gz):
    cut = raw[: EV2 + 5000]  # inside event 2's data
    p = _damaged(tmp_path, cut, "cut", gz)
    seen, err = read_until_error(p)
    assert seen == [1]
    msg = str(err)
    assert str(p) in msg
    assert "event serial 2" in msg
    assert f"byte offset {EV2 + 16}" in msg
    assert "truncated" in msg or "cut short" in msg

    # cut inside an event header
    p = _damaged(tmp_path, raw[: EV2 + 7], "cut-header", gz)
    with pytest.raises(
        MidasError, match=rf"after event serial 1, the event header at byte offset {EV2}"
    ):
        list(open_scdms(p).events())
    # cut inside the ODB dump
    p = _damaged(tmp_path, raw[:1000], "cut-odb", gz)
    with pytest.raises(
        MidasError, match=r"the ODB dump \(17628 bytes announced\) at byte offset 16"
    ):
        open_scdms(p)


def test_gzip_stream_cut_short(tmp_path, raw):
    packed = gzip.compress(raw, compresslevel=1)
    p = tmp_path / "short.mid.gz"
    p.write_bytes(packed[: len(packed) - 3000])
    seen, err = read_until_error(p)
    assert seen == [1]
    assert str(err).startswith(f"{p}: ")
    assert "event serial 2" in str(err)
    assert "uncompressed" in str(err)


def test_bank_overrunning_its_event(tmp_path, raw):
    b = bytearray(raw)
    # event 2's SCD0 bank: its size word (name 4, type 4, size 4) after the 8-byte bank header
    scd0 = EV2 + 24
    assert b[scd0 : scd0 + 4] == b"SCD0"
    struct.pack_into("<I", b, scd0 + 8, 10**6)
    p = _damaged(tmp_path, bytes(b), "overrun", False)
    seen, err = read_until_error(p)
    assert seen == [1]
    msg = str(err)
    assert "event serial 2" in msg
    assert "bank 'SCD0'" in msg
    assert f"byte offset {scd0}" in msg
    assert "declares 1000000 data bytes" in msg


def test_unknown_bank_name(tmp_path, raw):
    b = bytearray(raw)
    ldv = raw.index(b"LDV0", EV2)
    b[ldv : ldv + 4] = b"\x00\xffZ!"
    p = _damaged(tmp_path, bytes(b), "badname", False)
    evs, err = read_until_error(p)
    assert evs == [1]
    msg = str(err)
    assert "event serial 2" in msg
    assert f"byte offset {ldv}" in msg
    assert "not a MIDAS bank name" in msg
    assert "['SCD0']" in msg  # the banks read before it


def test_payload_that_does_not_parse_names_bank_and_offset(tmp_path, raw):
    b = bytearray(raw)
    # event 1's payload: claim 4095 triggers (packed header word, low 12 bits)
    struct.pack_into("<I", b, EV1_BANKS + 12, (8 << 12) | 0xFFF)
    p = _damaged(tmp_path, bytes(b), "payload", False)
    with pytest.raises(MidasError) as e:
        list(open_scdms(p).events())
    msg = str(e.value)
    assert "event serial 1" in msg
    assert "bank 'SCD0'" in msg
    assert f"data at byte offset {EV1_BANKS + 12}" in msg
    assert "does not parse as SuperCDMS v8" in msg


def test_not_a_midas_file(tmp_path):
    p = tmp_path / "x.mid"
    p.write_bytes(b"\x00" * 64)
    with pytest.raises(MidasError, match="not a MIDAS file: byte offset 0"):
        MidasFile(p)


@settings(max_examples=25, deadline=None)
@given(cut=st.integers(ODB_END, 877491), gz=st.booleans())
def test_any_truncation_keeps_every_whole_event_and_names_the_damage(raw, cut, gz):
    """Cut anywhere after the ODB: the whole events before the cut are read, exactly, and
    the error names the file, a byte offset and the event (or the one before it)."""
    ends = {1: EV2, 2: len(raw)}  # where each event ends
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / ("cut.mid.gz" if gz else "cut.mid")
        p.write_bytes(gzip.compress(raw[:cut], compresslevel=1) if gz else raw[:cut])
        if cut == ODB_END:  # a run with no event yet: valid
            assert list(open_scdms(p).events()) == []
            return
        seen, err = read_until_error(p)
    assert seen == [s for s, end in ends.items() if end <= cut]
    msg = str(err)
    assert msg.startswith(f"{p}: ")
    assert "byte offset" in msg
    assert "event serial" in msg


# --- where the pulse sits: the ODB's trigger geometry and the measured onset ------------


def _odb_value(raw: bytes, key: str) -> str:
    """A ReadoutControl key's text in the raw ODB dump (read apart from the reader)."""
    xml = raw[16:ODB_END].decode("latin-1")
    (value,) = re.findall(rf'<key name="{re.escape(key)}" type="\w+">([^<]*)</key>', xml)
    return value


def _with_odb(raw: bytes, edit) -> bytes:
    """The stream with its begin-of-run ODB dump replaced by ``edit(xml)`` (size rewritten)."""
    xml = edit(raw[16:ODB_END].decode("latin-1")).encode("latin-1")
    return raw[:12] + struct.pack("<I", len(xml)) + xml + raw[ODB_END:]


def test_trigger_geometry_is_what_the_odb_and_the_channel_words_say(raw, events):
    det = open_scdms(REAL).metadata()["detectors"]["Det01"]
    offset = int(_odb_value(raw, "Phonon pre-trigger offset (samp)"))
    pre = int(_odb_value(raw, "Phonon pre-pulse length (samp)"))
    on = int(_odb_value(raw, "Phonon on-pulse length (samp)"))
    post = int(_odb_value(raw, "Phonon post-pulse length (samp)"))
    factor = float(_odb_value(raw, "Phonon sampling rate (Hz)")) / float(
        _odb_value(raw, "Phonon sampling rate low (Hz)")
    )
    assert det["phonon_pretrigger_offset_samples"] == offset
    assert det["phonon_downsample_factor"] == factor
    assert det["phonon_daq_trigger_on_pulse_fraction"] == offset / on
    assert det["phonon_daq_trigger_sample"] == pre + offset
    assert det["phonon_trace_full_rate_samples"] == pre * factor + on + post * factor
    assert det["phonon_daq_trigger_full_rate_sample"] == pre * factor + offset
    # each channel word repeats it: 0 in the physics trigger's on-pulse window; the random
    # trigger (all full rate, no pre-pulse part) puts it at the same full-rate sample
    rnd, trig = events
    assert list(trig.pre_trigger_offset_samples) == [offset] * 12
    assert list(rnd.pre_trigger_offset_samples) == [pre * factor + offset] * 12
    assert rnd.traces.shape[1] == det["phonon_trace_full_rate_samples"]


def test_measured_onset_is_where_the_real_pulse_rises(events):
    from scipy.optimize import curve_fit

    from analysis_lib.io.scdms import PulseOnsetMeter, on_pulse_window
    from analysis_lib.pulses.simulate import pulse_shape

    meter = PulseOnsetMeter()
    for ev in events:
        meter.add(ev)  # the random trigger is ignored
    onset = meter.result()
    assert onset.n_triggers == 1
    assert onset.daq_trigger_on_pulse_sample == 0
    assert onset.peak_adc > 50 * onset.noise_adc
    # independently: a two-exponential pulse fitted to the channel sum (tutorial 08)
    trig = events[1]
    base = np.median(trig.traces[:, :1024].astype(float), axis=1).sum()
    y = on_pulse_window(trig).astype(float).sum(axis=0) - base
    t = np.arange(len(y), dtype=float)
    model = lambda t, a, t0, r, g: a * pulse_shape(t, t0_s=t0, rise_s=r, fall_s=r + g)  # noqa: E731
    (_, t0_fit, _, _), _ = curve_fit(model, t, y, p0=[y.max(), 150.0, 20.0, 150.0])
    print(f"onset {onset.on_pulse_sample:.2f}, template fit {t0_fit:.2f} of {len(y)}")
    assert abs(onset.on_pulse_sample - t0_fit) < 4
    # and the largest channel's first 5 σ excursion (smoothed) comes right after the onset
    big = on_pulse_window(trig)[int(np.argmax(np.ptp(on_pulse_window(trig), axis=1)))]
    s = np.convolve(big - np.median(big[:100]), [0.25, 0.5, 0.25], mode="same")
    first = int(np.argmax(s > 5 * s[5:100].std()))
    print(f"largest channel's first 5 σ sample: {first}")
    assert 0 <= first - onset.on_pulse_sample < 4
    assert open_scdms(REAL).pulse_onset() == onset


def test_odb_without_the_offset_gives_none_and_bad_offsets_are_named(tmp_path, raw):
    key = "Phonon pre-trigger offset (samp)"
    line = re.compile(rf'<key name="{re.escape(key)}" type="INT">0</key>')
    plain = tmp_path / "no-offset.mid"
    plain.write_bytes(_with_odb(raw, lambda x: line.sub("", x)))
    det = open_scdms(plain).metadata()["detectors"]["Det01"]
    for k in ("pretrigger_offset_samples", "daq_trigger_sample", "daq_trigger_full_rate_sample"):
        assert det[f"phonon_{k}"] is None
    assert det["phonon_trace_full_rate_samples"] == 32768  # what the ODB still says
    # outside the on-pulse window (a fraction ≥ 1 or < 0), or not a whole sample count
    for bad in ("1024", "-3", "5000", "0.155"):
        f = tmp_path / f"bad{bad}.mid"
        f.write_bytes(
            _with_odb(raw, lambda x, b=bad: line.sub(f'<key name="{key}" type="INT">{b}</key>', x))
        )
        with pytest.raises(MidasError) as err:
            open_scdms(f).metadata()
        msg = str(err.value)
        assert f"/Detectors/Det01/Readback/ReadoutControl/{key} = " in msg, msg
        assert bad in msg
        assert "[0, 1024)" in msg
        assert str(f) in msg


def test_the_onset_pass_reads_only_the_first_physics_triggers(tmp_path, raw, monkeypatch):
    from analysis_lib.io.scdms import PulseOnsetMeter

    # the physics event three times, then a cut-off event: reading it all fails, the onset
    # pass stops after MAX_TRIGGERS (2 here) and never reaches the damage
    physics = raw[EV2:]
    f = tmp_path / "long.mid"
    f.write_bytes(raw + physics * 2 + physics[:100])
    monkeypatch.setattr(PulseOnsetMeter, "MAX_TRIGGERS", 2)
    with pytest.raises(MidasError, match="truncated"):
        list(open_scdms(f).events())
    onset = open_scdms(f).pulse_onset()
    assert onset.n_triggers == 2
    assert onset.on_pulse_sample == pytest.approx(open_scdms(REAL).pulse_onset().on_pulse_sample)
