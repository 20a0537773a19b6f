"""The catalog: datasets → runs → files, in SQLite (one machine) or PostgreSQL (a site).

One API, two backends, through SQLAlchemy Core (no ORM) and alembic migrations:

- **SQLite in WAL mode** (the default, a path): one file that ``sqlite3 catalog.sqlite
  .schema`` opens anywhere, no server to run on a laptop, a login node or inside a batch job.
  WAL lets many readers read while one writer commits; writers wait on a busy timeout. Paths
  of files inside the catalog's folder are stored relative to it, so a folder holding a
  catalog and its data (the demo data, a release bundle) can be copied or moved as a whole.
- **PostgreSQL** (a ``postgresql://`` URL): the catalog a collaboration shares, written by
  Slurm jobs on many hosts at once (WAL needs shared memory on one host and does not work on
  NFS). Paths are stored absolute. Roles: see ``docs/howto/catalog-server.md``.

Every public write is one short transaction (``synchronous=FULL`` on SQLite); a writer killed
with ``kill -9`` mid-transaction leaves the database as it was before. Slow work (hashing,
``stat``) happens before the transaction opens, so no writer waits on another's disk reads.
Times are ISO-8601 UTC text (``2026-11-25T21:00:00.000000Z``) and JSON is text in both
backends, so rows copy between them unchanged (``rarehub catalog migrate``, ``snapshot``).
"""

from __future__ import annotations

import contextlib
import csv
import fnmatch
import functools
import hashlib
import io
import itertools
import json
import numbers
import operator
import os
import random
import re
import socket
import sqlite3
import stat
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from .connect import is_server_url, redact, sqlalchemy_url, upgrade_schema
from .constants import FORMATS_BY_SUFFIX, QUALITIES, RUN_TYPES
from .hashing import HashPipeline, RunNameError
from .schema import SCHEMA_HEAD, SCHEMA_VERSION
from .schema import files as files_table
from .schema import runs as runs_table

__all__ = [
    "SCHEMA_HEAD",
    "SCHEMA_VERSION",
    "Catalog",
    "CatalogError",
    "CatalogFallbackWarning",
    "CatalogMovedWarning",
    "sha256_file",
    "utc_text",
]

_CHUNK_BYTES = 1 << 20
# Scan batches (one transaction each): at most _SCAN_BATCH files (~10 ms to insert, so other
# writers barely wait) and about _SCAN_BATCH_BYTES (a few seconds of hashing, so a scan of big
# files registers as it goes); the first has _SCAN_FIRST_BATCH files, later ones are sized
# from the bytes per file seen so far.
_SCAN_BATCH = 2000
_SCAN_BATCH_BYTES = 256 << 20
_SCAN_FIRST_BATCH = 64
# Files this big on average: this process hashes too when every helper is busy.
_SCAN_HELP_BYTES = 64 << 10
_IN_CHUNK = 500  # ids per IN (...) list


class CatalogError(Exception):
    """A catalog operation failed: the message names the dataset, run or file."""


class CatalogFallbackWarning(UserWarning):
    """The catalog server could not be reached; a read-only snapshot is being read instead."""


class CatalogMovedWarning(UserWarning):
    """This SQLite catalog was moved to a server (``rarehub catalog migrate``): it still reads,
    as it was at the move, but takes no more writes."""


# ``meta`` keys of a SQLite catalog being moved, and moved, to a server (copying.migrate).
MOVED_TO, MOVED_UTC = "moved_to", "moved_utc"
MIGRATING_TO, MIGRATING_SINCE = "migrating_to", "migrating_since_utc"
MIGRATING_BY = "migrating_by"  # "host pid" of the migrating process


def migration_owner() -> str:
    """This process, as a migration's marker names it (``meta.migrating_by``)."""
    return f"{socket.gethostname()} {os.getpid()}"


def _ended_here(owner: str | None) -> bool:
    """Whether a marker's owner (``host pid``) was a process on this host that has ended.
    Unknown (another host, or no owner recorded) is not ended."""
    host, _, pid = (owner or "").rpartition(" ")
    if host != socket.gethostname() or not pid.isdigit() or len(pid) > 9:  # (meta is anyone's)
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # (alive, another user's)
        return False
    return False


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file, read in 1 MiB chunks (constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()


#: The files table's columns but ``id``, in table order: the row tuples of the bulk inserts.
_FILE_COLUMNS = tuple(c.name for c in files_table.c if c.name != "id")
_file_values_of = operator.itemgetter(*_FILE_COLUMNS)
# scan's row tuples (_register_scanned) are written in this order
assert _FILE_COLUMNS == (
    "dataset_id", "run_id", "path", "volume", "size_bytes", "sha256", "format", "start_utc",
    "end_utc", "added_utc", "verified_utc", "metadata",
), _FILE_COLUMNS  # fmt: skip
_DATASET, _PATH, _VOLUME, _SIZE, _ADDED = map(
    _FILE_COLUMNS.index, ("dataset_id", "path", "volume", "size_bytes", "added_utc")
)


_COPY_MIN_ROWS = 50  # a batch this big goes to PostgreSQL by COPY
# COPY … (FORMAT csv): the csv module quotes every field (in C; a lone carriage return, for
# one, must be quoted) and writes None as "", which FORCE_NULL reads as NULL in the nullable
# columns (none of which ever holds an empty string); elsewhere "" stays an empty string.
_COPY_NULLABLE = ", ".join(c.name for c in files_table.c if c.name != "id" and c.nullable)


def _copy_csv(rows: Iterable[tuple]) -> io.StringIO:
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    out.seek(0)
    return out


def _is_text(name: str) -> bool:
    """Whether a name from ``os`` is valid UTF-8 (undecodable bytes come as surrogates,
    which the catalog, storing paths as text, cannot hold)."""
    if name.isascii():
        return True
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True


def _scan_helpers() -> int:
    """Helper processes for a big scan's hashing: the cores this process may use, less the
    one it runs on (a Slurm job's allocation, not the machine's), at most 4; none on 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(0, min(4, cores - 1))


@contextlib.contextmanager
def _named_errors() -> Iterator[None]:
    """A file :func:`hashing.scan_batch` refuses (its message names it) as a CatalogError;
    any other error stays what it is."""
    try:
        yield
    except RunNameError as e:
        raise CatalogError(f"scan: {e}") from None


def _scan_batches(parts: list[tuple], size) -> Iterator[list[tuple]]:
    """Scan parts (:func:`hashing.scan_batch`) cut into batches of ``size()`` files each
    (asked anew for each batch: it follows the bytes per file seen so far)."""
    batch: list[tuple] = []
    room = size()
    for part in parts:
        names, stored = part[5], part[6]
        at = 0
        while at < len(names):
            take = names[at : at + room]
            batch.append((*part[:5], take, stored[at : at + room] if stored else None))
            at += len(take)
            room -= len(take)
            if room <= 0:
                yield batch
                batch, room = [], size()
    if batch:
        yield batch


def _scan_listing(directory: Path, pattern: str) -> list[tuple[str, list[str], list[str]]]:
    """The non-folder entries ``directory.glob(pattern)`` yields, by folder: ``(folder,
    names of other entries, names of symlinks)``, folders and names sorted.

    ``NAME`` and ``**/NAME`` with a wildcard ``NAME`` are listed by ``os.scandir`` (the entry
    type comes with the listing: no ``lstat`` per file), matched as pathlib does on POSIX
    (case-sensitive, ``*`` matches a leading dot, symlinked folders not descended, unreadable
    subfolders skipped); any other pattern by pathlib's glob."""
    parts = pattern.split("/")
    name_pat = parts[-1]
    if (
        parts[:-1] not in ([], ["**"])
        or "**" in name_pat
        or name_pat in ("", ".", "..")
        or not any(c in name_pat for c in "*?[")
    ):
        return _glob_listing(directory, pattern)
    match = re.compile(fnmatch.translate(name_pat)).fullmatch
    recursive = bool(parts[:-1])
    top = str(directory)
    out: list[tuple[str, list[str], list[str]]] = []
    stack = [top]
    while stack:
        folder = stack.pop()
        prefix = folder if folder.endswith("/") else folder + "/"
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except PermissionError:
            if folder == top:
                raise
            continue
        names: list[str] = []
        links: list[str] = []
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    if recursive:
                        stack.append(prefix + e.name)
                    continue
                if match(e.name):
                    (links if e.is_symlink() else names).append(e.name)
            except OSError:
                continue
        if names or links:
            out.append((folder, sorted(names), sorted(links)))
    out.sort()
    return out


_MIDAS_NAME = re.compile(r"^.*\.mid(?:\.gz)?$", re.M)


def _midas_files(listing: list[tuple[str, list[str], list[str]]]) -> list[str]:
    """The listed MIDAS files (``.mid``, ``.mid.gz``: ``rarehub ingest``'s, not scan's),
    found by one regular-expression pass per folder (a scan may list 100 000 names)."""
    found = []
    for folder, names, links in listing:
        prefix = folder if folder.endswith("/") else folder + "/"
        hits = _MIDAS_NAME.findall("\n".join([*names, *links]))
        if hits:  # (a name holding a newline would join lines: keep the real names only)
            real = {*names, *links}
            found += [prefix + name for name in hits if name in real]
    return found


def _glob_listing(directory: Path, pattern: str) -> list[tuple[str, list[str], list[str]]]:
    """:func:`_scan_listing` for any pattern, by pathlib's glob (an ``lstat`` per entry)."""
    by_folder: dict[str, tuple[list[str], list[str]]] = {}
    for p in directory.glob(pattern):
        try:
            mode = p.lstat().st_mode
        except OSError:  # vanished meanwhile
            continue
        if not stat.S_ISDIR(mode):
            names, links = by_folder.setdefault(str(p.parent), ([], []))
            (links if stat.S_ISLNK(mode) else names).append(p.name)
    return sorted((f, sorted(n), sorted(k)) for f, (n, k) in by_folder.items())


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


@functools.lru_cache(maxsize=512)
def _sql(statement: str) -> sa.TextClause:
    return sa.text(statement)


def _values(name: str, value: Any, *, kind: type, allowed: Sequence | None = None) -> list:
    """One value or a list of them, each checked: the shared core of every query filter."""
    values = [value] if isinstance(value, str | int) and not isinstance(value, bool) else value
    try:
        values = list(values)
    except TypeError:
        raise CatalogError(
            f"{name} must be a {kind.__name__} or a list of them, got {value!r}"
        ) from None
    for v in values:
        if kind is int and (isinstance(v, bool) or not isinstance(v, numbers.Integral)):
            raise CatalogError(f"{name} {v!r} is not an integer")
        if kind is not int and not isinstance(v, kind):
            raise CatalogError(f"{name} {v!r} is not a {kind.__name__}")
        if allowed is not None and v not in allowed:
            raise CatalogError(f"{name} {v!r} not in {tuple(allowed)}")
    return [int(v) for v in values] if kind is int else values


class _Filter:
    """WHERE clauses and bound parameters, built once for :meth:`Catalog.runs` and ``files``."""

    def __init__(self) -> None:
        self.where: list[str] = []
        self.params: dict[str, Any] = {}

    def _param(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def isin(self, column: str, values: list) -> None:
        if not values:
            self.where.append("1 = 0")
            return
        self.where.append(f"{column} IN ({', '.join(self._param(v) for v in values)})")

    def add(self, clause: str, *values: Any) -> None:
        self.where.append(clause.format(*(self._param(v) for v in values)))

    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.where)) if self.where else ""


