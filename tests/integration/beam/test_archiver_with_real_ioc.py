"""The archiver against a real caproto IOC on loopback: records, survives IOC and own restarts.

A simulated 60 Hz beam IOC (beam power, POT per pulse, pulse counter) runs as a
subprocess on a free port of 127.0.0.1; ``rarehub archiver run`` runs as another. We stop
and restart the IOC (a "disconnected" gap must be recorded, the archiver must live on),
then ``kill -9`` the archiver and start it again (it must resume without duplicate rows
and record an "archiver not running" gap). The pulse counter proves that, between gaps,
no update was lost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from analysis_lib.beam.archive import BeamArchive
from rarehub_testing import free_port_block, wait_for

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def epics_env(monkeypatch) -> dict[str, str]:
    """Loopback-only Channel Access on a free port, for this process and its children."""
    port = str(free_port_block(1))
    values = {
        "EPICS_CA_AUTO_ADDR_LIST": "NO",
        "EPICS_CA_ADDR_LIST": "127.0.0.1",
        "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
        "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1",
        "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
        "EPICS_CA_SERVER_PORT": port,
        "EPICS_CAS_SERVER_PORT": port,
        # a restarted IOC is found again within 1 s (caproto's default backs off to 5 s)
        "CAPROTO_CLIENT_MAX_RETRY_SEARCHES_INTERVAL_SEC": "1",
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return dict(os.environ)


class Proc:
    """A subprocess with its log file; stopped (and reaped) by the test's finalizer."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.fh = open(log, "ab")  # noqa: SIM115 -- closed in stop()
        self.p = subprocess.Popen(argv, env=env, stdout=self.fh, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.p.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.alive():
            self.p.send_signal(sig)
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return self.p.wait(5)
        finally:
            self.fh.close()


@pytest.fixture
def procs():
    started: list[Proc] = []
    yield started
    for p in started:
        p.stop(signal.SIGKILL)


def test_archiver_survives_ioc_restart_and_its_own_kill(tmp_path, epics_env, procs):
    prefix = f"T{os.getpid()}:"
    power, pot, pulse = (
        f"{prefix}BEAM:POWER_MW",
        f"{prefix}BEAM:POT_PER_PULSE",
        f"{prefix}BEAM:PULSE_ID",
    )
    pvs = [power, pot, pulse]
    root = tmp_path / "archive"
    arch = BeamArchive(root)
    ioc_argv = [sys.executable, "-m", "analysis_lib.beam.sim_ioc", "--prefix", prefix]
    archiver_argv = [
        sys.executable,
        "-m",
        "analysis_lib",
        "archiver",
        "run",
        "--root",
        str(root),
        "--flush-interval-s",
        "0.3",
    ]
    for pv in pvs:
        archiver_argv += ["--pv", pv]

    def start(argv, name):
        procs.append(Proc(argv, epics_env, tmp_path / f"{name}.log"))
        return procs[-1]

    def rows(pv: str) -> int:
        return len(BeamArchive(root).query(pv))

    def logs() -> str:
        return "\n".join(f"--- {p.log.name}\n{p.log.read_text()[-3000:]}" for p in procs)

    ioc = start(ioc_argv, "ioc1")
    archiver = start(archiver_argv, "archiver1")
    wait_for(lambda: all(rows(pv) >= 60 for pv in pvs), timeout=20, what="first second archived")

    # -- the IOC goes away and comes back: a gap, no crash --------------------------------
    ioc_stopped_ns = time.time_ns()
    ioc.stop(signal.SIGKILL)
    time.sleep(1.0)
    assert archiver.alive(), logs()
    ioc = start(ioc_argv, "ioc2")
    ioc_back_ns = time.time_ns()
    wait_for(
        lambda: all(
            any(g.reason == "disconnected" for g in BeamArchive(root).gaps(pv)) for pv in pvs
        ),
        timeout=20,
        what="disconnect gap recorded",
    )
    wait_for(
        lambda: BeamArchive(root).last_time_ns(pulse) > ioc_back_ns + 5e8,
        timeout=10,
        what="samples after the IOC restart",
    )
    assert archiver.alive(), logs()

    # -- the archiver is killed and restarted: resumes, no duplicates ------------------------
    archiver.stop(signal.SIGKILL)
    killed_ns = time.time_ns()
    time.sleep(0.5)
    archiver = start(archiver_argv, "archiver2")
    wait_for(
        lambda: all(
            any(g.reason == "archiver not running" for g in BeamArchive(root).gaps(pv))
            for pv in pvs
        ),
        timeout=20,
        what="restart gap recorded",
    )
    wait_for(
        lambda: BeamArchive(root).last_time_ns(pulse) > time.time_ns() - 3e8,
        timeout=10,
        what="fresh samples after the archiver restart",
    )
    assert archiver.stop(signal.SIGTERM) == 0, logs()
    ioc.stop()
    assert "Traceback" not in (tmp_path / "archiver1.log").read_text(), logs()
    assert "Traceback" not in (tmp_path / "archiver2.log").read_text(), logs()

    for pv in pvs:
        df = arch.query(pv)
        t = df["time_ns"].to_numpy()
        assert len(t) >= 60, (pv, len(t))  # the first wait alone saw 60
        assert np.all(np.diff(t) > 0), f"{pv}: duplicate or unordered rows"
        gaps = arch.gaps(pv)
        reasons = [g.reason for g in gaps]
        assert reasons.count("disconnected") == 1, (pv, gaps)
        assert reasons.count("archiver not running") == 1, (pv, gaps)
        for g in gaps:  # gaps span exactly the missing stretch between two stored samples
            assert np.count_nonzero((t > g.start_ns) & (t < g.end_ns)) == 0
            assert g.start_ns in t
            assert g.end_ns in t
        down = next(g for g in gaps if g.reason == "disconnected")
        assert down.start_ns <= ioc_stopped_ns
        assert down.end_ns >= ioc_back_ns
        dead = next(g for g in gaps if g.reason == "archiver not running")
        assert dead.start_ns <= killed_ns < dead.end_ns

    # between gaps, the pulse counter advances by exactly one: no update was lost
    df = arch.query(pulse)
    t, n = df["time_ns"].to_numpy(), df["value"].to_numpy()
    segment = np.searchsorted([g.end_ns for g in arch.gaps(pulse)], t, side="right")
    same = segment[1:] == segment[:-1]
    assert np.all(np.diff(n)[same] == 1), "an update was lost while the archiver ran"
    # and the values are a beam: ~1.4 MW, POT per pulse = P / (1 GeV · 60 Hz)
    p, q = arch.query(power), arch.query(pot)
    joined = p.merge(q, on="time_ns", suffixes=("_MW", "_pot"))
    assert len(joined) > 0.9 * len(p)
    on = joined["value_MW"] > 0
    np.testing.assert_allclose(
        joined["value_pot"][on] / joined["value_MW"][on], 1e6 / (1.602176634e-10 * 60), rtol=1e-9
    )
    np.testing.assert_allclose(joined["value_MW"][on].median(), 1.4, rtol=0.05)


def test_query_command_prints_the_archive_as_csv(tmp_path):
    arch = BeamArchive(tmp_path)
    arch.append("BEAM:POWER_MW", [10**18, 10**18 + 1], [1.4, 1.3])
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis_lib",
            "archiver",
            "query",
            "--root",
            str(tmp_path),
            "--pv",
            "BEAM:POWER_MW",
            "--start",
            str(10**18 + 1),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.splitlines() == ["time_ns,value", f"{10**18 + 1},1.3"]
