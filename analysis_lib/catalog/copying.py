"""Copy a whole catalog between backends: ``migrate`` to a server, ``snapshot`` to a file.

Rows are copied with their ids (so every foreign key stays true) in parents-first order,
in one transaction on the target, streamed in chunks (constant memory for millions of
files). Afterwards the files' ``(id, path, size_bytes, sha256)`` are digested on both sides:
the copy is accepted only when the digests agree — checksums intact, nothing lost.
"""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import sqlalchemy as sa

from .connect import redact
from .schema import TABLES, files
from .store import Catalog, CatalogError

_CHUNK = 5000


def _target_is_empty(dst: Catalog) -> bool:
    return all(
        dst._scalar(f"SELECT COUNT(*) FROM {t.name}") == 0 for t in TABLES if t.name != "meta"
    )


def _tables_of(cat: Catalog) -> set[str]:
    with cat._lock:
        return set(sa.inspect(cat._conn).get_table_names())


def _path_for(src: Catalog, dst: Catalog, stored: str, *, relative: bool) -> str:
    """A stored path of ``src`` as ``dst`` stores it: absolute, or relative to dst's folder."""
    p = str(src._full_path(stored))
    if relative and dst.root is not None:
        root = str(dst.root)
        if p.startswith(root.rstrip("/") + "/"):
            return PurePosixPath(p).relative_to(root).as_posix()
    return p


def copy_catalog(src: Catalog, dst: Catalog, *, relative_paths: bool = True) -> dict:
    """Copy every row of ``src`` into the empty catalog ``dst``; return counts and digests.

    Relative paths of a SQLite source become absolute (``relative_paths=True`` makes them
    relative again when ``dst`` is a SQLite file whose folder holds them).
    """
    if dst.readonly:
        raise CatalogError(f"cannot copy into {dst.path}: it is open read-only")
    if not _target_is_empty(dst):
        raise CatalogError(
            f"cannot copy into {dst.path}: it already holds a catalog (copy into an empty"
            " database; drop and re-create it to start over)"
        )
    present = _tables_of(src)
    counts = {}
    with dst.transaction():
        for table in TABLES:
            if table.name == "meta" or table.name not in present:
                continue
            n = 0
            for rows in _chunks(src, table):
                if table is files:
                    for r in rows:
                        r["path"] = _path_for(src, dst, r["path"], relative=relative_paths)
                if dst.backend == "postgresql":
                    _copy_into_postgresql(dst, table, rows)
                else:
                    with dst._lock:
                        dst._conn.execute(table.insert(), rows)
                n += len(rows)
            counts[table.name] = n
        if dst.backend == "postgresql":
            for table in TABLES:
                if "id" in table.c:
                    dst._x(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"
                        f" COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table.name}"
                    )
    src_digest, dst_digest = files_digest(src), files_digest(dst)
    if src_digest != dst_digest:  # pragma: no cover - a bug or a concurrent writer
        raise CatalogError(
            f"the copy in {dst.path} does not match {src.path} (files digest {dst_digest}"
            f" != {src_digest}); a writer changed the source meanwhile? copy again"
        )
    return {"counts": counts, "files_sha256_digest": src_digest}


def _chunks(cat: Catalog, table: sa.Table, columns=None):
    """The rows of ``table`` as lists of dicts, ``_CHUNK`` at a time, in key order.

    Tables with an ``id`` are read by key ranges (``id > last … LIMIT``): constant memory on
    both backends without server-side cursors; the small ``growth`` table is read at once.
    """
    columns = list(columns if columns is not None else table.c)
    if "id" not in table.c:
        with cat._lock:
            rows = cat._conn.execute(sa.select(*columns).order_by(*table.primary_key.columns))
            rows = [dict(r) for r in rows.mappings()]
        if rows:
            yield rows
        return
    last = None
    while True:
        query = sa.select(*columns).order_by(table.c.id).limit(_CHUNK)
        if last is not None:
            query = query.where(table.c.id > last)
        with cat._lock:
            rows = [dict(r) for r in cat._conn.execute(query).mappings()]
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]


def _copy_text(value) -> str:
    """One field in PostgreSQL's COPY text format (``\\N`` is NULL)."""
    if value is None:
        return "\\N"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_into_postgresql(dst: Catalog, table: sa.Table, rows: list[dict]) -> None:
    """Rows into a server table with ``COPY … FROM STDIN`` (about 10× faster than INSERTs),
    inside the transaction the copy runs in."""
    columns = list(rows[0])
    buffer = io.StringIO()
    for r in rows:
        buffer.write("\t".join(_copy_text(r[c]) for c in columns) + "\n")
    buffer.seek(0)
    with dst._lock:
        cursor = dst._dbapi().cursor()
        try:
            cursor.copy_expert(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN", buffer)
        except Exception as e:
            raise CatalogError(f"copying {table.name} into {dst.path}: {e}") from None
        finally:
            cursor.close()


def files_digest(cat: Catalog) -> str:
    """SHA-256 over every file's (id, absolute path, size, sha256), in id order."""
    h = hashlib.sha256()
    columns = (files.c.id, files.c.path, files.c.size_bytes, files.c.sha256)
    for rows in _chunks(cat, files, columns):
        for r in rows:
            h.update(
                f"{r['id']}\t{cat._full_path(r['path'])}\t{r['size_bytes']}\t{r['sha256']}\n".encode()
            )
    return h.hexdigest()


def migrate(src: Catalog, target: str | os.PathLike) -> dict:
    """Copy the catalog ``src`` into ``target`` (an empty PostgreSQL database or a new file)."""
    with Catalog.open(target, create=True) as dst:
        return copy_catalog(src, dst, relative_paths=True)


def snapshot(src: Catalog, to: str | os.PathLike) -> dict:
    """Write a read-only, timestamped SQLite copy of ``src`` at ``to`` (replaced atomically).

    The snapshot is a plain rollback-journal SQLite file (no ``-wal``/``-shm`` needed, so it
    reads from read-only media), mode 0444, its paths absolute; ``meta`` records
    ``snapshot_of`` (the source, password hidden) and ``snapshot_utc``.
    """
    to = Path(to).absolute()
    if not to.parent.is_dir():
        raise CatalogError(f"cannot write the snapshot {to}: no folder {to.parent}")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{to.name}.", suffix=".tmp", dir=to.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        taken = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with Catalog.open(tmp, create=True) as dst:
            report = copy_catalog(src, dst, relative_paths=False)
            with dst.transaction():
                for key, value in (("snapshot_of", redact(str(src.path))), ("snapshot_utc", taken)):
                    dst._x(
                        "INSERT INTO meta (key, value) VALUES (:k, :v)"
                        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        {"k": key, "v": value},
                    )
        con = sqlite3.connect(tmp, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=DELETE")  # readable without -shm, on any medium
        finally:
            con.close()
        tmp.chmod(0o444)
        tmp.replace(to)
    finally:
        for leftover in tmp.parent.glob(tmp.name + "*"):
            leftover.unlink()
    report["snapshot_utc"] = taken
    return report