def _run_filter(
    *,
    dataset=None,
    run=None,
    detector=None,
    run_type=None,
    quality=None,
    start=None,
    end=None,
    format=None,
) -> _Filter:
    """The one filter builder: every keyword means the same in ``runs()`` and ``files()``.

    A misspelt ``run_type`` or ``quality`` is an error naming the allowed values, never an
    empty answer.
    """
    f = _Filter()
    if dataset is not None:
        f.isin("d.name", _values("dataset", dataset, kind=str))
    if run is not None:
        f.isin("r.run_number", _values("run", run, kind=int))
    if detector is not None:
        f.isin("r.detector", _values("detector", detector, kind=str))
    if run_type is not None:
        f.isin("r.run_type", _values("run_type", run_type, kind=str, allowed=RUN_TYPES))
    if quality is not None:
        f.isin("r.quality", _values("quality", quality, kind=str, allowed=QUALITIES))
    if format is not None:
        f.isin("f.format", _values("format", format, kind=str))
    if start is not None:
        f.add("(r.end_utc IS NULL OR r.end_utc > {})", utc_text(start))
    if end is not None:
        f.add("(r.start_utc IS NULL OR r.start_utc < {})", utc_text(end))
    return f


_FILES_SELECT = (
    "SELECT f.id AS file_id, d.name AS dataset, r.run_number, r.run_type, r.detector,"
    " f.path, f.volume, f.size_bytes, f.sha256, f.format, f.start_utc, f.end_utc,"
    " f.added_utc, f.verified_utc, f.metadata"
    " FROM files f JOIN datasets d ON d.id = f.dataset_id"
    " LEFT JOIN runs r ON r.id = f.run_id"
)
# Paths in byte order on both backends (SQLite compares bytes; a PostgreSQL database's
# collation may be a language's, which ignores "/" and "_"), as scan's answer is sorted.
_FILES_ORDER = {
    "sqlite": " ORDER BY d.name, r.run_number NULLS FIRST, f.path",
    "postgresql": ' ORDER BY d.name, r.run_number NULLS FIRST, f.path COLLATE "C"',
}


