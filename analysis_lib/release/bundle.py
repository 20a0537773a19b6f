"""Freeze a data release into a self-describing bundle folder.

Layout::

    <bundle>/
      README.md                 what this is, how to verify and re-run it
      release.json              metadata: name, version, image, re-run command, tolerances,
                                results with their lineage keys, data referenced by checksum
      CITATION.cff              citation metadata (Citation File Format 1.2.0)
      .zenodo.json              deposit metadata for Zenodo (and other data repositories)
      ro-crate-metadata.json    an RO-Crate: the data, results, notebooks, code version and
                                image digest as linked data (see :mod:`.metadata`)
      environment/uv.lock       the lock file the results were made with
      data/…                    data shipped with the release
      results/<name>.parquet    results, each with results/<name>.lineage.json beside it
      notebooks/…               executed notebooks
      code/…                    scripts the re-run command uses
      MANIFEST.json             sha256 and size of every file above
      MANIFEST.json.sha256      sha256 of MANIFEST.json

The bundle is built in a temporary sibling folder and renamed into place: a crash never
leaves a half-written bundle under the final name. The three metadata files are checked
(:mod:`.metadata`) before that rename: an invalid one stops the freeze, naming the field.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .metadata import (
    CITATION_CFF,
    ZENODO_JSON,
    check_citation_cff,
    check_ro_crate,
    check_zenodo_json,
    citation_cff,
    write_ro_crate,
    zenodo_json,
)

__all__ = ["MANIFEST", "MANIFEST_DIGEST", "ReleaseSpec", "freeze", "sha256_file"]

MANIFEST = "MANIFEST.json"
MANIFEST_DIGEST = "MANIFEST.json.sha256"
RELEASE_SCHEMA = "rarehub.release/1"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class ReleaseSpec:
    """What goes into a release.

    Attributes
    ----------
    name, version, title, description : str
        Identify the release (``name`` is a short slug).
    authors : list of dict
        ``{"name": "Family, Given", "affiliation": …, "orcid": …}`` (orcid optional).
    results : list of Path
        Result Parquet files; each needs its lineage JSON beside it
        (``<stem>.lineage.json``, as :mod:`analysis_lib.steps` stores them).
    data : list of Path
        Data files copied into the bundle.
    data_refs : list of Path
        Large data referenced by checksum and size only (not copied).
    notebooks : list of Path
        Executed notebooks (``.ipynb``) to ship and re-execute.
    code : list of Path
        Scripts the re-run command needs; copied to ``code/``.
    lock_file : Path, optional
        The environment's lock file (``uv.lock``).
    image, image_digest : str, optional
        The container image reference and its digest (``sha256:…``).
    rerun : list of str, optional
        The command that re-makes the results: argv with ``{bundle}`` (the bundle folder),
        ``{out}`` (a folder where it must write ``<name>.parquet`` for each result) and
        ``{python}`` (the interpreter: this one locally, ``python`` inside the image).
    tolerances : dict
        ``{"<result>.parquet": {"rtol": …, "atol": …}}`` or ``"<result>.parquet:<column>"``;
        results not listed must match bit for bit.
    license : str
        SPDX identifier of the data licence.
    doi : str, optional
        The release's DOI once reserved (``10.5281/zenodo.…``), for the citation metadata.
    keywords : list of str
        Keywords for the citation and deposit metadata.
    code_version : str, optional
        The analysis code's version (e.g. a git commit or tag), recorded in
        ``CITATION.cff`` (``commit``) and the RO-Crate; the rarehub package version is
        recorded as well.
    """

    name: str
    version: str
    title: str
    authors: list[dict]
    description: str = ""
    results: list[Path] = field(default_factory=list)
    data: list[Path] = field(default_factory=list)
    data_refs: list[Path] = field(default_factory=list)
    notebooks: list[Path] = field(default_factory=list)
    code: list[Path] = field(default_factory=list)
    lock_file: Path | None = None
    image: str | None = None
    image_digest: str | None = None
    rerun: list[str] | None = None
    tolerances: dict[str, dict[str, float]] = field(default_factory=dict)
    license: str = "CC-BY-4.0"
    doi: str | None = None
    keywords: list[str] = field(default_factory=list)
    code_version: str | None = None


def _copy_unique(files: list[Path], dest: Path, what: str) -> list[str]:
    names = []
    for f in map(Path, files):
        if not f.is_file():
            raise FileNotFoundError(f"{what} {f}: no such file")
        if f.name in names:
            raise ValueError(f"{what}: two files named {f.name!r}; names must be unique")
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dest / f.name)
        names.append(f.name)
    return names


def _readme(spec: ReleaseSpec, release: dict) -> str:
    results = "\n".join(f"- `results/{r}`" for r in release["results"]) or "- (none)"
    return f"""# {spec.title} — release {spec.version}

