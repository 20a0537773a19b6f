"""Ratio benchmark: declarative binary read (.ksy subset → numpy.memmap) of a ≥ 500 MB file.

Measured in one run, on the demo germanium DAQ format (``analysis_lib.demo.ge.DAQ_FORMAT``:
36-byte header, records of 16 header bytes + 4 × 4096 int16 samples = 32 784 bytes):

* **declarative vs hand-written memmap** — target ≥ 80 %. Both sides do the same work on
  every record: sum all samples (int64) in blocks of 512 records and copy out the
  ``event``/``time_ns`` header fields. The declarative side also parses the ``.ksy``,
  validates the file size and checks every record's sync word; the hand-written side
  hard-codes the dtype and offset.
* **declarative vs the Kaitai-generated Python parser** — target ≥ 8×. The same ``.ksy``
  is compiled by the npm ``kaitai-struct-compiler`` (the pinned one ``./dev`` installs, run
  through ``analysis_lib.io.kaitai``; stock parser, no numpy) and run with the PyPI
  ``kaitaistruct`` runtime on a prefix of the file
  (it parses value by value, so the whole file would take many minutes); throughputs in
  MB/s are compared.

Files live in a temporary folder under /tmp and are deleted at the end. Numbers are for a
warm page cache (the file is read once before timing), best of ``--repeat``.

Run:  python benchmarks/bench_binary_read.py [--mb 520] [--kaitai-records 200] [--smoke]
``--smoke``: a 2 MB file, one repeat, in seconds (no targets, ratios printed).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from _timing import best_of, parse_args

from analysis_lib.demo.ge import DAQ_FORMAT
from analysis_lib.io.binary import load_format, write_records

KSC_VERSION = "0.11.0"
BLOCK = 512
HEADER_BYTES = 36  # magic 4, version 2, n_channels 2, n_samples 4, rate 8, run 4, pad 4, t0 8


def make_file(path: Path, n_records: int, n_channels=4, n_samples=4096) -> dict:
    fmt = load_format(DAQ_FORMAT)
    header = {
        "header": {
            "version": 1,
            "n_channels": n_channels,
            "n_samples": n_samples,
            "sample_rate_hz": 625e3,
            "run_number": 1,
            "run_start_ns": 0,
        }
    }
    rdt = fmt.record_dtype(header)
    rng = np.random.default_rng(1)

    def blocks():
        for s in range(0, n_records, BLOCK):
            n = min(BLOCK, n_records - s)
            b = np.zeros(n, rdt)
            b["event"] = np.arange(s, s + n)
            b["time_ns"] = (np.arange(s, s + n) * 2e8).astype(np.int64)
            b["samples"] = rng.integers(1900, 2100, (n, n_channels * n_samples), dtype=np.int16)
            yield b

    write_records(path, fmt, header, blocks())
    return header


def read_declarative(path: Path, ksy: Path) -> tuple[int, np.ndarray]:
    bf = load_format(ksy).open(path)
    bf.validate()
    total = 0
    for _, block in bf.iter_records(BLOCK):
        total += int(block["samples"].sum(dtype=np.int64))
    head = bf.fields(["event", "time_ns"])
    return total, head


def read_handwritten(path: Path, n_channels=4, n_samples=4096) -> tuple[int, np.ndarray]:
    dt = np.dtype(
        [
            ("sync", "V2"),
            ("trigger_channel", "u1"),
            ("flags", "u1"),
            ("event", "<u4"),
            ("time_ns", "<i8"),
            ("samples", "<i2", (n_channels * n_samples,)),
        ]
    )
    n = (path.stat().st_size - HEADER_BYTES) // dt.itemsize
    mm = np.memmap(path, dtype=dt, mode="r", offset=HEADER_BYTES, shape=(n,))
    total = 0
    for s in range(0, n, BLOCK):
        total += int(mm["samples"][s : s + BLOCK].sum(dtype=np.int64))
    head = np.empty(n, [("event", "<u4"), ("time_ns", "<i8")])
    head["event"] = mm["event"]
    head["time_ns"] = mm["time_ns"]
    return total, head


def build_kaitai_parser(ksy_text: str, workdir: Path):
    """The stock parser the official compiler generates from the .ksy (the pinned npm
    kaitai-struct-compiler that ./dev installs, via analysis_lib.io.kaitai), unpatched."""
    from analysis_lib.io.kaitai import compile_ksy

    workdir.mkdir(parents=True, exist_ok=True)
    ksy = workdir / "ge_daq.ksy"
    ksy.write_text(ksy_text)
    return compile_ksy(ksy, fast=False).root


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mb", type=int, default=520, help="file size in MB (≥ 500 for the target)")
    p.add_argument("--kaitai-records", type=int, default=200)
    p.add_argument("--repeat", type=int, default=3)
    a = parse_args(p, smoke={"mb": 2, "kaitai_records": 5, "repeat": 1})
    work = Path(tempfile.mkdtemp(prefix="rarehub-bench-binary-", dir="/tmp"))
    try:
        ksy = work / "ge_daq.ksy"
        ksy.write_text(DAQ_FORMAT)
        rec_bytes = 16 + 2 * 4 * 4096
        n_records = a.mb * 10**6 // rec_bytes + 1
        data = work / "big.bin"
        t0 = time.perf_counter()
        make_file(data, n_records)
        size = data.stat().st_size
        print(
            f"wrote {size / 1e6:.0f} MB ({n_records} records) in {time.perf_counter() - t0:.1f} s"
        )

        ours_result = read_declarative(data, ksy)  # also warms the page cache
        hand_result = read_handwritten(data)
        assert ours_result[0] == hand_result[0]
        assert np.array_equal(ours_result[1], hand_result[1])
        t_hand, t_ours = np.inf, np.inf
        for _ in range(a.repeat):  # interleaved, so both see the same machine state
            t_hand = min(t_hand, best_of(lambda: read_handwritten(data), 1))
            t_ours = min(t_ours, best_of(lambda: read_declarative(data, ksy), 1))
        mbps_hand, mbps_ours = size / t_hand / 1e6, size / t_ours / 1e6
        print(f"hand-written memmap : {mbps_hand:8.0f} MB/s")
        print(
            f"declarative (.ksy)  : {mbps_ours:8.0f} MB/s   ratio {mbps_ours / mbps_hand:.2f}"
            " (target ≥ 0.80)"
        )

        cls = build_kaitai_parser(DAQ_FORMAT, work / "ksc")
        prefix = work / "prefix.bin"
        with open(data, "rb") as src, open(prefix, "wb") as dst:
            dst.write(src.read(HEADER_BYTES + a.kaitai_records * rec_bytes))

        def kaitai():
            parsed = cls.from_file(str(prefix))
            total = sum(sum(r.samples) for r in parsed.records)
            head = [(r.event, r.time_ns) for r in parsed.records]
            parsed.close()
            return total, head

        k_total, k_head = kaitai()
        ours_prefix = read_declarative(prefix, ksy)
        assert k_total == ours_prefix[0], "the Kaitai parser must read the same samples"
        assert k_head == ours_prefix[1].tolist(), "… and the same header fields"
        t_k = best_of(kaitai, 1)
        t_o = best_of(lambda: read_declarative(prefix, ksy), a.repeat)
        psize = prefix.stat().st_size
        mbps_k, mbps_o = psize / t_k / 1e6, psize / t_o / 1e6
        print(f"Kaitai Python parser: {mbps_k:8.2f} MB/s on a {psize / 1e6:.1f} MB prefix")
        print(
            f"declarative, prefix : {mbps_o:8.0f} MB/s   ratio {mbps_o / mbps_k:.0f}× (target ≥ 8×)"
        )
        print(f"declarative, full   : ratio vs Kaitai {mbps_ours / mbps_k:.0f}×")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
