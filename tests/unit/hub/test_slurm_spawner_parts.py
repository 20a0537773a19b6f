"""The Slurm spawner's parts: container prefixes, the batch script, one squeue for all.

The squeue here is a small shell script standing in for Slurm (counting its calls, or failing
on purpose); the real Slurm is exercised in tests/integration/hub/.
"""

from __future__ import annotations

import asyncio
import getpass
import shlex
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from rarehub_hub.slurm_script import runtime_prefix
from rarehub_hub.slurm_spawner import RareHubSlurmSpawner
from rarehub_hub.slurm_squeue import JobInfo, SqueueBatcher, parse_squeue
from rarehub_testing import free_port_block

BINDS = [{"source": "/data"}, {"source": "/scratch", "target": "/work", "readonly": False}]


def test_apptainer_prefix_binds_home_and_data_read_only():
    words = runtime_prefix("apptainer", "/img/rarehub-1.0.sif", BINDS, ["X"], "/home/a")
    assert words == [
        "apptainer",
        "exec",
        "--containall",
        "--pwd",
        "/home/a",
        "--bind",
        "/home/a:/home/a",
        "--bind",
        "/data:/data:ro",
        "--bind",
        "/scratch:/work",
        "/img/rarehub-1.0.sif",
    ]


def test_podman_prefix_runs_rootless_read_only_with_env_by_name():
    words = runtime_prefix("podman", "localhost/rarehub:1.0", BINDS, ["JUPYTERHUB_API_TOKEN"], "/h")
    assert words[:2] == ["podman", "run"]
    for flag in ("--userns=keep-id", "--network=host", "--read-only", "--rm"):
        assert flag in words
    assert words[words.index("--env") + 1] == "JUPYTERHUB_API_TOKEN"  # value never on argv
    assert "/data:/data:ro" in words
    assert words[-1] == "localhost/rarehub:1.0"
    # The job's own UID over the image's USER; the host's PATH/PYTHONPATH stay outside.
    words = runtime_prefix("podman", "img", [], ["PATH", "PYTHONPATH", "X"], "/h", user="7:8")
    assert "--user=7:8" in words
    assert [words[i + 1] for i, w in enumerate(words) if w == "--env"] == ["X"]
    assert "--env=HOME=/h" in words
    assert runtime_prefix("none", "", BINDS, [], "/h") == []
    with pytest.raises(ValueError, match="unknown container runtime 'docker'"):
        runtime_prefix("docker", "", [], [], "/h")


def make_spawner(**traits) -> RareHubSlurmSpawner:
    user = SimpleNamespace(name=getpass.getuser(), url="/user/x/", base_url="/")
    return RareHubSlurmSpawner(user=user, **traits)


def test_batch_script_is_rendered_from_validated_values_only():
    sp = make_spawner(
        port_range=(9000, 9099),
        job_environment={"PYTHONPATH": "/a b;c"},
        limits={"partitions": ["jupyter"], "cpus": [1, 4]},
    )
    sp.user_options = {"cpus": "3", "walltime": "1:05"}
    opts = sp.validated_options()
    script = sp.render_script(opts, ["JUPYTERHUB_API_TOKEN", "PATH"])
    lines = script.splitlines()
    assert lines[0] == "#!/bin/bash"
    assert "#SBATCH --partition=jupyter" in lines
    assert "#SBATCH --cpus-per-task=3" in lines
    assert "#SBATCH --time=1:05:00" in lines
    assert "#SBATCH --mem=2G" in lines
    assert "#SBATCH --export=JUPYTERHUB_API_TOKEN,PATH" in lines
    assert "export PYTHONPATH='/a b;c'" in lines
    exec_, *command = shlex.split(lines[-1])
    assert exec_ == "exec"  # the server replaces the script: Slurm signals it directly
    assert command[1:4] == ["-m", "rarehub_hub.singleuser", "--ip"]
    assert command[4:7] == ["auto", "--port-range", "9000-9099"]
    assert command[command.index("--") + 1].endswith("/bin/jupyterhub-singleuser")


