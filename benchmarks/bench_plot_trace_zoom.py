"""Benchmark: zooming a 6 s trace at 625 kHz costs ≤ 20 ms of server-side work.

A 6 s, 625 kHz trace (3.75 M samples, int16 as stored in raw files) is shown with
:func:`analysis_lib.plotting.long_trace`; the Bokeh plot is built as a Bokeh/Panel server
builds it (``hv.renderer("bokeh").get_plot``). Each zoom is an event on the plot's
``RangeX`` stream — exactly what the server does when the browser reports a new x range —
and is timed until the plot's ColumnDataSource holds the re-decimated data: the callback,
the min/max decimation and the Bokeh model update. "Server-side work" is the CPU time of
the serving thread (``time.thread_time``), which other jobs on a shared machine do not
inflate; wall time is printed beside it. Zoom levels from the full 6 s down to 1 ms; the
median and the worst of ``--repeat`` distinct windows per level.

Run:  python benchmarks/bench_plot_trace_zoom.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _timing import parse_args

FS_HZ = 625e3
DURATION_S = 6.0
TARGET_MS = 20.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--bins", type=int, default=1500, help="decimation bins (plot width)")
    a = parse_args(p, smoke={"repeat": 2, "bins": 100})

    import holoviews as hv

    from analysis_lib.plotting import long_trace

    rng = np.random.default_rng(2)
    n = int(DURATION_S * FS_HZ)
    trace = rng.normal(0, 8, n).astype(np.int16)
    dmap = long_trace(trace, sample_rate_Hz=FS_HZ, n_bins=a.bins, value_unit="ADC")
    plot = hv.renderer("bokeh").get_plot(dmap)
    source = plot.handles["source"]
    stream = dmap.streams[0]

    worst = 0.0
    print(f"{n:,} samples ({DURATION_S:g} s at {FS_HZ / 1e3:g} kHz), {a.bins} bins")
    for width_s in (6.0, 1.0, 0.1, 0.01, 0.001):
        # Distinct windows (never served from the DynamicMap's cache), even at full width.
        starts = np.linspace(0, max(DURATION_S - width_s, 1e-3), a.repeat + 1)
        cpu, wall = [], []
        for i, start in enumerate(starts):
            c0, w0 = time.thread_time(), time.perf_counter()
            stream.event(x_range=(start, start + width_s))
            if i:  # the first of each level warms caches
                cpu.append(time.thread_time() - c0)
                wall.append(time.perf_counter() - w0)
            t = source.data["time_s"]
            assert t[0] >= start - 1 / FS_HZ
            assert t[-1] <= start + width_s + 1 / FS_HZ
        med, mx = 1e3 * statistics.median(cpu), 1e3 * max(cpu)
        worst = max(worst, med)
        print(
            f"zoom to {width_s * 1e3:7.1f} ms: {len(t):5d} points  CPU median {med:5.1f} ms"
            f"  max {mx:5.1f} ms   (wall median {1e3 * statistics.median(wall):5.1f} ms)"
        )
    print(f"worst median CPU {worst:.1f} ms; ratio to the {TARGET_MS:g} ms target", end=" ")
    print(f"{worst / TARGET_MS:.2f}", "" if a.smoke else "met" if worst <= TARGET_MS else "NOT met")


if __name__ == "__main__":
    main()
