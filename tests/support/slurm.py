"""A real one-node Slurm cluster on loopback, started once per test run.

``start_slurm_cluster()`` starts a private ``munged`` (as user ``munge``, own key and
socket), ``slurmctld`` and ``slurmd`` (as root) from a generated ``slurm.conf`` whose state,
spool, logs and pid files live in one fresh folder; nothing under /etc is touched, so two test
runs (or a system Slurm) can coexist. The node is ``hostname -s`` with ``NodeAddr=127.0.0.1``,
``RealMemory`` set (else every ``--mem`` request is refused, see PLATFORM.md), proctrack
linuxproc, task/none, cons_tres. Every command that talks to this cluster must see
``SLURM_CONF`` — use :attr:`SlurmCluster.env`.

The ``slurm_cluster`` fixture in ``tests/conftest.py`` yields one :class:`SlurmCluster` for the
whole session; it is torn down (all jobs cancelled, daemons stopped) at the end.
Needs root and the Debian packages slurmctld, slurmd, slurm-client, munge.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rarehub_testing import free_port_block

PARTITION = "rarehub"
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel")


def _total_memory_MiB() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


def missing_requirements() -> str | None:
    """Why a Slurm cluster cannot start here, or None when it can."""
    if os.geteuid() != 0:
        return "starting slurmd and munged needs root"
    for name in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "runuser"):
        if shutil.which(name) is None and not Path("/usr/sbin", name).exists():
            return f"{name} not found (Debian packages: slurmctld slurmd slurm-client munge)"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "no 'munge' user (Debian package munge)"
    return None


def ensure_unix_user(name: str) -> pwd.struct_passwd:
    """Create the unix user ``name`` (with a home and a group of its own) unless it exists.

    Idempotent; users are left in place at the end (harmless, and another concurrent test
    run may use them).
    """
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    r = subprocess.run(
        ["useradd", "--create-home", "--user-group", "--shell", "/bin/bash", name],
        capture_output=True,
        text=True,
    )
    if r.returncode not in (0, 9):  # 9: created meanwhile by a concurrent run
        raise RuntimeError(f"useradd {name} failed: {r.stderr.strip()}")
    return pwd.getpwnam(name)


@dataclass
class SlurmCluster:
    """A running one-node Slurm cluster.

    Attributes
    ----------
    partition
        The (default) partition's name.
    node
        The node's name (``hostname -s``); its address is 127.0.0.1.
    cpus, memory_MiB
        What the node offers.
    root
        The cluster's private folder (config, state, logs).
    conf
        The generated ``slurm.conf``.
    work_dir
        A world-writable (sticky) folder that jobs of any user can read and write.
    """

    partition: str
    node: str
    cpus: int
    memory_MiB: int
    root: Path
    conf: Path
    work_dir: Path
    _pids: dict[str, int] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """``os.environ`` plus ``SLURM_CONF``: pass it to every Slurm command."""
        return dict(os.environ, SLURM_CONF=str(self.conf))

    def run(self, *args: str, user: str | None = None, input: str | None = None):
        """Run a Slurm command (as ``user`` if given) against this cluster; raise on failure."""
        argv = list(args)
        if user is not None:
            argv = ["runuser", "-u", user, "--", "env", f"SLURM_CONF={self.conf}", *argv]
        r = subprocess.run(argv, env=self.env, input=input, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
        return r.stdout

    def sbatch(self, script: str, *args: str, user: str | None = None) -> str:
        """Submit ``script`` (text) with ``sbatch --parsable ARGS``; return the job id.

        The job runs in :attr:`work_dir` and writes its output there (``slurm-JOBID.out``)
        unless ARGS say otherwise (later options win), never into the caller's folder."""
        defaults = [f"--chdir={self.work_dir}", f"--output={self.work_dir}/slurm-%j.out"]
        out = self.run("sbatch", "--parsable", *defaults, *args, user=user, input=script)
        return out.strip().splitlines()[-1].split(";")[0]

    def squeue(self, job_id: str | None = None) -> dict[str, str]:
        """Job id → state (long form, e.g. ``RUNNING``) of the jobs Slurm still knows."""
        args = ["squeue", "-h", "-o", "%i %T"]
        if job_id is not None:
            args += ["-j", job_id]
        try:
            out = self.run(*args)
        except RuntimeError as e:
            if "Invalid job id" in str(e):
                return {}
            raise
        return dict(line.split(None, 1) for line in out.splitlines() if line.strip())

    def scancel(self, *job_ids: str) -> None:
        if job_ids:
            self.run("scancel", *job_ids)

    def wait_state(self, job_id: str, states: set[str], timeout: float = 60) -> str:
        """Wait until ``job_id`` is in one of ``states`` (``"GONE"`` = no longer listed)."""
        deadline = time.monotonic() + timeout
        state = "?"
        while time.monotonic() < deadline:
            state = self.squeue(job_id).get(job_id, "GONE")
            if state in states:
                return state
            time.sleep(0.2)
        raise TimeoutError(f"job {job_id} still {state} after {timeout} s, wanted {states}")

    def node_state(self) -> str:
        return self.run("sinfo", "-h", "-n", self.node, "-o", "%T").strip()

    def log(self, daemon: str) -> str:
        path = self.root / "log" / f"{daemon}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.write_text(text)
    path.chmod(mode)


