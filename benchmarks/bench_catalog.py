"""Ratio benchmark: the catalog on SQLite and on PostgreSQL, measured in one run.

* **queries on a big catalog** (default 1 M files in 50 k runs, 20 files per run): p50/p95
  in ms of ``runs(...)`` with filters (detector, run type, quality, a one-week window),
  ``files(dataset=…, run=…)`` and ``file(path)``. The rows are bulk-inserted into SQLite
  (synthetic paths: nothing on disk), then copied to PostgreSQL with ``migrate``'s copy,
  whose time is reported too.
* **concurrent writers**: 20 processes vs 1 process, each registering its own small real
  files with ``add_file`` (stat, SHA-256, one transaction each): files registered per
  second, and the ratio.
* **scan**: ``scan`` of 100 k small files (1 KiB), and of 2000 files of 1 MiB (raw data
  is big files), vs ``sha256sum`` over the same files in
  the same run (warm page cache for both): the share of scan time that is hashing, as
  ``time(sha256sum) / time(scan)`` (target ≥ 0.8), and the CPU seconds of the catalog
  process and of the helper processes that hash (``analysis_lib/catalog/hashing.py``).
  On PostgreSQL also the server's insert work alone for the same rows (``COPY`` of ready
  CSV, nothing else running): with the server on the same cores, a floor under the scan.

PostgreSQL: ``--pg-url URL`` (a role that may create databases, password in ~/.pgpass: each
measurement gets a new database, dropped at the end), else a throw-away
server is started as in the tests (root and Debian's postgresql needed), else PostgreSQL is
left out and the output says so. ``--smoke`` runs tiny sizes in seconds.

Run:  python benchmarks/bench_catalog.py [--smoke] [--files 1000000] [--runs 50000]
      [--parts queries,writers,scan] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from _timing import parse_args

import analysis_lib.catalog.store as store
from analysis_lib.catalog import Catalog
from analysis_lib.catalog.copying import copy_catalog
from analysis_lib.catalog.schema import datasets, files, runs

REPO = Path(__file__).resolve().parents[1]
DETECTORS = ("ge1", "ge2", "si1", "csi")
RUN_TYPES = ("physics", "physics", "physics", "calibration", "noise", "beam-off")
QUALITIES = ("good", "good", "bad", "unknown")


@contextlib.contextmanager
def postgres(args):
    """Yield a function making an empty database URL, or None when there is no server."""
    if args.pg_url:  # a role that may CREATE DATABASE; each measurement gets a new one
        from analysis_lib.catalog.connect import sqlalchemy_url

        admin = sa.create_engine(sqlalchemy_url(args.pg_url), isolation_level="AUTOCOMMIT")
        made = []

        def new_database(name):
            made.append(f"bench_{name}_{os.urandom(4).hex()}")
            with admin.connect() as c:
                c.exec_driver_sql(f"CREATE DATABASE {made[-1]}")
            url = sa.engine.make_url(sqlalchemy_url(args.pg_url)).set(database=made[-1])
            return url.render_as_string(hide_password=False)

        try:
            yield new_database
        finally:
            with admin.connect() as c:
                for name in made:
                    c.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.dispose()
        return
    sys.path.insert(0, str(REPO / "tests" / "support"))
    try:
        import postgres as pg_support
    except ImportError:
        yield None
        return
    why = pg_support.missing_requirements()
    if why:
        print(f"PostgreSQL left out: {why}", file=sys.stderr)
        yield None
        return
    with pg_support.start_postgres() as server:
        os.environ["PGPASSFILE"] = str(server.pgpass)
        yield lambda name: server.url(server.create_database(name))


def fill(cat: Catalog, n_runs: int, n_files: int, seed: int = 1) -> list[str]:
    """Bulk-insert n_runs runs and n_files files (paths only); return some file paths."""
    rng = random.Random(seed)
    per_run = max(1, n_files // n_runs)
    t0 = np.datetime64("2024-01-01T00:00:00")
    with cat.transaction():
        cat._conn.execute(
            datasets.insert(),
            [
                {"id": i + 1, "name": f"{d}-data", "detector": d, "created_utc": "2024-01-01"}
                for i, d in enumerate(DETECTORS)
            ],
        )
        run_rows, file_rows = [], []
        for r in range(n_runs):
            d = r % len(DETECTORS)
            start = t0 + np.timedelta64(r * 600, "s")
            run_rows.append(
                {
                    "id": r + 1,
                    "dataset_id": d + 1,
                    "run_number": r,
                    "detector": DETECTORS[d],
                    "run_type": rng.choice(RUN_TYPES),
                    "start_utc": f"{start}.000000Z",
                    "end_utc": f"{start + np.timedelta64(3000, 's')}.000000Z",
                    "quality": rng.choice(QUALITIES),
                }
            )
            for k in range(per_run):
                file_rows.append(
                    {
                        "dataset_id": d + 1,
                        "run_id": r + 1,
                        "path": f"/data/{DETECTORS[d]}/run{r:06d}/part{k:03d}.h5",
                        "volume": "/data",
                        "size_bytes": 1 << 20,
                        "sha256": f"{r:032x}{k:032x}",
                        "format": "hdf5",
                        "added_utc": "2024-01-01T00:00:00.000000Z",
                    }
                )
            if len(run_rows) >= 5000:
                cat._conn.execute(runs.insert(), run_rows)
                cat._conn.execute(files.insert(), file_rows)
                run_rows, file_rows = [], []
        if run_rows:
            cat._conn.execute(runs.insert(), run_rows)
            cat._conn.execute(files.insert(), file_rows)
    return [
        f"/data/{DETECTORS[r % 4]}/run{r:06d}/part{rng.randrange(per_run):03d}.h5"
        for r in (rng.randrange(n_runs) for _ in range(1000))
    ]


def percentiles(times: list[float]) -> dict:
    ms = np.array(times) * 1e3
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3),
            "p95_ms": round(float(np.percentile(ms, 95)), 3)}  # fmt: skip


def queries(cat: Catalog, sample_paths: list[str], n_runs: int, repeat: int) -> dict:
    rng = random.Random(2)
    out = {}
    t_runs, t_files, t_file = [], [], []
    for _ in range(repeat):
        day = np.datetime64("2024-01-01") + np.timedelta64(
            rng.randrange(max(1, n_runs * 600 // 86400)), "D"
        )
        t = time.perf_counter()
        cat.runs(
            detector=rng.choice(DETECTORS), run_type="physics", quality="good",
            start=str(day), end=str(day + np.timedelta64(7, "D")),
        )  # fmt: skip
        t_runs.append(time.perf_counter() - t)
        r = rng.randrange(n_runs)
        t = time.perf_counter()
        got = cat.files(dataset=f"{DETECTORS[r % 4]}-data", run=r)
        t_files.append(time.perf_counter() - t)
        assert len(got) >= 1
        p = rng.choice(sample_paths)
        t = time.perf_counter()
        cat.file(p)
        t_file.append(time.perf_counter() - t)
    out["runs(detector, run_type, quality, 1 week)"] = percentiles(t_runs)
    out["files(dataset, run)"] = percentiles(t_files)
    out["file(path)"] = percentiles(t_file)
    return out


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from analysis_lib.catalog import Catalog
    target, folder, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    cat = Catalog.open(target, create=False)
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    slowest = 0.0
    first = time.monotonic()  # (one clock for every process of the machine)
    for f in sorted(folder.iterdir()):
        t = time.monotonic()
        cat.add_file(f, dataset="bench")
        slowest = max(slowest, time.monotonic() - t)
    print(slowest, first, time.monotonic())
    """
)


