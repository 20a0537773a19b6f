"""The Parquet beam archive: layout, forward-only appends, gaps, range queries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis_lib.beam.archive import NS_PER_DAY, BeamArchive, to_time_ns

T0 = to_time_ns("2026-11-25T23:59:58")


def test_append_then_query_round_trips_and_partitions_by_utc_date(tmp_path):
    arch = BeamArchive(tmp_path)
    t = T0 + np.arange(240) * 16_666_667  # 60 Hz across midnight
    v = np.linspace(1.0, 1.4, t.size)
    assert arch.append("BEAM:POWER_MW", t, v) == t.size

    dates = sorted(p.name for p in (tmp_path / "pv=BEAM:POWER_MW").iterdir())
    assert dates == ["date=2026-11-25", "date=2026-11-26"]
    for f in (tmp_path / "pv=BEAM:POWER_MW").rglob("part-*.parquet"):
        schema = pq.read_schema(f)
        assert str(schema.field("time_ns").type) == "int64"
        assert str(schema.field("value").type) == "double"

    df = arch.query("BEAM:POWER_MW")
    np.testing.assert_array_equal(df["time_ns"], t)
    np.testing.assert_array_equal(df["value"], v)
    assert arch.last_time_ns("BEAM:POWER_MW") == t[-1]
    assert arch.pvs() == ["BEAM:POWER_MW"]


def test_query_range_is_half_open_and_accepts_iso_strings(tmp_path):
    arch = BeamArchive(tmp_path)
    t = T0 + np.arange(10) * 1_000_000_000
    arch.append("POT", t, np.arange(10.0))
    df = arch.query("POT", start=int(t[2]), end=int(t[5]))
    assert df["value"].tolist() == [2.0, 3.0, 4.0]
    df = arch.query("POT", start="2026-11-26T00:00:00")
    assert df["value"].tolist() == [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    assert arch.query("POT", start=int(t[-1]) + 1).empty
    assert arch.query("NOPE").columns.tolist() == ["time_ns", "value"]


def test_restart_appends_no_duplicates_and_refuses_when_asked(tmp_path):
    t = T0 + np.arange(100)
    BeamArchive(tmp_path).append("PV:A", t[:60], np.zeros(60))
    again = BeamArchive(tmp_path)  # a new process: last timestamp found from file names
    assert again.last_time_ns("PV:A") == t[59]
    assert again.append("PV:A", t[40:], np.ones(60)) == 40
    df = again.query("PV:A")
    assert df["time_ns"].is_unique
    assert df["time_ns"].is_monotonic_increasing
    np.testing.assert_array_equal(df["time_ns"], t)
    with pytest.raises(ValueError, match=r"PV 'PV:A'.*forward-only"):
        again.append("PV:A", [int(t[10])], [5.0], on_overlap="error")


def test_unsorted_batch_with_repeats_is_sorted_and_deduplicated(tmp_path):
    arch = BeamArchive(tmp_path)
    assert arch.append("X", [T0 + 3, T0 + 1, T0 + 3, T0 + 2], [3.0, 1.0, 3.5, 2.0]) == 3
    assert arch.query("X")["time_ns"].tolist() == [T0 + 1, T0 + 2, T0 + 3]


def test_bad_input_names_the_pv_and_the_problem(tmp_path):
    arch = BeamArchive(tmp_path)
    with pytest.raises(ValueError, match=r"'X'.*equal length"):
        arch.append("X", [1, 2], [1.0])
    with pytest.raises(TypeError, match=r"'X'.*integers"):
        arch.append("X", [1.5, 2.5], [1.0, 2.0])
    with pytest.raises(ValueError, match="PV name"):
        arch.append(" X", [1], [1.0])
    with pytest.raises(ValueError, match="before start_ns"):
        arch.record_gap("X", 10, 5, "test")


def test_no_half_written_files_are_visible(tmp_path):
    arch = BeamArchive(tmp_path)
    arch.append("X", T0 + np.arange(5), np.arange(5.0))
    # a crash mid-write leaves only a hidden .tmp file, which readers ignore
    folder = next((tmp_path / "pv=X").iterdir())
    (folder / ".part-1-2-dead.parquet.0000.tmp").write_bytes(b"PAR1 half")
    assert len(BeamArchive(tmp_path).query("X")) == 5


def test_gaps_are_recorded_and_queried_by_overlap(tmp_path):
    arch = BeamArchive(tmp_path)
    arch.record_gap("BEAM:POWER_MW", T0, T0 + 5 * NS_PER_DAY // 86_400, "disconnected")
    arch.record_gap("BEAM:POWER_MW", T0 + 10**10, T0 + 2 * 10**10, "archiver restart")
    gaps = arch.gaps("BEAM:POWER_MW")
    assert [g.reason for g in gaps] == ["disconnected", "archiver restart"]
    assert [g.reason for g in arch.gaps("BEAM:POWER_MW", start=T0 + 10**10)] == ["archiver restart"]
    assert arch.pvs() == ["BEAM:POWER_MW"]


def test_compact_keeps_every_sample_and_leaves_big_files_alone(tmp_path):
    arch = BeamArchive(tmp_path)
    for k in range(5):
        arch.append("X", T0 + 10 * k + np.arange(10), np.full(10, float(k)))
    before = arch.query("X")
    assert arch.compact("X") == 5
    pd.testing.assert_frame_equal(BeamArchive(tmp_path).query("X"), before)
    arch.append("X", T0 + 100 + np.arange(10), np.ones(10))
    assert arch.compact("X", small_bytes=1) == 0  # every file counts as big: nothing to do
    assert arch.compact("X") == 2


def test_query_drops_rows_seen_twice_during_a_concurrent_compaction(tmp_path):
    arch = BeamArchive(tmp_path)
    arch.append("X", T0 + np.arange(5), np.arange(5.0))
    part = next((tmp_path / "pv=X").rglob("part-*.parquet"))
    # the merged file exists before the old part is deleted: both are listed
    (
        part.parent / part.name.replace("part-", "part-").replace(".parquet", "0.parquet")
    ).write_bytes(part.read_bytes())
    assert BeamArchive(tmp_path).query("X")["time_ns"].tolist() == list(T0 + np.arange(5))


def test_several_pvs_come_back_with_a_pv_column(tmp_path):
    arch = BeamArchive(tmp_path)
    arch.append("A", [T0, T0 + 1], [1.0, 2.0])
    arch.append("B", [T0], [3.0])
    df = arch.query(["A", "B"])
    assert df.columns.tolist() == ["pv", "time_ns", "value"]
    assert df["pv"].tolist() == ["A", "A", "B"]


def test_to_time_ns_accepts_common_time_types():
    assert to_time_ns("1970-01-01T00:00:01") == 1_000_000_000
    assert to_time_ns(1.5) == 1_500_000_000
    assert to_time_ns(pd.Timestamp("1970-01-01T00:00:02Z")) == 2_000_000_000
    with pytest.raises(TypeError, match="expected"):
        to_time_ns([1])


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    batches=st.lists(
        st.tuples(
            st.lists(st.integers(0, 500), min_size=0, max_size=30),
            st.booleans(),  # restart (a new BeamArchive on the same folder) before the batch
        ),
        min_size=1,
        max_size=8,
    )
)
def test_forward_only_appends_across_restarts_match_a_simple_model(tmp_path_factory, batches):
    root = tmp_path_factory.mktemp("arch")
    arch = BeamArchive(root)
    model: dict[int, float] = {}
    last = None
    for k, (times, restart) in enumerate(batches):
        if restart:
            arch = BeamArchive(root)
        t = np.array(times, dtype=np.int64) + T0
        v = np.full(t.size, float(k))
        arch.append("P", t, v)
        # model: sort, keep the first of repeated times, drop anything at or before `last`
        for ti in sorted(set(t.tolist())):
            if last is None or ti > last:
                model[ti] = float(k)
        if model:
            last = max(model)
    df = BeamArchive(root).query("P")
    assert df["time_ns"].tolist() == sorted(model)
    assert df["value"].tolist() == [model[t] for t in sorted(model)]
