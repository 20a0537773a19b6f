"""Benchmark: the archiver keeps up with 100 PVs at 60 Hz on one core.

Starts the simulated beam IOC (``analysis_lib.beam.sim_ioc``: beam power, POT, pulse id
and 97 extra channels = 100 PVs at 60 Hz) on a free loopback port, pinned to one core, and
runs :class:`analysis_lib.beam.archiver.Archiver` in this process pinned to the other core
for ``--seconds``. Reports the updates per second received and written, the archiver's CPU
use (fraction of its one core: below 1 means it keeps up), duplicates, and whether the
pulse counter has holes (lost updates). The IOC's own publishing rate is reported too: it
is the ceiling of what can be received — a pure-Python caproto IOC tops out at a few
thousand updates/s here, so the archiver's capacity (updates per CPU-second) is reported
as well.

Run:  python benchmarks/bench_beam_archiver.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _timing import parse_args

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from rarehub_testing import free_port_block

EPICS_LOOPBACK = {
    "EPICS_CA_AUTO_ADDR_LIST": "NO",
    "EPICS_CA_ADDR_LIST": "127.0.0.1",
    "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
    "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1",
    "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--pvs", type=int, default=100)
    p.add_argument("--flush-interval-s", type=float, default=1.0)
    a = parse_args(p, smoke={"seconds": 1.0, "pvs": 10, "flush_interval_s": 0.5})
    port = str(free_port_block(1))
    env = dict(os.environ, **EPICS_LOOPBACK, EPICS_CA_SERVER_PORT=port, EPICS_CAS_SERVER_PORT=port)
    os.environ.update(env)  # before caproto is imported
    cores = sorted(os.sched_getaffinity(0))
    ioc_core, our_core = cores[0], cores[-1]

    from analysis_lib.beam.archive import BeamArchive
    from analysis_lib.beam.archiver import Archiver
    from analysis_lib.beam.sim_ioc import pv_names

    prefix = "BENCH:"
    names = pv_names(prefix, a.pvs - 3)
    ioc = subprocess.Popen(
        [
            "taskset",
            "-c",
            str(ioc_core),
            sys.executable,
            "-m",
            "analysis_lib.beam.sim_ioc",
            "--prefix",
            prefix,
            "--extra-pvs",
            str(a.pvs - 3),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        os.sched_setaffinity(0, {our_core})
        time.sleep(2.0)
        with tempfile.TemporaryDirectory() as tmp:
            arch = BeamArchive(Path(tmp))
            archiver = Archiver(arch, names, flush_interval_s=a.flush_interval_s)
            archiver.start()
            time.sleep(2.0)  # connect and settle
            archiver.flush()
            s0 = (archiver.stats.received, archiver.stats.written)
            c0, w0 = time.process_time(), time.perf_counter()
            end = w0 + a.seconds
            while time.perf_counter() < end:
                time.sleep(a.flush_interval_s)
                archiver.flush()
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            received = archiver.stats.received - s0[0]
            written = archiver.stats.written - s0[1]
            archiver.close()
            pulses = arch.query(f"{prefix}BEAM:PULSE_ID")["value"].to_numpy()
            holes = int(np.sum(np.diff(pulses) - 1)) if pulses.size > 1 else -1
            ioc_rate = (pulses[-1] - pulses[0]) / (len(pulses) and wall + 2.0) if pulses.size else 0
            stats = archiver.stats
    finally:
        ioc.terminate()
        ioc.wait(10)
    target = a.pvs * 60
    print(f"{a.pvs} PVs at 60 Hz = {target} updates/s target, {wall:.1f} s measured")
    print(f"IOC published  ~{ioc_rate * a.pvs:8.0f} updates/s (pulse counter)")
    print(
        f"received        {received / wall:8.0f} updates/s   ratio to target"
        f" {received / wall / target:.2f}"
    )
    print(f"written         {written / wall:8.0f} rows/s")
    print(f"archiver CPU    {cpu / wall:8.2f} of one core (< 1: keeps up)")
    print(f"flush time      {stats.flush_seconds / max(stats.flushes, 1) * 1e3:8.1f} ms per flush")
    print(f"duplicates      {stats.duplicates:8d}   lost pulses (holes in counter): {holes}")
    # conservative linear projection: all CPU (flushing included) counted per update
    per_update = cpu / max(received, 1)
    print(f"CPU per update  {per_update * 1e6:8.1f} µs (receive + buffer + flush)")
    print(f"projected load  {per_update * target:8.2f} of one core at {target} updates/s")
    if received < 0.95 * ioc_rate * a.pvs:
        print("the archiver fell behind the IOC")
    elif ioc_rate * a.pvs < 0.95 * target:
        print("note: the Python caproto IOC could not publish the full target rate on this")
        print("machine; the projected load extrapolates the CPU per update (conservative:")
        print("flush costs, fixed per PV and flush, are counted as if they grew with the rate)")


if __name__ == "__main__":
    main()