def writers(target, tmp: Path, n_writers: int, files_each: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="writers-", dir=tmp))
    with Catalog.open(target) as cat:
        cat.add_dataset("bench")
    folders = []
    for w in range(n_writers):
        folder = tmp / f"w{n_writers}-{w}"
        folder.mkdir()
        for k in range(files_each):
            (folder / f"f{k:05d}.bin").write_bytes(os.urandom(4096))
        folders.append(folder)
    go = tmp / f"go-{n_writers}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(target), str(f), str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for f in folders
    ]
    for p in procs:  # every writer has imported and connected: start them together
        assert p.stdout.readline().strip() == "ready"
    go.touch()
    outs = [p.communicate(timeout=3600)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    # from the first writer's first add_file to the last one's last: the writers' start-up
    # and interpreter shutdown (20 processes on 2 cores) are not registering
    wall = max(float(o[2]) for o in outs) - min(float(o[1]) for o in outs)
    with Catalog.open(target, readonly=True) as cat:
        n = len(cat.files(dataset="bench"))
    assert n == n_writers * files_each, (n, n_writers * files_each)
    return {
        "files_per_s": round(n / wall, 1),
        "slowest_add_file_s": round(max(float(o[0]) for o in outs), 3),
    }


def scan_vs_sha256sum(make, folder: Path, *, repeat: int = 3, name: str = "scan") -> dict:
    """Best of ``repeat`` for both (each scan into a new, empty catalog), interleaved so
    that load on the machine disturbs both alike."""
    paths = sorted(folder.iterdir())
    listing = b"\0".join(str(p).encode() for p in paths)
    for p in paths:  # warm the page cache
        p.read_bytes()
    t_sum = t_scan = float("inf")
    cpu = {}
    for k in range(repeat):
        t = time.perf_counter()
        subprocess.run(["xargs", "-0", "sha256sum"], input=listing, stdout=subprocess.DEVNULL,
                       check=True)  # fmt: skip
        t_sum = min(t_sum, time.perf_counter() - t)
        with Catalog.open(make(f"{name.lower()}{k}")) as cat:
            before, t = os.times(), time.perf_counter()
            added = cat.scan(folder, dataset="scan", pattern="*.bin")
            took, after = time.perf_counter() - t, os.times()
        assert len(added) == len(paths)
        if took < t_scan:
            t_scan = took
            # CPU seconds: the catalog process (listing, registering, the answer) and the
            # helper processes that hashed (hashing.py; counted once they have exited)
            cpu = {
                "scan_process_cpu_s": after.user + after.system - before.user - before.system,
                "hash_helpers_cpu_s": after.children_user + after.children_system
                - before.children_user - before.children_system,
            }  # fmt: skip
    return {
        "n_files": len(paths),
        "repeat": repeat,
        "scan_s": round(t_scan, 3),
        "sha256sum_s": round(t_sum, 3),
        "sha256sum_over_scan": round(t_sum / t_scan, 3),
        **{k: round(v, 3) for k, v in cpu.items()},
        "hash_helpers": store._scan_helpers(),
    }


def server_insert_floor(make, folder: Path, *, batch: int = 2000) -> dict:
    """PostgreSQL's own work for a scan's rows, and nothing else: the rows ``scan`` wrote
    for ``folder`` (same paths, hashes and runs) read back, then ``COPY``-ed into an empty
    catalog in batches of ``batch``, one transaction each, from ready CSV. No Python between
    batches, no hashing: on a machine where the server shares the cores with the scan, the
    scan cannot take less than this plus its hashing."""
    url = make("floor")
    with Catalog.open(url) as cat:
        ds = cat.add_dataset("scan")
        numbers = list(range(500))
        run_id = {n: i[0] for n, i in cat._ensure_runs(ds, numbers, run_type="physics",
                                                       detector=None).items()}  # fmt: skip
        now = store._now()
        rows = [(ds, run_id.get(k % 500), str(p), "/", 1024, os.urandom(32).hex(), "raw", None,
                 None, now, now, "{}") for k, p in enumerate(sorted(folder.iterdir()))]  # fmt: skip
        bodies = [store._copy_csv(rows[i : i + batch]) for i in range(0, len(rows), batch)]
        raw = cat._dbapi()
        columns = ", ".join(store._FILE_COLUMNS)
        t = time.perf_counter()
        with raw.cursor() as cur:
            for body in bodies:
                cur.execute("BEGIN")
                cur.copy_expert(
                    f"COPY files ({columns}) FROM STDIN WITH (FORMAT csv,"
                    f" FORCE_NULL ({store._COPY_NULLABLE}))",
                    body,
                )
                cur.execute("COMMIT")
        took = time.perf_counter() - t
    return {"rows": len(rows), "copy_only_s": round(took, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=200, help="queries timed per kind")
    ap.add_argument("--writers", type=int, default=20)
    ap.add_argument("--files-per-writer", type=int, default=100)
    ap.add_argument("--scan-files", type=int, default=100_000)
    ap.add_argument(
        "--scan-big-files", type=int, default=2000,
        help="files of 1 MiB for a second scan measurement (raw data is big files)",
    )  # fmt: skip
    ap.add_argument("--pg-url", help="a role that may create databases (else a server is started)")
    ap.add_argument(
        "--parts",
        default="queries,writers,scan",
        help="comma-separated subset of queries, writers, scan (default: all)",
    )
    args = parse_args(ap, smoke={
        "files": 2000, "runs": 100, "repeat": 20, "writers": 3, "files_per_writer": 10,
        "scan_files": 300, "scan_big_files": 4,
    })  # fmt: skip
    sizes = ("files", "runs", "writers", "files_per_writer", "scan_files", "scan_big_files")
    report: dict = {"sizes": {k: getattr(args, k) for k in sizes}}
    tmp = Path(tempfile.mkdtemp(prefix="rarehub-bench-catalog-", dir="/tmp"))
    tmp.chmod(0o755)
    try:
        with postgres(args) as new_pg:
            targets = {"sqlite": lambda name: tmp / f"{name}.sqlite"}
            if new_pg is not None:
                targets["postgresql"] = new_pg
            parts = set(args.parts.split(","))
            big_sqlite = tmp / "big.sqlite"
            if "queries" in parts:
                t = time.perf_counter()
                with Catalog.open(big_sqlite) as cat:
                    sample = fill(cat, args.runs, args.files)
                report["fill_sqlite_s"] = round(time.perf_counter() - t, 2)
            for backend, make in targets.items():
                res: dict = {}
                if "queries" not in parts:
                    pass
                elif backend == "sqlite":
                    big = big_sqlite
                else:
                    big = make("big")
                    t = time.perf_counter()
                    with Catalog.open(big_sqlite) as src, Catalog.open(big) as dst:
                        copy_catalog(src, dst)
                    res["migrate_copy_s"] = round(time.perf_counter() - t, 2)
                if "queries" in parts:
                    with Catalog.open(big, readonly=True) as cat:
                        res["queries"] = queries(cat, sample, args.runs, args.repeat)
                if "writers" in parts:
                    one = writers(make("w1"), tmp, 1, args.files_per_writer * args.writers)
                    many = writers(make("wn"), tmp, args.writers, args.files_per_writer)
                    res["writers"] = {
                        "1": one,
                        str(args.writers): many,
                        "ratio_many_over_one": round(many["files_per_s"] / one["files_per_s"], 2),
                    }
                if "scan" in parts:
                    repeat = 1 if args.smoke else 3
                    sets = (("scan", args.scan_files, 1024),
                            ("scan_1MiB_files", args.scan_big_files, 1 << 20))  # fmt: skip
                    for key, n, size in sets:
                        scan_dir = tmp / f"{key}-{backend}"
                        scan_dir.mkdir()
                        for k in range(n):
                            (scan_dir / f"run{k % 500}_{k:06d}.bin").write_bytes(os.urandom(size))
                        res[key] = scan_vs_sha256sum(make, scan_dir, repeat=repeat, name=key)
                        if backend == "postgresql" and key == "scan":
                            res["scan_server_insert_floor"] = server_insert_floor(make, scan_dir)
                        shutil.rmtree(scan_dir)
                report[backend] = res
                print(json.dumps({backend: res}, indent=1), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
