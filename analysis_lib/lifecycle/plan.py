"""The lifecycle planner: can a stored result be rebuilt bit for bit from its lineage?

A result ``<results>/<run>/<step>-<hash16>.parquet`` is **rebuildable** when all of these
hold (each failure is named in the plan's ``reason``):

1. its lineage JSON lies beside it, and hashes to the key in its name;
2. every step in the lineage is a step ``rarehub process`` runs, at the recorded version,
   with options it knows (the recipe is complete);
3. every input file the lineage names (by SHA-256) is in the catalog, present, of its
   catalogued size, and its checksum intact — re-hashed (``verify_checksums=True``), or
   verified by the catalog after its last modification;
4. the catalog's run gives today exactly the recorded lineage (same key), so
   ``rarehub process`` writes the result to the same path again;
5. the container image it was made in is known (``environment.image_digest``), so the
   rebuild runs the same code and libraries.

Raw data (catalogued files) and anything failing a check are never deletion candidates.
Age is the time since the result file was last modified; last access is its ``atime``
(file systems mounted ``relatime`` update it at most once a day).
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..catalog.store import Catalog, sha256_file
from ..steps.core import LINEAGE_SCHEMA, Pipeline, PipelineError, Step, lineage_hash

__all__ = ["PLAN_COLUMNS", "free_results", "plan_headline", "plan_storage", "summarize_plan"]

PLAN_COLUMNS = [
    "dataset",
    "level",
    "run_number",
    "path",
    "key",
    "bytes",
    "modified_utc",
    "age_days",
    "last_access_utc",
    "cpu_seconds",
    "image_digest",
    "state",
    "rebuildable",
    "reason",
    "rebuild_command",
]
_SUFFIX = ".lineage.json"


def _default_steps() -> Sequence[type[Step]]:
    from ..steps.pulse_steps import DEFAULT_STEPS

    return DEFAULT_STEPS


def _utc(seconds: float) -> pd.Timestamp:
    return pd.Timestamp(seconds, unit="s", tz="UTC")


def _nodes(lineage: dict) -> Iterator[dict]:
    yield lineage
    for sub in (lineage.get("inputs") or {}).values():
        yield from _nodes(sub)


class _Checker:
    """Shared state of one planning pass: the catalog's files by checksum, hashes done."""

    def __init__(self, cat: Catalog, results: Path, steps, verify_checksums: bool) -> None:
        self.cat = cat
        self.results = results
        self.steps = {f"{s.__module__}.{s.__qualname__}": s for s in steps}
        self.step_list = list(steps)
        self.verify = verify_checksums
        self.files = cat.files()
        self.by_sha = {r.sha256: r for r in self.files.itertuples()}
        self._hashed: dict[str, str] = {}
        self._runs: dict[tuple[str, int], Any] = {}

    def input_problem(self, name: str, sha: str) -> tuple[str | None, Any]:
        row = self.by_sha.get(sha)
        if row is None:
            return f"input {name} (sha256 {sha[:12]}…) is not in the catalog", None
        p = Path(row.path)
        try:
            st = p.stat()
        except OSError:
            return f"input {p} is missing", row
        if st.st_size != row.size_bytes:
            return f"input {p} is {st.st_size} bytes, catalogued {row.size_bytes}", row
        if self.verify:
            if row.path not in self._hashed:
                self._hashed[row.path] = sha256_file(p)
            if self._hashed[row.path] != sha:
                return f"input {p} no longer has its catalogued sha256", row
        elif pd.isna(row.verified_utc) or _utc(st.st_mtime) > row.verified_utc:
            return (
                f"input {p} changed after the catalog last verified it (plan with "
                "checksum verification, or `rarehub catalog verify`)"
            ), row
        return None, row

    def assess(self, doc: dict, key: str, level: str) -> dict[str, Any]:
        """``rebuildable``, ``reason``, ``dataset``, ``run_number``, ``rebuild_command``."""
        out: dict[str, Any] = {"rebuildable": False, "dataset": None, "run_number": None}
        lineage = doc.get("lineage")
        if doc.get("schema") != LINEAGE_SCHEMA or not isinstance(lineage, dict):
            return out | {"reason": f"lineage JSON is not {LINEAGE_SCHEMA}"}
        if doc.get("key") != key or f"{level}-{lineage_hash(lineage)[:16]}" != key:
            return out | {"reason": "lineage does not hash to the key in the file name"}
        # the run it belongs to: <dataset>-run<NNNN>, as rarehub process names runs
        m = re.fullmatch(r"(.+)-run(\d+)", str(doc.get("run_id", "")))
        known = set(self.files["dataset"])
        if m is None or m.group(1) not in known:
            return out | {"reason": f"run id {doc.get('run_id')!r} names no catalogued dataset"}
        dataset, number = m.group(1), int(m.group(2))
        out |= {"dataset": dataset, "run_number": number}
        # 3. inputs: catalogued, present, intact
        for node in _nodes(lineage):
            src = node.get("source")
            if src is None:
                continue
            for name, sha in zip(src.get("files", []), src.get("sha256", []), strict=False):
                problem, _ = self.input_problem(name, sha)
                if problem:
                    return out | {"reason": problem}
        # 2. the recipe: every step known, at its version, with known options
        config: dict[str, dict] = {}
        for node in _nodes(lineage):
            cls = self.steps.get(node.get("class", ""))
            what = f"step {node.get('step')!r} ({node.get('class')})"
            if cls is None:
                return out | {"reason": f"{what} is not a step `rarehub process` runs"}
            if cls.__version__ != node.get("version") or cls.provides != node.get("step"):
                return out | {
                    "reason": f"{what} version {node.get('version')} is not available "
                    f"(installed: {cls.__version__})"
                }
            options = node.get("options") or {}
            unknown = sorted(set(options) - set(cls.options))
            if unknown:
                return out | {"reason": f"{what} has no option(s) {unknown} any more"}
            config[cls.provides] = dict(options)
        # 4. today's catalog gives the same lineage, hence the same path
        try:
            pipe = Pipeline(self.step_list, config, storage=self.results)
            run = self._run_input(dataset, number)
            now_key = pipe.key(level, run)
        except PipelineError as e:
            return out | {"reason": f"the recipe cannot be rebuilt: {e}"}
        if now_key != key:
            return out | {
                "reason": f"run {number} of {dataset} now gives "
                f"lineage {now_key}, not {key} (its inputs or companion runs changed)"
            }
        # 5. the image
        digest = (doc.get("environment") or {}).get("image_digest")
        command = self._command(dataset, number, level, config, digest)
        if not digest:
            return out | {
                "reason": "no image digest recorded (made outside a known image)",
                "rebuild_command": command,
            }
        return out | {"rebuildable": True, "reason": "", "rebuild_command": command}

    def _run_input(self, dataset: str, number: int):
        from ..steps.runs import run_inputs_from_catalog

        if (dataset, number) not in self._runs:
            [self._runs[dataset, number]] = run_inputs_from_catalog(
                self.cat, dataset=dataset, runs=[number]
            )
        return self._runs[dataset, number]

    def _command(
        self, dataset: str, number: int, level: str, config: dict, digest: str | None
    ) -> str:
        argv = ["rarehub", "process", "--catalog", str(self.cat.path)]
        argv += ["--dataset", dataset, "--storage", str(self.results)]
        argv += ["--run", str(number), "--target", level]
        steps = {s.provides: s for s in self.step_list}
        for step, options in sorted(config.items()):
            for name, value in sorted(options.items()):
                if value != steps[step].options[name].default:
                    argv += ["--option", f"{step}.{name}={value}"]
        if digest:
            argv += ["--image-digest", digest]
        return shlex.join(argv)


