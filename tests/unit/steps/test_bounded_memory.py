"""Processing a run 10× larger than a memory cap stays under the cap.

Measured in a fresh interpreter after a warm-up run: the peak of memory allocated by
Python and NumPy (tracemalloc) must stay under ``CAP_MB`` while the run holds more than
10 × ``CAP_MB`` of raw samples; the process's peak RSS growth must stay under
``RSS_CAP_MB``, which includes HDF5's own metadata cache (capped at 32 MiB by default,
and touched once per event chunk by the raw format's one-chunk-per-event layout).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np

from analysis_lib.io.raw import RawWriter

N = 4096
CAP_MB = 4.0
RSS_CAP_MB = 64.0


def test_memory_stays_under_the_cap_for_10x_more_data(tmp_path):
    rng = np.random.default_rng(0)
    big, small = tmp_path / "big.h5", tmp_path / "small.h5"
    n_events = int(10 * CAP_MB * 1e6 / (N * 2)) + 500  # > 10 × cap of int16 samples
    for path, n in ((big, n_events), (small, 300)):
        with RawWriter(path, sample_rate_Hz=625e3, channels=["A"], n_samples=N) as w:
            for start in range(0, n, 2000):
                k = min(2000, n - start)
                w.append_events(rng.integers(-50, 50, (k, 1, N), dtype=np.int16), time_ns=0)
    raw_mb = n_events * N * 2 / 1e6
    script = textwrap.dedent(f"""
        import json, tracemalloc, psutil

        def hwm():  # peak RSS of this process image (ru_maxrss would include the parent's)
            with open("/proc/self/status") as f:
                return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:"))

        from analysis_lib.steps import DEFAULT_STEPS, Pipeline, RunInput
        noise = (({str(small)!r},), ("s",))
        config = {{s: {{"batch_events": 16}} for s in ("raw_events", "noise_events")}}
        pipe = Pipeline(DEFAULT_STEPS, config, storage={str(tmp_path / "store")!r})
        # warm up (imports, FFT plans, allocator) on a small run, then measure the big one
        pipe.make(RunInput("small", noise[0], noise[1], companions={{"noise": noise}}),
                  ["of_amplitudes", "features"])
        before = psutil.Process().memory_info().rss
        tracemalloc.start()
        pipe.make(RunInput("big", ({str(big)!r},), ("b",), companions={{"noise": noise}}),
                  ["of_amplitudes", "features"])
        traced = tracemalloc.get_traced_memory()[1]
        peak = hwm()
        print(json.dumps({{"traced_MB": traced / 1e6, "rss_growth_MB": (peak - before) / 1e6}}))
    """)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    m = json.loads(out.stdout.strip().splitlines()[-1])
    assert raw_mb > 10 * CAP_MB
    assert m["traced_MB"] < CAP_MB, f"{m} processing {raw_mb:.0f} MB"
    assert m["rss_growth_MB"] < RSS_CAP_MB, f"{m} processing {raw_mb:.0f} MB"
