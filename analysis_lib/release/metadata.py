"""Deposit metadata of a release bundle: ``CITATION.cff``, ``.zenodo.json`` and an RO-Crate.

- ``CITATION.cff`` — Citation File Format 1.2.0 (citation-file-format.github.io): how to cite
  the release; GitHub, Zenodo and reference managers read it.
- ``.zenodo.json`` — Zenodo's deposit metadata (developers.zenodo.org, "Deposit metadata"),
  the file Zenodo's GitHub integration reads, and the ``metadata`` of a REST deposit.
- ``ro-crate-metadata.json`` — an RO-Crate (w3id.org/ro/crate, written with the ``rocrate``
  package): the bundle as a Dataset whose parts are its data, results, notebooks, code and
  lock file, each a File with its sha256, plus the code version and the container image
  (reference and digest) as SoftwareApplication entities.

Each writer has a checker returning the problems it finds (an empty list: valid), which
:func:`~analysis_lib.release.bundle.freeze` runs before the bundle gets its final name:

- :func:`check_citation_cff` validates against the rules of the CFF 1.2.0 JSON schema for
  the keys a release writes (required keys, types, formats: dates, ORCID and DOI patterns,
  no unknown top-level keys). ``cffconvert --validate`` (the reference validator) cannot be a
  dependency here — it pins ``jsonschema < 4`` — so the tests also run it in an isolated tool
  environment (``uv tool run --from cffconvert``).
- :func:`check_zenodo_json` checks Zenodo's required fields and vocabularies.
- :func:`check_ro_crate` checks the RO-Crate 1.1+ rules a consumer relies on: the metadata
  descriptor, a root Dataset with name, description, datePublished and license, every
  ``@id`` reference resolving, every File listed in ``hasPart`` present in the bundle with
  the sha256 recorded. The tests also run the RO-Crate validator (``roc-validator``, in an
  isolated tool environment, offline) at its RECOMMENDED level.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .bundle import ReleaseSpec

__all__ = [
    "CITATION_CFF",
    "RO_CRATE",
    "ZENODO_JSON",
    "check_citation_cff",
    "check_ro_crate",
    "check_zenodo_json",
    "citation_cff",
    "write_ro_crate",
    "zenodo_json",
]

CITATION_CFF = "CITATION.cff"
ZENODO_JSON = ".zenodo.json"
RO_CRATE = "ro-crate-metadata.json"

ORCID = re.compile(r"^https://orcid\.org/[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9X]$")
BARE_ORCID = re.compile(r"^[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9X]$")
DOI = re.compile(r"^10\.\d{4,9}(\.\d+)?/[A-Za-z0-9:/_;\-\.\(\)\[\]\\]+$")
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# SPDX identifiers the releases use; CFF 1.2.0 accepts any SPDX licence identifier
SPDX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-+]*$")

# The CFF 1.2.0 schema (citation-file-format/citation-file-format, schema.json), restricted
# to the keys a release writes; top-level keys outside the schema's list are refused as the
# schema does (additionalProperties: false).
_CFF_PERSON = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "family-names": {"type": "string", "minLength": 1},
        "given-names": {"type": "string", "minLength": 1},
        "affiliation": {"type": "string", "minLength": 1},
        "orcid": {"type": "string", "pattern": ORCID.pattern},
        "email": {"type": "string", "pattern": r"^[\S]+@[\S]+\.[\S]{2,}$"},
    },
    "anyOf": [{"required": ["family-names"]}, {"required": ["given-names"]}],
}
_CFF_ENTITY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "orcid": {"type": "string", "pattern": ORCID.pattern},
    },
    "required": ["name"],
}
CFF_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["cff-version", "message", "title", "authors"],
    "additionalProperties": False,
    "properties": {
        "cff-version": {"type": "string", "pattern": r"^1\.2\.0$"},
        "message": {"type": "string", "minLength": 1},
        "title": {"type": "string", "minLength": 1},
        "authors": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"anyOf": [_CFF_PERSON, _CFF_ENTITY]},
        },
        "type": {"enum": ["dataset", "software"]},
        "version": {"type": ["string", "number"], "minLength": 1},
        "date-released": {"type": "string", "pattern": DATE.pattern},
        "license": {"type": "string", "pattern": SPDX.pattern},
        "abstract": {"type": "string", "minLength": 1},
        "doi": {"type": "string", "pattern": DOI.pattern},
        "keywords": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "commit": {"type": "string", "minLength": 1},
        "identifiers": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "value"],
                "additionalProperties": False,
                "properties": {
                    "type": {"enum": ["doi", "url", "swh", "other"]},
                    "value": {"type": "string", "minLength": 1},
                    "description": {"type": "string", "minLength": 1},
                },
            },
        },
        "repository-code": {"type": "string", "format": "uri"},
        "url": {"type": "string", "format": "uri"},
    },
}

# Zenodo's vocabularies for the fields written here
_UPLOAD_TYPES = {
    "publication",
    "poster",
    "presentation",
    "dataset",
    "image",
    "video",
    "software",
    "lesson",
    "physicalobject",
    "other",
}
_ACCESS_RIGHTS = {"open", "embargoed", "restricted", "closed"}


def _split_name(name: str) -> tuple[str, str]:
    family, _, given = name.partition(",")
    return family.strip(), given.strip()


def citation_cff(spec: ReleaseSpec, date: str) -> str:
    """``CITATION.cff`` (CFF 1.2.0) of a release, as YAML text."""
    import yaml

    authors = []
    for a in spec.authors:
        family, given = _split_name(a["name"])
        person: dict[str, str] = {"family-names": family}
        if given:
            person["given-names"] = given
        if a.get("affiliation"):
            person["affiliation"] = a["affiliation"]
        if a.get("orcid"):
            person["orcid"] = f"https://orcid.org/{a['orcid']}"
        authors.append(person)
    doc: dict[str, Any] = {
        "cff-version": "1.2.0",
        "message": "If you use this data release, please cite it as below.",
        "type": "dataset",
        "title": spec.title,
        "version": spec.version,
        "date-released": date,
        "license": spec.license,
        "authors": authors,
    }
    if spec.description:
        doc["abstract"] = spec.description
    if spec.doi:
        doc["doi"] = spec.doi
    if spec.keywords:
        doc["keywords"] = list(spec.keywords)
    if spec.code_version:
        doc["commit"] = spec.code_version
    # safe_dump quotes strings that YAML would read as other types (a version 1.10, a date)
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_style=None)


def check_citation_cff(text: str) -> list[str]:
    """Problems of a ``CITATION.cff`` against the CFF 1.2.0 schema's rules ([] if valid)."""
    import jsonschema
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        return [f"{CITATION_CFF}: not YAML: {e}"]
    if not isinstance(doc, dict):
        return [f"{CITATION_CFF}: expected a mapping at the top, got {type(doc).__name__}"]
    # YAML reads an unquoted date as a date; the schema wants its ISO text
    doc = {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in doc.items()}
    validator = jsonschema.Draft7Validator(
        CFF_SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    problems = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "(top)"
        problems.append(f"{CITATION_CFF}: {where}: {err.message}")
    date = doc.get("date-released")
    if isinstance(date, str) and DATE.match(date):
        try:
            dt.date.fromisoformat(date)
        except ValueError:
            problems.append(f"{CITATION_CFF}: date-released: {date!r} is not a calendar date")
    return problems


def zenodo_json(spec: ReleaseSpec, date: str) -> dict:
    """``.zenodo.json``: Zenodo deposit metadata of a release."""
    creators = []
    for a in spec.authors:
        c = {"name": a["name"]}
        if a.get("affiliation"):
            c["affiliation"] = a["affiliation"]
        if a.get("orcid"):
            c["orcid"] = a["orcid"]
        creators.append(c)
    doc: dict[str, Any] = {
        "upload_type": "dataset",
        "title": spec.title,
        "version": spec.version,
        "publication_date": date,
        "creators": creators,
        "description": spec.description or spec.title,
        "license": spec.license.lower(),
        "access_right": "open",
        "keywords": sorted({"rare-event search", "data release", "RareHub", *spec.keywords}),
    }
    if spec.doi:
        doc["doi"] = spec.doi
    return doc


def check_zenodo_json(doc: Any) -> list[str]:
    """Problems of ``.zenodo.json`` against Zenodo's deposit-metadata rules ([] if valid)."""
    p = []
    if not isinstance(doc, dict):
        return [f"{ZENODO_JSON}: expected an object"]
    for key in ("upload_type", "title", "creators", "description", "publication_date"):
        if not doc.get(key):
            p.append(f"{ZENODO_JSON}: {key}: required")
    if doc.get("upload_type") not in _UPLOAD_TYPES:
        p.append(f"{ZENODO_JSON}: upload_type: {doc.get('upload_type')!r} not in {_UPLOAD_TYPES}")
    if doc.get("access_right", "open") not in _ACCESS_RIGHTS:
        p.append(f"{ZENODO_JSON}: access_right: {doc.get('access_right')!r}")
    if doc.get("access_right", "open") in ("open", "embargoed") and not doc.get("license"):
        p.append(f"{ZENODO_JSON}: license: required for open access")
    date = doc.get("publication_date")
    if isinstance(date, str):
        try:
            dt.date.fromisoformat(date)
        except ValueError:
            p.append(f"{ZENODO_JSON}: publication_date: {date!r} is not YYYY-MM-DD")
    for i, c in enumerate(doc.get("creators") or []):
        if not isinstance(c, dict) or not c.get("name"):
            p.append(f"{ZENODO_JSON}: creators/{i}: a creator needs a name ('Family, Given')")
        elif "orcid" in c and not BARE_ORCID.match(str(c["orcid"])):
            p.append(f"{ZENODO_JSON}: creators/{i}/orcid: {c['orcid']!r} is not an ORCID iD")
    if "doi" in doc and not DOI.match(str(doc["doi"])):
        p.append(f"{ZENODO_JSON}: doi: {doc['doi']!r} is not a DOI")
    return p


_ENCODING = {
    ".parquet": "application/vnd.apache.parquet",
    ".json": "application/json",
    ".ipynb": "application/x-ipynb+json",
    ".py": "text/x-python",
    ".csv": "text/csv",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".lock": "application/toml",
    ".cff": "application/yaml",
}


def write_ro_crate(
    bundle: Path, spec: ReleaseSpec, release: dict, date: str, sha256: dict[str, str]
) -> Path:
    """Write ``ro-crate-metadata.json`` describing the bundle folder ``bundle``.

    ``release`` is the bundle's ``release.json`` content and ``sha256`` the digests of the
    files to describe (bundle-relative path → hex).
    """
    from rocrate.model.contextentity import ContextEntity
    from rocrate.model.person import Person
    from rocrate.rocrate import ROCrate

    crate = ROCrate()
    root = crate.root_dataset
    root["name"] = spec.title
    root["description"] = spec.description or spec.title
    root["datePublished"] = date
    root["version"] = spec.version
    # RO-Crate 1.1+: the licence SHOULD be an entity with a URL @id (SPDX's)
    root["license"] = crate.add(
        ContextEntity(
            crate,
            f"https://spdx.org/licenses/{spec.license}",
            properties={"@type": "CreativeWork", "name": spec.license, "identifier": spec.license},
        )
    )
    if spec.keywords:
        root["keywords"] = list(spec.keywords)
    if spec.doi:
        root["identifier"] = f"https://doi.org/{spec.doi}"
    authors = []
    for i, a in enumerate(spec.authors):
        pid = f"https://orcid.org/{a['orcid']}" if a.get("orcid") else f"#author-{i + 1}"
        props = {"name": a["name"]}
        if a.get("affiliation"):
            props["affiliation"] = a["affiliation"]
        authors.append(crate.add(Person(crate, pid, properties=props)))
    root["author"] = authors

    from importlib.metadata import PackageNotFoundError, version

    try:
        rarehub_version = version("rarehub")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        rarehub_version = "unknown"
    code = crate.add(
        ContextEntity(
            crate,
            "#rarehub",
            properties={
                "@type": "SoftwareApplication",
                "name": "RareHub analysis_lib",
                "softwareVersion": rarehub_version,
                **({"version": spec.code_version} if spec.code_version else {}),
            },
        )
    )
    tools = [code]
    if spec.image:
        props = {"@type": "SoftwareApplication", "name": spec.image}
        if spec.image_digest:
            props["identifier"] = spec.image_digest
            props["description"] = f"container image {spec.image}@{spec.image_digest}"
        tools.append(crate.add(ContextEntity(crate, "#container-image", properties=props)))
    root["mentions"] = tools

    kinds = {
        "data": "data shipped with the release",
        "results": "a result with its lineage",
        "notebooks": "an executed notebook",
        "code": "code the re-run command uses",
        "environment": "the lock file of the software environment",
    }
    for rel in sorted(sha256):
        top = rel.split("/", 1)[0]
        if top not in kinds:
            continue
        suffix = Path(rel).suffix
        props = {
            "name": Path(rel).name,
            "description": kinds[top],
            "sha256": sha256[rel],
            "contentSize": str((bundle / rel).stat().st_size),
        }
        if suffix in _ENCODING:
            props["encodingFormat"] = _ENCODING[suffix]
        if top == "notebooks":
            props["programmingLanguage"] = "Python"
        crate.add_file(source=bundle / rel, dest_path=rel, properties=props)
    for ref in release.get("data_refs", []):
        crate.add(
            ContextEntity(
                crate,
                f"#data-ref-{ref['sha256'][:16]}",
                properties={
                    "@type": "CreativeWork",
                    "name": Path(ref["path"]).name,
                    "description": f"data referenced by checksum, not shipped: {ref['path']}",
                    "sha256": ref["sha256"],
                    "contentSize": str(ref["bytes"]),
                },
            )
        )
    crate.metadata.write(bundle)
    return bundle / RO_CRATE


def check_ro_crate(bundle: Path) -> list[str]:
    """Problems of a bundle's ``ro-crate-metadata.json`` ([] if valid); see the module doc."""
    import hashlib

    path = Path(bundle) / RO_CRATE
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        return [f"{RO_CRATE}: cannot read: {e}"]
    graph = doc.get("@graph")
    if not isinstance(graph, list) or "@context" not in doc:
        return [f"{RO_CRATE}: expected a JSON-LD document with @context and an @graph list"]
    ids = {}
    p = []
    for e in graph:
        if not isinstance(e, dict) or "@id" not in e or "@type" not in e:
            p.append(f"{RO_CRATE}: an entity lacks @id or @type: {e!r}"[:200])
            continue
        if e["@id"] in ids:
            p.append(f"{RO_CRATE}: {e['@id']}: two entities with this @id")
        ids[e["@id"]] = e
    desc = ids.get(RO_CRATE)
    if desc is None:
        return [*p, f"{RO_CRATE}: no metadata descriptor entity with @id {RO_CRATE!r}"]
    conforms = (desc.get("conformsTo") or {}).get("@id", "")
    if not conforms.startswith("https://w3id.org/ro/crate/1."):
        p.append(f"{RO_CRATE}: descriptor conformsTo {conforms!r}: expected an RO-Crate 1.x")
    root_id = (desc.get("about") or {}).get("@id")
    root = ids.get(root_id)
    if root is None:
        return [*p, f"{RO_CRATE}: the descriptor is about {root_id!r}, which is not in @graph"]
    if "Dataset" not in (root["@type"] if isinstance(root["@type"], list) else [root["@type"]]):
        p.append(f"{RO_CRATE}: root {root_id}: @type must include Dataset")
    for key in ("name", "description", "datePublished", "license"):
        if not root.get(key):
            p.append(f"{RO_CRATE}: root {root_id}: {key} is required")
    if root.get("datePublished"):
        try:
            dt.datetime.fromisoformat(str(root["datePublished"]))
        except ValueError:
            p.append(f"{RO_CRATE}: root datePublished {root['datePublished']!r} is not ISO 8601")

    def refs(value):
        if isinstance(value, dict):
            if set(value) == {"@id"}:
                yield value["@id"]
            else:
                for v in value.values():
                    yield from refs(v)
        elif isinstance(value, list):
            for v in value:
                yield from refs(v)

    for e in ids.values():
        for k, v in e.items():
            if k.startswith("@"):
                continue
            for ref in refs(v):
                if ref not in ids and not re.match(r"^[a-z][a-z0-9+.\-]*:", ref):
                    p.append(f"{RO_CRATE}: {e['@id']}: {k} refers to {ref!r}, not in @graph")
    for part in refs(root.get("hasPart", [])):
        f = Path(bundle) / part
        entity = ids.get(part, {})
        if not f.is_file():
            p.append(f"{RO_CRATE}: hasPart {part}: no such file in the bundle")
            continue
        digest = entity.get("sha256")
        if digest and hashlib.sha256(f.read_bytes()).hexdigest() != digest:
            p.append(f"{RO_CRATE}: {part}: sha256 differs from the file's")
    return p