def plan_storage(
    catalog: str | os.PathLike,
    results: str | os.PathLike,
    *,
    verify_checksums: bool = True,
    steps: Sequence[type[Step]] | None = None,
    now: Any = None,
) -> pd.DataFrame:
    """Every catalogued raw file and every stored result, and whether lineage can rebuild it.

    Parameters
    ----------
    catalog
        The catalog database.
    results
        The root folder of stored results (``rarehub process --storage``).
    verify_checksums
        Re-hash the input files (each once); ``False`` trusts the catalog's last
        verification when the file was not modified since (cheap: the monitor's mode).
    steps
        The steps a rebuild can run (default: those of ``rarehub process``).
    now
        The present (UTC) for ages; default the current time.

    Returns
    -------
    pandas.DataFrame
        :data:`PLAN_COLUMNS`: ``level`` is ``"raw"`` for catalogued files, else the step
        name; ``state`` is ``stored``, ``freed`` (lineage kept, data deleted) or
        ``missing`` (a catalogued file not on disk); ``bytes`` of what is on disk;
        ``age_days`` since last modification; ``cpu_seconds`` the lineage recorded;
        ``rebuildable`` with the ``reason`` when not, and the ``rebuild_command``.
    """
    results = Path(results).absolute()
    if not results.is_dir():
        raise FileNotFoundError(f"no results folder at {results}")
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    if now.tzinfo is None:
        now = now.tz_localize("UTC")
    rows: list[dict[str, Any]] = []

    def times(st: os.stat_result | None) -> dict[str, Any]:
        if st is None:
            return {"modified_utc": pd.NaT, "age_days": math.nan, "last_access_utc": pd.NaT}
        modified = _utc(st.st_mtime)
        return {
            "modified_utc": modified,
            "age_days": (now - modified).total_seconds() / 86400,
            "last_access_utc": _utc(st.st_atime),
        }

    with Catalog.open(catalog, create=False) as cat:
        check = _Checker(cat, results, steps or _default_steps(), verify_checksums)
        for f in check.files.itertuples():
            try:
                st = Path(f.path).stat()
            except OSError:
                st = None
            rows.append(
                {
                    "dataset": f.dataset,
                    "level": "raw",
                    "run_number": None if pd.isna(f.run_number) else int(f.run_number),
                    "path": f.path,
                    "key": None,
                    "bytes": st.st_size if st else 0,
                    **times(st),
                    "cpu_seconds": math.nan,
                    "image_digest": None,
                    "state": "stored" if st else "missing",
                    "rebuildable": False,
                    "reason": "raw data: never a candidate",
                    "rebuild_command": None,
                }
            )
        raw_paths = {str(Path(p).resolve()) for p in check.files["path"]}
        seen: set[Path] = set()
        for lin in sorted(results.glob(f"*/*{_SUFFIX}")):
            data = lin.with_name(lin.name[: -len(_SUFFIX)] + ".parquet")
            seen.add(data)
            key = data.stem
            level = key.rsplit("-", 1)[0]
            try:
                st = data.lstat()
            except OSError:
                st = None
            row: dict[str, Any] = {
                "level": level,
                "path": str(data),
                "key": key,
                "bytes": st.st_size if st else 0,
                **times(st),
                "state": "stored" if st else "freed",
                "cpu_seconds": math.nan,
                "image_digest": None,
                "rebuild_command": None,
            }
            try:
                doc = json.loads(lin.read_text())
            except (OSError, ValueError) as e:
                rows.append(row | {"rebuildable": False, "reason": f"unreadable lineage: {e}"})
                continue
            row["cpu_seconds"] = float(doc.get("cpu_seconds", math.nan))
            row["image_digest"] = (doc.get("environment") or {}).get("image_digest")
            verdict = check.assess(doc, key, level)
            if st is not None and (data.is_symlink() or lin.is_symlink()):
                verdict |= {"rebuildable": False, "reason": "a symbolic link: never touched"}
            elif str(data.resolve()) in raw_paths:
                verdict |= {"rebuildable": False, "reason": "catalogued as raw data"}
            elif not data.resolve().is_relative_to(results.resolve()):
                verdict |= {"rebuildable": False, "reason": "lies outside the results folder"}
            rows.append(row | verdict)
        for data in sorted(results.glob("*/*.parquet")):
            if data in seen:
                continue
            st = data.lstat()
            rows.append(
                {
                    "dataset": None,
                    "level": data.stem.rsplit("-", 1)[0],
                    "run_number": None,
                    "path": str(data),
                    "key": data.stem,
                    "bytes": st.st_size,
                    **times(st),
                    "cpu_seconds": math.nan,
                    "image_digest": None,
                    "state": "stored",
                    "rebuildable": False,
                    "reason": "no lineage JSON beside it",
                    "rebuild_command": None,
                }
            )
    df = pd.DataFrame(rows, columns=PLAN_COLUMNS)
    df["run_number"] = df["run_number"].astype("Int64")
    df["bytes"] = df["bytes"].astype("int64")
    df["rebuildable"] = df["rebuildable"].astype(bool)
    return df


