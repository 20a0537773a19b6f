"""Benchmark: chunked reading of 10× more event data than a memory cap, peak RSS under it.

Writes ``--files`` Parquet event tables to a temporary folder under /tmp whose in-memory
(decoded Arrow/numpy) size is ``--factor`` × ``--cap-mb`` in total, then, in a fresh
subprocess, streams all of them with :func:`analysis_lib.io.iterate` (``step_size`` in
bytes, three of the four columns, a filter) into an energy histogram and a count. The child
reports its peak resident set size (``ru_maxrss``, which includes the interpreter, numpy,
pandas and pyarrow themselves); the benchmark passes if it stays under the cap. The result
is checked against the known content. Everything is deleted at the end.

Run:  python benchmarks/bench_io_chunked_memory.py [--cap-mb 400] [--factor 10]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from _timing import parse_args

ROW_BYTES = 8 + 8 + 8 + 1  # event int64, time_ns int64, energy_keV float64, channel int8

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np
    from analysis_lib.io import iterate
    files, step = json.loads(sys.argv[1]), sys.argv[2]
    t0 = time.perf_counter()
    hist = np.zeros(100, np.int64)
    n = 0
    for chunk in iterate(files, columns=["energy_keV", "channel"], step_size=step,
                         filter=[("channel", "!=", 3)], library="np"):
        hist += np.histogram(chunk["energy_keV"], bins=100, range=(0, 20))[0]
        n += len(chunk["energy_keV"])
    dt = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": n, "hist_sum": int(hist.sum()), "seconds": dt,
                      "peak_rss_mb": rss_mb}))
    """
)


def write_files(folder: Path, total_rows: int, n_files: int) -> tuple[list[str], int]:
    rng = np.random.default_rng(1)
    per = total_rows // n_files
    files, kept = [], 0
    for i in range(n_files):
        path = folder / f"events_run{i:04d}.parquet"
        with pq.ParquetWriter(
            path,
            pa.schema(
                [
                    ("event", pa.int64()),
                    ("time_ns", pa.int64()),
                    ("energy_keV", pa.float64()),
                    ("channel", pa.int8()),
                ]
            ),
            compression="zstd",
            compression_level=1,
        ) as w:
            for s in range(0, per, 1_000_000):
                n = min(1_000_000, per - s)
                ch = rng.integers(0, 4, n, dtype=np.int8)
                kept += int((ch != 3).sum())
                w.write_table(
                    pa.table(
                        {
                            "event": np.arange(s, s + n, dtype=np.int64) + i * per,
                            "time_ns": (np.arange(s, s + n) * 1_000_000).astype(np.int64),
                            "energy_keV": np.round(rng.exponential(4.0, n), 3),
                            "channel": ch,
                        }
                    )
                )
        files.append(str(path))
    return files, kept


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cap-mb", type=float, default=400.0)
    p.add_argument("--factor", type=float, default=10.0)
    p.add_argument("--files", type=int, default=16)
    p.add_argument("--step", default="16 MB")
    # --smoke: the cap is then below the interpreter's own RSS: no verdict
    a = parse_args(p, smoke={"cap_mb": 4.0, "factor": 2.0, "files": 2, "step": "1 MB"})
    work = Path(tempfile.mkdtemp(prefix="rarehub-bench-chunked-", dir="/tmp"))
    try:
        total_rows = int(a.factor * a.cap_mb * 1e6 / ROW_BYTES) + a.files
        t0 = time.perf_counter()
        files, kept = write_files(work, total_rows, a.files)
        decoded = total_rows // a.files * a.files * ROW_BYTES  # the tables' in-memory size
        on_disk = sum(Path(f).stat().st_size for f in files)
        print(
            f"wrote {len(files)} files: {decoded / 1e6:.0f} MB in memory"
            f" ({on_disk / 1e6:.0f} MB on disk) in {time.perf_counter() - t0:.0f} s"
        )
        out = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(files), a.step],
            check=True,
            capture_output=True,
            text=True,
        )
        r = json.loads(out.stdout)
        assert r["rows"] == kept, (r, kept)
        print(
            f"streamed {r['rows']} rows in {r['seconds']:.1f} s "
            f"({decoded / r['seconds'] / 1e6:.0f} MB/s decoded)"
        )
        print(
            f"data / cap = {decoded / 1e6 / a.cap_mb:.1f}×; peak RSS {r['peak_rss_mb']:.0f} MB"
            f" vs cap {a.cap_mb:.0f} MB, ratio {r['peak_rss_mb'] / a.cap_mb:.2f}"
            + ("" if a.smoke else f" → {'PASS' if r['peak_rss_mb'] < a.cap_mb else 'FAIL'}")
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
