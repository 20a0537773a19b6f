"""Join events to beam and slow-control time series; beam-on/off windows and POT exposure.

Times are int64 nanoseconds since the Unix epoch (UTC) throughout, as in the archive.

Three ways to give each event the value of a slowly sampled quantity, as in straxen's
slow-control interface (``fill_gaps="interpolation"`` or ``"forwardfill"``):

- :func:`interpolate` — linear between the two samples around the event;
- :func:`forward_fill` — the last sample at or before the event (what the IOC showed);
- :func:`asof` — the sample nearest in a chosen direction, within a tolerance.

All three return NaN where the value is unknown: before the first sample, after the last
(for interpolation), inside a recorded archive gap, or farther than a tolerance from any
sample. :func:`join_slow_control` does this for a table of events straight from a
:class:`~analysis_lib.beam.archive.BeamArchive`.

For accelerator neutrino experiments, :func:`beam_windows` turns a beam-power series into
beam-on / beam-off intervals, :func:`in_windows` classifies events, and
:func:`pot_in_windows` sums protons on target (POT) per window: the POT-weighted exposure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from .archive import BeamArchive, Gap

__all__ = [
    "asof",
    "beam_windows",
    "forward_fill",
    "in_windows",
    "interpolate",
    "join_slow_control",
    "pot_in_windows",
]


def _check_samples(t: np.ndarray, v: np.ndarray, what: str = "samples") -> None:
    if t.ndim != 1 or t.shape != v.shape:
        raise ValueError(
            f"{what}: time_ns and value must be 1-d of equal length, got {t.shape} and {v.shape}"
        )
    if t.size > 1 and np.any(t[1:] < t[:-1]):
        i = int(np.flatnonzero(t[1:] < t[:-1])[0])
        raise ValueError(
            f"{what}: time_ns must be sorted; index {i + 1} ({t[i + 1]}) < index {i} ({t[i]})"
        )


def _blank_gaps(out: np.ndarray, event_t: np.ndarray, gaps: Iterable[Gap] | None) -> None:
    """Set ``out`` to NaN for events strictly inside a recorded gap (in place).

    Gaps are few and events many: for time-sorted events each gap is one slice found by
    two binary searches; otherwise one binary search per event over the gap starts.
    """
    gaps = list(gaps or ())
    if not gaps or event_t.size == 0:
        return
    if event_t.size < 2 or bool(np.all(event_t[1:] >= event_t[:-1])):
        for g in gaps:
            lo = np.searchsorted(event_t, g.start_ns, side="right")
            hi = np.searchsorted(event_t, g.end_ns, side="left")
            out[lo:hi] = np.nan
        return
    starts = np.array([g.start_ns for g in gaps], dtype=np.int64)
    ends = np.array([g.end_ns for g in gaps], dtype=np.int64)
    order = np.argsort(starts)
    starts, ends = starts[order], np.maximum.accumulate(ends[order])
    i = np.searchsorted(starts, event_t, side="left") - 1  # last gap starting before
    inside = (i >= 0) & (event_t < ends[np.maximum(i, 0)])
    out[inside] = np.nan


def interpolate(
    event_time_ns: np.ndarray,
    sample_time_ns: np.ndarray,
    sample_value: np.ndarray,
    *,
    gaps: Iterable[Gap] | None = None,
) -> np.ndarray:
    """Linear interpolation of a sampled quantity at the event times.

    Parameters
    ----------
    event_time_ns : array of int64
        Event times (ns UTC), any order.
    sample_time_ns, sample_value : arrays
        The series, sorted by time (as :meth:`BeamArchive.query` returns it).
    gaps : iterable of Gap, optional
        Recorded gaps; events inside one get NaN instead of a value bridged across it.

    Returns
    -------
    numpy.ndarray of float64
        NaN before the first and after the last sample, and inside gaps.
    """
    ts = np.asarray(sample_time_ns)
    vs = np.asarray(sample_value, dtype=np.float64)
    _check_samples(ts, vs)
    te = np.asarray(event_time_ns)
    if ts.size == 0:
        return np.full(te.shape, np.nan)
    # Shift to the first sample before converting: float64 keeps ns precision for ~100 days
    # of offsets, whereas absolute epoch ns (1.8e18) would round to 256 ns.
    t0 = ts[0]
    out = np.interp(
        (te - t0).astype(np.float64),
        (ts - t0).astype(np.float64),
        vs,
        left=np.nan,
        right=np.nan,
    )
    _blank_gaps(out, te, gaps)
    return out


def asof(
    event_time_ns: np.ndarray,
    sample_time_ns: np.ndarray,
    sample_value: np.ndarray,
    *,
    direction: str = "backward",
    tolerance_ns: int | None = None,
    gaps: Iterable[Gap] | None = None,
) -> np.ndarray:
    """The value of the matching sample for each event, like :func:`pandas.merge_asof`.

    Parameters
    ----------
    direction : {"backward", "forward", "nearest"}
        Last sample at or before the event, first at or after it, or the closer of the two.
    tolerance_ns : int, optional
        Give NaN when the matched sample is farther than this from the event (ns).
    gaps : iterable of Gap, optional
        Events strictly inside a recorded gap get NaN.

    Returns
    -------
    numpy.ndarray of float64
    """
    if direction not in ("backward", "forward", "nearest"):
        raise ValueError(f"direction={direction!r}: expected 'backward', 'forward' or 'nearest'")
    ts = np.asarray(sample_time_ns)
    vs = np.asarray(sample_value, dtype=np.float64)
    _check_samples(ts, vs)
    te = np.asarray(event_time_ns)
    n = ts.size
    if n == 0:
        return np.full(te.shape, np.nan)
    if direction == "backward":
        idx = np.searchsorted(ts, te, side="right") - 1  # last sample <= event
        ok = idx >= 0
    elif direction == "forward":
        idx = np.searchsorted(ts, te, side="left")  # first sample >= event
        ok = idx < n
    else:
        after = np.searchsorted(ts, te, side="left")
        a = np.minimum(after, n - 1)
        b = np.maximum(after - 1, 0)
        # the nearer neighbour; ties go backward, as in pandas.merge_asof
        idx = np.where(np.abs(ts[a] - te) < np.abs(te - ts[b]), a, b)
        ok = np.ones(te.shape, dtype=bool)
    np.clip(idx, 0, n - 1, out=idx)
    out = vs[idx]
    if not ok.all():
        out[~ok] = np.nan
    if tolerance_ns is not None:
        out[np.abs(te - ts[idx]) > tolerance_ns] = np.nan
    _blank_gaps(out, te, gaps)
    return out


def forward_fill(
    event_time_ns: np.ndarray,
    sample_time_ns: np.ndarray,
    sample_value: np.ndarray,
    *,
    max_age_ns: int | None = None,
    gaps: Iterable[Gap] | None = None,
) -> np.ndarray:
    """The last sample at or before each event (NaN if none, older than ``max_age_ns``, or
    the event is inside a gap). Same as ``asof(..., direction="backward")``."""
    return asof(
        event_time_ns,
        sample_time_ns,
        sample_value,
        direction="backward",
        tolerance_ns=max_age_ns,
        gaps=gaps,
    )


_METHODS = {"interpolate": interpolate, "ffill": forward_fill, "nearest": None}


def join_slow_control(
    events: pd.DataFrame,
    archive: BeamArchive,
    pvs: Sequence[str],
    *,
    method: str = "interpolate",
    time_column: str = "time_ns",
    tolerance_ns: int | None = None,
    margin_ns: int = 60 * 1_000_000_000,
) -> pd.DataFrame:
    """A copy of ``events`` with one column per PV holding its value at each event's time.

    Parameters
    ----------
    events : DataFrame
        Must have ``time_column`` (int64 ns UTC).
    archive : BeamArchive
        Where the PV series are.
    pvs : sequence of str
        The PVs; each becomes a column of the same name.
    method : {"interpolate", "ffill", "nearest"}
        How to fill between samples (see the module docstring).
    tolerance_ns : int, optional
        For "ffill"/"nearest": NaN when the matched sample is farther than this.
    margin_ns : int
        Samples up to this far outside the events' time range are read (default 60 s),
        so the first and last events have neighbours.
    """
    if method not in _METHODS:
        raise ValueError(f"method={method!r}: expected one of {sorted(_METHODS)}")
    if time_column not in events.columns:
        raise KeyError(f"events have no column {time_column!r} (columns: {list(events.columns)})")
    te = events[time_column].to_numpy()
    if not np.issubdtype(te.dtype, np.integer):
        raise TypeError(f"events[{time_column!r}] must be int64 ns UTC, got dtype {te.dtype}")
    out = events.copy()
    lo = int(te.min()) - margin_ns if te.size else 0
    hi = int(te.max()) + margin_ns + 1 if te.size else 0
    for pv in pvs:
        s = archive.query(pv, start=lo, end=hi)
        gaps = archive.gaps(pv, start=lo, end=hi)
        t, v = s["time_ns"].to_numpy(), s["value"].to_numpy()
        if method == "interpolate":
            out[pv] = interpolate(te, t, v, gaps=gaps)
        elif method == "ffill":
            out[pv] = forward_fill(te, t, v, max_age_ns=tolerance_ns, gaps=gaps)
        else:
            out[pv] = asof(te, t, v, direction="nearest", tolerance_ns=tolerance_ns, gaps=gaps)
    return out


def beam_windows(
    time_ns: np.ndarray,
    power_MW: np.ndarray,
    *,
    threshold_MW: float,
    min_duration_ns: int = 0,
    max_spacing_ns: int | None = None,
    gaps: Iterable[Gap] | None = None,
) -> pd.DataFrame:
    """Beam-on and beam-off intervals from a sampled beam power.

    Sample ``i`` stands for ``[t_i, t_{i+1})``, beam on if its power exceeds
    ``threshold_MW``. Consecutive intervals in the same state form one window. Intervals
    that overlap a recorded gap, or are longer than ``max_spacing_ns``, have an unknown
    state and belong to no window (the last sample has no interval).

    Returns
    -------
    DataFrame
        Columns ``start_ns``, ``end_ns`` (half-open ``[start, end)``), ``beam_on`` (bool),
        ``duration_s``; windows shorter than ``min_duration_ns`` are dropped.
    """
    t = np.asarray(time_ns)
    p = np.asarray(power_MW, dtype=np.float64)
    _check_samples(t, p, "beam power")
    if t.size < 2:
        return pd.DataFrame(
            {
                "start_ns": pd.Series(dtype=np.int64),
                "end_ns": pd.Series(dtype=np.int64),
                "beam_on": pd.Series(dtype=bool),
                "duration_s": pd.Series(dtype=float),
            }
        )
    state = np.where(p[:-1] > threshold_MW, 1, 0)
    for g in gaps or ():
        lo = max(int(np.searchsorted(t, g.start_ns, side="right")) - 1, 0)
        hi = int(np.searchsorted(t, g.end_ns, side="left"))
        state[lo:hi] = -1  # intervals [t_i, t_i+1) that overlap the gap
    if max_spacing_ns is not None:
        state[np.diff(t) > max_spacing_ns] = -1
    first = np.flatnonzero(np.r_[True, state[1:] != state[:-1]])
    last_plus_one = np.r_[first[1:], state.size]
    df = pd.DataFrame(
        {
            "start_ns": t[first].astype(np.int64),
            "end_ns": t[last_plus_one].astype(np.int64),
            "beam_on": state[first] == 1,
        }
    )[state[first] >= 0]
    df["duration_s"] = (df["end_ns"] - df["start_ns"]) / 1e9
    return df[df["end_ns"] - df["start_ns"] >= min_duration_ns].reset_index(drop=True)


def in_windows(event_time_ns: np.ndarray, windows: pd.DataFrame) -> np.ndarray:
    """Index of the window ``[start_ns, end_ns)`` holding each event, or -1 if none.

    ``windows`` must not overlap (as :func:`beam_windows` returns them)."""
    te = np.asarray(event_time_ns)
    starts = windows["start_ns"].to_numpy()
    ends = windows["end_ns"].to_numpy()
    order = np.argsort(starts)
    i = np.searchsorted(starts[order], te, side="right") - 1
    ok = i >= 0
    ok[ok] = te[ok] < ends[order][i[ok]]
    return np.where(ok, order[np.clip(i, 0, None)], -1)


def pot_in_windows(
    pulse_time_ns: np.ndarray, pot_per_pulse: np.ndarray, windows: pd.DataFrame
) -> np.ndarray:
    """Protons on target delivered in each window ``[start_ns, end_ns)``: the sum of the
    POT of the pulses inside it (POT-weighted exposure). Pulses must be sorted in time."""
    t = np.asarray(pulse_time_ns)
    pot = np.asarray(pot_per_pulse, dtype=np.float64)
    _check_samples(t, pot, "POT per pulse")
    cum = np.r_[0.0, np.cumsum(pot)]
    a = np.searchsorted(t, windows["start_ns"].to_numpy(), side="left")
    b = np.searchsorted(t, windows["end_ns"].to_numpy(), side="left")
    return cum[b] - cum[a]