def _candidates(plan: pd.DataFrame, older_than_days: float) -> pd.Series:
    return (
        plan["rebuildable"]
        & (plan["state"] == "stored")
        & (plan["level"] != "raw")
        & (plan["age_days"] > older_than_days)
    )


def summarize_plan(plan: pd.DataFrame, *, older_than_days: float = 30.0) -> pd.DataFrame:
    """Per (dataset, level): results stored, bytes, rebuildable bytes, rebuildable bytes
    older than ``older_than_days`` (the deletion candidates) and the CPU seconds their
    lineage recorded (what rebuilding all the candidates would cost)."""
    p = plan[plan["state"] == "stored"].copy()
    p["dataset"] = p["dataset"].fillna("(unknown)")
    old = _candidates(p, older_than_days)
    p["rebuildable_bytes"] = p["bytes"].where(p["rebuildable"], 0)
    p["rebuildable_old_bytes"] = p["bytes"].where(old, 0)
    p["candidate_cpu_seconds"] = p["cpu_seconds"].where(old, 0.0).fillna(0.0)
    p["candidates"] = old.astype(int)
    columns = [
        "dataset",
        "level",
        "n",
        "bytes",
        "rebuildable_bytes",
        "rebuildable_old_bytes",
        "candidates",
        "candidate_cpu_seconds",
    ]
    if p.empty:
        return pd.DataFrame(columns=columns)
    out = p.groupby(["dataset", "level"], as_index=False).agg(
        n=("path", "count"),
        bytes=("bytes", "sum"),
        rebuildable_bytes=("rebuildable_bytes", "sum"),
        rebuildable_old_bytes=("rebuildable_old_bytes", "sum"),
        candidates=("candidates", "sum"),
        candidate_cpu_seconds=("candidate_cpu_seconds", "sum"),
    )
    return out[columns]