{spec.description}

## Contents
{results}

Data shipped: {len(release["data"])} file(s); referenced by checksum: {len(release["data_refs"])}.
Notebooks: {", ".join(release["notebooks"]) or "none"}.
Environment: `environment/uv.lock`; image `{spec.image or "n/a"}`
({spec.image_digest or "no digest"}).

## Verify
    rarehub release verify {spec.name}-{spec.version}

checks the sha256 of every file in `MANIFEST.json`, re-runs the pipeline command stored in
`release.json` and the notebooks, and compares the numbers with those shipped here
(bit for bit unless `release.json` declares a tolerance), naming any difference.

## Cite and deposit
See `CITATION.cff`; `.zenodo.json` holds the metadata for a Zenodo (or other data
repository) deposit, and `ro-crate-metadata.json` describes every file, the code version and
the image as an RO-Crate.
"""


def freeze(spec: ReleaseSpec, out: Path) -> Path:
    """Write the release bundle to ``out`` (which must not exist); returns ``out``."""
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists; a release is frozen once — pick a new folder")
    for r in map(Path, spec.results):
        if r.suffix != ".parquet":
            raise ValueError(f"result {r}: expected a .parquet file")
        if not r.with_suffix(".lineage.json").is_file():
            raise FileNotFoundError(
                f"result {r} has no lineage beside it ({r.with_suffix('.lineage.json').name}); "
                "results must come from the pipeline with their lineage"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        date = datetime.now(UTC).strftime("%Y-%m-%d")
        results = _copy_unique(spec.results, tmp / "results", "result")
        _copy_unique(
            [Path(r).with_suffix(".lineage.json") for r in spec.results],
            tmp / "results",
            "lineage",
        )
        lineage_keys = {}
        for r in results:
            doc = json.loads((tmp / "results" / r).with_suffix(".lineage.json").read_text())
            lineage_keys[r] = doc.get("key")
        data = _copy_unique(spec.data, tmp / "data", "data file")
        notebooks = _copy_unique(spec.notebooks, tmp / "notebooks", "notebook")
        code = _copy_unique(spec.code, tmp / "code", "code file")
        if spec.lock_file is not None:
            (tmp / "environment").mkdir()
            shutil.copy2(spec.lock_file, tmp / "environment" / Path(spec.lock_file).name)
        refs = [
            {
                "path": str(Path(p).resolve()),
                "sha256": sha256_file(Path(p)),
                "bytes": Path(p).stat().st_size,
            }
            for p in spec.data_refs
        ]
        release = {
            "schema": RELEASE_SCHEMA,
            "name": spec.name,
            "version": spec.version,
            "title": spec.title,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "image": {"reference": spec.image, "digest": spec.image_digest},
            "lock_file": f"environment/{Path(spec.lock_file).name}" if spec.lock_file else None,
            "results": results,
            "lineage_keys": lineage_keys,
            "data": data,
            "data_refs": refs,
            "notebooks": notebooks,
            "code": code,
            "rerun": spec.rerun,
            "tolerances": spec.tolerances,
        }
        (tmp / "release.json").write_text(json.dumps(release, indent=1, sort_keys=True) + "\n")
        (tmp / CITATION_CFF).write_text(citation_cff(spec, date))
        zenodo = zenodo_json(spec, date)
        (tmp / ZENODO_JSON).write_text(json.dumps(zenodo, indent=1) + "\n")
        (tmp / "README.md").write_text(_readme(spec, release))
        described = {
            str(p.relative_to(tmp)): sha256_file(p)
            for p in sorted(tmp.rglob("*"))
            if p.is_file() and p.relative_to(tmp).parts[0] != p.name
        }
        write_ro_crate(tmp, spec, release, date, described)
        problems = (
            check_citation_cff((tmp / CITATION_CFF).read_text())
            + check_zenodo_json(zenodo)
            + check_ro_crate(tmp)
        )
        if problems:
            raise ValueError("release metadata are not valid:\n  " + "\n  ".join(problems))
        files = sorted(
            p for p in tmp.rglob("*") if p.is_file() and p.name not in (MANIFEST, MANIFEST_DIGEST)
        )
        manifest = {
            "schema": "rarehub.release-manifest/1",
            "files": {
                str(p.relative_to(tmp)): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
                for p in files
            },
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        (tmp / MANIFEST_DIGEST).write_text(f"{sha256_file(tmp / MANIFEST)}  {MANIFEST}\n")
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
