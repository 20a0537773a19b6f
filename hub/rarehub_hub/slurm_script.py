"""The job script of a server's Slurm job: the container prefix, the server command, the script.

Everything here is rendered from values the spawner validated (``options.validate_options``)
and the admin's configuration; every value that reaches the script is shell-quoted.
"""

from __future__ import annotations

import re
import shlex
import uuid
from collections.abc import Mapping, Sequence

from .options import format_walltime

#: Variables the job script sets (or Slurm) that the server inside the image needs.
JOB_ENV_NAMES = (
    "SLURM_JOB_ID",
    "RAREHUB_JOB_END",
    "RAREHUB_WALLTIME_WARN_MINUTES",
    "RAREHUB_IMAGE_DIGEST",
)

#: An image reference pinned by content: ``name@sha256:<64 hex digits>``.
_PINNED = re.compile(r"@(sha256:[0-9a-f]{64})\Z")

#: Variables JupyterHub keeps from the hub's environment that describe the host, not the image.
HOST_ONLY_ENV = frozenset(
    {"PATH", "PYTHONPATH", "VIRTUAL_ENV", "CONDA_ROOT", "CONDA_DEFAULT_ENV", "LD_LIBRARY_PATH"}
)


def runtime_prefix(
    runtime: str,
    image: str,
    binds: list[Mapping[str, str]],
    env_names: list[str],
    home: str,
    user: str = "",
) -> list[str]:
    """The command words that run the server inside the image.

    ``runtime`` ``none`` runs from a shared environment (no prefix); ``apptainer`` uses
    ``apptainer exec --containall --pwd HOME --bind HOME --bind SRC:DST[:ro] … IMAGE.sif``
    (own /tmp, PID and IPC namespaces, a clean environment: only the home and the admin's
    binds, only the variables :func:`apptainer_env_lines` passes by name); ``podman`` uses a
    rootless
    ``podman run`` on the host network, read-only, as the job's own UID (``user`` ``UID:GID``
    overrides the image's ``USER``), with the home and the binds mounted and the environment
    variables ``env_names`` passed by name (values never appear on the command line), except
    the host's search paths (``PATH``, ``PYTHONPATH`` …) which would point outside the image.
    """
    if runtime == "none":
        return []
    mounts = []
    for b in binds:
        ro = ":ro" if b.get("readonly", True) else ""
        mounts.append(f"{b['source']}:{b.get('target') or b['source']}{ro}")
    if runtime == "apptainer":
        words = ["apptainer", "exec", "--containall", "--pwd", home, "--bind", f"{home}:{home}"]
        for m in mounts:
            words += ["--bind", m]
        return [*words, image]
    if runtime == "podman":
        words = [
            "podman",
            "run",
            "--rm",
            "--userns=keep-id",
            "--network=host",
            "--read-only",
            # The hub watches the server; without systemd podman cannot time health checks.
            "--no-healthcheck",
            *([f"--user={user}"] if user else []),
            f"--env=HOME={home}",
            "--volume",
            f"{home}:{home}",
            "--workdir",
            home,
        ]
        for m in mounts:
            words += ["--volume", m]
        for name in env_names:
            if name not in HOST_ONLY_ENV:
                words += ["--env", name]
        return [*words, image]
    raise ValueError(f"unknown container runtime {runtime!r}: use none, apptainer or podman")


ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def image_digest(image: str) -> str:
    """The content digest ``sha256:…`` of an image reference pinned by digest
    (``registry/name@sha256:…``), else ``""``: a tag or a file path can change under the
    same name, so it names no recipe ``rarehub storage free`` could trust."""
    m = _PINNED.search(image)
    return m.group(1) if m else ""


def apptainer_env_lines(env_names: Sequence[str]) -> list[str]:
    """Script lines passing each variable of ``env_names`` into ``apptainer --containall``
    by name (``APPTAINERENV_NAME``: the value never appears on a command line), except the
    host's search paths (:data:`HOST_ONLY_ENV`) and anything that is not a variable name."""
    lines = []
    for name in dict.fromkeys(env_names):
        if name in HOST_ONLY_ENV or not ENV_NAME.fullmatch(name):
            continue
        lines.append(f'if [ -n "${{{name}+set}}" ]; then export APPTAINERENV_{name}="${name}"; fi')
    return lines


