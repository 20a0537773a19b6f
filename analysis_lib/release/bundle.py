"""Freeze a data release into a self-describing bundle folder.

Layout::

    <bundle>/
      README.md                 what this is, how to verify and re-run it
      release.json              metadata: name, version, image, re-run command, tolerances,
                                results with their lineage keys, data referenced by checksum
      CITATION.cff              citation metadata (Citation File Format 1.2.0)
      deposit.json              deposit metadata for a data repository (Zenodo's schema)
      environment/uv.lock       the lock file the results were made with
      data/…                    data shipped with the release
      results/<name>.parquet    results, each with results/<name>.lineage.json beside it
      notebooks/…               executed notebooks
      code/…                    scripts the re-run command uses
      MANIFEST.json             sha256 and size of every file above
      MANIFEST.json.sha256      sha256 of MANIFEST.json

The bundle is built in a temporary sibling folder and renamed into place: a crash never
leaves a half-written bundle under the final name.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

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


def _citation_cff(spec: ReleaseSpec, date: str) -> str:
    lines = [
        "cff-version: 1.2.0",
        "message: If you use this data release, please cite it as below.",
        "type: dataset",
        f"title: {json.dumps(spec.title)}",
        f"version: {json.dumps(spec.version)}",
        f"date-released: {date}",
        f"license: {spec.license}",
        "authors:",
    ]
    for a in spec.authors:
        family, _, given = a["name"].partition(",")
        lines.append(f"  - family-names: {json.dumps(family.strip())}")
        if given.strip():
            lines.append(f"    given-names: {json.dumps(given.strip())}")
        if a.get("affiliation"):
            lines.append(f"    affiliation: {json.dumps(a['affiliation'])}")
        if a.get("orcid"):
            lines.append(f"    orcid: {json.dumps('https://orcid.org/' + a['orcid'])}")
    if spec.description:
        lines.append(f"abstract: {json.dumps(spec.description)}")
    return "\n".join(lines) + "\n"


def _deposit_json(spec: ReleaseSpec, date: str) -> dict:
    # Zenodo deposition metadata (developers.zenodo.org, "Deposit metadata")
    creators = []
    for a in spec.authors:
        c = {"name": a["name"]}
        if a.get("affiliation"):
            c["affiliation"] = a["affiliation"]
        if a.get("orcid"):
            c["orcid"] = a["orcid"]
        creators.append(c)
    return {
        "metadata": {
            "upload_type": "dataset",
            "title": spec.title,
            "version": spec.version,
            "publication_date": date,
            "creators": creators,
            "description": spec.description or spec.title,
            "license": spec.license.lower(),
            "access_right": "open",
            "keywords": ["rare-event search", "data release", "RareHub"],
        }
    }


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

## Cite
See `CITATION.cff`; `deposit.json` holds the metadata for a data repository deposit.
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
        (tmp / "CITATION.cff").write_text(_citation_cff(spec, date))
        (tmp / "deposit.json").write_text(json.dumps(_deposit_json(spec, date), indent=1) + "\n")
        (tmp / "README.md").write_text(_readme(spec, release))
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
