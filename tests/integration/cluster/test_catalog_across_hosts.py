"""The shared catalog written from several hosts at once: Slurm jobs on node1 and node2
register runs, files and results in one PostgreSQL catalog on ``login`` (the
``cluster_postgres`` fixture), through ``Catalog.open("postgresql://…")`` as the writer role
(``analysis_lib/catalog/roles.py``), its password only in a mode-600 ``PGPASSFILE``.

Two writers per node start together (a barrier on the shared filesystem) and race: on the
dataset, on shared runs (``add_run`` without ``replace``), on shared files (``add_file``)
and with overlapping ``scan``s of one common folder; each also adds its own runs, raw files
and results (a summary and its lineage JSON, keyed by the lineage hash; data quality; a
recorded deletion). The catalog must then hold exactly what was written — every run and
file once, every checksum that of the file on disk — and no call may have waited on another
writer for long.

Why 2 s for the longest call: a call is one short transaction of a few statements (a few
ms each when the machine is idle). This machine has 2 cores shared by the four writer
processes, their four server backends, the Slurm daemons and other test runs, so a process
is often descheduled for a few hundred ms; 2 s is well above that and far below what a
writer blocked behind another's long transaction would see (``lock_timeout`` is 30 s, and
the old scan held its transaction while hashing). The server's own view is checked too:
``log_lock_waits`` logs every lock wait longer than ``deadlock_timeout`` (1 s), and none
may appear.

A second test cuts node2 off while its writer is inside a transaction: the writer on node1
that needs the same run goes on within seconds, and node2's work is rolled back whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import multihost
import pytest
import slurm

from analysis_lib.catalog import Catalog
from analysis_lib.catalog.roles import grant_roles
from rarehub_testing import wait_for

WRITER = Path(__file__).with_name("catalog_writer.py")
#: The unix user the writer jobs run as (homes are shared: a name of this test's own).
JOB_USER = "rarehub-catw"
WRITERS_PER_NODE = 2
RUNS_PER_WRITER = 2
FILES_PER_RUN = 3
SHARED_RUNS = [50, 51, 52, 53]
COMMON_RUNS, COMMON_FILES_PER_RUN = 6, 8
LONGEST_CALL_S = 2.0
DONE = {"GONE", "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL"}


def sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class Site:
    """A catalog on ``login``'s server set up as docs/howto/catalog-server.md says: roles made
    by the admin, the database owned by a plain owner role, the reader's sessions read-only,
    the schema made and the roles granted by the owner. ``top`` is a folder on the shared
    filesystem for the jobs' user, with the writer's mode-600 ``pgpass``; the machine
    reaches the server at ``127.0.0.1:port`` (a relay into login)."""

    top: Path
    user: pwd.struct_passwd
    db: str
    owner: str
    writer: str
    reader: str
    passwords: dict[str, str]
    pgpass: Path
    port: int
    granted: list[str]

    def url(self, role: str) -> str:
        """The URL the machine uses (through the relay); no password in it."""
        return f"postgresql://{role}@127.0.0.1:{self.port}/{self.db}"

    def hand_over(self) -> None:
        """Give everything under ``top`` to the jobs' user (the pgpass stays mode 600)."""
        for path in [self.top, *self.top.rglob("*")]:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)
        self.pgpass.chmod(0o600)