def server_command(
    *,
    runtime: str,
    image: str,
    binds: list[Mapping[str, str]],
    env_names: list[str],
    home: str,
    user: str,
    env_prefix: str,
    cmd: Sequence[str],
    args: Sequence[str],
    server_ip: str,
    port_range: tuple[int, int],
) -> list[str]:
    """The words that start the server inside the job: the runtime prefix, then
    ``rarehub_hub.singleuser`` (binds ``server_ip``, a port in ``port_range``, reports both),
    then ``cmd`` (from ``env_prefix`` with runtime ``none``) and ``args``."""
    prefix = runtime_prefix(runtime, image, binds, env_names, home, user=user)
    python = f"{env_prefix}/bin/python" if runtime == "none" else "python3"
    single = f"{env_prefix}/bin/{cmd[0]}" if runtime == "none" else cmd[0]
    low, high = port_range
    return [
        *prefix,
        python,
        "-m",
        "rarehub_hub.singleuser",
        "--ip",
        server_ip,
        "--port-range",
        f"{low}-{high}",
        "--",
        single,
        *cmd[1:],
        *args,
    ]


def render_script(
    opts: Mapping[str, object],
    *,
    job_name: str,
    output: str,
    home: str,
    env_names: list[str],
    job_environment: Mapping[str, object],
    walltime_warnings_minutes: Sequence[float],
    runtime: str,
    command: list[str],
    image: str = "",
) -> str:
    """The batch script, from validated ``opts`` only; every value shell-quoted.

    ``output`` is the job's output file (``%j``: the job id), ``env_names`` the variables
    exported into the job (``--export``), ``command`` the :func:`server_command` words.
    When the job runs an ``image`` pinned by digest, ``RAREHUB_IMAGE_DIGEST`` is set to it,
    so that ``rarehub process`` in the server records the image in each result's lineage.
    """
    q = shlex.quote
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={q(job_name)}",
        f"#SBATCH --output={q(output)}",
        f"#SBATCH --chdir={q(home)}",
        f"#SBATCH --export={q(','.join(env_names))}",
        f"#SBATCH --partition={q(str(opts['partition']))}",
        f"#SBATCH --time={format_walltime(int(opts['walltime_minutes']))}",
        f"#SBATCH --cpus-per-task={int(opts['cpus'])}",
        f"#SBATCH --mem={int(opts['memory_GiB'])}G",
    ]
    if int(opts["gpus"]):
        lines.append(f"#SBATCH --gres=gpu:{int(opts['gpus'])}")
    lines += ["", "set -euo pipefail", f"export HOME={q(home)}"]
    for name, value in sorted(job_environment.items()):
        lines.append(f"export {name}={q(str(value))}")
    # For the lab's walltime warning (rarehub_hub.walltime): the end of the walltime in
    # epoch seconds (Slurm's start time if it tells, else now: the script starts with the
    # job) and when to warn.
    walltime_s = int(opts["walltime_minutes"]) * 60
    warn = ",".join(f"{m:g}" for m in walltime_warnings_minutes)
    lines += [
        f'export RAREHUB_JOB_END="$(( ${{SLURM_JOB_START_TIME:-$(date +%s)}} + {walltime_s} ))"',
        f"export RAREHUB_WALLTIME_WARN_MINUTES={q(warn)}",
    ]
    digest = image_digest(image) if runtime != "none" else ""
    if digest:
        lines.append(f"export RAREHUB_IMAGE_DIGEST={q(digest)}")
    lines.append(f'echo "rarehub: job $SLURM_JOB_ID on $(hostname -s), {opts["profile"]}"')
    if runtime == "apptainer":
        lines += apptainer_env_lines([*env_names, *JOB_ENV_NAMES])
    if runtime != "podman":
        # exec: the server is the batch step's own process, so Slurm's signals reach it
        # and it cannot outlive the job as an orphan (proctrack/linuxproc loses processes
        # whose parent died: a server slow to shut down would escape Slurm's SIGKILL).
        lines.append("exec " + shlex.join(command))
        return "\n".join(lines) + "\n"
    # conmon leaves the job's process tree, so Slurm's SIGTERM ends `podman run` but not
    # the container: stop it by its cidfile when the script ends (scancel, walltime).
    # A short --time: Slurm sends SIGKILL KillWait (default 30 s) after SIGTERM.
    cid = f"{home}/.rarehub-podman-{uuid.uuid4().hex}.cid"
    lines += [
        f"cid={q(cid)}",
        "trap 'exit 143' TERM INT",
        'trap \'podman stop --time 3 --cidfile "$cid" >/dev/null 2>&1 || true; '
        'podman rm --force --cidfile "$cid" >/dev/null 2>&1 || true; rm -f "$cid"\' EXIT',
        shlex.join([*command[:2], f"--cidfile={cid}", *command[2:]]) + " &",
        "wait $!",
    ]
    return "\n".join(lines) + "\n"
