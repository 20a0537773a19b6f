"""Job tracking never decides "gone" from silence: parsing, states, confirmation, cancel.

Slurm's commands are small shell scripts here (``squeue``, ``scontrol``, ``scancel`` on a
PATH of the test's own), standing in for a controller that answers with garbage, fails or
hangs on purpose — what a real Slurm cannot be made to do on demand. The real Slurm runs
these paths in tests/integration/cluster/.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from rarehub_hub.slurm_spawner import RareHubSlurmSpawner
from rarehub_hub.slurm_squeue import (
    JobInfo,
    SqueueBatcher,
    classify,
    confirm_job,
    parse_scontrol_job,
    parse_squeue_lines,
)

SCONTROL_LINE = (
    "JobId=42 JobName=rarehub-jupyter UserId=alice(1001) GroupId=alice(1001) Priority=1 "
    "JobState=RUNNING Reason=None Dependency=(null) Requeue=1 Restarts=0 "
    "StartTime=2026-12-06T17:00:00 EndTime=2026-12-06T18:00:00 Partition=rarehub "
    "NodeList=node2 BatchHost=node2 NumNodes=1"
)


def test_reason_may_hold_the_separator_and_banners_are_counted_not_parsed():
    text = (
        "Welcome to the cluster! Maintenance | Friday\n"
        "\n"
        "7|PENDING||N/A|ReqNodeNotAvail, reserved | maintenance\n"
        "8_3|RUNNING|node1|2026-12-06T17:00:00|None\n"
        "9|running|node1|N/A|None\n"  # not a Slurm state: a changed format
    )
    jobs, garbled = parse_squeue_lines(text)
    assert jobs == {
        "7": JobInfo("PENDING", "", "ReqNodeNotAvail, reserved | maintenance", "N/A"),
        "8_3": JobInfo("RUNNING", "node1", "None", "2026-12-06T17:00:00"),
    }
    assert garbled == 2


@pytest.mark.parametrize(
    ("state", "kind"),
    [
        ("RUNNING", "running"),
        ("COMPLETING", "running"),
        ("PENDING", "pending"),
        ("REQUEUED", "pending"),
        ("SUSPENDED", "pending"),
        ("CANCELLED", "finished"),
        ("NODE_FAIL", "finished"),
        ("OUT_OF_MEMORY", "finished"),
        ("STOPPED", "unknown"),
        ("SIGNALING", "unknown"),
        ("SPECIAL_EXIT", "unknown"),
        ("RESV_DEL_HOLD", "unknown"),
        ("SOMETHING_NEW", "unknown"),
    ],
)
def test_states_nobody_listed_are_unknown(state, kind):
    assert classify(state) == kind


def test_scontrol_show_job_is_parsed_for_that_job_only():
    assert parse_scontrol_job(SCONTROL_LINE, "42") == JobInfo(
        "RUNNING", "node2", "None", "2026-12-06T17:00:00"
    )
    assert parse_scontrol_job(SCONTROL_LINE, "4") is None
    assert parse_scontrol_job("Welcome!\n", "42") is None
    pending = SCONTROL_LINE.replace("JobState=RUNNING", "JobState=PENDING").replace(
        "NodeList=node2", "NodeList=(null)"
    )
    assert parse_scontrol_job(pending, "42").node == ""


def tool(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f'#!/bin/sh\necho "$0 $*" >> {bin_dir}/calls\n{body}\n')
    path.chmod(0o755)


def calls(bin_dir: Path, name: str) -> int:
    path = bin_dir / "calls"
    return path.read_text().count(f"/{name} ") if path.exists() else 0


@pytest.fixture
def bin_dir(tmp_path) -> Path:
    d = tmp_path / "bin"
    d.mkdir()
    return d


def test_confirmation_tells_gone_from_unknown(bin_dir):
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")
    argv = ["scontrol", "-o", "show", "job", "42"]
    tool(bin_dir, "scontrol", "echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1")
    assert asyncio.run(confirm_job(argv, "42", env)) is None
    tool(bin_dir, "scontrol", "echo 'Unable to contact slurm controller' >&2; exit 1")
    assert "Unable to contact" in asyncio.run(confirm_job(argv, "42", env))
    tool(bin_dir, "scontrol", "echo 'Welcome to the cluster'")
    assert "no such job in its answer" in asyncio.run(confirm_job(argv, "42", env))
    tool(bin_dir, "scontrol", f"echo '{SCONTROL_LINE}'")
    assert asyncio.run(confirm_job(argv, "42", env)).node == "node2"
    tool(bin_dir, "scontrol", "sleep 30")
    t0 = time.monotonic()
    assert "no answer in 0.5 s" in asyncio.run(confirm_job(argv, "42", env, timeout_s=0.5))
    assert time.monotonic() - t0 < 5


def test_concurrent_fresh_requests_share_one_call(bin_dir):
    tool(bin_dir, "squeue", "sleep 0.3; echo '1|RUNNING|vm|N/A|None'")
    batcher = SqueueBatcher((str(bin_dir / "squeue"),))

    async def scenario():
        first = asyncio.ensure_future(batcher.snapshot(0.0))
        await asyncio.sleep(0.1)  # a call is in flight; now ten stops want a fresh answer
        fresh = [
            asyncio.ensure_future(batcher.snapshot(0.0, newer_than=time.monotonic()))
            for _ in range(10)
        ]
        await asyncio.gather(first, *fresh)
        return [f.result() for f in fresh]

    answers = asyncio.run(scenario())
    assert batcher.calls == 2  # the one in flight, then one newer call for all ten
    assert all(a is answers[0] for a in answers)


def spawner(bin_dir: Path, **traits) -> RareHubSlurmSpawner:
    user = SimpleNamespace(name=getpass.getuser(), url="/user/x/", base_url="/")
    traits.setdefault("squeue_interval_s", 0.0)
    sp = RareHubSlurmSpawner(
        user=user,
        exec_prefix="",
        job_name=f"rarehub-test-{bin_dir.parent.name}",  # one batcher per test
        slurm_environment={"PATH": f"{bin_dir}:{os.environ['PATH']}"},
        **traits,
    )
    sp.job_id = "42"
    return sp


def test_an_empty_squeue_is_confirmed_before_the_job_is_cleared(bin_dir):
    tool(bin_dir, "squeue", "exit 0")  # exit 0, no lines: PrivateData, a broken wrapper …
    tool(bin_dir, "scontrol", f"echo '{SCONTROL_LINE}'")
    sp = spawner(bin_dir)
    assert asyncio.run(sp.poll()) is None
    assert sp.job_id == "42"
    assert calls(bin_dir, "scontrol") == 1
    # Slurm cannot be asked either: still unknown, still kept.
    tool(bin_dir, "scontrol", "echo 'Unable to contact slurm controller' >&2; exit 1")
    assert asyncio.run(sp.poll()) is None
    assert sp.job_id == "42"
    # Only the controller's own "no such job" clears it.
    tool(bin_dir, "scontrol", "echo 'Invalid job id specified' >&2; exit 1")
    assert asyncio.run(sp.poll()) == 1
    assert sp.job_id == ""


def test_an_unknown_state_keeps_the_server(bin_dir):
    tool(bin_dir, "squeue", "echo '42|SIGNALING|node1|N/A|None'")
    sp = spawner(bin_dir)
    assert asyncio.run(sp.poll()) is None
    tool(bin_dir, "squeue", "echo '42|NODE_FAIL|node1|N/A|NodeDown'")
    assert asyncio.run(sp.poll()) == 1


def test_a_requeued_server_job_is_stopped_not_routed_to(bin_dir):
    tool(bin_dir, "scancel", "exit 0")
    tool(bin_dir, "squeue", "echo '42|RUNNING|node2|2026-12-06T17:05:00|None'")
    sp = spawner(bin_dir)
    sp.server_started, sp.job_start = True, "2026-12-06T17:00:00"
    assert asyncio.run(sp.poll()) == 1  # started again elsewhere: the address is stale
    assert calls(bin_dir, "scancel") == 1
    assert sp.job_id == ""
    tool(bin_dir, "squeue", "echo '42|PENDING||N/A|BeginTime'")
    sp = spawner(bin_dir)
    sp.server_started, sp.job_start = True, "2026-12-06T17:00:00"
    assert asyncio.run(sp.poll()) == 1
    # The same start time: the same run, kept.
    tool(bin_dir, "squeue", "echo '42|RUNNING|node2|2026-12-06T17:00:00|None'")
    sp = spawner(bin_dir)
    sp.server_started, sp.job_start = True, "2026-12-06T17:00:00"
    assert asyncio.run(sp.poll()) is None


def test_a_failed_cancel_is_retried_reported_and_kept(bin_dir):
    tool(bin_dir, "scancel", "echo 'Unable to contact slurm controller' >&2; exit 1")
    sp = spawner(bin_dir, stop_timeout_s=5.0, cancel_attempts=3)
    with pytest.raises(RuntimeError, match="Slurm did not cancel job 42: Unable to contact"):
        asyncio.run(sp.stop())
    assert calls(bin_dir, "scancel") == 3
    sp.clear_state()  # what JupyterHub does after every stop, failed or not
    assert sp.get_state() == {"uncancelled": ["42"]}
    # JupyterHub drops a failed stop's error: the user's next form says it.
    tool(bin_dir, "sinfo", "exit 1")
    assert "could not cancel your earlier server's job 42" in asyncio.run(sp.options_form(sp))
    # The next start cancels it first.
    tool(bin_dir, "scancel", "exit 0")
    restored = spawner(bin_dir)
    restored.load_state({"uncancelled": ["42"]})
    asyncio.run(restored._cancel_uncancelled())
    assert restored.uncancelled_jobs == []
    assert calls(bin_dir, "scancel") == 4


def test_stop_is_bounded_by_its_timeout(bin_dir):
    tool(bin_dir, "scancel", "sleep 60")
    sp = spawner(bin_dir, stop_timeout_s=1.0)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="gave no answer in time"):
        asyncio.run(sp.stop())
    assert time.monotonic() - t0 < 3
    # A cancel that works but a job that lingers: the wait ends at the timeout too.
    tool(bin_dir, "scancel", "exit 0")
    tool(bin_dir, "squeue", "echo '42|COMPLETING|node1|N/A|None'")
    sp = spawner(bin_dir, stop_timeout_s=1.5)
    t0 = time.monotonic()
    asyncio.run(sp.stop())
    assert 1.4 < time.monotonic() - t0 < 4


def test_an_already_gone_job_counts_as_cancelled(bin_dir):
    tool(bin_dir, "scancel", "echo 'scancel: error: Invalid job id specified' >&2; exit 1")
    tool(bin_dir, "squeue", "exit 0")
    tool(bin_dir, "scontrol", "echo 'Invalid job id specified' >&2; exit 1")
    sp = spawner(bin_dir)
    asyncio.run(sp.stop())
    assert calls(bin_dir, "scancel") == 1
    assert sp.uncancelled_jobs == []


def test_a_pending_answer_from_before_the_server_was_ready_is_not_a_requeue(bin_dir):
    """A spawn storm: the shared squeue answer may predate the server's readiness and still
    show the job pending; poll must ask again, not cancel the job as requeued."""
    state = bin_dir / "state"
    state.write_text("42|PENDING||N/A|Resources")
    tool(bin_dir, "squeue", f"cat {state}")
    tool(bin_dir, "scancel", "exit 0")
    sp = spawner(bin_dir, squeue_interval_s=60.0)

    async def scenario():
        sp.submitted_at = time.monotonic()
        await sp.job_info()  # the shared answer: pending
        state.write_text("42|RUNNING|node1|2026-12-06T17:00:00|None")
        sp.server_started, sp.ready_at = True, time.monotonic()
        return await sp.poll()

    assert asyncio.run(scenario()) is None
    assert calls(bin_dir, "scancel") == 0
    assert sp.job_start == "2026-12-06T17:00:00"