def test_a_job_running_an_image_pinned_by_digest_tells_rarehub_process_the_digest():
    """RAREHUB_IMAGE_DIGEST (the default of ``rarehub process --image-digest``) is set only
    when the job runs an image reference pinned by content; a tag names no fixed recipe."""
    digest = "sha256:" + "0f" * 32
    sp = make_spawner(runtime="podman", image="registry.lab/rarehub@" + digest)
    opts = sp.validated_options()
    script = sp.render_script(opts, ["JUPYTERHUB_API_TOKEN"])
    assert f"export RAREHUB_IMAGE_DIGEST={digest}" in script.splitlines()
    run = next(line for line in script.splitlines() if line.startswith("podman run"))
    words = shlex.split(run.removesuffix(" &"))
    assert words[words.index("RAREHUB_IMAGE_DIGEST") - 1] == "--env"  # passed by name
    out = subprocess.run(
        ["bash", "-c", _exports(script) + 'printf %s "$RAREHUB_IMAGE_DIGEST"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == digest
    for image in ("registry.lab/rarehub:{version}", f"rarehub:1@{digest[:-1]}"):
        sp = make_spawner(runtime="podman", image=image)
        assert "RAREHUB_IMAGE_DIGEST=" not in sp.render_script(opts, [])


def _exports(script: str) -> str:
    return "".join(line + "\n" for line in script.splitlines() if line.startswith("export "))


def test_hostile_user_options_stop_before_the_script():
    from tornado.web import HTTPError

    sp = make_spawner()
    sp.user_options = {"partition": "rarehub\n#SBATCH --uid=0"}
    with pytest.raises(HTTPError) as err:
        sp.validated_options()
    assert err.value.status_code == 400
    assert "partition" in err.value.log_message


def test_parse_squeue_keeps_state_node_reason():
    out = "12|RUNNING|vm|2026-12-06T17:00:00|None\n13|PENDING||N/A|Resources\n\ngarbage\n"
    assert parse_squeue(out) == {
        "12": JobInfo("RUNNING", "vm", "None", "2026-12-06T17:00:00"),
        "13": JobInfo("PENDING", "", "Resources", "N/A"),
    }


def fake_squeue(tmp_path: Path, body: str) -> tuple[str, ...]:
    script = tmp_path / "squeue"
    script.write_text(f"#!/bin/sh\necho call >> {tmp_path}/calls\n{body}\n")
    script.chmod(0o755)
    return (str(script),)


def test_one_squeue_answers_two_hundred_concurrent_pollers(tmp_path):
    jobs = "\n".join(f"{i}|RUNNING|vm|N/A|None" for i in range(200))
    batcher = SqueueBatcher(fake_squeue(tmp_path, f"sleep 0.2\ncat <<'E'\n{jobs}\nE"))

    async def poll_all():
        snaps = await asyncio.gather(*(batcher.snapshot(5.0) for _ in range(200)))
        again = await batcher.snapshot(5.0)  # within the interval: reused
        return snaps, again

    snaps, again = asyncio.run(poll_all())
    assert batcher.calls == 1
    assert (tmp_path / "calls").read_text().count("call") == 1
    assert all(s is snaps[0] for s in snaps)
    assert again is snaps[0]
    assert len(snaps[0].jobs) == 200


def test_failed_squeue_is_unknown_not_gone(tmp_path):
    batcher = SqueueBatcher(
        fake_squeue(tmp_path, "echo 'slurm_load_jobs error: Unable to contact' >&2; exit 1")
    )
    snap = asyncio.run(batcher.snapshot(5.0))
    assert snap.jobs is None
    assert "Unable to contact" in snap.error


def test_a_snapshot_older_than_the_submission_is_not_trusted(tmp_path):
    batcher = SqueueBatcher(fake_squeue(tmp_path, "echo '1|RUNNING|vm|N/A|None'"))

    async def run():
        first = await batcher.snapshot(60.0)
        later = await batcher.snapshot(60.0, newer_than=first.started + 1e-6)
        return first, later

    first, later = asyncio.run(run())
    assert later is not first
    assert batcher.calls == 2


async def _answer_302(reader, writer):
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 302 Found\r\nLocation: /lab\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()
    writer.close()


def test_start_waits_for_the_server_to_answer_without_backing_off(monkeypatch):
    """JupyterHub's own check backs off to seconds; the spawner's sees a server at once.

    Counted in checks, not seconds (a wall-clock bound is flaky on busy cores): the server
    comes up just before the spawner's 6th check (a real server on 127.0.0.1), which must
    see it, and the waits between checks must all be the same (no back-off)."""
    sp = make_spawner()
    sp.job_id = "5"

    async def running(**kw):
        return JobInfo("RUNNING", "vm", "None")

    sp.job_info = running
    port = free_port_block(1)
    checks: list[bool] = []
    servers = []
    real_check = sp._answers_http

    async def check(url):
        if len(checks) == 5:  # the server starts now: the 6th check is the first to see it
            servers.append(await asyncio.start_server(_answer_302, "127.0.0.1", port))
        checks.append(await real_check(url))
        return checks[-1]

    sp._answers_http = check
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds, *args, **kwargs):
        waits.append(seconds)
        return await real_sleep(seconds, *args, **kwargs)

    monkeypatch.setattr(asyncio, "sleep", sleep)

    async def scenario():
        try:
            await sp._wait_http("127.0.0.1", port)
        finally:
            for server in servers:
                server.close()

    asyncio.run(scenario())
    assert checks == [False] * 5 + [True]
    assert waits == [sp.ready_check_interval_s] * 5


def test_a_job_gone_before_its_server_answers_fails_the_spawn_at_once():
    sp = make_spawner()
    sp.job_id = "6"

    async def gone(**kw):
        return None

    sp.job_info = gone
    with pytest.raises(RuntimeError, match="Slurm job 6 is no longer known to Slurm"):
        asyncio.run(asyncio.wait_for(sp._wait_http("127.0.0.1", free_port_block(1)), 10))


def run_python(code: str) -> subprocess.CompletedProcess:
    import sys

    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_launcher_execs_any_other_command():
    out = run_python(
        "from rarehub_hub.singleuser import run_server; run_server(['echo', 'exec', 'ok'])"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "exec ok\n"


def test_the_import_the_server_skips_only_drops_the_iri_format_check():
    """What :data:`~rarehub_hub.singleuser.SKIPPED_IMPORTS` costs: jsonschema (and with it
    jupyter_events, every Jupyter server's) still imports and validates; only "iri" strings
    go unchecked, jsonschema's fallback for a missing format library."""
    code = (
        "import sys\n"
        "from rarehub_hub.singleuser import SKIPPED_IMPORTS\n"
        "for name in SKIPPED_IMPORTS: sys.modules[name] = None\n"
        "import jsonschema, jupyter_events.logger\n"
        "checker = jsonschema.Draft7Validator.FORMAT_CHECKER\n"
        "print('iri' in checker.checkers, checker.conforms('not an iri', 'iri'),"
        " checker.conforms('not a date', 'date'))\n"
    )
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", "False"]
