"""One catalog writer, run as a Slurm job on a node of the three-host cluster (what a
processing job does): it registers runs, raw files and results in the shared PostgreSQL
catalog while the other writers do the same, and times every catalog call.

    python catalog_writer.py CONFIG.json INDEX   → OUT/writer-INDEX.json

CONFIG (written by test_catalog_across_hosts.py) names the catalog URL (no password: libpq
reads it from ``PGPASSFILE``), the dataset, the folders and the counts. Writers wait for one
another at a barrier (files on the shared filesystem) so that all of them write at once.

Each writer, after the barrier:

- adds the dataset (all writers race on it);
- ``scan``s the common folder that every writer scans at the same moment (overlapping
  scans: the same paths, the same new runs);
- adds its own runs (``100 * (INDEX + 1) + k``) and races the others on the shared runs
  (``add_run`` without ``replace``: one wins each);
- writes and ``add_file``s its own raw files, and races on the shared files;
- stores a result per own run (a CSV and its lineage JSON, keyed by the lineage hash of
  the run's raw files, both ``add_file``d with the key in their metadata), sets the run's
  data quality, and records the deletion of a superseded result (``record_deletion``).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

from analysis_lib.catalog import Catalog, CatalogError, sha256_file
from analysis_lib.steps.core import lineage_hash


class Timer:
    """Wall time of every catalog call, by kind."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    def __call__(self, kind: str, fn, *args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.calls.append((kind, time.perf_counter() - t))

    def longest(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for kind, s in self.calls:
            out[kind] = max(out.get(kind, 0.0), s)
        return out


def barrier(folder: Path, me: int, n: int, timeout_s: float) -> float:
    """Wait for all ``n`` writers, then until one start time they all compute alike (the
    last arrival's time + 0.5 s: the same clock, the machine's); return the start time."""
    (folder / f"ready-{me}").touch()
    deadline = time.monotonic() + timeout_s
    while len(ready := list(folder.glob("ready-*"))) < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"writer {me}: not all {n} writers started within {timeout_s} s")
        time.sleep(0.02)
    start = max(p.stat().st_mtime for p in ready) + 0.5
    time.sleep(max(0.0, start - time.time()))
    return start


def credential_exposure() -> dict:
    """Where this job's catalog password (its line of ``PGPASSFILE``) can be seen by others:
    in any command line on this host (``ps`` shows them to every user) or in the job's
    environment (copied into Slurm's records of the job)."""
    password = Path(os.environ["PGPASSFILE"]).read_text().strip().rsplit(":", 1)[1]
    lines = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                lines.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
    environment = "\n".join(f"{k}={v}" for k, v in os.environ.items())
    return {
        "command_lines_seen": len(lines),
        "own_command_line_seen": any(__file__ in line for line in lines),
        "in_command_lines": any(password in line for line in lines),
        "in_environment": password in environment,
    }


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    me = int(sys.argv[2])
    dataset, timer = config["dataset"], Timer()
    own = Path(config["own_folder"]) / f"w{me}"
    own.mkdir(parents=True)
    t = time.perf_counter()
    cat = Catalog.open(config["url"], create=False)
    open_s = time.perf_counter() - t
    start = barrier(Path(config["barrier_folder"]), me, config["writers"], timeout_s=90)
    late_s = time.time() - start

    timer("add_dataset", cat.add_dataset, dataset, detector="ge-xhost")
    # All writers scan the same folder at the same moment: the same paths, the same runs.
    scan_began = time.time()
    scanned = timer("scan", cat.scan, config["common_folder"], dataset=dataset)
    scan_span = [scan_began, time.time()]
    exposure = credential_exposure()  # while the other writers still run
    my_runs = [100 * (me + 1) + k for k in range(config["runs_per_writer"])]
    for run in my_runs:
        timer("add_run", cat.add_run, dataset, run, run_type="physics", start=f"2026-03-0{me + 1}")
    created_shared = []
    shared_runs = config["shared_runs"]
    for run in shared_runs[me:] + shared_runs[:me]:  # each writer starts at another one
        try:
            timer("add_run", cat.add_run, dataset, run, run_type="calibration")
            created_shared.append(run)
        except CatalogError as e:
            if "already exists" not in str(e):
                raise
    raw: dict[int, list[str]] = {run: [] for run in my_runs}
    for run in my_runs:
        for k in range(config["files_per_run"]):
            f = own / f"run{run}_raw{k}.csv"
            f.write_text(f"writer,{me}\nrun,{run}\npart,{k}\n")
            timer("add_file", cat.add_file, f, dataset=dataset, run=run)
            raw[run].append(str(f))
    added_shared = []
    for path in config["shared_files"]:
        try:
            timer("add_file", cat.add_file, path, dataset=dataset)
            added_shared.append(path)
        except CatalogError as e:
            if "already in the catalog" not in str(e):
                raise
    results = []
    for run in my_runs:
        lineage = {
            "step": "xhost_summary",
            "version": "1",
            "run": run,
            "inputs": sorted(sha256_file(p) for p in raw[run]),
        }
        key = lineage_hash(lineage)
        result = own / f"run{run}_summary-{key[:16]}.csv"
        result.write_text(f"run,files\n{run},{len(raw[run])}\n")
        beside = result.with_suffix(".lineage.json")
        beside.write_text(json.dumps({"key": key, "lineage": lineage}, sort_keys=True))
        for path in (result, beside):
            timer("add_file", cat.add_file, path, dataset=dataset, run=run,
                  metadata={"lineage_key": key})  # fmt: skip
        timer("set_quality", cat.set_quality, dataset, run, "good", ["xhost-summary-ok"])
        timer(
            "record_deletion", cat.record_deletion, own / f"run{run}_summary-superseded.csv",
            size_bytes=12, reason="superseded by a newer summary", dataset=dataset,
            result_key=f"superseded-{key}",
        )  # fmt: skip
        results.append({"run": run, "key": key, "paths": [str(result), str(beside)]})
    cat.close()
    out = {
        "writer": me,
        "hostname": socket.gethostname(),
        "open_s": open_s,
        "late_s": late_s,
        "calls": len(timer.calls),
        "longest_s": timer.longest(),
        "my_runs": my_runs,
        "created_shared_runs": created_shared,
        "added_shared_files": added_shared,
        "raw_files": raw,
        "scanned": scanned["path"].tolist(),
        "scan_span": scan_span,
        "results": results,
        "password_exposure": exposure,
    }
    target = Path(config["out_folder"]) / f"writer-{me}.json"
    target.with_suffix(".tmp").write_text(json.dumps(out))
    target.with_suffix(".tmp").rename(target)


if __name__ == "__main__":
    main()