@pytest.fixture
def site(multihost_cluster, cluster_postgres, monkeypatch):
    c, pg = multihost_cluster, cluster_postgres
    user = slurm.ensure_unix_user(JOB_USER)
    token = secrets.token_hex(4)
    top = c.work_dir / f"catalog-{token}"
    top.mkdir(mode=0o755)
    owner, writer, reader = f"cat_owner_{token}", f"cat_writer_{token}", f"cat_reader_{token}"
    passwords = {role: secrets.token_hex(16) for role in (owner, writer, reader)}
    for role, password in passwords.items():
        pg.create_login_role(role, password)
    db = pg.create_database("xhost")
    pg.psql(f"ALTER DATABASE {db} OWNER TO {owner}")
    pg.psql(f"ALTER ROLE {reader} SET default_transaction_read_only = on")
    pgpass = top / "pgpass"  # the writers' password, readable by their user alone
    pgpass.write_text(f"{pg.host}:{pg.port}:{db}:{writer}:{passwords[writer]}\n")
    try:
        with c.forward("login", pg.port) as port:  # the machine's door to login's server
            for role in (owner, reader):
                pg.add_password(role, passwords[role], host="127.0.0.1", port=port)
            monkeypatch.setenv("PGPASSFILE", str(pg.pgpass))
            with Catalog.open(f"postgresql://{owner}@127.0.0.1:{port}/{db}") as cat:
                granted = grant_roles(cat, readers=[reader], writers=[writer])
            site = Site(top, user, db, owner, writer, reader, passwords, pgpass, port, granted)
            site.hand_over()
            yield site
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_writers_on_two_hosts_register_everything_once_and_never_wait_long(
    multihost_cluster, cluster_postgres, site
):
    c, pg, top = multihost_cluster, cluster_postgres, site.top
    db, writer, reader, passwords = site.db, site.writer, site.reader, site.passwords
    assert site.granted == [f"{reader}: read-only", f"{writer}: read and write"]
    log = pg.base / "postgres.log"
    log_start = log.stat().st_size

    # The data: a common folder every writer scans, two files every writer adds.
    common = top / "common"
    for r in range(1, COMMON_RUNS + 1):
        for k in range(COMMON_FILES_PER_RUN):
            f = common / f"run{r}" / f"run{r}_part{k}.csv"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(f"run,{r}\npart,{k}\n" + "x" * (r * k))
    shared = [top / "shared" / "calib-a.json", top / "shared" / "calib-b.json"]
    shared[0].parent.mkdir()
    for i, f in enumerate(shared):
        f.write_text(json.dumps({"calibration": i}))
    for sub in ("own", "barrier", "out"):
        (top / sub).mkdir()
    pgpass = site.pgpass
    writers = WRITERS_PER_NODE * len(multihost.NODES)
    dataset = f"xhost-{db}"
    config = {
        "url": pg.url(db, writer),
        "dataset": dataset,
        "writers": writers,
        "runs_per_writer": RUNS_PER_WRITER,
        "files_per_run": FILES_PER_RUN,
        "shared_runs": SHARED_RUNS,
        "shared_files": [str(f) for f in shared],
        "common_folder": str(common),
        "own_folder": str(top / "own"),
        "barrier_folder": str(top / "barrier"),
        "out_folder": str(top / "out"),
    }
    (top / "config.json").write_text(json.dumps(config))
    site.hand_over()
    script = (
        "#!/bin/bash\n"
        f"export PGPASSFILE={pgpass} HOME={top}\n"
        f"exec {sys.executable} {WRITER} {top / 'config.json'} {{me}}\n"
    )
    nodes = [n for n in multihost.NODES for _ in range(WRITERS_PER_NODE)]
    jobs = []
    try:
        started = time.monotonic()
        for me, node in enumerate(nodes):
            jobs.append(
                c.sbatch(
                    script.format(me=me), "-w", node, "-c", "1", "--mem=300M", "-t", "5",
                    "-J", f"catw-{me}", f"--output={top}/job-{me}.out", user=site.user.pw_name,
                )
            )  # fmt: skip
        for job in jobs:
            c.wait_state(job, DONE, timeout=120)
        jobs_s = time.monotonic() - started
    finally:
        c.scancel(*[j for j in jobs if c.squeue(j).get(j, "GONE") not in DONE])
    outs = {}
    for me in range(writers):
        done = top / "out" / f"writer-{me}.json"
        job_out = top / f"job-{me}.out"
        assert done.exists(), f"writer {me} on {nodes[me]} did not finish:\n" + (
            job_out.read_text()[-3000:] if job_out.exists() else "(no job output)"
        )
        outs[me] = json.loads(done.read_text())

    # Each writer ran on the node it was sent to, as its job's hostname says.
    assert {me: o["hostname"] for me, o in outs.items()} == dict(enumerate(nodes))
    server_log = log.read_bytes()[log_start:].decode(errors="replace")
    for node in multihost.NODES:  # and its connections crossed the cluster network
        assert f"host={c.address(node)} " in server_log, f"no connection from {node}"

    with Catalog.open(site.url(reader), readonly=True) as cat:
        runs = cat.runs(dataset=dataset)
        files = cat.files(dataset=dataset)
        growth = cat.growth(dataset=dataset)
        deletions = cat.deletions(dataset=dataset)
        verified = cat.verify(dataset=dataset, record=False)
        assert cat.integrity_check() == "ok"
        assert (cat.datasets()["dataset"] == dataset).sum() == 1

    # Runs: every writer's own, the shared ones created once each, the scanned ones.
    own_runs = [run for o in outs.values() for run in o["my_runs"]]
    expected_runs = sorted([*own_runs, *SHARED_RUNS, *range(1, COMMON_RUNS + 1)])
    assert sorted(runs["run_number"]) == expected_runs
    created = [run for o in outs.values() for run in o["created_shared_runs"]]
    assert sorted(created) == SHARED_RUNS, "each shared run is created by exactly one writer"

    # Files: exactly those written, each once, each checksum that of the file on disk.
    common_paths = sorted(os.path.realpath(f) for f in common.rglob("*.csv"))
    raw = [p for o in outs.values() for ps in o["raw_files"].values() for p in ps]
    results = [p for o in outs.values() for r in o["results"] for p in r["paths"]]
    expected_paths = sorted([*common_paths, *map(str, shared), *raw, *results])
    assert len(expected_paths) == (
        COMMON_RUNS * COMMON_FILES_PER_RUN
        + len(shared)
        + writers * RUNS_PER_WRITER * (FILES_PER_RUN + 2)
    )
    assert files["path"].is_unique
    assert sorted(files["path"]) == expected_paths
    assert files["sha256"].tolist() == [sha256(p) for p in files["path"]]
    assert files["size_bytes"].tolist() == [Path(p).stat().st_size for p in files["path"]]
    assert set(verified["status"]) == {"ok"}
    scanned = [p for o in outs.values() for p in o["scanned"]]
    assert sorted(scanned) == common_paths, "overlapping scans registered each file once"
    # The scans really raced: some scan on node1 ran while one on node2 did.
    spans = {me: o["scan_span"] for me, o in outs.items()}
    assert any(
        max(spans[a][0], spans[b][0]) < min(spans[a][1], spans[b][1])
        for a in spans
        for b in spans
        if nodes[a] == "node1" and nodes[b] == "node2"
    ), spans
    added = [p for o in outs.values() for p in o["added_shared_files"]]
    assert sorted(added) == sorted(map(str, shared)), "each shared file added by one writer"
    by_path = files.set_index("path")
    assert by_path.loc[common_paths, "run_number"].tolist() == [
        int(Path(p).parent.name.removeprefix("run")) for p in common_paths
    ]
    assert int(growth["files_added"].sum()) == len(files)
    assert int(growth["bytes_added"].sum()) == int(files["size_bytes"].sum())

    # Results: each summary and its lineage under the run, with the key; quality; deletions.
    for o in outs.values():
        for r in o["results"]:
            rows = by_path.loc[r["paths"]]
            assert rows["run_number"].tolist() == [r["run"]] * 2
            assert [m["lineage_key"] for m in rows["metadata"]] == [r["key"]] * 2
            lineage = json.loads(Path(r["paths"][1]).read_text())["lineage"]
            inputs = by_path.loc[o["raw_files"][str(r["run"])], "sha256"]
            assert lineage["inputs"] == sorted(inputs)
    quality = runs.set_index("run_number")
    assert quality.loc[own_runs, "quality"].tolist() == ["good"] * len(own_runs)
    assert all(f == ["xhost-summary-ok"] for f in quality.loc[own_runs, "dq_flags"])
    assert set(quality.loc[SHARED_RUNS, "quality"]) == {"unknown"}
    assert sorted(deletions["result_key"]) == sorted(
        f"superseded-{r['key']}" for o in outs.values() for r in o["results"]
    )

    # No writer waited long: not by its own clock, not by the server's lock-wait log.
    longest = {me: max(o["longest_s"].values()) for me, o in outs.items()}
    print(
        f"\n{len(files)} files, {len(runs)} runs by {writers} writers on"
        f" {sorted(set(nodes))} in {jobs_s:.1f} s (submit to last job done); longest call"
        f" per writer [s]: { {me: round(s, 3) for me, s in longest.items()} };"
        f" calls per writer: { {me: o['calls'] for me, o in outs.items()} }; files each"
        f" scan registered: { {me: len(o['scanned']) for me, o in outs.items()} }; shared"
        f" runs each created: { {me: o['created_shared_runs'] for me, o in outs.items()} };"
        f" late at the start [s]: { {me: round(o['late_s'], 3) for me, o in outs.items()} }"
    )
    for me, o in outs.items():
        assert longest[me] < LONGEST_CALL_S, f"writer {me} on {nodes[me]}: {o['longest_s']}"
    assert "still waiting for" not in server_log, server_log[-3000:]

    # The passwords were in no command line, environment, job output or log.
    for me, o in outs.items():
        seen = o["password_exposure"]
        assert seen["own_command_line_seen"], seen  # the look at command lines is real
        assert seen["command_lines_seen"] > 10, seen
        assert not seen["in_command_lines"], (me, seen)
        assert not seen["in_environment"], (me, seen)
    texts = [log.read_text(errors="replace"), c.log("slurmctld")]
    texts += [c.log(f"slurmd.{n}") for n in multihost.NODES]
    texts += [p.read_text(errors="replace") for p in top.glob("job-*.out")]
    texts += [json.dumps(o) for o in outs.values()]
    for role, password in passwords.items():
        assert not any(password in t for t in texts), f"the password of {role} leaked"


