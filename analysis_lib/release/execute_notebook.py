"""Execute a notebook headless and save it: ``python -m analysis_lib.release.execute_notebook
IN OUT [--cwd DIR] [--timeout S] [--startup-timeout S]``. Run as a subprocess (or inside the
release image) by :func:`analysis_lib.release.verify.verify`, so kernel warnings never reach
the caller."""

from __future__ import annotations

import argparse
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("notebook", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--cwd", type=Path, default=None, help="working directory of the kernel")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    p.add_argument(
        "--startup-timeout", type=int, default=60, help="seconds for the kernel to start"
    )
    a = p.parse_args(argv)

    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(a.notebook, as_version=4)
    cwd = str(a.cwd or a.notebook.parent)
    NotebookClient(
        nb,
        timeout=a.timeout,
        startup_timeout=a.startup_timeout,
        kernel_name="python3",
        resources={"metadata": {"path": cwd}},
    ).execute()
    from analysis_lib.io.atomic import atomic_path

    with atomic_path(a.out) as tmp:
        nbformat.write(nb, tmp)


if __name__ == "__main__":
    main()
