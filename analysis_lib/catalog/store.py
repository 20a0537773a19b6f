"""The catalog: datasets → runs → files, in one SQLite database in WAL mode.

Why SQLite in WAL mode
----------------------
- *Standard and inspectable*: one file that ``sqlite3 catalog.sqlite .schema`` opens anywhere,
  no server to run on a laptop, a login node or inside a batch job.
- *Concurrency-safe*: WAL lets many readers (notebooks, the storage monitor) read while one
  writer commits; writers wait on a busy timeout instead of failing.
- *Atomic*: every public write is one transaction (``synchronous=FULL``); a writer killed
  with ``kill -9`` mid-transaction leaves the database exactly as it was before that
  transaction (the uncommitted WAL frames are discarded on the next open).

Paths of files inside the catalog's folder are stored relative to it, so a folder holding a
catalog and its data (the demo data, a release bundle) can be copied or moved as a whole.
Times are stored as ISO-8601 UTC text (``2026-11-25T21:00:00.000000Z``), which sorts and
compares correctly as text and reads well in the SQLite shell.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .constants import FORMATS_BY_SUFFIX, QUALITIES, RUN_TYPES

SCHEMA_VERSION = 1
_CHUNK_BYTES = 1 << 20

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    detector TEXT,
    description TEXT NOT NULL DEFAULT '',
    simulated INTEGER NOT NULL DEFAULT 0,
    generator TEXT,            -- e.g. 'Geant4', 'NEST', 'analysis_lib.demo'
    generator_version TEXT,
    generator_config TEXT,     -- JSON: the configuration the generator ran with
    created_utc TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    run_number INTEGER NOT NULL,
    detector TEXT,
    run_type TEXT NOT NULL CHECK (run_type IN
        ('physics', 'calibration', 'noise', 'beam-off', 'simulation')),
    start_utc TEXT,
    end_utc TEXT,
    quality TEXT NOT NULL DEFAULT 'unknown' CHECK (quality IN ('good', 'bad', 'unknown')),
    dq_flags TEXT NOT NULL DEFAULT '[]',   -- JSON list of data-quality flag names
    metadata TEXT NOT NULL DEFAULT '{}',
    UNIQUE (dataset_id, run_number)
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    run_id INTEGER REFERENCES runs(id),
    path TEXT NOT NULL UNIQUE,  -- relative to the catalog folder when inside it
    volume TEXT NOT NULL,       -- the mount point the file lives on
    size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
    sha256 TEXT NOT NULL,
    format TEXT NOT NULL,
    start_utc TEXT,
    end_utc TEXT,
    added_utc TEXT NOT NULL,
    verified_utc TEXT,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS growth (
    day TEXT NOT NULL,          -- UTC date, YYYY-MM-DD
    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    volume TEXT NOT NULL,
    bytes_added INTEGER NOT NULL,
    files_added INTEGER NOT NULL,
    PRIMARY KEY (day, dataset_id, volume)
);
CREATE TABLE IF NOT EXISTS deletions (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    dataset TEXT,
    result_key TEXT,            -- e.g. the lineage key of a processed result
    size_bytes INTEGER NOT NULL,
    sha256 TEXT,
    reason TEXT NOT NULL,
    deleted_utc TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS deletions_by_time ON deletions (deleted_utc);
CREATE INDEX IF NOT EXISTS runs_by_detector ON runs (detector, run_type, start_utc);
CREATE INDEX IF NOT EXISTS files_by_run ON files (run_id);
"""


