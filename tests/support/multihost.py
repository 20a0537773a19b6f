"""A three-host Slurm cluster on one machine: ``login``, ``node1``, ``node2``.

Each host is a network namespace of its own (``ip netns``), joined to the others by a veth
pair to a private bridge, with its own address on ``10.77.0.0/24`` and — for the processes
started on it — its own hostname (UTS namespace) and an ``/etc/hosts`` naming the three hosts
(a private mount namespace binds it over the machine's). The bridge has no address, is
attached to no interface of the machine, and no namespace has a default route: nothing sent
inside the cluster can leave it, and nothing outside can reach it except through
:meth:`MultiHostCluster.forward` (a loopback port of the machine relayed into one host, the
cluster's "front door"). Homes and data are the machine's filesystem, as NFS homes would be.

``login`` runs ``slurmctld`` (and, in the tests, the hub and its proxy); ``node1`` and
``node2`` each run a ``slurmd`` (``SlurmdSpoolDir=…/%n``). One ``munged`` on the machine
serves all three (its socket is a file path). Each node has an nftables firewall that
accepts only ``slurmd``'s port, ICMP and the servers' :data:`PORT_RANGE`. Nodes are chosen
least-loaded first (``CR_LLN``), so two one-CPU jobs land on two nodes.

Names are unique per run (``rhc<pid><n>-login``, bridge ``rhc<pid><n>br`` …), so parallel runs
do not collide; leftovers of a run whose process died are removed by the next one. Start it
with :func:`start_multihost_cluster` (a context manager): on the way out, even after a failure,
every process in the three namespaces is stopped and the namespaces, veths, bridge and files
are removed. Needs root, ``iproute2``, ``nftables``, ``util-linux`` and the Slurm packages.

Every Slurm command must run on a host of the cluster (the controller listens only there):
use :meth:`MultiHostCluster.run` (``login`` by default) or :meth:`MultiHostCluster.on`.
See ``docs/howto/rehearse-a-cluster.md``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import slurm

SUBNET = "10.77.0"
#: Host name → last octet of its address.
HOSTS = {"login": 10, "node1": 11, "node2": 12}
NODES = ("node1", "node2")
SLURMCTLD_PORT = 6817
SLURMD_PORT = 6818
#: The ports a node's firewall opens for servers (and Dask): inclusive.
PORT_RANGE = (23000, 23199)
#: CPUs and memory each node declares (the machine's cores are shared by both).
NODE_CPUS = 2
NODE_MEMORY_MiB = 4096
PREFIX = "rhc"
_counter = itertools.count()


@dataclass(frozen=True)
class Host:
    """One host: its name (= hostname), network namespace, address and host-side veth."""

    name: str
    netns: str
    address: str
    veth: str

    @property
    def netns_path(self) -> str:
        return f"/run/netns/{self.netns}"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {r.stderr.strip()}")
    return r


def missing_requirements() -> str | None:
    """Why the three-host cluster cannot start here, or None when it can."""
    why = slurm.missing_requirements()
    if why:
        return why
    for name in ("ip", "nsenter", "unshare", "nft", "hostname", "mount"):
        if shutil.which(name) is None:
            return f"{name} not found (Debian packages iproute2, util-linux, nftables)"
    return None


@dataclass
class MultiHostCluster(slurm.SlurmCluster):
    """A running three-host cluster (a :class:`slurm.SlurmCluster` whose commands run on
    ``login``). ``hosts`` maps ``login``/``node1``/``node2`` to :class:`Host`."""

    hosts: dict[str, Host] = field(default_factory=dict)
    bridge: str = ""
    hosts_file: Path = Path("/nonexistent")
    port_range: tuple[int, int] = PORT_RANGE

    @property
    def login(self) -> Host:
        return self.hosts["login"]

    def address(self, host: str) -> str:
        return self.hosts[host].address

    def on(self, host: str, argv: list[str], *, uts: bool = False) -> list[str]:
        """``argv`` run on ``host``: in its network namespace; with ``uts`` also under its
        hostname and its ``/etc/hosts`` (what daemons and the hub need)."""
        net = ["nsenter", f"--net={self.hosts[host].netns_path}"]
        if not uts:
            return [*net, *argv]
        setup = (
            f"hostname {shlex.quote(host)} && "
            f"mount --bind {shlex.quote(str(self.hosts_file))} /etc/hosts && "
            'exec "$@"'
        )
        return [*net, "unshare", "--uts", "--mount", "--propagation=private", "sh", "-c", setup,
                "sh", *argv]  # fmt: skip

    def run(
        self,
        *args: str,
        user: str | None = None,
        input: str | None = None,
        host: str = "login",
        timeout: float = 120,
    ):
        """Run a Slurm command on ``host`` (as ``user`` if given); raise on failure or when
        it takes longer than ``timeout`` seconds (e.g. an ``srun`` that cannot be placed)."""
        argv = list(args)
        if user is not None:
            argv = ["runuser", "-u", user, "--", "env", f"SLURM_CONF={self.conf}", *argv]
        r = subprocess.run(
            self.on(host, argv),
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
        return r.stdout

    def node_state(self, node: str = "node1") -> str:
        return self.run("sinfo", "-h", "-n", node, "-o", "%T").strip()

    def job_node(self, job_id: str) -> str:
        return self.run("squeue", "-h", "-j", job_id, "-o", "%N").strip()

    def cut(self, host: str) -> None:
        """Cut ``host`` off the network (its veth on the bridge goes down)."""
        _ip("link", "set", self.hosts[host].veth, "down")

    def restore(self, host: str) -> None:
        _ip("link", "set", self.hosts[host].veth, "up")

    def can_connect(self, source: str, address: str, port: int, timeout_s: float = 1.0) -> bool:
        """Whether a TCP connection from ``source`` to ``address:port`` is accepted."""
        code = (
            "import socket,sys\n"
            "try:\n"
            f"    socket.create_connection(({address!r}, {port}), timeout={timeout_s}).close()\n"
            "except OSError:\n"
            "    sys.exit(1)\n"
        )
        r = subprocess.run(self.on(source, [sys.executable, "-c", code]), capture_output=True)
        return r.returncode == 0

    def popen(self, host: str, argv: list[str], **kw) -> subprocess.Popen:
        """Start ``argv`` on ``host`` (own hostname, own process group)."""
        kw.setdefault("start_new_session", True)
        return subprocess.Popen(self.on(host, argv, uts=True), **kw)

    @contextlib.contextmanager
    def forward(self, host: str, port: int) -> Iterator[int]:
        """A loopback port of the machine relayed to ``host``'s address, ``port``."""
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("nsforward.py")),
             self.hosts[host].netns_path, self.address(host), str(port)],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            line = proc.stdout.readline() if proc.stdout else ""
            if not line.strip().isdigit():
                raise RuntimeError(f"nsforward did not start (exit {proc.poll()})")
            yield int(line)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()

    def log(self, daemon: str) -> str:
        path = self.root / "log" / f"{daemon}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _slurm_conf(root: Path, cpus: int, memory_MiB: int) -> str:
    nodes = "\n".join(
        f"NodeName={n} NodeAddr={SUBNET}.{HOSTS[n]} CPUs={cpus} "
        f"RealMemory={memory_MiB} State=UNKNOWN"
        for n in NODES
    )
    return f"""\
# Generated by tests/support/multihost.py: login (controller) + node1, node2.
ClusterName=rarehub-multihost
SlurmctldHost=login({SUBNET}.{HOSTS["login"]})
SlurmctldPort={SLURMCTLD_PORT}
SlurmdPort={SLURMD_PORT}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/munge.socket
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool/%n
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.%n.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
# Least-loaded nodes first: two one-CPU jobs go to two nodes.
SelectTypeParameters=CR_Core_Memory,CR_LLN
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=1
ReturnToService=2
# Both nodes share the machine's cores: the declared CPUs and memory count, not the hardware.
SlurmdParameters=config_overrides
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
SlurmctldTimeout=30
# A cut link must not make Slurm kill the node's jobs while a test restores it.
SlurmdTimeout=300
InactiveLimit=0
MinJobAge=30
KillWait=5
{nodes}
PartitionName={slurm.PARTITION} Nodes={",".join(NODES)} Default=YES MaxTime=INFINITE State=UP
"""


