"""Ratio benchmark: reading every sample of a ~1 GB SuperCDMS MIDAS file (issue #16).

The file is built by repeating the two events of the real SuperCDMS file
(``analysis_lib/io/formats/51230216_125838_F0001.mid.gz``: a 12 × 32768 random trigger and a
12 × 3008 physics trigger) after its begin-of-run header and ODB, with the MIDAS serial
numbers rewritten 1, 2, 3, … It lives in a temporary folder and is deleted at the end.

Measured in one run, warm page cache (the file is read once before timing), best of
``--repeat`` (wall time; the CPU-time ratio is printed too, as a check on a busy machine):

* **RareHub** (``open_scdms(path).events()``): every event's ``(channels, samples)`` array
  of every trigger, for the whole file, each sample read once (their maximum).
* **np.fromfile** of the same bytes, in 2 MiB blocks as ``uint16``, each value read once
  (their maximum): the disk-speed baseline. Target: RareHub ≥ 50 % of its throughput.
* **the stock Kaitai parser**: the same event loop with the parser the official compiler
  generates from ``scdms.ksy``, unpatched (every sample a Python int), on the first
  ``--stock-events`` events (it reads ~5 MB/s; the whole file would take minutes). Target:
  RareHub ≥ 50× its throughput.
* **peak memory**: a child process reads the whole file; the growth of its peak RSS after
  the first event, against the largest event's size. Target: ≤ 2 × one event + a constant.

Run:  python benchmarks/bench_midas_read.py [--mb 1000] [--repeat 3] [--smoke]
``--smoke``: a ~20 MB file and one repeat, in seconds (no targets, ratios printed).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
from _timing import parse_args

from analysis_lib.io.kaitai import compile_ksy
from analysis_lib.io.midas import MidasFile
from analysis_lib.io.scdms import FORMATS, SCDMS_KSY, open_scdms

REAL = FORMATS / "51230216_125838_F0001.mid.gz"


def build_file(path: Path, target_bytes: int, opener=open) -> tuple[int, int, int]:
    """Write the big file; return (bytes, events, largest event's bytes)."""
    raw = gzip.decompress(REAL.read_bytes())
    odb_size = struct.unpack_from("<I", raw, 12)[0]
    head = raw[: 16 + odb_size]
    events = []
    pos = len(head)
    while pos < len(raw):
        size = struct.unpack_from("<I", raw, pos + 12)[0]
        events.append(bytearray(raw[pos : pos + 16 + size]))
        pos += 16 + size
    n = 0
    with opener(path, "wb") as out:
        out.write(head)
        written = len(head)
        while written < target_bytes:
            for ev in events:
                n += 1
                struct.pack_into("<I", ev, 4, n)  # the serial number
                out.write(ev)
                written += len(ev)
    return written, n, max(len(e) for e in events)


def read_rarehub(path: Path) -> tuple[int, int]:
    """Every event's (channels, samples) array; every sample read (their maximum)."""
    n = top = 0
    for ev in open_scdms(path).events():
        traces = ev.traces
        n += traces.size
        top = max(top, int(traces.max()))
    return n, top


def read_fromfile(path: Path, block: int = 1 << 20) -> tuple[int, int]:
    """The same bytes as uint16 with np.fromfile, in 2 MiB blocks; their maximum."""
    n = top = 0
    with open(path, "rb") as f:
        while True:
            a = np.fromfile(f, dtype="<u2", count=block)
            if not a.size:
                return n, top
            n += a.size
            top = max(top, int(a.max()))


def read_stock(path: Path, n_events: int) -> tuple[int, int]:
    """The stock generated parser (lists of ints) over the same MIDAS framing."""
    from kaitaistruct import KaitaiStream

    parser = compile_ksy(SCDMS_KSY, fast=False)
    samples = nbytes = 0
    for i, ev in enumerate(MidasFile(path).events()):
        if i == n_events:
            break
        bank = ev.banks["SCD0"]
        p = parser.root(KaitaiStream(io.BytesIO(bytes(bank.data))))  # as from_bytes does
        for trig in p.trigger_blk:
            for det in trig.detector_blk:
                for ch in det.channel_blk:
                    samples += len(ch.sample)
        nbytes += 16 + len(ev.buffer)
    return samples, nbytes


def best(fn, repeat: int) -> tuple[float, float]:
    """Best wall time and best CPU time (s) of ``repeat`` runs."""
    wall = cpu = np.inf
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


_RSS_CHILD = """
import json, resource, sys
from analysis_lib.io.scdms import open_scdms
it = open_scdms(sys.argv[1]).events()
first = next(it)
n = first.traces.size
del first
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for ev in it:
    n += ev.traces.size
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"base_kib": base, "peak_kib": peak, "samples": n}))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mb", type=float, default=1000, help="file size in MB (default ~1 GB)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--stock-events", type=int, default=10)
    p.add_argument("--dir", default=None, help="where the temporary file goes (default: TMPDIR)")
    a = parse_args(p, smoke={"mb": 20, "repeat": 1, "stock_events": 2})
    work = Path(tempfile.mkdtemp(prefix="rarehub-bench-midas-", dir=a.dir))
    try:
        path = work / "big.mid"
        t0 = time.perf_counter()
        size, n_events, event_bytes = build_file(path, int(a.mb * 1e6))
        print(f"wrote {size / 1e6:.0f} MB ({n_events} events) in {time.perf_counter() - t0:.1f} s")

        n_ours, _ = read_rarehub(path)  # also warms the page cache
        read_fromfile(path)
        t_ours = c_ours = t_np = c_np = np.inf
        for _ in range(a.repeat):  # interleaved: both see the same machine state
            w, c = best(lambda: read_fromfile(path), 1)
            t_np, c_np = min(t_np, w), min(c_np, c)
            w, c = best(lambda: read_rarehub(path), 1)
            t_ours, c_ours = min(t_ours, w), min(c_ours, c)
        mbps_np, mbps_ours = size / t_np / 1e6, size / t_ours / 1e6
        print(f"np.fromfile (uint16, 2 MiB blocks): {mbps_np:8.0f} MB/s")
        print(
            f"RareHub open_scdms, every sample   : {mbps_ours:8.0f} MB/s"
            f"   {n_ours / 1e6:.0f} M samples   ratio {mbps_ours / mbps_np:.2f} (target ≥ 0.50)"
        )
        print(f"  same, CPU time (less sensitive to other load): ratio {c_np / c_ours:.2f}")

        read_stock(path, 1)  # compile/load outside the timing
        t0 = time.perf_counter()
        n_stock, stock_bytes = read_stock(path, a.stock_events)
        t_stock = time.perf_counter() - t0
        mbps_stock = stock_bytes / t_stock / 1e6
        print(
            f"stock Kaitai parser ({a.stock_events} events)   : {mbps_stock:8.2f} MB/s"
            f"   ratio RareHub/stock {mbps_ours / mbps_stock:.0f}× (target ≥ 50×)"
        )
        assert n_stock > 0

        out = subprocess.run(
            [sys.executable, "-c", _RSS_CHILD, str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        rss = json.loads(out.stdout)
        grow = (rss["peak_kib"] - rss["base_kib"]) * 1024
        assert rss["samples"] == n_ours
        print(
            f"peak RSS growth after the first event, .mid   : {grow / 1e6:.2f} MB for events"
            f" of {event_bytes / 1e6:.2f} MB: {grow / event_bytes:.2f} events"
            " (target ≤ 2 events + a constant)"
        )
        # the same through gzip (decompressed as it is read), ≤ 100 MB to keep it quick
        gz = work / "big.mid.gz"
        gz_size = build_file(gz, min(size, 100_000_000), partial(gzip.open, compresslevel=1))[0]
        out = subprocess.run(
            [sys.executable, "-c", _RSS_CHILD, str(gz)], capture_output=True, text=True, check=True
        )
        rss = json.loads(out.stdout)
        grow = (rss["peak_kib"] - rss["base_kib"]) * 1024
        print(
            f"peak RSS growth after the first event, .mid.gz: {grow / 1e6:.2f} MB"
            f" ({grow / event_bytes:.2f} events; a {gz_size / 1e6:.0f} MB file)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