class CatalogError(Exception):
    """A catalog operation failed: the message names the dataset, run or file."""


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file, read in 1 MiB chunks (constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()


def utc_text(t: Any) -> str | None:
    """Normalise a time (str, datetime, numpy/pandas timestamp, epoch seconds) to UTC text."""
    if t is None or (isinstance(t, float) and t != t):
        return None
    if isinstance(t, int | float) and not isinstance(t, bool):
        ts = pd.Timestamp(t, unit="s", tz="UTC")
    else:
        try:
            ts = pd.Timestamp(t)
        except (ValueError, TypeError) as e:
            raise CatalogError(f"not a time: {t!r} ({e})") from None
        if pd.isna(ts):
            return None
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _volume_of(path: Path) -> str:
    p = path.resolve()
    while not p.is_mount() and p.parent != p:
        p = p.parent
    return str(p)


def _json(value: Any, what: str) -> str:
    try:
        return json.dumps(value if value is not None else {}, sort_keys=True, default=str)
    except (TypeError, ValueError) as e:
        raise CatalogError(f"{what} is not JSON-serialisable: {e}") from None


def _refuse_unmerged_wal(path: Path) -> None:
    wal = path.with_name(path.name + "-wal")
    if wal.is_file() and wal.stat().st_size > 0:
        raise CatalogError(
            f"{path}: its write-ahead log {wal.name} ({wal.stat().st_size} bytes) holds changes"
            " not yet in the database, and this read-only volume does not let SQLite read it."
            " Open the catalog once where it is writable (e.g. `rarehub catalog list`), which"
            " merges the log, then publish it again"
        )


class Catalog:
    """A catalog of datasets, runs and files in an SQLite database (WAL mode).

    Open with :meth:`Catalog.open`; use as a context manager or call :meth:`close`.

    Examples
    --------
    >>> cat = Catalog.open("catalog.sqlite")                          # doctest: +SKIP
    >>> cat.runs(detector="ge1", run_type="physics", quality="good",
    ...          start="2026-01-01", end="2026-02-01")                 # doctest: +SKIP
    """

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path = path
        self.root = path.parent
        self._conn = conn
        self._lock = threading.RLock()
        self._depth = 0
        self.readonly = False

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        *,
        create: bool = True,
        readonly: bool = False,
        timeout_s: float = 30.0,
    ):
        """Open (and with ``create=True`` create) the catalog database at ``path``.

        ``readonly=True`` opens an existing catalog for queries only (e.g. on a shared,
        read-only data volume); any write then raises :class:`CatalogError`.
        """
        path = Path(path).absolute()
        if not path.exists():
            if not create or readonly:
                raise CatalogError(f"no catalog at {path} (create it with create=True)")
            path.parent.mkdir(parents=True, exist_ok=True)
        if readonly:
            return cls._open_readonly(path, timeout_s)
        try:
            conn = sqlite3.connect(
                path, timeout=timeout_s, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as e:
            raise CatalogError(f"cannot open the catalog {path}: {e}") from None
        try:
            conn.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.executescript(
                "BEGIN IMMEDIATE;"
                + _SCHEMA
                + f"INSERT OR IGNORE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');"
                + "COMMIT;"
            )
        except sqlite3.DatabaseError as e:
            conn.close()
            hint = ""
            if "readonly" in str(e):
                hint = " (a catalog on a read-only volume opens with readonly=True)"
            raise CatalogError(f"{path} is not a usable catalog database: {e}{hint}") from None
        cat = cls(path, conn)
        cat.readonly = readonly
        return cat

    @classmethod
    def _open_readonly(cls, path: Path, timeout_s: float):
        """Open for queries only, also where nothing may be written beside the database.

        A WAL database opened ``mode=ro`` still needs its ``-shm`` index, which SQLite creates
        next to the file. On a read-only data volume (a shared cluster mount) that fails;
        then the file is opened ``immutable=1`` — no locks, no index — which is right there
        because nobody can write it. (SQLite docs: "WAL mode", "URI filenames".) A ``-wal``
        log published beside it would be ignored there, so that case is refused, by name.
        """
        for mode in ("mode=ro", "immutable=1"):
            try:
                conn = sqlite3.connect(
                    f"{path.as_uri()}?{mode}",
                    uri=True,
                    timeout=timeout_s,
                    isolation_level=None,
                    check_same_thread=False,
                )
            except sqlite3.Error as e:
                raise CatalogError(f"cannot open the catalog {path}: {e}") from None
            try:
                conn.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
                version = conn.execute(
                    "SELECT value FROM meta WHERE key = 'schema_version'"
                ).fetchone()
                if version is None:
                    raise sqlite3.DatabaseError("no schema version")
            except sqlite3.OperationalError as e:
                conn.close()
                message = str(e)
                if mode == "mode=ro" and ("readonly" in message or "unable to open" in message):
                    _refuse_unmerged_wal(path)  # immutable=1 would not see the WAL's changes
                    continue  # no -shm can be made here: a read-only volume
                raise CatalogError(f"{path} is not a usable catalog database: {e}") from None
            except sqlite3.DatabaseError as e:
                conn.close()
                raise CatalogError(f"{path} is not a usable catalog database: {e}") from None
            cat = cls(path, conn)
            cat.readonly = True
            return cat
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Catalog({str(self.path)!r})"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Catalog]:
        """Group several writes into one atomic transaction (all or nothing).

        Nested uses join the outer transaction.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            if self.readonly:
                raise CatalogError(f"the catalog {self.path} is open read-only")
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self
            except BaseException:
                self._depth = 0
                self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self._conn.execute("COMMIT")

    def _q(self, sql: str, params: Sequence | Mapping = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # ------------------------------------------------------------------ writes
    def add_dataset(
        self,
        name: str,
        *,
        detector: str | None = None,
        description: str = "",
        generator: str | None = None,
        generator_version: str | None = None,
        generator_config: Mapping | None = None,
        metadata: Mapping | None = None,
        exist_ok: bool = True,
    ) -> int:
        """Add a dataset and return its id.

        A simulated dataset gives its ``generator`` (e.g. ``"Geant4"``, ``"NEST"``),
        ``generator_version`` and the ``generator_config`` it ran with. With
        ``exist_ok=True`` an existing dataset of that name is returned unchanged.
        """
        if not name or not isinstance(name, str):
            raise CatalogError(f"dataset name must be a non-empty string, got {name!r}")
        with self.transaction():
            row = self._q("SELECT id FROM datasets WHERE name = ?", (name,))
            if row:
                if not exist_ok:
                    raise CatalogError(f"dataset {name!r} already exists in {self.path}")
                return row[0][0]
            cur = self._conn.execute(
                "INSERT INTO datasets (name, detector, description, simulated, generator,"
                " generator_version, generator_config, created_utc, metadata)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    detector,
                    description,
                    int(generator is not None),
                    generator,
                    generator_version,
                    _json(generator_config, f"generator_config of dataset {name!r}")
                    if generator_config is not None
                    else None,
                    _now(),
                    _json(metadata, f"metadata of dataset {name!r}"),
                ),
            )
            return cur.lastrowid

    def _dataset_id(self, dataset: str | int) -> int:
        if isinstance(dataset, int):
            row = self._q("SELECT id FROM datasets WHERE id = ?", (dataset,))
        else:
            row = self._q("SELECT id FROM datasets WHERE name = ?", (dataset,))
        if not row:
            known = [r[0] for r in self._q("SELECT name FROM datasets ORDER BY name")]
            raise CatalogError(f"unknown dataset {dataset!r} in {self.path}; known: {known}")
        return row[0][0]

    def add_run(
        self,
        dataset: str | int,
        run_number: int,
        *,
        run_type: str,
        detector: str | None = None,
        start: Any = None,
        end: Any = None,
        quality: str = "unknown",
        dq_flags: Sequence[str] = (),
        metadata: Mapping | None = None,
        replace: bool = False,
    ) -> int:
        """Add a run to a dataset and return its id.

        ``run_type`` is one of :data:`RUN_TYPES`, ``quality`` one of :data:`QUALITIES`;
        ``start``/``end`` are UTC times (naive times are taken as UTC). The detector
        defaults to the dataset's. With ``replace=True`` an existing run is updated.
        """
        if run_type not in RUN_TYPES:
            raise CatalogError(f"run {run_number}: run_type {run_type!r} not in {RUN_TYPES}")
        if quality not in QUALITIES:
            raise CatalogError(f"run {run_number}: quality {quality!r} not in {QUALITIES}")
        if isinstance(dq_flags, str):
            dq_flags = [dq_flags]
        s, e = utc_text(start), utc_text(end)
        if s and e and e < s:
            raise CatalogError(f"run {run_number}: end {e} is before start {s}")
        with self.transaction():
            ds = self._dataset_id(dataset)
            if detector is None:
                detector = self._q("SELECT detector FROM datasets WHERE id = ?", (ds,))[0][0]
            old = self._q(
                "SELECT id FROM runs WHERE dataset_id = ? AND run_number = ?", (ds, int(run_number))
            )
            values = (
                detector,
                run_type,
                s,
                e,
                quality,
                _json(list(dq_flags), "dq_flags"),
                _json(metadata, f"metadata of run {run_number}"),
            )
            if old:
                if not replace:
                    raise CatalogError(
                        f"run {run_number} already exists in dataset {dataset!r}"
                        " (pass replace=True to update it)"
                    )
                self._conn.execute(
                    "UPDATE runs SET detector=?, run_type=?, start_utc=?, end_utc=?, quality=?,"
                    " dq_flags=?, metadata=? WHERE id = ?",
                    (*values, old[0][0]),
                )
                return old[0][0]
            cur = self._conn.execute(
                "INSERT INTO runs (dataset_id, run_number, detector, run_type, start_utc,"
                " end_utc, quality, dq_flags, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (ds, int(run_number), *values),
            )
            return cur.lastrowid

    def set_quality(
        self, dataset: str | int, run_number: int, quality: str, dq_flags: Sequence[str] = ()
    ) -> None:
        """Set the data-quality verdict and flags of one run."""
        if quality not in QUALITIES:
            raise CatalogError(f"run {run_number}: quality {quality!r} not in {QUALITIES}")
        with self.transaction():
            ds = self._dataset_id(dataset)
            cur = self._conn.execute(
                "UPDATE runs SET quality = ?, dq_flags = ? WHERE dataset_id = ? AND run_number = ?",
                (quality, _json(list(dq_flags), "dq_flags"), ds, int(run_number)),
            )
            if cur.rowcount == 0:
                raise CatalogError(f"no run {run_number} in dataset {dataset!r}")

    def _stored_path(self, path: Path) -> str:
        path = path.absolute()
        try:
            return path.relative_to(self.root.absolute()).as_posix()
        except ValueError:
            return str(path)

    def _full_path(self, stored: str) -> Path:
        p = Path(stored)
        return p if p.is_absolute() else self.root / p

    def add_file(
        self,
        path: str | os.PathLike,
        *,
        dataset: str | int,
        run: int | None = None,
        format: str | None = None,
        start: Any = None,
        end: Any = None,
        metadata: Mapping | None = None,
        volume: str | None = None,
        added: Any = None,
        sha256: str | None = None,
    ) -> int:
        """Register an existing file (size and streamed SHA-256 are measured) and return its id.

        ``run`` is the run *number* within ``dataset`` (it must exist). ``format`` defaults
        from the suffix (:data:`FORMATS_BY_SUFFIX`). ``added`` overrides the time recorded
        in the growth history (default: now). ``sha256`` may be given when just computed.
        """
        path = Path(path)
        if not path.is_file():
            raise CatalogError(f"cannot add {path}: no such file")
        if format is None:
            format = FORMATS_BY_SUFFIX.get(path.suffix.lower())
            if format is None:
                raise CatalogError(
                    f"cannot infer the format of {path} from its suffix {path.suffix!r};"
                    f" pass format= (known suffixes: {sorted(FORMATS_BY_SUFFIX)})"
                )
        size = path.stat().st_size
        digest = sha256 or sha256_file(path)
        added_text = utc_text(added) if added is not None else _now()
        volume = volume or _volume_of(path)
        stored = self._stored_path(path)
        with self.transaction():
            ds = self._dataset_id(dataset)
            run_id = None
            if run is not None:
                row = self._q(
                    "SELECT id FROM runs WHERE dataset_id = ? AND run_number = ?", (ds, int(run))
                )
                if not row:
                    raise CatalogError(
                        f"cannot add {path}: no run {run} in dataset {dataset!r} (add_run first)"
                    )
                run_id = row[0][0]
            if self._q("SELECT id FROM files WHERE path = ?", (stored,)):
                raise CatalogError(f"{path} is already in the catalog {self.path}")
            cur = self._conn.execute(
                "INSERT INTO files (dataset_id, run_id, path, volume, size_bytes, sha256, format,"
                " start_utc, end_utc, added_utc, verified_utc, metadata)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ds,
                    run_id,
                    stored,
                    volume,
                    size,
                    digest,
                    format,
                    utc_text(start),
                    utc_text(end),
                    added_text,
                    added_text,
                    _json(metadata, f"metadata of {path}"),
                ),
            )
            self._conn.execute(
                "INSERT INTO growth (day, dataset_id, volume, bytes_added, files_added)"
                " VALUES (?, ?, ?, ?, 1) ON CONFLICT (day, dataset_id, volume) DO UPDATE SET"
                " bytes_added = bytes_added + excluded.bytes_added,"
                " files_added = files_added + 1",
                (added_text[:10], ds, volume, size),
            )
            return cur.lastrowid

    def record_deletion(
        self,
        path: str | os.PathLike,
        *,
        size_bytes: int,
        reason: str,
        dataset: str | None = None,
        result_key: str | None = None,
        sha256: str | None = None,
        metadata: Mapping | None = None,
        deleted: Any = None,
    ) -> int:
        """Record that a stored result was deleted (by the storage planner, or by hand).

        ``reason`` says why (e.g. ``"rebuildable, older than 30 d"``); ``result_key`` names
        the result (its lineage key) so that it can be rebuilt; ``deleted`` is the time
        (default: now). Returns the record's id. The file itself is not touched.
        """
        if not reason or not isinstance(reason, str):
            raise CatalogError(f"record_deletion({path}): reason must be a non-empty string")
        if isinstance(size_bytes, bool) or not isinstance(size_bytes, int) or size_bytes < 0:
            raise CatalogError(f"record_deletion({path}): size_bytes {size_bytes!r} is not >= 0")
        with self.transaction():
            cur = self._conn.execute(
                "INSERT INTO deletions (path, dataset, result_key, size_bytes, sha256, reason,"
                " deleted_utc, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(path),
                    dataset,
                    result_key,
                    size_bytes,
                    sha256,
                    reason,
                    utc_text(deleted) if deleted is not None else _now(),
                    _json(metadata, f"metadata of the deletion of {path}"),
                ),
            )
            return cur.lastrowid

    def scan(
        self,
        directory: str | os.PathLike,
        *,
        dataset: str,
        run_type: str = "physics",
        detector: str | None = None,
        pattern: str = "**/*",
        run_regex: str = r"run[_-]?(\d+)",
    ) -> pd.DataFrame:
        """Register every not-yet-catalogued file under ``directory`` matching ``pattern``.

        The run number is taken from the file name with ``run_regex`` (first group); runs
        that do not exist yet are created with ``run_type``. Files whose format cannot be
        inferred are skipped. Returns the added files (as :meth:`files` does).
        """
        directory = Path(directory)
        if not directory.is_dir():
            raise CatalogError(f"cannot scan {directory}: not a directory")
        rx = re.compile(run_regex)
        self.add_dataset(dataset, detector=detector)
        ids = []
        with self.transaction():
            known = {r[0] for r in self._q("SELECT path FROM files")}
            for p in sorted(directory.glob(pattern)):
                if not p.is_file() or p.suffix.lower() not in FORMATS_BY_SUFFIX:
                    continue
                if p.resolve() == self.path.resolve() or p.name.startswith(self.path.name):
                    continue
                if self._stored_path(p) in known:
                    continue
                m = rx.search(p.name)
                run = int(m.group(1)) if m else None
                if run is not None and not self._q(
                    "SELECT 1 FROM runs r JOIN datasets d ON d.id = r.dataset_id"
                    " WHERE d.name = ? AND r.run_number = ?",
                    (dataset, run),
                ):
                    self.add_run(dataset, run, run_type=run_type, detector=detector)
                ids.append(self.add_file(p, dataset=dataset, run=run))
        df = self.files()
        return df[df["file_id"].isin(ids)].reset_index(drop=True)

    # ------------------------------------------------------------------ queries
    def _frame(self, sql: str, params: Sequence = ()) -> pd.DataFrame:
        with self._lock:
            cur = self._conn.execute(sql, params)
            cols = [d[0] for d in cur.description]
            return pd.DataFrame(cur.fetchall(), columns=cols)

    @staticmethod
    def _times(df: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
        for c in cols:
            df[c] = pd.to_datetime(df[c], utc=True, format="ISO8601")
        return df

    def datasets(self) -> pd.DataFrame:
        """All datasets, with their number of runs, files and bytes."""
        df = self._frame(
            "SELECT d.id AS dataset_id, d.name AS dataset, d.detector, d.description,"
            " d.simulated, d.generator, d.generator_version, d.generator_config,"
            " d.created_utc, d.metadata,"
            " (SELECT COUNT(*) FROM runs r WHERE r.dataset_id = d.id) AS n_runs,"
            " (SELECT COUNT(*) FROM files f WHERE f.dataset_id = d.id) AS n_files,"
            " (SELECT COALESCE(SUM(size_bytes), 0) FROM files f WHERE f.dataset_id = d.id)"
            " AS size_bytes FROM datasets d ORDER BY d.name"
        )
        df["simulated"] = df["simulated"].astype(bool)
        df["metadata"] = df["metadata"].map(json.loads)
        df["generator_config"] = df["generator_config"].map(lambda s: json.loads(s) if s else None)
        return self._times(df, ["created_utc"])

    def runs(
        self,
        *,
        dataset: str | Sequence[str] | None = None,
        detector: str | Sequence[str] | None = None,
        run_type: str | Sequence[str] | None = None,
        quality: str | Sequence[str] | None = None,
        start: Any = None,
        end: Any = None,
        runlist: str | os.PathLike | pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Runs matching all given conditions, as a DataFrame sorted by start time.

        ``start``/``end`` select runs that overlap the interval [start, end) (UTC). Each
        condition may be one value or a list. ``runlist`` (a CSV/YAML path or a DataFrame
        with ``dataset`` and ``run_number``) keeps only the listed runs.
        """
        where, params = [], []

        def _in(col, value, allowed=None):
            if value is None:
                return
            values = [value] if isinstance(value, str) else list(value)
            if allowed:
                for v in values:
                    if v not in allowed:
                        raise CatalogError(f"{col} {v!r} not in {allowed}")
            where.append(f"{col} IN ({', '.join('?' * len(values))})")
            params.extend(values)

        _in("d.name", dataset)
        _in("r.detector", detector)
        _in("r.run_type", run_type, RUN_TYPES)
        _in("r.quality", quality, QUALITIES)
        if start is not None:
            where.append("(r.end_utc IS NULL OR r.end_utc > ?)")
            params.append(utc_text(start))
        if end is not None:
            where.append("(r.start_utc IS NULL OR r.start_utc < ?)")
            params.append(utc_text(end))
        sql = (
            "SELECT r.id AS run_id, d.name AS dataset, r.run_number, r.detector, r.run_type,"
            " r.start_utc, r.end_utc, r.quality, r.dq_flags, r.metadata,"
            " (SELECT COUNT(*) FROM files f WHERE f.run_id = r.id) AS n_files,"
            " (SELECT COALESCE(SUM(size_bytes), 0) FROM files f WHERE f.run_id = r.id)"
            " AS size_bytes"
            " FROM runs r JOIN datasets d ON d.id = r.dataset_id"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY r.start_utc, d.name, r.run_number"
        df = self._frame(sql, params)
        df["dq_flags"] = df["dq_flags"].map(json.loads)
        df["metadata"] = df["metadata"].map(json.loads)
        df = self._times(df, ["start_utc", "end_utc"])
        if runlist is not None:
            from .runlists import read_runlist

            rl = runlist if isinstance(runlist, pd.DataFrame) else read_runlist(runlist)
            keys = set(zip(rl["dataset"], rl["run_number"].astype(int), strict=True))
            mask = [k in keys for k in zip(df["dataset"], df["run_number"], strict=True)]
            df = df[mask]
        return df.reset_index(drop=True)

    def files(
        self,
        *,
        dataset: str | Sequence[str] | None = None,
        run: int | Sequence[int] | None = None,
        format: str | Sequence[str] | None = None,
        detector: str | Sequence[str] | None = None,
        run_type: str | Sequence[str] | None = None,
        quality: str | Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Files matching all given conditions; ``path`` is absolute (resolved)."""
        where, params = [], []
        for col, value in (
            ("d.name", dataset),
            ("r.run_number", run),
            ("f.format", format),
            ("r.detector", detector),
            ("r.run_type", run_type),
            ("r.quality", quality),
        ):
            if value is None:
                continue
            values = [value] if isinstance(value, str | int) else list(value)
            where.append(f"{col} IN ({', '.join('?' * len(values))})")
            params.extend(values)
        sql = (
            "SELECT f.id AS file_id, d.name AS dataset, r.run_number, r.run_type, r.detector,"
            " f.path, f.volume, f.size_bytes, f.sha256, f.format, f.start_utc, f.end_utc,"
            " f.added_utc, f.verified_utc, f.metadata"
            " FROM files f JOIN datasets d ON d.id = f.dataset_id"
            " LEFT JOIN runs r ON r.id = f.run_id"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY d.name, r.run_number, f.path"
        df = self._frame(sql, params)
        df["path"] = [str(self._full_path(p)) for p in df["path"]]
        df["metadata"] = df["metadata"].map(json.loads)
        df["run_number"] = df["run_number"].astype("Int64")
        return self._times(df, ["start_utc", "end_utc", "added_utc", "verified_utc"])

    def file(self, path: str | os.PathLike) -> dict:
        """One file's record as a dict (``CatalogError`` when it is not catalogued)."""
        stored = self._stored_path(Path(path))
        df = self.files()
        hit = df[df["path"] == str(self._full_path(stored))]
        if hit.empty:
            raise CatalogError(f"{path} is not in the catalog {self.path}")
        return hit.iloc[0].to_dict()

    def growth(self, *, dataset: str | None = None, cumulative: bool = True) -> pd.DataFrame:
        """Bytes and files added per UTC day, per dataset and volume (the storage monitor's feed).

        With ``cumulative=True`` a ``cumulative_bytes`` column per (dataset, volume) is added.
        """
        sql = (
            "SELECT g.day, d.name AS dataset, g.volume, g.bytes_added, g.files_added"
            " FROM growth g JOIN datasets d ON d.id = g.dataset_id"
        )
        params: list = []
        if dataset is not None:
            sql += " WHERE d.name = ?"
            params.append(dataset)
        df = self._frame(sql + " ORDER BY g.day, d.name, g.volume", params)
        df["day"] = pd.to_datetime(df["day"], utc=True)
        if cumulative:
            df["cumulative_bytes"] = df.groupby(["dataset", "volume"])["bytes_added"].cumsum()
        return df

    def deletions(self, *, dataset: str | None = None, since: Any = None) -> pd.DataFrame:
        """Recorded deletions of results (:meth:`record_deletion`), oldest first."""
        where, params = [], []
        if dataset is not None:
            where.append("dataset = ?")
            params.append(dataset)
        if since is not None:
            where.append("deleted_utc >= ?")
            params.append(utc_text(since))
        columns = [
            *("id", "path", "dataset", "result_key", "size_bytes", "sha256", "reason"),
            *("deleted_utc", "metadata"),
        ]
        sql = f"SELECT {', '.join(columns)} FROM deletions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        try:
            df = self._frame(sql + " ORDER BY deleted_utc, id", params)
        except sqlite3.OperationalError:  # a read-only catalog made before the table existed
            return pd.DataFrame(columns=columns)
        df["metadata"] = df["metadata"].map(json.loads)
        return self._times(df, ["deleted_utc"])

    def verify(self, *, dataset: str | None = None, record: bool = True) -> pd.DataFrame:
        """Re-measure size and SHA-256 of every (or one dataset's) file.

        Returns one row per file with ``status`` in ``ok``, ``missing``, ``size-mismatch``,
        ``checksum-mismatch`` and the expected/actual values. Files found intact get their
        ``verified_utc`` updated when ``record`` is true.
        """
        files = self.files(dataset=dataset)
        rows = []
        for f in files.itertuples():
            p = Path(f.path)
            size = sha = None
            if not p.is_file():
                status = "missing"
            else:
                size = p.stat().st_size
                if size != f.size_bytes:
                    status = "size-mismatch"
                else:
                    sha = sha256_file(p)
                    status = "ok" if sha == f.sha256 else "checksum-mismatch"
            rows.append(
                {
                    "file_id": f.file_id,
                    "path": f.path,
                    "status": status,
                    "expected_size_bytes": f.size_bytes,
                    "actual_size_bytes": size,
                    "expected_sha256": f.sha256,
                    "actual_sha256": sha,
                }
            )
        if record:
            now = _now()
            ok = [(now, r["file_id"]) for r in rows if r["status"] == "ok"]
            with self.transaction():
                self._conn.executemany("UPDATE files SET verified_utc = ? WHERE id = ?", ok)
        return pd.DataFrame(
            rows,
            columns=[
                "file_id",
                "path",
                "status",
                "expected_size_bytes",
                "actual_size_bytes",
                "expected_sha256",
                "actual_sha256",
            ],
        )

    def integrity_check(self) -> str:
        """SQLite's own consistency check: ``"ok"`` for a sound database."""
        return self._q("PRAGMA integrity_check")[0][0]
