"""Ratio benchmark: joining 10 M events to 1 M archived samples vs a bare ``numpy.interp``.

Both sides get the same arrays: event and sample times as int64 ns since the epoch (as the
archive stores them, at epoch scale) and float64 values. The bare baseline is
``numpy.interp(events, samples, values)`` (numpy converts the int64 times itself). The
library's :func:`analysis_lib.beam.joins.interpolate` additionally keeps ns precision
(shift to the first sample), gives NaN outside the series and masks recorded gaps (here
100 gaps). Target: ratio ≤ 1.5. Also reported: forward-fill (as-of) on the same arrays.

Run:  OMP_NUM_THREADS=1 python benchmarks/bench_beam_join.py
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import best_of, parse_args

from analysis_lib.beam.archive import Gap
from analysis_lib.beam.joins import forward_fill, interpolate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--samples", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=5)
    a = parse_args(p, smoke={"events": 20_000, "samples": 2_000, "repeat": 1})
    rng = np.random.default_rng(1)
    t0 = 1_795_000_000 * 10**9
    period = 16_666_667  # 60 Hz pulses with up to 1 ms of timestamp jitter
    samples = t0 + np.arange(a.samples) * period + rng.integers(0, 1_000_000, a.samples)
    values = rng.normal(1.4, 0.01, samples.size)
    events = np.sort(rng.integers(samples[0], samples[-1], a.events))
    gap_at = rng.choice(samples.size - 1, 100, replace=False)
    gaps = [Gap("P", int(samples[i]), int(samples[i + 1]), "test") for i in gap_at]

    base = best_of(lambda: np.interp(events, samples, values), a.repeat)
    ours = best_of(lambda: interpolate(events, samples, values, gaps=gaps), a.repeat)
    ffill = best_of(lambda: forward_fill(events, samples, values, gaps=gaps), a.repeat)
    ref = np.interp(events, samples, values)
    got = interpolate(events, samples, values)
    # bare numpy rounds epoch ns to 256 ns, so agreement is only to ~1e-7 here
    assert np.allclose(got, ref, rtol=0, atol=1e-5), "interpolate disagrees with numpy"
    print(f"{a.events:,} events x {samples.size:,} samples, best of {a.repeat}")
    print(f"numpy.interp (bare)         {base * 1e3:8.1f} ms")
    print(
        f"joins.interpolate (+gaps)   {ours * 1e3:8.1f} ms   ratio {ours / base:.2f}"
        " (target <= 1.5)"
    )
    print(f"joins.forward_fill (+gaps)  {ffill * 1e3:8.1f} ms   ratio {ffill / base:.2f}")
    if ours / base > 1.5 and not a.smoke:
        raise SystemExit("interpolate is more than 1.5x slower than numpy.interp")


if __name__ == "__main__":
    main()