class Catalog:
    """A catalog of datasets, runs and files in SQLite (a path) or PostgreSQL (a URL).

    Open with :meth:`Catalog.open`; use as a context manager or call :meth:`close`. One
    ``Catalog`` holds one database connection; threads may share it (calls are serialised).

    Examples
    --------
    >>> cat = Catalog.open("catalog.sqlite")                          # doctest: +SKIP
    >>> cat = Catalog.open("postgresql://reader@db.example.org/rarehub", readonly=True,
    ...                    snapshot="/cvmfs/exp/catalog-snapshot.sqlite")  # doctest: +SKIP
    >>> cat.runs(detector="ge1", run_type="physics", quality="good",
    ...          start="2026-01-01", end="2026-02-01")                 # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        engine: sa.Engine,
        backend: str,
        path: Path | str,
        root: Path | None,
        readonly: bool,
        timeout_s: float = 30.0,
    ):
        self._timeout_s = timeout_s
        self.backend = backend  # "sqlite" or "postgresql"
        self.path = path  # the SQLite file, or the server URL without its password
        self.root = root  # relative paths are relative to this folder (SQLite only)
        self.readonly = readonly
        self.snapshot_age_s: float | None = None  # set when reading a fallback snapshot
        self._engine = engine
        self._conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self._lock = threading.RLock()
        self._depth = 0
        # the folder relative paths hang from, resolved, with a trailing "/"
        self._real_root = (os.path.realpath(root).rstrip("/") + "/") if root is not None else None
        self._copy_ready: bool | None = None  # PostgreSQL: may this session COPY via a temp table
        self._bytewise: bool | None = None  # PostgreSQL: does the server order paths by bytes

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        *,
        create: bool = True,
        readonly: bool = False,
        timeout_s: float = 30.0,
        snapshot: str | os.PathLike | None = None,
    ) -> Catalog:
        """Open (and with ``create=True`` create) the catalog at ``path``.

        ``path`` is a SQLite file or a ``postgresql://user@host[:port]/db`` URL (keep the
        password in ``~/.pgpass``, ``PGPASSFILE`` or ``PGPASSWORD``, never in the URL you
        type). ``create=True`` makes a new SQLite file — only inside an existing folder, so
        that a mistyped folder is an error, not a silently empty catalog — or the tables in
        an empty PostgreSQL database. An older catalog is migrated to the current schema in
        place on a writable open.

        ``timeout_s`` bounds how long a write waits for another's lock (then
        :class:`CatalogError`). On a server, a session whose host died or was cut off
        mid-transaction is ended by the server within about a third of ``timeout_s``
        (TCP keepalive), so its locks never hold the other writers up for long.

        ``readonly=True`` opens for queries only (a shared read-only volume, an analyzer's
        server); any write then raises :class:`CatalogError`. ``snapshot`` names a SQLite
        snapshot (``rarehub catalog snapshot``) to read, read-only, when the server cannot be
        reached; a :class:`CatalogFallbackWarning` then says so and gives the snapshot's age.
        """
        if is_server_url(path):
            try:
                return cls._open_server(
                    str(path), create=create, readonly=readonly, timeout_s=timeout_s
                )
            except _Unreachable as e:
                if snapshot is None:
                    raise CatalogError(str(e)) from None
                cat = cls.open(snapshot, create=False, readonly=True)
                taken = cat.meta().get("snapshot_utc")
                age = (
                    (datetime.now(UTC) - pd.Timestamp(taken).to_pydatetime()).total_seconds()
                    if taken
                    else None
                )
                cat.snapshot_age_s = age
                warnings.warn(
                    CatalogFallbackWarning(
                        f"{e}; reading the snapshot {snapshot} instead (read-only, taken"
                        f" {taken or 'at an unknown time'}: {_age_text(age)} old)"
                    ),
                    stacklevel=2,
                )
                return cat
        if isinstance(path, str) and path.startswith("sqlite:///"):
            path = path[len("sqlite:///") :]
        path = Path(path).absolute()
        if not path.exists():
            if not create or readonly:
                raise CatalogError(f"no catalog at {path} (create it with create=True)")
            if not path.parent.is_dir():
                missing = path.parent
                while not missing.parent.is_dir():
                    missing = missing.parent
                raise CatalogError(
                    f"cannot create a catalog at {path}: the folder {missing} does not exist"
                    " (a typo? create the folder first)"
                )
        if readonly:
            return cls._open_sqlite_readonly(path, timeout_s)
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
            # 32 MiB of page cache (default 2 MiB): a big scan's inserts keep the path
            # index in memory (allocated only as pages are used).
            conn.execute("PRAGMA cache_size=-32768")
        except sqlite3.DatabaseError as e:
            conn.close()
            raise CatalogError(
                f"{path} is not a usable catalog database: {e}{_ro_hint(e)}"
            ) from None
        cat = cls(
            engine=_sqlite_engine(conn), backend="sqlite", path=path, root=path.parent,
            readonly=False, timeout_s=timeout_s,
        )  # fmt: skip
        try:
            upgrade_schema(cat._conn, backend="sqlite", create=True, name=str(path))
        except sa.exc.DBAPIError as e:
            cat.close()
            raise CatalogError(
                f"{path} is not a usable catalog database: {e.orig}{_ro_hint(e.orig)}"
            ) from None
        except BaseException:
            cat.close()
            raise
        cat._warn_if_moved()
        return cat

    @classmethod
    def _open_sqlite_readonly(cls, path: Path, timeout_s: float) -> Catalog:
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
            cat = cls(
                engine=_sqlite_engine(conn), backend="sqlite", path=path, root=path.parent,
                readonly=True,
            )  # fmt: skip
            cat._warn_if_moved()
            return cat
        raise AssertionError("unreachable")  # pragma: no cover

    @classmethod
    def _open_server(cls, url: str, *, create: bool, readonly: bool, timeout_s: float):
        shown = redact(url)
        # A client whose host dies or is cut off mid-transaction sends no FIN, and the
        # server would keep its session, its transaction and its locks until the kernel's
        # keepalive gives up (2 h): every writer of the same run or growth row would wait
        # out its lock_timeout and fail. The server probes this session's peer instead
        # after timeout_s / 6 of silence, three times, and ends the session (rolling the
        # transaction back) within about a third of timeout_s. A live client's kernel
        # answers the probes, however slow the client is.
        probe_s = max(1, round(timeout_s / 18))
        connect_args: dict[str, Any] = {
            "connect_timeout": max(1, int(min(timeout_s, 10))),
            "application_name": "rarehub-catalog",
            # a statement waits at most timeout_s for a lock: a stuck writer is an error
            "options": f"-c lock_timeout={int(timeout_s * 1000)}"
            f" -c tcp_keepalives_idle={max(1, round(timeout_s / 6))}"
            f" -c tcp_keepalives_interval={probe_s} -c tcp_keepalives_count=3"
            + (" -c default_transaction_read_only=on" if readonly else ""),
        }
        engine = sa.create_engine(
            sqlalchemy_url(url),
            connect_args=connect_args,
            poolclass=StaticPool,
            hide_parameters=True,
        )
        try:
            cat = cls(
                engine=engine, backend="postgresql", path=shown, root=None, readonly=readonly,
                timeout_s=timeout_s,
            )  # fmt: skip
        except sa.exc.OperationalError as e:
            engine.dispose()
            raise _Unreachable(
                f"cannot connect to the catalog server {shown}: {_first_line(e.orig)}"
            ) from None
        try:
            if readonly:
                if cat._revision() is None:
                    raise CatalogError(f"{shown} holds no catalog")
            else:
                upgrade_schema(cat._conn, backend="postgresql", create=create, name=shown)
        except sa.exc.DBAPIError as e:
            cat.close()
            raise CatalogError(f"{shown}: {_first_line(e.orig)}") from None
        except BaseException:
            cat.close()
            raise
        return cat

    def _revision(self) -> str | None:
        try:
            return self._scalar("SELECT value FROM meta WHERE key = 'schema_version'")
        except CatalogError:
            return None

    def close(self) -> None:
        """Close the database connection."""
        with contextlib.suppress(Exception):
            self._conn.close()
        self._engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Catalog({str(self.path)!r})"

    # ------------------------------------------------------------------ moved to a server
    def moved(self) -> dict[str, str] | None:
        """``{"moved_to": URL, "moved_utc": time}`` when this SQLite catalog was moved to a
        server (``rarehub catalog migrate``; the URL without password), else None."""
        if self.backend != "sqlite":
            return None
        with self._lock:  # straight to sqlite3: every write transaction asks (about 5 µs)
            try:
                found = dict(
                    self._dbapi()
                    .execute(
                        "SELECT key, value FROM meta WHERE key IN (?, ?)", (MOVED_TO, MOVED_UTC)
                    )
                    .fetchall()
                )
            except sqlite3.Error as e:
                raise CatalogError(f"catalog {self.path}: {e}") from None
        return found if MOVED_TO in found else None

    def _moved_text(self, moved: Mapping[str, str]) -> str:
        return (
            f"the catalog {self.path} was moved to {moved[MOVED_TO]} on"
            f" {moved.get(MOVED_UTC, 'an unknown date')} (rarehub catalog migrate)"
        )

    def _warn_if_moved(self) -> None:
        moved = self.moved()
        if moved is not None:
            warnings.warn(
                CatalogMovedWarning(
                    f"{self._moved_text(moved)}; this file reads as it was then and takes no"
                    f" more writes: open {moved[MOVED_TO]} for the current catalog"
                ),
                stacklevel=3,
            )

    def _refuse_if_moved(self) -> None:
        """Inside a write transaction on SQLite: a catalog moved to a server takes no writes
        (what a job wrote here after the move would never reach the collaboration)."""
        moved = self.moved()
        if moved is not None:
            raise CatalogError(
                f"{self._moved_text(moved)}: it takes no more writes here, write to"
                f" {moved[MOVED_TO]} (`rarehub catalog --db {self.path} migrate --unmark`"
                " makes this file writable again)"
            )

    # ------------------------------------------------------------------ plumbing
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Catalog]:
        """Group several writes into one atomic transaction (all or nothing).

        Nested uses join the outer transaction. A SQLite catalog moved to a server
        (:meth:`moved`) refuses every write with a :class:`CatalogError` naming the server.
        """
        with self._transaction(refuse_moved=True):
            yield self

    @contextlib.contextmanager
    def _transaction(self, *, refuse_moved: bool) -> Iterator[Catalog]:
        """:meth:`transaction`; ``refuse_moved=False`` only for the migration itself, which
        takes the write lock to mark the file moved (or to un-mark it)."""
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
            if self.backend == "sqlite":
                self._begin_sqlite()
            else:
                self._raw("BEGIN")
            self._depth = 1
            try:
                if refuse_moved and self.backend == "sqlite":
                    self._refuse_if_moved()  # read under the write lock: no move slips past
                yield self
            except BaseException:
                self._depth = 0
                with contextlib.suppress(Exception):
                    self._conn.exec_driver_sql("ROLLBACK")
                raise
            self._depth = 0
            try:
                self._raw("COMMIT")
            except CatalogError:
                with contextlib.suppress(Exception):
                    self._conn.exec_driver_sql("ROLLBACK")
                raise

    def _begin_sqlite(self) -> None:
        """``BEGIN IMMEDIATE``, waiting for the write lock in short, jittered polls.

        SQLite's own busy handler backs off to 100 ms sleeps, so under many writers a waiter
        that has waited long keeps losing the lock to fresh ones (a 20-writer benchmark saw
        15 s waits). Polling every 0.5–4 ms gives every waiter the same chance at each
        release; the wait is still bounded by the catalog's ``timeout_s``.
        """
        raw = self._dbapi()
        deadline = time.monotonic() + self._timeout_s
        raw.execute("PRAGMA busy_timeout=0")
        try:
            while True:
                try:
                    raw.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as e:
                    if "locked" not in str(e) and "busy" not in str(e):
                        raise CatalogError(f"catalog {self.path}: {e}") from None
                    if time.monotonic() > deadline:
                        raise CatalogError(
                            f"catalog {self.path}: {e} ({self._lock_holder()} held it for"
                            f" more than {self._timeout_s:g} s)"
                        ) from None
                time.sleep(random.uniform(0.0005, 0.004))
        finally:
            raw.execute(f"PRAGMA busy_timeout={int(self._timeout_s * 1000)}")

    def _lock_holder(self) -> str:
        """Who holds the write lock, as far as the catalog can tell: a running migration
        leaves a marker in ``meta`` (committed before it takes the lock) that readers see.
        A marker whose process has ended on this host (killed: it could not clean up) is
        said to be stale, not taken for the holder."""
        with contextlib.suppress(sqlite3.Error):
            rows = dict(
                self._dbapi()
                .execute(
                    "SELECT key, value FROM meta WHERE key IN (?, ?, ?)",
                    (MIGRATING_TO, MIGRATING_SINCE, MIGRATING_BY),
                )
                .fetchall()
            )
            if MIGRATING_TO in rows and _ended_here(rows.get(MIGRATING_BY)):
                return (
                    f"another writer (not the migration to {rows[MIGRATING_TO]} started"
                    f" {rows.get(MIGRATING_SINCE, 'at an unknown time')}: its process"
                    f" {rows[MIGRATING_BY].rpartition(' ')[2]} has ended without finishing;"
                    " `rarehub catalog migrate` again, or `--unmark`, clears its marker)"
                )
            if MIGRATING_TO in rows:
                return (
                    f"a migration to {rows[MIGRATING_TO]} (rarehub catalog migrate, started"
                    f" {rows.get(MIGRATING_SINCE, 'at an unknown time')}; once it is done this"
                    f" file takes no more writes: write to {rows[MIGRATING_TO]})"
                )
        return "another writer"

    def _raw(self, statement: str) -> None:
        with self._lock:
            try:
                self._conn.exec_driver_sql(statement)
            except sa.exc.DBAPIError as e:
                raise self._error(e) from None

    def _error(self, e: sa.exc.DBAPIError) -> CatalogError:
        message = _first_line(e.orig)
        if "permission denied" in message or "read-only transaction" in message:
            return CatalogError(
                f"the catalog {self.path} refuses this write ({message}): the database role is"
                " read-only or the catalog was opened read-only"
            )
        return CatalogError(f"catalog {self.path}: {message}")

    def _x(self, statement: str, params: Mapping | None = None) -> sa.CursorResult:
        with self._lock:
            try:
                return self._conn.execute(_sql(statement), params or {})
            except sa.exc.DBAPIError as e:
                raise self._error(e) from None

    def _q(self, statement: str, params: Mapping | None = None) -> list[tuple]:
        with self._lock:
            return [tuple(r) for r in self._x(statement, params).fetchall()]

    def _scalar(self, statement: str, params: Mapping | None = None) -> Any:
        with self._lock:
            return self._x(statement, params).scalar()

    def _frame(self, statement: str, params: Mapping | None = None) -> pd.DataFrame:
        with self._lock:
            result = self._x(statement, params)
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def _dbapi(self):
        """The driver's own connection (sqlite3 / psycopg2), for tests and tools."""
        return self._conn.connection.dbapi_connection

    def meta(self) -> dict[str, str]:
        """The catalog's ``meta`` table: schema version, and for a snapshot its source and time."""
        return dict(self._q("SELECT key, value FROM meta"))

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
        ``exist_ok=True`` an existing dataset of that name is returned unchanged (also when
        another process adds it at the same moment).
        """
        if not name or not isinstance(name, str):
            raise CatalogError(f"dataset name must be a non-empty string, got {name!r}")
        values = {
            "name": name,
            "detector": detector,
            "description": description,
            "simulated": int(generator is not None),
            "generator": generator,
            "generator_version": generator_version,
            "generator_config": _json(generator_config, f"generator_config of dataset {name!r}")
            if generator_config is not None
            else None,
            "created_utc": _now(),
            "metadata": _json(metadata, f"metadata of dataset {name!r}"),
        }
        with self.transaction():
            new = self._scalar(
                "INSERT INTO datasets (name, detector, description, simulated, generator,"
                " generator_version, generator_config, created_utc, metadata)"
                " VALUES (:name, :detector, :description, :simulated, :generator,"
                " :generator_version, :generator_config, :created_utc, :metadata)"
                " ON CONFLICT (name) DO NOTHING RETURNING id",
                values,
            )
            if new is not None:
                return new
            if not exist_ok:
                raise CatalogError(f"dataset {name!r} already exists in {self.path}")
            return self._scalar("SELECT id FROM datasets WHERE name = :n", {"n": name})

    def _dataset_id(self, dataset: str | int) -> int:
        if isinstance(dataset, int) and not isinstance(dataset, bool):
            row = self._q("SELECT id FROM datasets WHERE id = :d", {"d": dataset})
        else:
            row = self._q("SELECT id FROM datasets WHERE name = :d", {"d": dataset})
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
        values = {
            "run_number": int(run_number),
            "run_type": run_type,
            "start_utc": s,
            "end_utc": e,
            "quality": quality,
            "dq_flags": _json(list(dq_flags), "dq_flags"),
            "metadata": _json(metadata, f"metadata of run {run_number}"),
        }
        with self.transaction():
            ds = self._dataset_id(dataset)
            if detector is None:
                detector = self._scalar("SELECT detector FROM datasets WHERE id = :d", {"d": ds})
            values.update(dataset_id=ds, detector=detector)
            new = self._scalar(
                "INSERT INTO runs (dataset_id, run_number, detector, run_type, start_utc,"
                " end_utc, quality, dq_flags, metadata) VALUES (:dataset_id, :run_number,"
                " :detector, :run_type, :start_utc, :end_utc, :quality, :dq_flags, :metadata)"
                " ON CONFLICT (dataset_id, run_number) DO NOTHING RETURNING id",
                values,
            )
            if new is not None:
                return new
            if not replace:
                raise CatalogError(
                    f"run {run_number} already exists in dataset {dataset!r}"
                    " (pass replace=True to update it)"
                )
            return self._scalar(
                "UPDATE runs SET detector = :detector, run_type = :run_type,"
                " start_utc = :start_utc, end_utc = :end_utc, quality = :quality,"
                " dq_flags = :dq_flags, metadata = :metadata"
                " WHERE dataset_id = :dataset_id AND run_number = :run_number RETURNING id",
                values,
            )

    def set_quality(
        self, dataset: str | int, run_number: int, quality: str, dq_flags: Sequence[str] = ()
    ) -> None:
        """Set the data-quality verdict and flags of one run."""
        if quality not in QUALITIES:
            raise CatalogError(f"run {run_number}: quality {quality!r} not in {QUALITIES}")
        with self.transaction():
            ds = self._dataset_id(dataset)
            done = self._scalar(
                "UPDATE runs SET quality = :q, dq_flags = :f"
                " WHERE dataset_id = :d AND run_number = :n RETURNING id",
                {"q": quality, "f": _json(list(dq_flags), "dq_flags"), "d": ds,
                 "n": int(run_number)},
            )  # fmt: skip
            if done is None:
                raise CatalogError(f"no run {run_number} in dataset {dataset!r}")

    def _stored_path(self, path: Path) -> str:
        """How ``path`` is stored: resolved like the kernel does (``..`` after symlinks),
        then relative to the catalog's folder when inside it, else absolute."""
        return self._stored_real(os.path.realpath(path))

    def _stored_real(self, real: str) -> str:
        if self._real_root is not None and real.startswith(self._real_root):
            return real[len(self._real_root) :]
        return real

    def _full_path(self, stored: str) -> Path:
        p = Path(stored)
        return p if p.is_absolute() or self.root is None else self.root / p

    def _file_values(
        self,
        path: Path,
        *,
        format: str | None,
        start: Any,
        end: Any,
        metadata: Mapping | None,
        volume: str | None,
        added: Any,
        sha256: str | None,
        stored: str | None = None,
        size: int | None = None,
    ) -> dict:
        """Everything about a file that needs the disk (stat, hash): done before any lock."""
        if size is None and not path.is_file():
            raise CatalogError(f"cannot add {path}: no such file")
        if format is None:
            format = FORMATS_BY_SUFFIX.get(path.suffix.lower())
            if format is None:
                raise CatalogError(
                    f"cannot infer the format of {path} from its suffix {path.suffix!r};"
                    f" pass format= (known suffixes: {sorted(FORMATS_BY_SUFFIX)})"
                )
        if size is None:
            size = path.stat().st_size
        added_text = utc_text(added) if added is not None else _now()
        try:
            digest = sha256 or sha256_file(path)
        except OSError as e:
            raise CatalogError(f"cannot add {path}: {e.strerror}") from None
        return {
            "path": stored if stored is not None else self._stored_path(path),
            "volume": volume or _volume_of(path),
            "size_bytes": size,
            "sha256": digest,
            "format": format,
            "start_utc": utc_text(start),
            "end_utc": utc_text(end),
            "added_utc": added_text,
            "verified_utc": added_text,
            "metadata": _json(metadata, f"metadata of {path}"),
        }

    def _insert_files(self, rows: list[dict], *, skip_existing: bool) -> list[int]:
        """Insert prepared file rows (dicts) inside a transaction; set and return their new
        ids. Already-catalogued paths are skipped or refused."""
        ids = self._insert_file_values([_file_values_of(r) for r in rows])
        out = []
        for row, new in zip(rows, ids, strict=True):
            if new is None:
                if skip_existing:
                    continue
                raise CatalogError(f"{row['path']} is already in the catalog {self.path}")
            row["id"] = new
            out.append(new)
        return out

    def _insert_file_values(
        self, values: list[tuple], *, uniform: bool = False
    ) -> list[int | None]:
        """Insert file rows (tuples in :data:`_FILE_COLUMNS` order) inside a transaction and
        count the inserted ones in the growth history. Returns each row's new id, or None
        where another writer registered that path first (``ON CONFLICT (path) DO NOTHING``:
        never a duplicate). ``uniform``: the caller knows that every row has the same
        added time, dataset and volume (one growth row, summed at once)."""
        if self.backend == "sqlite":
            ids = self._insert_values_sqlite(values)
        else:
            ids = self._insert_values_postgresql(values)
        growth: dict[tuple, tuple[int, int]] = {}
        if uniform and values and None not in ids:  # one growth row, every row inserted
            key = (values[0][_ADDED][:10], values[0][_DATASET], values[0][_VOLUME])
            growth[key] = (sum(map(operator.itemgetter(_SIZE), values)), len(values))
        else:
            for v, new in zip(values, ids, strict=True):
                if new is not None:
                    key = (v[_ADDED][:10], v[_DATASET], v[_VOLUME])
                    nbytes, nfiles = growth.get(key, (0, 0))
                    growth[key] = (nbytes + v[_SIZE], nfiles + 1)
        for (day, ds, volume), (nbytes, nfiles) in growth.items():
            self._x(
                "INSERT INTO growth (day, dataset_id, volume, bytes_added, files_added)"
                " VALUES (:day, :ds, :volume, :b, :n) ON CONFLICT (day, dataset_id, volume)"
                " DO UPDATE SET bytes_added = growth.bytes_added + excluded.bytes_added,"
                " files_added = growth.files_added + excluded.files_added",
                {"day": day, "ds": ds, "volume": volume, "b": nbytes, "n": nfiles},
            )
        return ids

    def _insert_values_postgresql(self, values: list[tuple]) -> list[int | None]:
        """A batch into PostgreSQL, on the catalog's connection (inside the caller's
        transaction). A big batch is first tried as one ``COPY`` straight into ``files``,
        with ids drawn from the table's sequence beforehand, inside a savepoint: for 100 000
        rows in batches of 2000 the server works about 1.3 s instead of 1.5 s through a
        temporary table (a scan of 100 000 small files: ~4 % faster), and no TEMP privilege
        is needed. Where a path is already there (another writer registered it meanwhile) the
        savepoint is rolled back and the batch goes the careful way: ``COPY`` into a
        temporary table, then ``INSERT … SELECT … ON CONFLICT (path) DO NOTHING RETURNING``.
        Small batches, or a role without the TEMP privilege, use psycopg2's
        ``execute_values`` for that."""
        import psycopg2
        from psycopg2.errors import UniqueViolation
        from psycopg2.extras import execute_values

        columns = ", ".join(_FILE_COLUMNS)
        copy_options = f"(FORMAT csv, FORCE_NULL ({_COPY_NULLABLE}))"
        with self._lock:
            try:
                with self._dbapi().cursor() as cur:
                    if len(values) >= _COPY_MIN_ROWS:
                        cur.execute(
                            "SELECT nextval(pg_get_serial_sequence('files', 'id'))"
                            " FROM generate_series(1, %s)",
                            (len(values),),
                        )
                        ids = [r[0] for r in cur.fetchall()]
                        cur.execute("SAVEPOINT rarehub_copy")
                        try:
                            cur.copy_expert(
                                f"COPY files ({columns}, id) FROM STDIN WITH {copy_options}",
                                _copy_csv(map(tuple.__add__, values, zip(ids))),  # (row…, id)
                            )
                        except UniqueViolation:
                            cur.execute("ROLLBACK TO SAVEPOINT rarehub_copy")
                        else:
                            cur.execute("RELEASE SAVEPOINT rarehub_copy")
                            return ids
                    if len(values) >= _COPY_MIN_ROWS and self._copy_table(cur):
                        cur.copy_expert(
                            f"COPY rarehub_files_in ({columns}) FROM STDIN WITH {copy_options}",
                            _copy_csv(values),
                        )
                        cur.execute(
                            f"INSERT INTO files ({columns}) SELECT {columns} FROM"
                            " rarehub_files_in ON CONFLICT (path) DO NOTHING RETURNING id, path"
                        )
                        found = cur.fetchall()
                        cur.execute("DELETE FROM rarehub_files_in")  # (outer transactions)
                    else:
                        found = execute_values(
                            cur,
                            f"INSERT INTO files ({columns}) VALUES %s"
                            " ON CONFLICT (path) DO NOTHING RETURNING id, path",
                            values, page_size=len(values), fetch=True,
                        )  # fmt: skip
            except psycopg2.Error as e:
                raise self._error(sa.exc.DBAPIError("INSERT INTO files", None, e)) from None
        by_path = {path: fid for fid, path in found}
        return [by_path.get(v[_PATH]) for v in values]

    def _copy_table(self, cur) -> bool:
        """Make this session's temporary table for bulk inserts (once); False when the role
        may not create temporary tables (a site can revoke TEMP from PUBLIC). Asked before
        trying: a failed statement would abort the caller's transaction."""
        if self._copy_ready is None:
            cur.execute("SELECT has_database_privilege(current_database(), 'TEMP')")
            self._copy_ready = bool(cur.fetchone()[0])
        if self._copy_ready:
            # Inside the caller's transaction: if it rolls back, so does the table's
            # creation, hence IF NOT EXISTS every time (a no-op once it exists).
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS rarehub_files_in ON COMMIT DELETE ROWS AS"
                f" SELECT {', '.join(_FILE_COLUMNS)} FROM files WITH NO DATA"
            )
        return self._copy_ready

    def _insert_values_sqlite(self, values: list[tuple]) -> list[int | None]:
        """The driver's own ``executemany`` (SQLite runs in this process: ~10× less overhead
        per row than a compiled multi-row statement) with ids chosen here: inside
        ``BEGIN IMMEDIATE`` this connection alone writes, so the ids above the current
        largest are free, and those present afterwards are exactly the rows inserted."""
        raw = self._dbapi()
        sql = (
            f"INSERT INTO files ({', '.join(_FILE_COLUMNS)}, id)"
            f" VALUES ({', '.join('?' * (len(_FILE_COLUMNS) + 1))})"
            " ON CONFLICT (path) DO NOTHING"
        )
        with self._lock:
            if not raw.in_transaction:  # the ids below rely on holding the write lock
                raise CatalogError(f"catalog {self.path}: files are inserted in a transaction")
            try:
                (top,) = raw.execute("SELECT COALESCE(MAX(id), 0) FROM files").fetchone()
                before = raw.total_changes
                ids = range(top + 1, top + 1 + len(values))
                raw.executemany(sql, map(tuple.__add__, values, zip(ids)))  # (row…, id)
                if raw.total_changes - before == len(values):  # all inserted: the usual case
                    return list(ids)
                present = {
                    fid
                    for (fid,) in raw.execute(
                        "SELECT id FROM files WHERE id >= ? AND id <= ?", (ids[0], ids[-1])
                    )
                }
            except sqlite3.Error as e:
                raise CatalogError(f"catalog {self.path}: {e}") from None
        return [i if i in present else None for i in ids]

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
        The file is hashed before the transaction opens.
        """
        path = Path(path)
        row = self._file_values(
            path, format=format, start=start, end=end, metadata=metadata, volume=volume,
            added=added, sha256=sha256,
        )  # fmt: skip
        if self.backend == "postgresql" and not self._depth and not self.readonly:
            return self._add_file_one_statement(path, row, dataset=dataset, run=run)
        with self.transaction():
            ds = self._dataset_id(dataset)
            run_id = None
            if run is not None:
                run_id = self._scalar(
                    "SELECT id FROM runs WHERE dataset_id = :d AND run_number = :n",
                    {"d": ds, "n": int(run)},
                )
                if run_id is None:
                    raise CatalogError(
                        f"cannot add {path}: no run {run} in dataset {dataset!r} (add_run first)"
                    )
            row.update(dataset_id=ds, run_id=run_id)
            try:
                return self._insert_files([row], skip_existing=False)[0]
            except CatalogError as e:
                if "already in the catalog" in str(e):
                    raise CatalogError(f"{path} is already in the catalog {self.path}") from None
                raise

    def _add_file_one_statement(self, path: Path, row: dict, *, dataset, run) -> int:
        """PostgreSQL: the whole registration (look up dataset and run, insert the file, count
        it in the growth history) as one statement, so one round trip and a transaction of
        its own. Row locks (the day's growth row, which every writer updates) are then held
        only while the server executes it, never while a client process waits for the CPU —
        with many writers on few cores that is what keeps them from queueing behind each
        other."""
        by_id = isinstance(dataset, int) and not isinstance(dataset, bool)
        values = {
            **row,
            "dataset": dataset if by_id else str(dataset),
            "run": None if run is None else int(run),
            "day": row["added_utc"][:10],
        }
        columns = [c.name for c in files_table.c if c.name not in ("id", "dataset_id", "run_id")]
        ds_where = "id = :dataset" if by_id else "name = :dataset"
        placeholders = ", ".join(":" + c for c in columns)
        statement = (
            f"WITH ds AS (SELECT id FROM datasets WHERE {ds_where}),"
            " r AS (SELECT id FROM runs WHERE dataset_id = (SELECT id FROM ds)"
            " AND run_number = CAST(:run AS INTEGER)),"
            f" ins AS (INSERT INTO files (dataset_id, run_id, {', '.join(columns)})"
            f" SELECT (SELECT id FROM ds), (SELECT id FROM r), {placeholders}"
            " WHERE EXISTS (SELECT 1 FROM ds)"
            " AND (CAST(:run AS INTEGER) IS NULL OR EXISTS (SELECT 1 FROM r))"
            " ON CONFLICT (path) DO NOTHING RETURNING id, dataset_id),"
            " g AS (INSERT INTO growth (day, dataset_id, volume, bytes_added, files_added)"
            " SELECT :day, dataset_id, :volume, :size_bytes, 1 FROM ins"
            " ON CONFLICT (day, dataset_id, volume) DO UPDATE SET"
            " bytes_added = growth.bytes_added + excluded.bytes_added,"
            " files_added = growth.files_added + excluded.files_added)"
            " SELECT (SELECT id FROM ds), (SELECT id FROM r), (SELECT id FROM ins)"
        )
        ds, run_id, new = self._q(statement, values)[0]
        if ds is None:
            self._dataset_id(dataset)  # raises, naming the known datasets
        if run is not None and run_id is None:
            raise CatalogError(
                f"cannot add {path}: no run {run} in dataset {dataset!r} (add_run first)"
            )
        if new is None:
            raise CatalogError(f"{path} is already in the catalog {self.path}")
        return new

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

        The run number is taken from the file name with ``run_regex`` (first group, digits:
        a pattern without a group, or a name it takes anything else from, is an error
        naming it); runs that do not exist yet are created with ``run_type``. Files whose
        format cannot be inferred are skipped. Returns the added files (as :meth:`files` does).

        Files are hashed outside any transaction and registered in short transactions of up
        to 2000 files, so other writers never wait for this scan's disk reads; a big scan
        hashes in helper processes while it registers (:mod:`.hashing`). A scan
        interrupted part-way keeps what it registered; running it again adds the rest.
        Files another writer registers meanwhile are skipped, not duplicated.
        """
        directory = Path(directory)
        if not directory.is_dir():
            raise CatalogError(f"cannot scan {directory}: not a directory")
        if run_type not in RUN_TYPES:
            raise CatalogError(f"scan: run_type {run_type!r} not in {RUN_TYPES}")
        try:
            groups = re.compile(run_regex).groups
        except re.error as e:
            raise CatalogError(f"scan: run_regex {run_regex!r} is not a pattern: {e}") from None
        if groups < 1:
            raise CatalogError(
                f"scan: run_regex {run_regex!r} has no group: its first group is the run number"
            )
        ds = self.add_dataset(dataset, detector=detector)
        if detector is None:
            detector = self._scalar("SELECT detector FROM datasets WHERE id = :d", {"d": ds})
        own = self.path.resolve() if isinstance(self.path, Path) else None
        own_name = own.name if own is not None else None
        listing = _scan_listing(directory, pattern)
        midas = _midas_files(listing)
        if midas:  # no format of scan's, and their run facts are in them: ingest's job
            warnings.warn(
                f"scan of {directory}: {len(midas)} SuperCDMS MIDAS file(s) not registered"
                f" (e.g. {midas[0]}): `rarehub ingest --db … --dataset {dataset} FILE…`"
                " registers them with their run number, times and ODB",
                stacklevel=2,
            )
        parts, not_text = self._scan_parts(listing, own)
        if not_text:  # a name anyone can create in a shared folder must not stop the scan
            shown = ", ".join(repr(os.fsencode(p)) for p in not_text[:3])
            warnings.warn(
                f"scan of {directory}: {len(not_text)} file(s) skipped, their names are not"
                f" valid UTF-8 and the catalog stores paths as text (rename them): {shown}",
                stacklevel=2,
            )
        # Hashing overlaps registering: helper processes prepare and hash the next batch
        # (hashing.scan_batch) while this process registers the last one; with big files
        # this process also hashes a batch when every helper is busy. The database
        # connection stays here.
        total = sum(len(part[5]) for part in parts)
        helpers = _scan_helpers() if total > _SCAN_FIRST_BATCH else 0
        chunks: list = []
        runs_info: dict[int, tuple[int, str, str | None]] = {}
        register = functools.partial(
            self._register_scanned, ds=ds, run_type=run_type, detector=detector,
            runs_info=runs_info, chunks=chunks,
        )  # fmt: skip
        own_real = str(own) if own is not None else None
        seen_files = seen_bytes = 0
        size = [_SCAN_FIRST_BATCH]  # files per batch, from the bytes per file seen so far
        with HashPipeline(helpers, work="scan_batch") as pipeline, _named_errors():
            for batch in _scan_batches(parts, lambda: size[0]):
                batch = self._not_catalogued(batch)
                if not batch:
                    continue
                big = seen_files > 0 and seen_bytes / seen_files >= _SCAN_HELP_BYTES
                job = (FORMATS_BY_SUFFIX, run_regex, own_name, own_real, batch)
                for _, result in pipeline.submit(None, job, help_hash=big):
                    register(result)
                    seen_files += len(result[2])
                    seen_bytes += sum(result[2])
                    per_file = max(seen_bytes / max(seen_files, 1), 1.0)
                    size[0] = max(1, min(_SCAN_BATCH, int(_SCAN_BATCH_BYTES / per_file)))
            for _, result in pipeline.drain():
                register(result)
        return self._added_frame(chunks, dataset, runs_info)

    def _scan_parts(
        self, listing: list[tuple[str, list[str], list[str]]], own: Path | None
    ) -> tuple[list[tuple], list[str]]:
        """The listing as :func:`hashing.scan_batch` parts, and the paths left out because
        their names are not valid UTF-8. A folder's real path and volume are looked up
        once, not per file; only a symlinked file is resolved on its own."""
        parts: list[tuple] = []
        not_text: list[str] = []
        own_name = own.name if own is not None else None
        for folder, names, links in listing:
            prefix = folder if folder.endswith("/") else folder + "/"
            if names:
                real_parent = os.path.realpath(folder).rstrip("/") + "/"
                stored_parent = self._stored_real(real_parent)
                volume = _volume_of(Path(folder))
                if not (_is_text(stored_parent) and _is_text(volume)):
                    not_text += [prefix + n for n in names]
                    names = []
                elif not all(map(str.isascii, names)):
                    bad = {n for n in names if not _is_text(n)}
                    not_text += [prefix + n for n in sorted(bad)]
                    names = [n for n in names if n not in bad]
                if names:
                    parts.append((prefix, stored_parent, real_parent, volume, False, names, None))
            for name in links:
                dot = name.rfind(".")
                if dot < 0 or name[dot:].lower() not in FORMATS_BY_SUFFIX:
                    continue
                if own_name is not None and name.startswith(own_name):
                    continue
                p = Path(prefix + name)
                try:
                    if not p.is_file() or (own is not None and p.resolve() == own):
                        continue
                    stored, volume = self._stored_path(p), _volume_of(p)
                except OSError:
                    continue
                if not (_is_text(name) and _is_text(stored) and _is_text(volume)):
                    not_text.append(prefix + name)
                    continue
                parts.append((prefix, "", "", volume, True, [name], [stored]))
        return parts, not_text

    def _not_catalogued(self, batch: list[tuple]) -> list[tuple]:
        """The batch without the files already in the catalog (a scan run again hashes only
        what is new). One query per batch: the catalogued paths between the batch's first
        and last stored path, and only where that range holds far more than the batch (or
        on a server whose text order is not bytewise), a lookup of each path."""

        def stored_of(part):
            return part[6] if part[6] is not None else [part[1] + n for n in part[5]]

        n = sum(len(part[5]) for part in batch)
        limit = 4 * n + 64
        known = None
        if self._bytewise_paths():
            lo = min(part[6][0] if part[6] else part[1] + part[5][0] for part in batch)
            hi = max(part[6][-1] if part[6] else part[1] + part[5][-1] for part in batch)
            found = self._catalogued_between(lo, hi, limit)
            if len(found) < limit:
                known = found
        if known is None:
            known = self._catalogued([p for part in batch for p in stored_of(part)])
        if not known:
            return batch
        out = []
        for part in batch:
            keep = [k for k, p in enumerate(stored_of(part)) if p not in known]
            if len(keep) == len(part[5]):
                out.append(part)
            elif keep:
                names = [part[5][k] for k in keep]
                stored = [part[6][k] for k in keep] if part[6] is not None else None
                out.append((*part[:5], names, stored))
        return out

    def _register_scanned(
        self,
        result: tuple[list, list, list, list, list, list],
        *,
        ds: int,
        run_type: str,
        detector: str | None,
        runs_info: dict,
        chunks: list,
    ) -> None:
        """One short transaction: create the batch's missing runs, insert its files (the
        columns :func:`hashing.scan_batch` answered), and keep what was inserted for the
        answer, as Arrow columns. Files another writer registered first are left out."""
        import pyarrow as pa

        stored, volumes, sizes, shas, fmts, runs = result
        if not stored:
            return
        now = _now()
        # runs seen in earlier batches of this scan exist: only new run numbers are asked for
        numbers = sorted(set(runs) - {None} - runs_info.keys())
        with self.transaction():
            runs_info.update(self._ensure_runs(ds, numbers, run_type=run_type, detector=detector))
            run_ids = list(map({n: i[0] for n, i in runs_info.items()}.get, runs))
            r = itertools.repeat
            values = list(zip(r(ds), run_ids, stored, volumes, sizes, shas, fmts, r(None),
                              r(None), r(now), r(now), r("{}"), strict=False))  # fmt: skip
            ids = self._insert_file_values(values, uniform=len(set(volumes)) == 1)
        chunk = pa.table({
            "file_id": pa.array(ids, pa.int64()),
            "run_number": pa.array(runs, pa.int64()),
            "path": pa.array(stored, pa.string()),
            "volume": pa.array(volumes, pa.string()),
            "size_bytes": pa.array(sizes, pa.int64()),
            "sha256": pa.array(shas, pa.string()),
            "format": pa.array(fmts, pa.string()),
            "added_utc": pa.array([now] * len(ids), pa.string()),
        })  # fmt: skip
        if chunk["file_id"].null_count:  # registered by another writer meanwhile
            chunk = chunk.filter(chunk["file_id"].is_valid())
        chunks.append(chunk)

    def _added_frame(self, chunks: list, dataset: str, runs_info: dict) -> pd.DataFrame:
        """What :meth:`files` would answer for just these new files, without asking again.

        Built as Arrow columns (a scan may add 100 000 rows: the string columns, the
        absolute paths and the sort in ``files()`` order then run in C, ~4× faster than
        building the pandas frame from Python lists)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if chunks:
            table = pa.concat_tables(chunks)
        else:
            table = pa.table({
                "file_id": pa.array([], pa.int64()), "run_number": pa.array([], pa.int64()),
                **{c: pa.array([], pa.string()) for c in ("path", "volume")},
                "size_bytes": pa.array([], pa.int64()),
                **{c: pa.array([], pa.string()) for c in ("sha256", "format", "added_utc")},
            })  # fmt: skip
        n = table.num_rows
        # run type and detector: looked up by run number (few runs, many files)
        numbers = sorted(runs_info)
        at = pc.index_in(table["run_number"], value_set=pa.array(numbers, pa.int64()))
        kinds = {c: pa.array([runs_info[k][j] for k in numbers], pa.string())
                 for j, c in ((1, "run_type"), (2, "detector"))}  # fmt: skip
        paths = table["path"]
        if self.root is not None:  # relative paths hang from the catalog's folder
            root = str(self.root).rstrip("/") + "/"
            paths = pc.if_else(
                pc.starts_with(paths, "/"), paths, pc.binary_join_element_wise(root, paths, "")
            )
        nothing = pa.nulls(n, pa.string())
        table = pa.table({
            "file_id": table["file_id"],
            "dataset": pa.repeat(pa.scalar(dataset, pa.string()), n),
            "run_number": table["run_number"],
            "run_type": kinds["run_type"].take(at),
            "detector": kinds["detector"].take(at),
            "path": paths,
            "volume": table["volume"],
            "size_bytes": table["size_bytes"],
            "sha256": table["sha256"],
            "format": table["format"],
            "start_utc": nothing,
            "end_utc": nothing,
            "added_utc": table["added_utc"],
            "verified_utc": table["added_utc"],  # registered and verified together
        })  # fmt: skip
        # files()' order: run number (no run first), then path
        has_run = pc.is_valid(table["run_number"])
        order = pc.sort_indices(
            table.append_column("has_run", has_run),
            sort_keys=[
                ("has_run", "ascending"),
                ("run_number", "ascending"),
                ("path", "ascending"),
            ],
        )
        df = table.take(order).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
        df["file_id"] = df["file_id"].astype("int64")
        df["size_bytes"] = df["size_bytes"].astype("int64")
        df["metadata"] = [{} for _ in range(n)]  # scan records no metadata
        for c in ("run_type", "detector"):  # as pandas reads a column of only NULLs
            if n and table[c].null_count == n:
                df[c] = pd.Series([None] * n, index=df.index, dtype=object)
        return self._times(df, ["start_utc", "end_utc", "added_utc", "verified_utc"])

    def _bytewise_paths(self) -> bool:
        """Whether the server orders paths by their bytes, as Python orders ``str`` (so a
        range of paths holds every path between its ends): always in SQLite, and in
        PostgreSQL when the database's collation is ``C``/``POSIX`` (asked once)."""
        if self.backend == "sqlite":
            return True
        if self._bytewise is None:
            with self._lock, self._dbapi().cursor() as cur:
                cur.execute("SELECT datcollate FROM pg_database WHERE datname = current_database()")
                collate = cur.fetchone()[0]
                cur.execute("SHOW server_version_num")
                if int(cur.fetchone()[0]) >= 150000:  # ICU can be the provider from 15 on
                    cur.execute("SELECT datlocprovider FROM pg_database"
                                " WHERE datname = current_database()")  # fmt: skip
                    collate = collate if cur.fetchone()[0] == "c" else "icu"
            self._bytewise = collate in ("C", "POSIX")
        return self._bytewise

    def _catalogued_between(self, lo: str, hi: str, limit: int) -> set[str]:
        """The catalogued paths from ``lo`` to ``hi`` (at most ``limit``): one index range."""
        with self._lock:
            raw = self._dbapi()
            try:
                if self.backend == "postgresql":
                    with raw.cursor() as cur:
                        cur.execute(
                            "SELECT path FROM files WHERE path >= %s AND path <= %s LIMIT %s",
                            (lo, hi, limit),
                        )
                        return {r[0] for r in cur.fetchall()}
                return {r[0] for r in raw.execute(
                    "SELECT path FROM files WHERE path >= ? AND path <= ? LIMIT ?",
                    (lo, hi, limit),
                )}  # fmt: skip
            except Exception as e:  # the driver's own error types (sqlite3 / psycopg2)
                raise CatalogError(f"catalog {self.path}: {_first_line(e)}") from None

    def _catalogued(self, stored: list[str]) -> set[str]:
        """Which of these stored paths are catalogued: one indexed query per batch, through
        the driver (SQLAlchemy's per-parameter work cost more than the lookup)."""
        if not stored:
            return set()
        with self._lock:
            raw = self._dbapi()
            try:
                if self.backend == "postgresql":
                    with raw.cursor() as cur:
                        cur.execute("SELECT path FROM files WHERE path = ANY(%s)", (stored,))
                        return {r[0] for r in cur.fetchall()}
                found: set[str] = set()
                for i in range(0, len(stored), _IN_CHUNK):
                    chunk = stored[i : i + _IN_CHUNK]
                    found.update(r[0] for r in raw.execute(
                        f"SELECT path FROM files WHERE path IN ({', '.join('?' * len(chunk))})",
                        chunk,
                    ))  # fmt: skip
                return found
            except Exception as e:  # the driver's own error types (sqlite3 / psycopg2)
                raise CatalogError(f"catalog {self.path}: {_first_line(e)}") from None

    def _ensure_runs(
        self, ds: int, numbers: list[int], *, run_type: str, detector: str | None
    ) -> dict[int, tuple[int, str, str | None]]:
        """Run number → (id, run type, detector), creating missing runs (concurrent creators
        make each run once). Existing runs cost one query; only missing ones are inserted."""
        out = self._runs_by_number(ds, numbers)
        missing = [n for n in numbers if n not in out]
        if missing:
            if self.backend == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert
            statement = insert(runs_table).on_conflict_do_nothing(
                index_elements=["dataset_id", "run_number"]
            )
            rows = [{"dataset_id": ds, "run_number": n, "detector": detector,
                     "run_type": run_type} for n in missing]  # fmt: skip
            with self._lock:
                try:
                    self._conn.execute(statement, rows)
                except sa.exc.DBAPIError as e:
                    raise self._error(e) from None
            out.update(self._runs_by_number(ds, missing))
        return out

    def _runs_by_number(
        self, ds: int, numbers: list[int]
    ) -> dict[int, tuple[int, str, str | None]]:
        out: dict[int, tuple[int, str, str | None]] = {}
        for i in range(0, len(numbers), _IN_CHUNK):
            f = _Filter()
            f.add("dataset_id = {}", ds)
            f.isin("run_number", numbers[i : i + _IN_CHUNK])
            for n, rid, kind, det in self._q(
                "SELECT run_number, id, run_type, detector FROM runs" + f.sql(), f.params
            ):
                out[n] = (rid, kind, det)
        return out

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
        row = {
            "path": str(path),
            "dataset": dataset,
            "result_key": result_key,
            "size_bytes": size_bytes,
            "sha256": sha256,
            "reason": reason,
            "deleted_utc": utc_text(deleted) if deleted is not None else _now(),
            "metadata": _json(metadata, f"metadata of the deletion of {path}"),
        }
        with self.transaction():
            return self._scalar(
                "INSERT INTO deletions (path, dataset, result_key, size_bytes, sha256, reason,"
                " deleted_utc, metadata) VALUES (:path, :dataset, :result_key, :size_bytes,"
                " :sha256, :reason, :deleted_utc, :metadata) RETURNING id",
                row,
            )

    # ------------------------------------------------------------------ queries
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
        df["n_runs"] = df["n_runs"].astype("int64")
        df["n_files"] = df["n_files"].astype("int64")
        df["size_bytes"] = df["size_bytes"].astype("int64")
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
        run: int | Sequence[int] | None = None,
    ) -> pd.DataFrame:
        """Runs matching all given conditions, as a DataFrame sorted by start time.

        ``start``/``end`` select runs that overlap the interval [start, end) (UTC). Each
        condition may be one value or a list; ``run`` selects run numbers. ``runlist`` (a
        CSV/YAML path or a DataFrame with ``dataset`` and ``run_number``) keeps only the
        listed runs. A ``run_type`` or ``quality`` outside the vocabulary is an error.
        """
        f = _run_filter(
            dataset=dataset, run=run, detector=detector, run_type=run_type, quality=quality,
            start=start, end=end,
        )  # fmt: skip
        df = self._frame(
            "SELECT r.id AS run_id, d.name AS dataset, r.run_number, r.detector, r.run_type,"
            " r.start_utc, r.end_utc, r.quality, r.dq_flags, r.metadata,"
            " (SELECT COUNT(*) FROM files f WHERE f.run_id = r.id) AS n_files,"
            " (SELECT COALESCE(SUM(size_bytes), 0) FROM files f WHERE f.run_id = r.id)"
            " AS size_bytes"
            " FROM runs r JOIN datasets d ON d.id = r.dataset_id"
            + f.sql()
            + " ORDER BY r.start_utc NULLS FIRST, d.name, r.run_number",
            f.params,
        )
        df["n_files"] = df["n_files"].astype("int64")
        df["size_bytes"] = df["size_bytes"].astype("int64")
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
        start: Any = None,
        end: Any = None,
    ) -> pd.DataFrame:
        """Files matching all given conditions; ``path`` is absolute (resolved).

        The conditions on runs (``run``, ``detector``, ``run_type``, ``quality``, ``start``,
        ``end``) mean exactly what they mean in :meth:`runs`.
        """
        f = _run_filter(
            dataset=dataset, run=run, detector=detector, run_type=run_type, quality=quality,
            start=start, end=end, format=format,
        )  # fmt: skip
        return self._files_frame(f)

    def _files_frame(self, f: _Filter) -> pd.DataFrame:
        return self._finish_files_frame(
            self._frame(_FILES_SELECT + f.sql() + _FILES_ORDER[self.backend], f.params)
        )

    def _finish_files_frame(self, df: pd.DataFrame) -> pd.DataFrame:
        if self.root is not None:  # string work: this runs once per row of every answer
            root = str(self.root).rstrip("/") + "/"
            df["path"] = [p if p.startswith("/") else root + p for p in df["path"]]
        df["metadata"] = [{} if m == "{}" else json.loads(m) for m in df["metadata"]]
        df["run_number"] = df["run_number"].astype("Int64")
        df["size_bytes"] = df["size_bytes"].astype("int64")
        return self._times(df, ["start_utc", "end_utc", "added_utc", "verified_utc"])

    def file(self, path: str | os.PathLike) -> dict:
        """One file's record as a dict (``CatalogError`` when it is not catalogued).

        One indexed lookup by path, whatever the size of the catalog.
        """
        f = _Filter()
        f.add("f.path = {}", self._stored_path(Path(path)))
        hit = self._files_frame(f)
        if hit.empty:
            raise CatalogError(f"{path} is not in the catalog {self.path}")
        return hit.iloc[0].to_dict()

    def growth(self, *, dataset: str | None = None, cumulative: bool = True) -> pd.DataFrame:
        """Bytes and files added per UTC day, per dataset and volume (the storage monitor's feed).

        With ``cumulative=True`` a ``cumulative_bytes`` column per (dataset, volume) is added.
        """
        f = _Filter()
        if dataset is not None:
            f.isin("d.name", _values("dataset", dataset, kind=str))
        df = self._frame(
            "SELECT g.day, d.name AS dataset, g.volume, g.bytes_added, g.files_added"
            " FROM growth g JOIN datasets d ON d.id = g.dataset_id"
            + f.sql()
            + " ORDER BY g.day, d.name, g.volume",
            f.params,
        )
        df["bytes_added"] = df["bytes_added"].astype("int64")
        df["files_added"] = df["files_added"].astype("int64")
        df["day"] = pd.to_datetime(df["day"], utc=True)
        if cumulative:
            df["cumulative_bytes"] = df.groupby(["dataset", "volume"])["bytes_added"].cumsum()
        return df

    def deletions(self, *, dataset: str | None = None, since: Any = None) -> pd.DataFrame:
        """Recorded deletions of results (:meth:`record_deletion`), oldest first."""
        f = _Filter()
        if dataset is not None:
            f.isin("dataset", _values("dataset", dataset, kind=str))
        if since is not None:
            f.add("deleted_utc >= {}", utc_text(since))
        columns = [
            *("id", "path", "dataset", "result_key", "size_bytes", "sha256", "reason"),
            *("deleted_utc", "metadata"),
        ]
        if int(self.meta().get("schema_version", "1")) < 2:  # a read-only catalog not migrated
            return pd.DataFrame(columns=columns)
        df = self._frame(
            f"SELECT {', '.join(columns)} FROM deletions" + f.sql() + " ORDER BY deleted_utc, id",
            f.params,
        )
        df["metadata"] = df["metadata"].map(json.loads)
        return self._times(df, ["deleted_utc"])

    def verify(self, *, dataset: str | None = None, record: bool = True) -> pd.DataFrame:
        """Re-measure size and SHA-256 of every (or one dataset's) file.

        Returns one row per file with ``status`` in ``ok``, ``missing``, ``size-mismatch``,
        ``checksum-mismatch`` and the expected/actual values. Files found intact get their
        ``verified_utc`` updated when ``record`` is true (one short transaction at the end;
        the reading and hashing happen outside it).
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
            ok = [int(r["file_id"]) for r in rows if r["status"] == "ok"]
            with self.transaction():
                for i in range(0, len(ok), _IN_CHUNK):
                    f = _Filter()
                    f.isin("id", ok[i : i + _IN_CHUNK])
                    self._x(
                        "UPDATE files SET verified_utc = :now" + f.sql(), {"now": now, **f.params}
                    )
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
        """The database's consistency check: ``"ok"`` for a sound catalog.

        SQLite runs ``PRAGMA integrity_check``; on PostgreSQL (which keeps its own pages
        consistent) the foreign keys between files, runs and datasets are checked.
        """
        if self.backend == "sqlite":
            return self._scalar("PRAGMA integrity_check")
        orphans = self._scalar(
            "SELECT COUNT(*) FROM files f LEFT JOIN runs r ON r.id = f.run_id"
            " WHERE f.run_id IS NOT NULL AND r.id IS NULL"
        )
        return "ok" if orphans == 0 else f"{orphans} file(s) name a missing run"


class _Unreachable(Exception):
    """The catalog server did not answer (the caller may fall back to a snapshot)."""


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return redact(text.splitlines()[0] if text else type(e).__name__)


def _ro_hint(e: BaseException) -> str:
    if "readonly" in str(e):
        return " (a catalog on a read-only volume opens with readonly=True)"
    return ""


def _age_text(age_s: float | None) -> str:
    if age_s is None:
        return "unknown time"
    if age_s < 3600:
        return f"{age_s / 60:.0f} min"
    if age_s < 2 * 86400:
        return f"{age_s / 3600:.1f} h"
    return f"{age_s / 86400:.1f} days"


def _sqlite_engine(conn: sqlite3.Connection) -> sa.Engine:
    """An engine over one already-configured sqlite3 connection (WAL, busy timeout …)."""
    return sa.create_engine(
        "sqlite+pysqlite://", creator=lambda: conn, poolclass=StaticPool, hide_parameters=True
    )
