"""Verify a frozen release: checksums, then re-run the pipeline and notebooks and compare.

Every difference is reported by name: the file whose checksum changed, the result and
column whose numbers differ (with the largest difference and the tolerance), the notebook
cell whose output changed. Re-runs happen in a scratch copy of the bundle, locally or
inside the release image when a container command prefix is given: :func:`podman_prefix`
builds one (the bundle copy bound read-only, an output folder writable, no network, a
read-only root, a chosen UID); ``{bundle}``, ``{out}`` and ``{image}`` (the image reference
recorded in the bundle) are substituted in it. Before a re-run in the recorded image, its
digest is compared with the bundle's, so a tag moved to a rebuilt image is named, not used.

The manifest comes first: if any checksum, the manifest, ``release.json`` or a referenced
data file does not match, nothing of the bundle is executed (a bundle is data until it has
been shown to be the one released). ``rarehub release verify`` runs no code unless asked
(``--rerun``), and then inside the recorded image's sandbox unless told ``--on-host``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .bundle import MANIFEST, MANIFEST_DIGEST, sha256_file

__all__ = ["Problem", "VerifyReport", "compare_results", "podman_prefix", "verify"]


@dataclass(frozen=True)
class Problem:
    """One finding: ``kind`` (checksum, missing, unexpected, manifest, image, rerun, numbers,
    notebook, data-ref), ``name`` (the file, result column or notebook cell) and detail."""

    kind: str
    name: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.name}: {self.detail}"


@dataclass
class VerifyReport:
    """All findings of :func:`verify`; ``ok`` when there are none."""

    bundle: Path
    problems: list[Problem] = field(default_factory=list)
    checked_files: int = 0
    compared_results: int = 0
    executed_notebooks: int = 0
    #: What the pipeline re-run printed (stdout), e.g. the environment it ran in.
    rerun_output: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def names(self) -> set[str]:
        """The names of everything that differs."""
        return {p.name for p in self.problems}


def _check_manifest(bundle: Path, report: VerifyReport) -> dict:
    manifest_path, digest_path = bundle / MANIFEST, bundle / MANIFEST_DIGEST
    if not manifest_path.is_file():
        report.problems.append(Problem("missing", MANIFEST, "the bundle has no manifest"))
        return {}
    recorded = digest_path.read_bytes() if digest_path.is_file() else None
    if recorded is None:
        report.problems.append(Problem("missing", MANIFEST_DIGEST, "no manifest digest"))
    elif recorded != f"{sha256_file(manifest_path)}  {MANIFEST}\n".encode():
        report.problems.append(
            Problem(
                "manifest",
                f"{MANIFEST} or {MANIFEST_DIGEST}",
                "the manifest's sha256 differs from the recorded digest: one of them changed",
            )
        )
    try:
        files = json.loads(manifest_path.read_text())["files"]
    except (ValueError, KeyError, UnicodeDecodeError) as e:
        report.problems.append(Problem("manifest", MANIFEST, f"unreadable: {e}"))
        return {}
    for rel, entry in sorted(files.items()):
        path = bundle / rel
        if not path.is_file():
            report.problems.append(Problem("missing", rel, "listed in the manifest, not found"))
            continue
        report.checked_files += 1
        got = sha256_file(path)
        if got != entry.get("sha256"):
            report.problems.append(
                Problem("checksum", rel, f"sha256 {got[:16]}… ≠ manifest {entry['sha256'][:16]}…")
            )
    listed = set(files) | {MANIFEST, MANIFEST_DIGEST}
    for p in sorted(bundle.rglob("*")):
        rel = str(p.relative_to(bundle))
        if p.is_file() and rel not in listed:
            report.problems.append(Problem("unexpected", rel, "not in the manifest"))
    return files


def _tolerance(tolerances: dict, result: str, column: str) -> tuple[float, float]:
    t = tolerances.get(f"{result}:{column}") or tolerances.get(result) or {}
    return float(t.get("rtol", 0.0)), float(t.get("atol", 0.0))


def compare_results(
    expected: pd.DataFrame, got: pd.DataFrame, result: str, tolerances: dict | None = None
) -> list[Problem]:
    """Compare two result tables column by column; bit for bit unless a tolerance is set."""
    tolerances = tolerances or {}
    problems = []
    if list(expected.columns) != list(got.columns):
        return [
            Problem(
                "numbers",
                result,
                f"columns {list(got.columns)} ≠ released {list(expected.columns)}",
            )
        ]
    if len(expected) != len(got):
        return [Problem("numbers", result, f"{len(got)} rows ≠ released {len(expected)}")]
    for col in expected.columns:
        a, b = expected[col].to_numpy(), got[col].to_numpy()
        name = f"{result}:{col}"
        if np.issubdtype(a.dtype, np.number) and np.issubdtype(b.dtype, np.number):
            rtol, atol = _tolerance(tolerances, result, col)
            if rtol == 0 and atol == 0:
                same = (a == b) | (np.isnan(a) & np.isnan(b)) if a.dtype.kind == "f" else a == b
            else:
                same = np.isclose(b, a, rtol=rtol, atol=atol, equal_nan=True)
            if not np.all(same):
                diff = np.abs(b.astype(float) - a.astype(float))
                problems.append(
                    Problem(
                        "numbers",
                        name,
                        f"{int(np.sum(~same))} of {len(a)} rows differ, max |Δ| = "
                        f"{np.nanmax(diff[~same]):.6g} (rtol={rtol}, atol={atol})",
                    )
                )
        elif not np.array_equal(a.astype(object), b.astype(object)):
            problems.append(Problem("numbers", name, "values differ"))
    return problems


def _cell_outputs(nb: dict) -> list[str]:
    out = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        texts = []
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                texts.append("".join(o.get("text", "")))
            elif "data" in o and "text/plain" in o["data"]:
                texts.append("".join(o["data"]["text/plain"]))
            elif o.get("output_type") == "error":
                texts.append(f"{o.get('ename')}: {o.get('evalue')}")
        out.append("\n".join(texts))
    return out


def podman_prefix(
    image: str = "{image}",
    *,
    user: str | None = None,
    network: str = "none",
    engine: str = "podman",
) -> list[str]:
    """A container command prefix for :func:`verify` that runs the re-run inside ``image``.

    The bundle copy is bound read-only at its own path and is the working directory, the
    output folder is bound writable, the root file system is read-only (``/tmp`` is a tmpfs
    and HOME), there is no network unless ``network`` says otherwise ("host"), and the
    processes run as ``user`` ("UID:GID"; default: the caller's, or ``65534:65534`` when the
    caller is root: a bundle's code never runs as root), which need not exist in the image.

    Parameters
    ----------
    image : str
        The image reference; ``"{image}"`` (default) is the reference recorded in the bundle.
    user : str, optional
        ``UID:GID`` in the container; default: the caller's (``65534:65534`` for root).
    network : str
        The podman network: ``none`` (default) or ``host``.
    engine : str
        The container command (``podman``; ``docker`` takes the same options).

    Returns
    -------
    list of str
        The prefix, with ``{bundle}``, ``{out}`` and ``{image}`` left for :func:`verify`.
    """
    if not user:
        user = f"{os.getuid()}:{os.getgid()}" if os.getuid() != 0 else "65534:65534"
    return [
        engine,
        "run",
        "--rm",
        "--read-only",
        "--no-healthcheck",
        f"--network={network}",
        f"--user={user}",
        "--env=HOME=/tmp",
        "--volume={bundle}:{bundle}:ro",
        "--volume={out}:{out}",
        "--workdir={bundle}",
        image,
    ]


def _check_image_digest(engine: str, image: str, release: dict) -> Problem | None:
    """The recorded image must still be the one the release was frozen with.

    A tag such as ``rarehub:1.0`` can be moved to a rebuilt image; re-running in that one
    would test a different environment. Compares ``podman image inspect``'s digest with the
    bundle's; no recorded digest (or an engine we cannot ask) is not checked.
    """
    recorded = (release.get("image") or {}).get("digest")
    if not recorded or Path(engine).name not in ("podman", "docker"):
        return None
    r = subprocess.run(
        [engine, "image", "inspect", "--format", "{{.Digest}}", image],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0:
        return Problem(
            "image",
            image,
            f"not available here ({r.stderr.strip()[-200:]}); pull {image}@{recorded}",
        )
    actual = r.stdout.strip()
    if actual != recorded:
        return Problem(
            "image",
            image,
            f"digest {actual} is not the recorded {recorded}: the tag now names another image;"
            f" pull {image}@{recorded}, or give --in-image REF to re-run in another one",
        )
    return None


def _open_for_container(work: Path, out: Path) -> None:
    """Let a container UID that is not ours read the bundle copy and write the outputs."""
    for p in [work, *work.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    out.chmod(0o777)


def _expand(argv: list[str], **values: str) -> list[str]:
    return [a.format(**values) for a in argv]


def verify(
    bundle: Path,
    *,
    rerun: bool = True,
    notebooks: bool = True,
    container: list[str] | None = None,
    timeout_s: float = 1800,
) -> VerifyReport:
    """Verify the release in ``bundle``; see the module docstring.

    Parameters
    ----------
    rerun, notebooks : bool
        Re-run the pipeline command / re-execute the notebooks and compare.
    container : list of str, optional
        A command prefix that runs what follows inside the release image (see
        :func:`podman_prefix`); ``{bundle}``, ``{out}`` and ``{image}`` are substituted.
        None: run in the current environment.
    """
    bundle = Path(bundle).resolve()
    report = VerifyReport(bundle)
    _check_manifest(bundle, report)
    try:
        release = json.loads((bundle / "release.json").read_text())
    except (OSError, ValueError) as e:
        report.problems.append(Problem("manifest", "release.json", f"unreadable: {e}"))
        return report
    for ref in release.get("data_refs", []):
        p = Path(ref["path"])
        if p.is_file() and sha256_file(p) != ref["sha256"]:
            report.problems.append(Problem("data-ref", str(p), "sha256 differs from release"))
    if not (rerun or notebooks) or report.problems:
        return report  # a bundle that is not the released one is never executed
    with tempfile.TemporaryDirectory(prefix="rarehub-verify-") as tmp:
        work = Path(tmp) / "bundle"
        shutil.copytree(bundle, work, symlinks=True)
        out = Path(tmp) / "out"
        out.mkdir()
        python = "python" if container else sys.executable
        if container:
            _open_for_container(work, out)
        image = (release.get("image") or {}).get("reference") or ""
        if container and "{image}" in container and not image:
            report.problems.append(
                Problem("rerun", "release.json", "no image reference recorded: give the image")
            )
            return report
        if container and "{image}" in container:
            problem = _check_image_digest(container[0], image, release)
            if problem is not None:  # a re-run elsewhere would not verify this release
                report.problems.append(problem)
                return report
        prefix = _expand(
            container or [], bundle=str(work), out=str(out), python=python, image=image
        )
        if rerun and release.get("rerun"):
            argv = prefix + _expand(release["rerun"], bundle=str(work), out=str(out), python=python)
            r = subprocess.run(
                argv, cwd=work, capture_output=True, text=True, timeout=timeout_s, check=False
            )
            if r.returncode != 0:
                report.problems.append(
                    Problem(
                        "rerun",
                        " ".join(release["rerun"]),
                        f"exit {r.returncode}: {r.stderr.strip()[-500:]}",
                    )
                )
            else:
                report.rerun_output = r.stdout
                for name in release.get("results", []):
                    new = out / name
                    if not new.is_file():
                        report.problems.append(Problem("rerun", name, "the re-run did not make it"))
                        continue
                    report.compared_results += 1
                    try:
                        released = pd.read_parquet(bundle / "results" / name)
                        remade = pd.read_parquet(new)
                    except Exception as e:  # a corrupted file: name it, keep going
                        report.problems.append(Problem("numbers", name, f"unreadable: {e}"))
                        continue
                    report.problems += compare_results(
                        released, remade, name, release.get("tolerances", {})
                    )
        if notebooks:
            for name in release.get("notebooks", []):
                src = work / "notebooks" / name
                executed = out / f"executed-{name}"
                argv = [
                    *prefix,
                    python,
                    "-m",
                    "analysis_lib.release.execute_notebook",
                    str(src),
                    str(executed),
                    "--cwd",
                    str(work),
                ]
                r = subprocess.run(
                    argv, capture_output=True, text=True, timeout=timeout_s, check=False
                )
                if r.returncode != 0:
                    report.problems.append(
                        Problem(
                            "notebook",
                            f"notebooks/{name}",
                            f"execution failed: {r.stderr.strip()[-500:]}",
                        )
                    )
                    continue
                report.executed_notebooks += 1
                try:
                    old = _cell_outputs(json.loads((bundle / "notebooks" / name).read_text()))
                except ValueError as e:
                    report.problems.append(
                        Problem("notebook", f"notebooks/{name}", f"unreadable: {e}")
                    )
                    continue
                new_out = _cell_outputs(json.loads(executed.read_text()))
                for i, (a, b) in enumerate(zip(old, new_out, strict=False)):
                    if a != b:
                        report.problems.append(
                            Problem(
                                "notebook",
                                f"notebooks/{name}#cell{i}",
                                f"output {b[:80]!r} ≠ released {a[:80]!r}",
                            )
                        )
                if len(old) != len(new_out):
                    report.problems.append(
                        Problem("notebook", f"notebooks/{name}", "number of code cells differs")
                    )
    return report