FAULT = Path(__file__).with_name("catalog_fault.py")
#: The cut-off writer's ``timeout_s``: the server probes its silent peer after 1 s, three
#: times a second, and ends the session after about 4 s.
HOLDER_TIMEOUT_S = 6.0
#: The other writer's ``timeout_s`` (its lock waits end with an error after that).
WRITER_TIMEOUT_S = 20.0


def test_a_writer_cut_off_mid_transaction_holds_the_others_up_only_briefly(
    multihost_cluster, cluster_postgres, site
):
    """A node whose link goes down mid-transaction sends no FIN: without a bound its
    session would keep its locks until TCP keepalive gives up (hours), and every other
    writer of the same run (or the same day's growth row) would wait, then fail."""
    c, pg, top = multihost_cluster, cluster_postgres, site.top
    dataset, run = f"fault-{site.db}", 900
    with Catalog.open(site.url(site.owner)) as cat:
        cat.add_dataset(dataset, detector="ge-fault")
    (top / "flags").mkdir()
    held, written = top / "held.csv", top / "written.csv"
    held.write_text("from node2\n")
    written.write_text("from node1\n")
    site.hand_over()

    def on(node: str, *args: object) -> list[str]:
        env = [f"PGPASSFILE={site.pgpass}", f"HOME={top}"]
        argv = [sys.executable, str(FAULT), *map(str, args)]
        return c.on(node, ["runuser", "-u", site.user.pw_name, "--", "env", *env, *argv], uts=True)

    url = pg.url(site.db, site.writer)
    holder = subprocess.Popen(
        on("node2", "hold", url, dataset, run, held, top / "flags", HOLDER_TIMEOUT_S),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: (top / "flags" / "holding").exists() or holder.poll() is not None,
            timeout=60,
            what="node2's writer inside its transaction",
        )
        assert holder.poll() is None, holder.communicate()
        c.cut("node2")
        try:
            r = subprocess.run(
                on("node1", "write", url, dataset, run, written, WRITER_TIMEOUT_S),
                capture_output=True,
                text=True,
                timeout=120,
            )
        finally:
            c.restore("node2")
        assert r.returncode == 0, r.stderr[-3000:]
        wrote = json.loads(r.stdout.strip().splitlines()[-1])
        (top / "flags" / "release").touch()
        out, _ = holder.communicate(timeout=60)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.communicate()
    hold = json.loads(out.strip().splitlines()[-1])

    # node1's writer went on once the server had ended node2's silent session (keepalive
    # probes unanswered), long before its own lock waits would have ended in an error.
    assert wrote["error"] is None, wrote
    waited = sum(wrote["seconds"].values())
    print(
        f"\nnode1's writer waited {waited:.2f} s for node2's cut-off transaction;"
        f" node2's commit, once back: {hold['error']}"
    )
    assert waited < HOLDER_TIMEOUT_S, wrote
    # node2's transaction was rolled back whole, and said so when it tried to commit.
    assert hold["committed"] is False, hold
    with Catalog.open(site.url(site.reader), readonly=True) as cat:
        files = cat.files(dataset=dataset)
        assert files["path"].tolist() == [os.path.realpath(written)]
        assert files["run_number"].tolist() == [run]
        assert cat.runs(dataset=dataset)["run_number"].tolist() == [run]
        assert cat.growth(dataset=dataset)["files_added"].sum() == 1