def _firewall(low: int, high: int) -> str:
    """The nodes' nftables rules: slurmd, ICMP and the server port range; nothing else."""
    return f"""\
table inet rarehub_node {{
  chain input {{
    type filter hook input priority 0; policy drop;
    iif "lo" accept
    ct state established,related accept
    meta l4proto {{ icmp, ipv6-icmp }} accept
    tcp dport {SLURMD_PORT} accept comment "slurmd"
    tcp dport {low}-{high} accept comment "servers and Dask"
  }}
}}
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers() -> None:
    """Remove what earlier runs whose process has died left: processes in their namespaces,
    the namespaces, veths and bridges, their munged and their folder."""
    pattern = re.compile(rf"^{PREFIX}([0-9a-f]+)x\d+")
    names = _ip("netns", "list", check=False).stdout.split()
    names += [
        line.split(":")[1].strip().split("@")[0]
        for line in _ip("-o", "link", "show", check=False).stdout.splitlines()
    ]
    for name in names:
        m = pattern.match(name)
        if not m or _alive(int(m[1], 16)):
            continue
        if "-" in name:
            _kill_namespace(name)
            _ip("netns", "del", name, check=False)
        else:
            _ip("link", "del", name, check=False)
    for root in Path(tempfile.gettempdir()).glob(f"rarehub-multihost-{PREFIX}*"):
        m = pattern.match(root.name[len("rarehub-multihost-") :])
        if m and not _alive(int(m[1], 16)):
            slurm._stop(slurm._pid(root / "munge" / "munged.pid"))
            shutil.rmtree(root, ignore_errors=True)


def _kill_namespace(netns: str) -> None:
    """SIGTERM, then SIGKILL, every process in ``netns`` (ours alone)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = [int(p) for p in _ip("netns", "pids", netns, check=False).stdout.split()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if slurm._alive(p)]
            time.sleep(0.1)
        if not pids:
            return


