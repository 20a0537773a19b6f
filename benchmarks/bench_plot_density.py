"""Benchmark: a datashaded 10 M-event energy–time plot within 1.5× of bare Datashader.

Ours: :func:`analysis_lib.plotting.energy_vs_time` on a 10 M-row DataFrame, then the
server-side work of showing it — building the DynamicMap (including the pass over the data
for its ranges) and evaluating the first frame (a Datashader aggregation into a HoloViews
``Image``); then a zoom (an event on the RangeXY stream, which re-aggregates).
Baseline: bare Datashader on the same points and grid, called as one would by hand:
``Canvas(width, height).points(df, x, y)``, which finds the data's bounds itself as ours
must, for the first frame, and ``Canvas(..., x_range, y_range)`` for a zoom. A stricter
ratio, against a Canvas handed the full ranges for free, is printed too. Numba is warmed up for
both before timing; the two are run alternately ``--repeat`` times and the ratio is the
median of the per-pair ratios.

Run:  python benchmarks/bench_plot_density.py [--events 10000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd
from _timing import parse_args


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def paired(ours, bare, repeat: int) -> tuple[float, float, float]:
    """Median times of ``ours`` and ``bare`` run alternately, and the median of the
    per-pair ratios (alternating cancels most of the drift of a shared machine's load)."""
    t_ours, t_bare = [], []
    for _ in range(repeat):
        t_bare.append(timed(bare))
        t_ours.append(timed(ours))
    ratios = [o / b for o, b in zip(t_ours, t_bare, strict=True)]
    return statistics.median(t_ours), statistics.median(t_bare), statistics.median(ratios)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--width", type=int, default=600)
    p.add_argument("--height", type=int, default=400)
    a = parse_args(p, smoke={"events": 10_000, "repeat": 1, "width": 60, "height": 40})

    import datashader as ds
    import holoviews as hv

    from analysis_lib.plotting import energy_vs_time

    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "time_s": rng.uniform(0, 86_400, a.events),
            "energy_keV": rng.exponential(10.0, a.events),
        }
    )
    x_range = (float(df.time_s.min()), float(df.time_s.max()))
    y_range = (float(df.energy_keV.min()), float(df.energy_keV.max()))
    # Distinct zooms, so that no frame comes from the DynamicMap's cache.
    zooms = [((20_000.0 + 1000 * i, 30_000.0 + 1000 * i), (0.0, 5.0 + i)) for i in range(99)]

    def bare(xr=None, yr=None):
        canvas = ds.Canvas(plot_width=a.width, plot_height=a.height, x_range=xr, y_range=yr)
        return canvas.points(df, "time_s", "energy_keV")

    def bare_given_ranges():
        return bare(x_range, y_range)

    def ours_first():
        dmap = energy_vs_time(df, width=a.width, height=a.height)
        return dmap[()]

    dmap = energy_vs_time(df, width=a.width, height=a.height)
    dmap[()]
    stream = next(s for s in dmap.streams if isinstance(s, hv.streams.RangeXY))

    ours_zooms, bare_zooms = iter(zooms), iter(zooms)

    def ours_zoom():
        zx, zy = next(ours_zooms)
        stream.event(x_range=zx, y_range=zy)
        return dmap[()]

    def bare_zoom():
        zx, zy = next(bare_zooms)
        return bare(zx, zy)

    # Warm up (Numba compilation) and check both count every event.
    img = ours_first()
    agg = bare()
    assert int(np.nansum(img.dimension_values(2))) == int(agg.values.sum()) == a.events

    t_first, t_bare, r_first = paired(ours_first, bare, a.repeat)
    _, t_strict, r_strict = paired(ours_first, bare_given_ranges, a.repeat)
    t_zoom, t_bare_zoom, r_zoom = paired(ours_zoom, bare_zoom, a.repeat)
    print(f"events: {a.events:,}  grid: {a.width}×{a.height}  (medians of {a.repeat} pairs)")
    print(f"bare datashader, full range:  {1e3 * t_bare:8.1f} ms")
    print(f"energy_vs_time first frame:   {1e3 * t_first:8.1f} ms  ratio {r_first:.2f}")
    print(f"bare datashader, ranges given:{1e3 * t_strict:8.1f} ms  (strict ratio {r_strict:.2f})")
    print(f"bare datashader, zoomed:      {1e3 * t_bare_zoom:8.1f} ms")
    print(f"energy_vs_time zoom event:    {1e3 * t_zoom:8.1f} ms  ratio {r_zoom:.2f}")
    ok = r_first <= 1.5 and r_zoom <= 1.5
    if not a.smoke:
        print("target ≤ 1.5×:", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
