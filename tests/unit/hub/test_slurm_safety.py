"""What a user can send or place, checked before the hub (root) acts on it (issue #14).

Real files, FIFOs and symlinks on this machine; real subprocesses for the command runner
(a stand-in ``scancel`` script records its arguments). The handler's rules are checked on a
plain stand-in spawner here and against the real Slurm-mode hub in
tests/integration/hub/test_slurm_security.py.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import time
from types import SimpleNamespace

import pytest
from traitlets import TraitError

from rarehub_hub.slurm_api import ALLOWED_KEYS, ReportRefused, check_report
from rarehub_hub.slurm_safety import (
    TAIL_MAX_BYTES,
    UnsafeFile,
    check_job_id,
    read_user_tail,
    split_command,
)
from rarehub_hub.slurm_spawner import RareHubSlurmSpawner

pytestmark = pytest.mark.security
HOSTILE_NAME = "x; touch /tmp/rarehub-pwned #"


def make_spawner(**traits) -> RareHubSlurmSpawner:
    user = SimpleNamespace(name=getpass.getuser(), url="/user/x/", base_url="/")
    return RareHubSlurmSpawner(user=user, **traits)


@pytest.mark.parametrize("good", ["1", "123456", "12_3"])
def test_job_ids_are_digits_or_array_tasks(good):
    assert check_job_id(good) == good


@pytest.mark.parametrize("bad", ["", "1;2", "1 2", "-1", "²", "١٢", "1_", "_1", "1\n2", "$(id)"])
def test_anything_else_is_not_a_job_id(bad):
    with pytest.raises(ValueError, match="not a Slurm job id"):
        check_job_id(bad)


def test_a_job_id_is_checked_wherever_it_is_set():
    sp = make_spawner()
    with pytest.raises(TraitError, match="not a Slurm job id"):
        sp.job_id = "1; touch /tmp/x"
    assert sp.parse_job_id("Submitted\n42;cluster\n") == "42"
    with pytest.raises(ValueError, match="not a Slurm job id"):
        sp.parse_job_id("42 && reboot")
    sp.load_state({"job_id": "7$(id)", "started": True})
    assert sp.job_id == ""
    assert not sp.server_started


def test_commands_split_once_with_placeholders_as_whole_words():
    assert split_command("sudo -E -u {username}") == ["sudo", "-E", "-u", "{username}"]
    for bad in ("sudo -u user{username}", "sudo -u {user}", "echo 'open"):
        with pytest.raises(ValueError, match="exec_prefix"):
            split_command(bad, "exec_prefix")
    with pytest.raises(TraitError, match="whole words"):
        make_spawner(exec_prefix="sudo -u x{username}")


def test_a_hostile_user_name_is_one_argument_and_no_shell_runs(tmp_path):
    """The real runner: the prefix is a stand-in that records its argv, one per line."""
    record = tmp_path / "argv"
    prefix = tmp_path / "as-user"
    prefix.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    prefix.chmod(0o755)
    canary = tmp_path / "pwned"
    sp = make_spawner(exec_prefix=f"{prefix} {{username}}")
    sp.user.name = f"x; touch {canary} #"
    sp.job_id = "99"
    sp.get_env = lambda: {"PATH": os.environ["PATH"]}
    asyncio.run(sp._slurm("batch_cancel_cmd"))
    assert record.read_text().splitlines() == [sp.user.name, "scancel", "99"]
    assert not canary.exists()


def test_placeholder_words_become_exactly_one_argument():
    sp = make_spawner(exec_prefix="sudo -E -u {username}")
    sp.user.name = HOSTILE_NAME
    sp.job_id = "12_3"
    assert sp.slurm_argv("batch_cancel_cmd") == [
        "sudo",
        "-E",
        "-u",
        HOSTILE_NAME,
        "scancel",
        "12_3",
    ]
    assert sp.slurm_argv("batch_submit_cmd")[-2:] == ["sbatch", "--parsable"]


def test_batchspawners_shell_runner_refuses():
    with pytest.raises(RuntimeError, match="never as shell strings"):
        asyncio.run(make_spawner().run_command("scancel 1; id"))


# ---- the job's output file ---------------------------------------------------------------


def test_tail_of_a_regular_file_the_user_owns(tmp_path):
    uid = os.getuid()
    log = tmp_path / ".rarehub-jupyter-5.log"
    log.write_bytes(b"x" * (TAIL_MAX_BYTES + 10) + b"\nlast line\n")
    text = read_user_tail(str(tmp_path), "{homedir}/.rarehub-jupyter-5.log", uid)
    assert text.endswith("last line\n")
    assert len(text) == TAIL_MAX_BYTES


def test_symlink_fifo_and_foreign_files_are_refused(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("hub secret\n")
    home = tmp_path / "home"
    home.mkdir()
    (home / "link.log").symlink_to(secret)
    os.mkfifo(home / "fifo.log")
    (home / "dir").symlink_to(tmp_path)
    (home / "foreign.log").write_text("someone else's\n")
    os.chown(home / "foreign.log", 54321, 54321)
    uid = os.getuid()
    cases = {
        "link.log": "symbolic link",
        "fifo.log": "not a regular file",
        "dir/secret": "not a plain folder",
        "foreign.log": "owned by uid 54321",
        "../secret": "not a file path",
    }
    for name, why in cases.items():
        t0 = time.monotonic()
        with pytest.raises(UnsafeFile, match=why):
            read_user_tail(str(home), "{homedir}/" + name, uid)
        assert time.monotonic() - t0 < 0.5  # the FIFO never blocks the open


def test_the_pending_page_tail_shows_nothing_unsafe(tmp_path, caplog):
    sp = make_spawner(output_template=f"{tmp_path}/out-%j.log")
    sp.job_id = "8"
    (tmp_path / "out-8.log").symlink_to("/etc/shadow")
    assert asyncio.run(sp.output_tail()) == ""
    message = asyncio.run(sp._gone_message(None))
    assert message == "Slurm job 8 is no longer known to Slurm before the server started."


# ---- the report handler's rules ------------------------------------------------------------


def starting(**kw) -> SimpleNamespace:
    base = dict(
        pending="spawn",
        port=0,
        port_range=(23000, 23099),
        server_ip="127.0.0.1",
        name="",
        user=SimpleNamespace(name="alice"),
    )
    return SimpleNamespace(**{**base, **kw})


def test_a_starting_server_reports_its_port_and_address():
    assert check_report(starting(), {"port": 23005, "reported_ip": "127.0.0.1"}) == (
        23005,
        "127.0.0.1",
    )
    wild = starting(server_ip="0.0.0.0", port_range=(0, 0))
    assert check_report(wild, {"port": 40000}) == (40000, "")
    assert check_report(wild, {"port": 40000, "reported_ip": "node7"}, ["node7"]) == (
        40000,
        "node7",
    )
    auto = starting(server_ip="auto")
    body = {"port": 23001, "reported_ip": "10.1.0.7"}
    assert check_report(auto, body, ["node7", "10.1.0.7"]) == (23001, "10.1.0.7")
    with pytest.raises(ReportRefused, match=r"allowed 'node7', '10\.1\.0\.7'"):
        check_report(auto, {**body, "reported_ip": "10.9.9.9"}, ["node7", "10.1.0.7"])
    with pytest.raises(ReportRefused, match="none known"):
        check_report(auto, body, [])


@pytest.mark.parametrize(
    ("spawner", "body", "why"),
    [
        (starting(), {"port": 23001, "exec_prefix": "touch /x;"}, "only port, reported_ip"),
        (starting(), {"job_id": "1"}, "only port, reported_ip"),
        (starting(), {"port": 22}, "integer in 23000-23099"),
        (starting(), {"port": "23001"}, "integer in 23000-23099"),
        (starting(), {"port": True}, "integer in 23000-23099"),
        (starting(), {"port": 23001, "reported_ip": "10.0.0.9"}, "allowed '127.0.0.1'"),
        (starting(server_ip="0.0.0.0"), {"port": 23001, "reported_ip": "evil"}, "allowed ''"),
        (starting(), ["port", 23001], "JSON object"),
        (starting(pending=None), {"port": 23001}, "not starting"),
        (starting(pending="stop"), {"port": 23001}, "not starting"),
        (starting(port=23002), {"port": 23001}, "already reported"),
    ],
)
def test_every_other_report_is_refused_naming_what_is_allowed(spawner, body, why):
    with pytest.raises(ReportRefused, match=why):
        check_report(spawner, body)
    assert ALLOWED_KEYS == ("port", "reported_ip")