def _make_network(tag: str) -> tuple[str, dict[str, Host]]:
    bridge = f"{tag}br"
    _ip("link", "add", bridge, "type", "bridge")
    # Bridged frames skip the machine's iptables/nftables (br_netfilter may be loaded).
    _ip("link", "set", bridge, "type", "bridge", "nf_call_iptables", "0", check=False)
    _ip("link", "set", bridge, "up")
    hosts = {}
    for name, octet in HOSTS.items():
        host = Host(name, f"{tag}-{name}", f"{SUBNET}.{octet}", f"{tag}{name[0]}{name[-1]}")
        hosts[name] = host
        _ip("netns", "add", host.netns)
        peer = f"{tag}p"
        _ip("link", "add", host.veth, "type", "veth", "peer", "name", peer)
        _ip("link", "set", host.veth, "master", bridge, "up")
        _ip("link", "set", peer, "netns", host.netns)
        ns = ["-n", host.netns]
        _ip(*ns, "link", "set", peer, "name", "eth0")
        _ip(*ns, "addr", "add", f"{host.address}/24", "dev", "eth0")
        _ip(*ns, "link", "set", "eth0", "up")
        _ip(*ns, "link", "set", "lo", "up")
    return bridge, hosts


def _wait_nodes_idle(cluster: MultiHostCluster, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    states = "?"
    while time.monotonic() < deadline:
        with contextlib.suppress(RuntimeError):
            states = cluster.run("sinfo", "-h", "-N", "-o", "%N %T")
            up = {line.split()[0] for line in states.splitlines() if "idle" in line}
            if up >= set(NODES):
                return
        time.sleep(0.3)
    raise RuntimeError(
        f"nodes not idle after {timeout} s ({states!r}):\n{cluster.log('slurmctld')[-2000:]}"
    )


def start_daemon(cluster: MultiHostCluster, daemon: str, host: str) -> None:
    """(Re)start ``slurmctld`` (on login) or ``slurmd`` on ``host`` (they daemonize)."""
    argv = [f"/usr/sbin/{daemon}", "-f", str(cluster.conf)]
    if daemon == "slurmd":
        argv += ["-N", host]
    r = subprocess.run(cluster.on(host, argv, uts=True), capture_output=True, text=True)
    if r.returncode != 0:
        name = daemon if daemon == "slurmctld" else f"slurmd.{host}"
        raise RuntimeError(f"{daemon} on {host}: {r.stderr.strip()}\n{cluster.log(name)[-2000:]}")


def stop_daemon(cluster: MultiHostCluster, daemon: str, host: str = "login") -> None:
    name = "slurmctld" if daemon == "slurmctld" else f"slurmd.{host}"
    slurm._stop(slurm._pid(cluster.root / "run" / f"{name}.pid"))


@contextlib.contextmanager
def start_multihost_cluster(
    *, firewall: bool = True, node_cpus: int = NODE_CPUS, node_memory_MiB: int = NODE_MEMORY_MiB
) -> Iterator[MultiHostCluster]:
    """Start the three hosts, munged, slurmctld and two slurmd; yield the cluster; tear it
    all down (jobs, daemons, every process in the namespaces, network, files).

    ``node_cpus``/``node_memory_MiB``: what each node declares (benchmarks with many users
    declare more than the machine has; the nodes share its cores)."""
    why = missing_requirements()
    if why:
        raise RuntimeError(f"cannot start the three-host cluster: {why}")
    remove_leftovers()
    tag = f"{PREFIX}{os.getpid():x}x{next(_counter)}"
    root = Path(tempfile.mkdtemp(prefix=f"rarehub-multihost-{tag}-"))
    root.chmod(0o755)
    for sub in ("state", "run", "log", "spool", *(f"spool/{n}" for n in NODES)):
        (root / sub).mkdir(mode=0o755)
    work = root / "work"
    work.mkdir()
    work.chmod(0o1777)
    conf = root / "slurm.conf"
    conf.write_text(_slurm_conf(root, node_cpus, node_memory_MiB))
    conf.chmod(0o644)
    hosts_file = root / "hosts"
    hosts_file.write_text(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        + "".join(f"{SUBNET}.{octet}\t{name}\n" for name, octet in HOSTS.items())
    )
    hosts_file.chmod(0o644)
    cluster = MultiHostCluster(
        partition=slurm.PARTITION,
        node="node1",
        cpus=node_cpus,
        memory_MiB=node_memory_MiB,
        root=root,
        conf=conf,
        work_dir=work,
        bridge=f"{tag}br",
        hosts_file=hosts_file,
    )
    try:
        cluster.bridge, cluster.hosts = _make_network(tag)
        if firewall:
            rules = _firewall(*PORT_RANGE)
            for node in NODES:
                r = subprocess.run(
                    cluster.on(node, ["nft", "-f", "-"]), input=rules, capture_output=True,
                    text=True,
                )  # fmt: skip
                if r.returncode != 0:
                    raise RuntimeError(f"nft on {node}: {r.stderr.strip()}")
        slurm._start_munge(root)
        start_daemon(cluster, "slurmctld", "login")
        for node in NODES:
            start_daemon(cluster, "slurmd", node)
        _wait_nodes_idle(cluster)
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            ids = list(cluster.squeue())
            cluster.scancel(*ids)
            deadline = time.monotonic() + 20
            while cluster.squeue() and time.monotonic() < deadline:
                time.sleep(0.3)
        for node in NODES:
            stop_daemon(cluster, "slurmd", node)
        stop_daemon(cluster, "slurmctld")
        for host in cluster.hosts.values():
            _kill_namespace(host.netns)
        slurm._stop(slurm._pid(root / "munge" / "munged.pid"))
        for host in cluster.hosts.values():
            _ip("netns", "del", host.netns, check=False)
            _ip("link", "del", host.veth, check=False)
        _ip("link", "del", f"{tag}br", check=False)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def running_hub(
    cluster: MultiHostCluster, state: Path, *, users, password: str, admin_token: str, slurm
):
    """A hub in Slurm mode on ``login`` (see tests/support/slurm_hub.py), its public and API
    ports on login's cluster address; the test reaches it through :meth:`forward` at
    ``hub.base`` (http://127.0.0.1:PORT). Servers are left ``server_ip: auto`` unless
    ``slurm`` says otherwise. Stops the hub and cancels the users' jobs at the end."""
    import slurm_hub

    address = cluster.login.address
    config, port = slurm_hub.write_site(
        state,
        cluster=cluster,
        users=users,
        password=password,
        admin_token=admin_token,
        slurm=slurm,
        hub={"ip": address, "api_ip": address},
    )
    with cluster.forward("login", port) as local_port:
        hub = slurm_hub.SlurmHub(
            f"http://127.0.0.1:{local_port}",
            config,
            state / "hub.log",
            cluster,
            admin_token,
            password,
            launcher=lambda argv: cluster.on("login", argv, uts=True),
        )
        try:
            hub.start()
            yield hub
        finally:
            if hub.proc is not None and hub.proc.poll() is None:
                for user in users:
                    with contextlib.suppress(Exception):
                        hub.api("DELETE", f"/users/{user}/server", timeout=10)
            hub.stop()
            with contextlib.suppress(RuntimeError):
                for user in users:
                    out = cluster.run("squeue", "-h", "-u", user, "-o", "%i")
                    cluster.scancel(*out.split())
