"""Ratio benchmark: reading a CSV event table with the ragged-row check vs plain pandas.

``read_table`` counts the fields of every record before pandas parses the file (a ragged
row is named by its line, never padded or cut: issue #19). Measured in one run on the same
file, warm page cache, best of ``--repeat``:

* **read_table vs ``pandas.read_csv``** (the baseline: what the reader wraps) — target
  ≤ 3×. Both return a DataFrame of all columns.
* the field check alone, for files without quotes (numpy counts commas) and with quotes
  (the ``csv`` module), as fractions of the pandas parse.

The file (``--rows`` rows: int64 event, float64 energy, int16 channel, float64 time, plus a
quoted text column for the quoted case) lives in a temporary folder and is deleted.

Run:  python benchmarks/bench_io_csv_read.py [--rows 2000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from _timing import best_of, parse_args

from analysis_lib.io import read_table
from analysis_lib.io.tables import _csv_header_quoted, _csv_header_unquoted

TARGET = 3.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--repeat", type=int, default=3)
    a = parse_args(p, smoke={"rows": 20_000, "repeat": 1})
    rng = np.random.default_rng(19)
    n = a.rows
    df = pd.DataFrame(
        {
            "event": np.arange(n, dtype=np.int64),
            "energy_keV": rng.exponential(5.0, n),
            "channel": rng.integers(0, 4, n).astype(np.int16),
            "time_s": rng.random(n) * 3600,
        }
    )
    with tempfile.TemporaryDirectory(prefix="rarehub-bench-csv-") as tmp:
        plain = Path(tmp) / "events.csv"
        df.to_csv(plain, index=False)
        quoted = Path(tmp) / "quoted.csv"
        df.assign(det=[f'det {i % 7}, "Ge"' for i in range(n)]).to_csv(quoted, index=False)
        mb = plain.stat().st_size / 1e6
        plain.read_bytes()  # warm the page cache

        base = best_of(lambda: pd.read_csv(plain), a.repeat)
        ours = best_of(lambda: read_table(plain), a.repeat)
        check = best_of(lambda: _csv_header_unquoted(plain), a.repeat)
        base_q = best_of(lambda: pd.read_csv(quoted), a.repeat)
        check_q = best_of(lambda: _csv_header_quoted(quoted), a.repeat)
        got = read_table(plain)
        pd.testing.assert_frame_equal(got, df, check_dtype=False)

    ratio = ours / base
    print(f"{n} rows, {mb:.0f} MB: pandas.read_csv {base:.2f} s, read_table {ours:.2f} s")
    print(f"read_table / pandas.read_csv ratio {ratio:.2f} (target <= {TARGET})")
    print(f"field check, no quotes (numpy): {check:.2f} s, ratio to the parse {check / base:.2f}")
    print(
        f"field check, quoted (csv module): {check_q:.2f} s,"
        f" ratio to the parse {check_q / base_q:.2f}"
    )
    if ratio > TARGET and not a.smoke:
        raise SystemExit(f"read_table is {ratio:.2f}x pandas.read_csv (target <= {TARGET})")


if __name__ == "__main__":
    main()
