"""Benchmark: image build times and size against the issue's targets.

Targets: full build ≤ 5 min, a code-only change rebuilds in < 1 min, image ≤ 1.5 GB.

Runs ``images/build.sh`` in a private podman store (its own graph root, run root and
TMPDIR, so nothing is cached: the debootstrap base, every download and every layer are
made from scratch, and the shared store of the test suite is not touched), then edits one
line of ``analysis_lib`` in a copy of the tree and builds again in the same store. Reports
both times, the size of the image and the ratios to the targets; removes the store.

Run:  python benchmarks/bench_image_build.py   (root, podman, debootstrap; ~5 min)

``--smoke`` (the test suite): builds this tree once in the shared store instead, which the
suite's image fixture has already built (so it takes seconds: build.sh reuses the image of
an unchanged tree), and reports that time and the size against the targets, without
verdicts. The from-scratch and code-only builds are not smoked.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The session fixtures the smoke test requests first (tests/benchmarks): the image built
#: in the shared store, which --smoke then reuses.
SMOKE_FIXTURES = ["rarehub_image"]
TREE = ["pyproject.toml", "uv.lock", "README.md", "analysis_lib", "hub/rarehub_hub", "tutorials"]
FULL_TARGET_S, REBUILD_TARGET_S, SIZE_TARGET_GB = 300.0, 60.0, 1.5


def copy_tree(dest: Path) -> None:
    """The build's inputs and images/ (build.sh builds the tree it lives in)."""
    ignore = shutil.ignore_patterns("__pycache__", "build", "node_modules")
    for rel in [*TREE, "images"]:
        src, dst = REPO / rel, dest / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=ignore)
        else:
            shutil.copy2(src, dst)


def build(tree: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.monotonic()
    out = subprocess.run(
        ["bash", str(tree / "images" / "build.sh"), "--no-archive"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - start
    if out.returncode != 0:
        raise SystemExit(f"build.sh failed:\n{out.stderr[-4000:]}")
    return elapsed, out.stdout.strip().splitlines()[-1]


def smoke() -> None:
    env = dict(os.environ, CONTAINERS_CONF=str(REPO / "images" / "containers.conf"))
    cached_s, ref = build(REPO, env)
    inspect = subprocess.run(
        ["podman", "image", "inspect", ref], env=env, capture_output=True, text=True, check=True
    )
    size_gb = json.loads(inspect.stdout)[0]["Size"] / 1e9
    print(
        f"unchanged tree, shared store: {cached_s:6.1f} s"
        f"   ratio to the {REBUILD_TARGET_S:.0f} s rebuild target {cached_s / REBUILD_TARGET_S:.2f}"
    )
    print(f"image size (uncompressed):    {size_gb:6.2f} GB  ratio {size_gb / SIZE_TARGET_GB:.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--smoke", action="store_true", help="no targets, the shared store: only checks it runs"
    )
    if p.parse_args().smoke:
        smoke()
        return
    work = Path(tempfile.mkdtemp(prefix="rarehub-bench-image-", dir="/var/tmp"))
    storage_conf = work / "storage.conf"
    storage_conf.write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{work}/graph"\nrunroot = "{work}/run"\n'
    )
    (work / "tmp").mkdir()
    env = dict(
        os.environ,
        CONTAINERS_CONF=str(REPO / "images" / "containers.conf"),
        CONTAINERS_STORAGE_CONF=str(storage_conf),
        TMPDIR=str(work / "tmp"),  # buildah keeps cache mounts (the uv cache) under it
    )
    try:
        tree = work / "tree"
        copy_tree(tree)
        full_s, ref = build(tree, env)

        init = tree / "analysis_lib" / "__init__.py"
        init.write_text(init.read_text() + "\n# a code-only change for the rebuild benchmark\n")
        rebuild_s, ref2 = build(tree, env)
        assert ref2 != ref, "the edited tree must give a new image"

        inspect = subprocess.run(
            ["podman", "image", "inspect", ref2], env=env, capture_output=True, text=True
        )
        size_gb = json.loads(inspect.stdout)[0]["Size"] / 1e9
        print(
            f"full build (debootstrap base, empty caches): {full_s:6.1f} s"
            f"   target ≤ {FULL_TARGET_S:.0f} s   ratio {full_s / FULL_TARGET_S:.2f}"
        )
        print(
            f"code-only rebuild:                           {rebuild_s:6.1f} s"
            f"   target < {REBUILD_TARGET_S:.0f} s    ratio {rebuild_s / REBUILD_TARGET_S:.2f}"
        )
        print(
            f"image size (uncompressed):                   {size_gb:6.2f} GB"
            f"  target ≤ {SIZE_TARGET_GB} GB  ratio {size_gb / SIZE_TARGET_GB:.2f}"
        )
    finally:
        # Only this private store: no `podman system reset` (it also drops networks).
        subprocess.run(["podman", "rmi", "--all", "--force"], env=env, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
