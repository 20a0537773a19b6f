"""Joining events to slow-control series; beam-on/off windows; POT exposure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis_lib.beam.archive import BeamArchive, Gap
from analysis_lib.beam.joins import (
    asof,
    beam_windows,
    forward_fill,
    in_windows,
    interpolate,
    join_slow_control,
    pot_in_windows,
)

T0 = 1_795_000_000 * 10**9  # 2026-11 in ns: precision must survive epoch-sized numbers
S = 10**9


def test_interpolate_is_linear_between_samples_and_nan_outside():
    ts = T0 + np.array([0, 10, 20]) * S
    vs = np.array([0.0, 1.0, 3.0])
    ev = T0 + np.array([-1, 0, 5, 15, 20, 21]) * S
    got = interpolate(ev, ts, vs)
    np.testing.assert_allclose(got, [np.nan, 0.0, 0.5, 2.0, 3.0, np.nan])


def test_interpolate_keeps_nanosecond_precision_at_epoch_scale():
    ts = T0 + np.array([0, 1000])  # 1 µs apart
    got = interpolate(T0 + np.array([1, 999]), ts, np.array([0.0, 1000.0]))
    np.testing.assert_allclose(got, [1.0, 999.0], rtol=0, atol=1e-6)


def test_events_inside_a_recorded_gap_get_nan():
    ts = T0 + np.array([0, 10, 100, 110]) * S
    vs = np.array([1.0, 1.0, 2.0, 2.0])
    gap = Gap("X", int(ts[1]), int(ts[2]), "disconnected")
    ev = T0 + np.array([5, 10, 50, 100, 105]) * S
    np.testing.assert_allclose(interpolate(ev, ts, vs, gaps=[gap]), [1.0, 1.0, np.nan, 2.0, 2.0])
    np.testing.assert_allclose(forward_fill(ev, ts, vs, gaps=[gap]), [1.0, 1.0, np.nan, 2.0, 2.0])
    # unsorted events take another path to the same answer
    np.testing.assert_allclose(
        interpolate(ev[::-1], ts, vs, gaps=[gap]), [2.0, 2.0, np.nan, 1.0, 1.0]
    )


def test_forward_fill_respects_max_age():
    ts = T0 + np.array([0, 10]) * S
    vs = np.array([1.0, 2.0])
    ev = T0 + np.array([-1, 0, 3, 9, 10, 30]) * S
    np.testing.assert_allclose(forward_fill(ev, ts, vs), [np.nan, 1, 1, 1, 2, 2])
    np.testing.assert_allclose(
        forward_fill(ev, ts, vs, max_age_ns=5 * S), [np.nan, 1, 1, np.nan, 2, np.nan]
    )


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    samples=st.lists(st.integers(0, 10**6), min_size=1, max_size=40, unique=True),
    events=st.lists(st.integers(-10, 10**6 + 10), min_size=1, max_size=40),
    direction=st.sampled_from(["backward", "forward", "nearest"]),
    tolerance=st.one_of(st.none(), st.integers(0, 10**5)),
)
def test_asof_agrees_with_pandas_merge_asof(samples, events, direction, tolerance):
    ts = np.sort(np.array(samples, dtype=np.int64)) + T0
    vs = np.arange(ts.size, dtype=float) * 1.5
    ev = np.array(events, dtype=np.int64) + T0
    got = asof(ev, ts, vs, direction=direction, tolerance_ns=tolerance)
    left = pd.DataFrame({"t": np.sort(ev)})
    right = pd.DataFrame({"t": ts, "v": vs})
    ref = pd.merge_asof(
        left,
        right,
        on="t",
        direction=direction,
        tolerance=None if tolerance is None else np.int64(tolerance),
    )["v"].to_numpy()
    got_sorted = got[np.argsort(ev, kind="stable")]
    assert np.array_equal(np.isnan(got_sorted), np.isnan(ref))
    if direction == "nearest":  # on a tie either neighbour is right: compare distances
        known = ~np.isnan(ref)
        t_ev = left["t"].to_numpy()[known]
        d_got = np.abs(ts[np.rint(got_sorted[known] / 1.5).astype(int)] - t_ev)
        d_ref = np.abs(ts[np.rint(ref[known] / 1.5).astype(int)] - t_ev)
        np.testing.assert_array_equal(d_got, d_ref)
    else:
        np.testing.assert_array_equal(got_sorted, ref)


def test_unsorted_samples_are_refused_with_the_index():
    with pytest.raises(ValueError, match=r"sorted; index 2"):
        interpolate([T0], np.array([T0, T0 + 2, T0 + 1]), np.zeros(3))


def test_join_slow_control_reads_the_archive(tmp_path):
    arch = BeamArchive(tmp_path)
    ts = T0 + np.arange(0, 100, 10) * S
    arch.append("TEMP_K", ts, 20.0 + np.arange(10))
    arch.record_gap("TEMP_K", int(ts[4]), int(ts[5]), "disconnected")
    events = pd.DataFrame({"time_ns": T0 + np.array([5, 45, 95, 200]) * S, "e_keV": 1.0})
    got = join_slow_control(events, arch, ["TEMP_K"])
    np.testing.assert_allclose(got["TEMP_K"], [20.5, np.nan, np.nan, np.nan])
    got = join_slow_control(events, arch, ["TEMP_K"], method="ffill", tolerance_ns=20 * S)
    np.testing.assert_allclose(got["TEMP_K"], [20.0, np.nan, 29.0, np.nan])
    assert list(events.columns) == ["time_ns", "e_keV"]  # input untouched
    with pytest.raises(KeyError, match="no column 't'"):
        join_slow_control(events, arch, ["TEMP_K"], time_column="t")


def test_beam_windows_split_on_threshold_and_gaps_and_count_pot():
    # 60 Hz pulses: 1 s on, 0.5 s trip, 1 s on, then a 2 s archive gap, then 1 s on
    period = S // 60
    t = T0 + np.arange(270) * period
    power = np.full(t.size, 1.4)
    power[60:90] = 0.0
    gap_from, gap_to = 150, 270  # samples after 150 are missing until the gap ends
    t = np.r_[t[: gap_from + 1], t[gap_to - 1] + 2 * S + np.arange(60) * period]
    power = np.r_[power[: gap_from + 1], np.full(60, 1.4)]
    gap = Gap("P", int(t[gap_from]), int(t[gap_from + 1]), "disconnected")
    w = beam_windows(t, power, threshold_MW=0.1, gaps=[gap])
    assert w["beam_on"].tolist() == [True, False, True, True]
    assert w["start_ns"].tolist() == [t[0], t[60], t[90], t[gap_from + 1]]
    assert w["end_ns"].tolist() == [t[60], t[90], t[gap_from], t[-1]]
    pot = power * 1.46e14
    per_window = pot_in_windows(t, pot, w)
    np.testing.assert_allclose(
        per_window, [60 * 1.46e14 * 1.4, 0.0, 60 * 1.46e14 * 1.4, 59 * 1.46e14 * 1.4]
    )
    # events: which window (on/off) each falls in; the gap and after the end: none
    ev = np.array([t[10], t[70], t[100], (t[gap_from] + t[gap_from + 1]) // 2, t[-1] + 1])
    idx = in_windows(ev, w)
    assert idx.tolist() == [0, 1, 2, -1, -1]
    # without the gap record the long spacing can still be declared unknown
    w2 = beam_windows(t, power, threshold_MW=0.1, max_spacing_ns=S)
    assert w2["beam_on"].tolist() == [True, False, True, True]
    assert beam_windows(t, power, threshold_MW=0.1, min_duration_ns=int(0.9 * S), gaps=[gap])[
        "beam_on"
    ].tolist() == [True, True, True]
