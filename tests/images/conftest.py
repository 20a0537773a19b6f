"""Fixtures of the image tests: the image (built once per session) and a HOME to bind.

Every run imitates Apptainer on a locked-down cluster (``rarehub_image.locked_down``): an
arbitrary UID that is not in the image's /etc/passwd, a read-only root file system, the host
network, and a HOME bound from the host (a fresh folder per test).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rarehub_image import rarehub_image  # noqa: F401  (a session fixture)


@pytest.fixture
def bound_home(tmp_path: Path) -> Path:
    """An empty host folder to bind as HOME, writable by the container's arbitrary UID."""
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o777)  # the container's UID is not ours (root, or rootless and remapped)
    return home