def _slurm_conf(root: Path, node: str, cpus: int, memory_MiB: int) -> str:
    return f"""\
# Generated by tests/support/slurm.py: a one-node cluster on loopback.
ClusterName=rarehub-test
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={free_port_block(1)}
SlurmdPort={free_port_block(1)}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/munge.socket
CommunicationParameters=NoInAddrAny
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
SlurmctldTimeout=30
# Generous: the outage test stops slurmctld for a minute; the node must not be declared
# dead (and its jobs killed) for answering late right after the controller returns.
SlurmdTimeout=300
InactiveLimit=0
MinJobAge=30
KillWait=5
SchedulerParameters=sched_interval=2
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_MiB} State=UNKNOWN
PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
"""


def _start_munge(root: Path) -> None:
    munge = pwd.getpwnam("munge")
    mdir = root / "munge"
    mdir.mkdir(mode=0o755)
    key = mdir / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    for p in (mdir, key):
        os.chown(p, munge.pw_uid, munge.pw_gid)
    subprocess.run(
        [
            "runuser",
            "-u",
            "munge",
            "--",
            "/usr/sbin/munged",
            f"--socket={mdir}/munge.socket",
            f"--key-file={key}",
            f"--pid-file={mdir}/munged.pid",
            f"--log-file={mdir}/munged.log",
            f"--seed-file={mdir}/munged.seed",
            "--origin=127.0.0.1",
        ],
        check=True,
        capture_output=True,
        text=True,
    )


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    """True while ``pid`` runs. The daemons are reparented to PID 1, which may never reap
    them (containers, VMs without an init), so a zombie counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _stop(pid: int | None, timeout: float = 10) -> None:
    if pid is None or not _alive(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


def start_daemon(cluster: SlurmCluster, daemon: str) -> None:
    """(Re)start ``slurmctld`` or ``slurmd`` of ``cluster`` (they daemonize)."""
    args = [f"/usr/sbin/{daemon}", "-f", str(cluster.conf)]
    if daemon == "slurmd":
        args += ["-N", cluster.node]
    r = subprocess.run(args, env=cluster.env, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{daemon} failed: {r.stderr.strip()}\n{cluster.log(daemon)[-2000:]}")


def stop_daemon(cluster: SlurmCluster, daemon: str) -> None:
    _stop(_pid(cluster.root / "run" / f"{daemon}.pid"))


@contextlib.contextmanager
def start_slurm_cluster() -> Iterator[SlurmCluster]:
    """Start munged, slurmctld and slurmd; yield the cluster; cancel all jobs and stop them."""
    why = missing_requirements()
    if why:
        raise RuntimeError(f"cannot start Slurm: {why}")
    # Not under pytest's tmp dir: that is mode 700 and jobs run as other users.
    root = Path(tempfile.mkdtemp(prefix="rarehub-slurm-"))
    root.chmod(0o755)
    for sub in ("state", "spool", "run", "log"):
        (root / sub).mkdir(mode=0o755)
    work = root / "work"
    work.mkdir()
    work.chmod(0o1777)
    node = socket.gethostname().split(".")[0]
    cpus = os.cpu_count() or 1
    memory = int(_total_memory_MiB() * 0.9)
    conf = root / "slurm.conf"
    _write(conf, _slurm_conf(root, node, cpus, memory))
    cluster = SlurmCluster(PARTITION, node, cpus, memory, root, conf, work)
    munged_pid = root / "munge" / "munged.pid"
    try:
        _start_munge(root)
        start_daemon(cluster, "slurmctld")
        start_daemon(cluster, "slurmd")
        deadline = time.monotonic() + 60
        state = "?"
        while time.monotonic() < deadline:
            with contextlib.suppress(RuntimeError):
                state = cluster.node_state()
                if state.rstrip("*") in {"idle", "mixed", "allocated"}:
                    break
            time.sleep(0.3)
        else:
            raise RuntimeError(
                f"Slurm node {node} not idle after 60 s (state {state!r}):\n"
                f"{cluster.log('slurmctld')[-2000:]}\n{cluster.log('slurmd')[-2000:]}"
            )
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            ids = list(cluster.squeue())
            cluster.scancel(*ids)
            deadline = time.monotonic() + 20
            while cluster.squeue() and time.monotonic() < deadline:
                time.sleep(0.3)
        stop_daemon(cluster, "slurmd")
        stop_daemon(cluster, "slurmctld")
        _stop(_pid(munged_pid))
        shutil.rmtree(root, ignore_errors=True)


def group_of(user: str) -> str:
    return grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