def human_bytes(n: float) -> str:
    """Decimal units, as disks are sold and ``df -H`` shows them: ``3.2 TB``."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def plan_headline(summary: pd.DataFrame, *, older_than_days: float = 30.0) -> str:
    """One line for the storage monitor: ``3.2 TB rebuildable intermediates older than
    30 days (12 results, 41.0 CPU-hours to rebuild)``."""
    total = float(summary["rebuildable_old_bytes"].sum()) if len(summary) else 0.0
    n = int(summary["candidates"].sum()) if len(summary) else 0
    cpu_h = float(summary["candidate_cpu_seconds"].sum()) / 3600 if len(summary) else 0.0
    return (
        f"{human_bytes(total)} rebuildable intermediates older than {older_than_days:g} days"
        f" ({n} results, {cpu_h:.1f} CPU-hours to rebuild)"
    )


def free_results(
    catalog: str | os.PathLike,
    results: str | os.PathLike,
    *,
    older_than_days: float,
    dry_run: bool = True,
    verify_checksums: bool = True,
    now: Any = None,
) -> pd.DataFrame:
    """Delete the stored results that lineage can rebuild and that are older than a limit.

    Only rows of :func:`plan_storage` that are rebuildable, stored and older than
    ``older_than_days`` are touched — never raw data, never a result whose recipe or inputs
    are incomplete, never a symbolic link. Each deletion is recorded in the catalog
    (``Catalog.record_deletion``: path, dataset, lineage key, bytes, sha256, and the
    rebuild command in its metadata) in the same transaction that removes the file; the
    lineage JSON stays, so the plan lists the result as ``freed`` and says how to rebuild
    it. With ``dry_run`` (the default) nothing is changed.

    Returns
    -------
    pandas.DataFrame
        The candidates (plan rows) with ``deleted`` (bool) and ``sha256`` (when deleted).
    """
    plan = plan_storage(catalog, results, verify_checksums=verify_checksums, now=now)
    todo = plan[_candidates(plan, older_than_days)].copy().reset_index(drop=True)
    todo["deleted"] = False
    todo["sha256"] = None
    if dry_run or todo.empty:
        return todo
    reason = f"rebuildable from its lineage, older than {older_than_days:g} days"
    root = Path(results).absolute().resolve()
    with Catalog.open(catalog, create=False) as cat:
        for i, r in todo.iterrows():
            path = Path(r["path"])
            # re-checked now, not trusted from planning: a folder swapped for a symbolic
            # link since would point the unlink elsewhere
            inside = (
                path.parent.resolve()
                == (root / path.parent.name).resolve()
                == (root / path.parent.name)
            )
            st = path.lstat()
            if not inside or path.is_symlink() or st.st_size != r["bytes"]:
                continue
            digest = sha256_file(path)
            with cat.transaction():
                cat.record_deletion(
                    path,
                    size_bytes=int(st.st_size),
                    reason=reason,
                    dataset=r["dataset"],
                    result_key=r["key"],
                    sha256=digest,
                    metadata={
                        "level": r["level"],
                        "run_number": int(r["run_number"]),
                        "cpu_seconds": r["cpu_seconds"],
                        "image_digest": r["image_digest"],
                        "rebuild_command": r["rebuild_command"],
                    },
                )
                path.unlink()  # a failure here rolls the record back
            todo.loc[i, ["deleted", "sha256"]] = [True, digest]
    return todo
