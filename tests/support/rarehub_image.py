"""The RareHub OCI image for tests: built once per session with ``images/build.sh``.

Other test folders reuse it (e.g. a Slurm spawn that runs the server in the image)::

    from rarehub_image import rarehub_image  # noqa: F401  (a session fixture)

    def test_something(rarehub_image):
        podman("run", "--rm", rarehub_image, "rarehub", "--version")

The build is reused when an image for the current source tree already exists (the tag is
``localhost/rarehub:tree-<hash of the build context>``), so re-runs take seconds. All podman
calls go through :func:`podman`, which points ``CONTAINERS_CONF`` at
``images/containers.conf`` (runc, cgroupfs: what works without systemd).
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import pytest

from rarehub_testing import REPO, require_executable

IMAGES = REPO / "images"
BUILD_SCRIPT = IMAGES / "build.sh"
CONTAINERS_CONF = IMAGES / "containers.conf"
#: The user the image runs as by default (Dockerfile ``USER``).
IMAGE_USER = "1000:1000"
#: Where the tutorials are inside the image (Dockerfile ``RAREHUB_TUTORIALS``).
IMAGE_TUTORIALS = "/opt/rarehub/venv/share/rarehub/tutorials"
#: A full build here takes 2–3 min; allow for a slow mirror or a loaded machine.
BUILD_TIMEOUT_S = 900


def podman_env() -> dict[str, str]:
    """The environment for podman: ``CONTAINERS_CONF`` set unless the caller set it."""
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    return env


def podman(*args: str, check: bool = True, timeout: float = 300, **kwargs):
    """Run ``podman ARGS…`` and return the completed process (text output captured)."""
    result = subprocess.run(
        ["podman", *args],
        env=podman_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"podman {' '.join(args)} exited with {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


@functools.cache
def build_image() -> str:
    """Build (or reuse) the image of the current tree; return its reference.

    The reference is ``localhost/rarehub:tree-<hash>``; ``localhost/rarehub:latest`` and
    ``localhost/rarehub:<version>`` point at the same image afterwards.
    """
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--no-archive"],
        env=podman_env(),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"images/build.sh failed with {result.returncode}\n"
            f"stderr (last 60 lines):\n" + "\n".join(result.stderr.splitlines()[-60:])
        )
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def rarehub_image() -> str:
    """The reference of the RareHub image built from this tree (skips without podman)."""
    require_executable("podman", "the image tests build and run the image with podman")
    return build_image()


#: Not the image's user (1000) and not in its /etc/passwd.
ARBITRARY_UID = 54321
#: Where :func:`locked_down` binds the host folder, and what HOME is set to inside.
CONTAINER_HOME = "/home/analyst"


def locked_down(
    home: Path, *extra: str, read_only: bool = True, healthcheck: bool = False
) -> list[str]:
    """``podman run`` options imitating Apptainer on a cluster.

    An arbitrary UID that is not in the image's /etc/passwd, a read-only root file system,
    the host network (servers bind 127.0.0.1) and ``home`` bound as HOME. The health check
    is off unless asked for: it is for servers, and without systemd podman logs errors about
    the timer it cannot create (``podman healthcheck run`` still works).
    """
    return [
        *(["--read-only"] if read_only else []),
        *([] if healthcheck else ["--no-healthcheck"]),
        f"--user={ARBITRARY_UID}:{ARBITRARY_UID}",
        "--network=host",
        f"--volume={home}:{CONTAINER_HOME}",
        f"--env=HOME={CONTAINER_HOME}",
        *extra,
    ]


def run_in_image(
    image: str,
    home: Path,
    *command: str,
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout: float = 300,
):
    """Run ``command`` in ``image`` with :func:`locked_down` options; return the result."""
    env_args = [f"--env={k}={v}" for k, v in (env or {}).items()]
    return podman(
        "run", "--rm", *locked_down(home, *env_args), image, *command, check=check, timeout=timeout
    )
