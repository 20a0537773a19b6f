"""Helpers shared by the test folders (imported as ``rarehub_testing``)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Headless Debian Chromium for every browser test (never `playwright install`). Without the
# background-networking flags Chromium keeps trying to reach the outside network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _ephemeral_ports() -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (Linux default 32768–60999)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


_handed_out: set[int] = set()


def free_port_block(n: int = 1) -> int:
    """A port P such that P … P+n-1 are all free on 127.0.0.1 and never handed out before
    in this process.

    The ports come from below the kernel's ephemeral range: a port the kernel hands out
    itself (``bind(0)``) can be taken by any outgoing connection between this call and the
    moment a server binds it — CI once lost an nginx start that way.
    """
    low, _ = _ephemeral_ports()
    first, last = 20000, min(low, 65536) - n
    if last <= first:  # an unusual ephemeral range: fall back to the whole space above 1024
        first, last = 1024, 65535 - n
    rng = random.SystemRandom()
    for _ in range(500):
        base = rng.randrange(first, last)
        block = range(base, base + n)
        if _handed_out.intersection(block):
            continue
        socks = []
        try:
            for p in block:
                t = socket.socket()
                socks.append(t)
                t.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            for t in socks:
                t.close()
        _handed_out.update(block)
        return base
    raise RuntimeError(f"no block of {n} free ports on 127.0.0.1 in {first}–{last + n - 1}")


def make_file(path: Path, payload: bytes) -> Path:
    """Write ``payload`` to ``path``, making its folders; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path


def wait_for(check: Callable[[], object], *, timeout: float, what: str, every: float = 0.3):
    """Call ``check`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as e:  # the thing is not up yet
            last_error = e
        time.sleep(every)
    raise TimeoutError(f"{what} not ready after {timeout} s (last error: {last_error!r})")


def require_executable(name: str, why: str) -> str:
    """The path of ``name``; skip (a failure under CI=true) when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not found: {why}")
    return path


def _as_background_job() -> None:
    # what `cmd &` in a non-interactive shell does to the job: Ctrl-C and Ctrl-\ ignored
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)


def start_dev_hub(
    state_dir: Path, port: int, log: Path, *, background: bool = False
) -> subprocess.Popen:
    """``./dev start`` as the README says, on ports ``port`` … ``port+4``, state in ``state_dir``.

    The hub gets its own process group (so Ctrl-C, SIGINT to the group, stops it as in a
    terminal) and a random password (written to ``state_dir/demo-password``); its output is
    appended to ``log``. ``background=True`` starts it as ``./dev start &`` would, with SIGINT
    and SIGQUIT ignored. Returns at once: wait for ``/hub/health`` yourself.
    """
    env = dict(os.environ, RAREHUB_STATE_DIR=str(state_dir), RAREHUB_PORT=str(port))
    env.pop("RAREHUB_PASSWORD", None)
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            ["./dev", "start"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_as_background_job if background else None,
        )


def block_off_host(page) -> list[str]:
    """Abort every request of a Playwright ``page`` that is not to 127.0.0.1.

    Returns the list the refused URLs are appended to, for the test to assert it is empty.
    """
    blocked: list[str] = []

    def only_loopback(route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1:", "ws://127.0.0.1:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", only_loopback)
    return blocked


def run_rarehub(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The ``rarehub`` command run in this process (argv parsed exactly as from a shell),
    its exit code, stdout and stderr returned as ``subprocess.run`` would."""
    import contextlib
    import io

    from analysis_lib.cli import main

    out, err, code = io.StringIO(), io.StringIO(), 0
    with pytest.MonkeyPatch.context() as mp:
        for key, value in (env or {}).items():
            mp.setenv(key, value)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as e:
                if isinstance(e.code, str):
                    err.write(e.code)
                code = e.code if isinstance(e.code, int) else int(e.code is not None)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())
