"""Atomic file output: a reader (or a process killed mid-write) never sees half a file.

Every writer in ``analysis_lib`` follows one pattern: write to a hidden temporary file in the
target's own folder (same file system, so the final ``rename`` is atomic on POSIX), move it
into place only when writing finished without error, and delete it otherwise. This module is
that pattern, once:

- :func:`atomic_path` — a context manager yielding the temporary path, for libraries that
  want a file name (``pq.write_table``, ``h5py.File``, ``nbformat.write``);
- :func:`atomic_write_text` — whole text documents;
- :class:`AtomicWriter` — a base class for streaming writers (``ParquetWriter``,
  ``RawWriter``) with ``close()`` / ``abort()`` and a context manager that picks one.

Examples
--------
>>> with atomic_path("out/table.parquet") as tmp:      # doctest: +SKIP
...     pq.write_table(table, tmp)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["AtomicWriter", "atomic_path", "atomic_write_text"]


def _temp_beside(path: Path) -> Path:
    """Create (empty) and return a hidden, unique temporary file next to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def _commit(tmp: Path, path: Path, *, durable: bool) -> None:
    if durable:  # the data reach the disk before the name points at them (power loss)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
    tmp.replace(path)
    if durable:  # … and the new name reaches it too: fsync the folder's entry (POSIX)
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike, *, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds.

    On any exception (including ``KeyboardInterrupt``) the temporary file is removed and the
    exception propagates; an existing ``path`` is left untouched. ``durable=True`` also
    ``fsync``\\ s the data before the rename, and the folder after it.
    """
    path = Path(path)
    tmp = _temp_beside(path)
    try:
        yield tmp
        _commit(tmp, path, durable=durable)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(
    path: str | os.PathLike, text: str, *, encoding: str = "utf-8", durable: bool = False
) -> Path:
    """Write ``text`` to ``path`` atomically; return the path."""
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


class AtomicWriter:
    """Base class for a streaming writer whose file appears only when it closes cleanly.

    Subclasses call ``super().__init__(path)``, write to :attr:`tmp`, and implement
    :meth:`_finish` (flush and close their handle) and optionally :meth:`_discard`
    (close the handle after an error). Used as a context manager, the file is committed on
    a clean exit and discarded on an exception.
    """

    def __init__(self, path: str | os.PathLike, *, durable: bool = False):
        self.path = Path(path)
        self.tmp = _temp_beside(self.path)
        self._durable = durable
        self._done = False

    def _finish(self) -> None:  # pragma: no cover - overridden
        """Flush and close whatever writes :attr:`tmp`."""

    def _discard(self) -> None:
        """Close whatever writes :attr:`tmp` after an error (default: nothing to close)."""

    def close(self) -> Path:
        """Finish the file and move it into place; return its path."""
        if self._done:
            raise ValueError(f"{self.path}: writer already closed")
        try:
            self._finish()
            _commit(self.tmp, self.path, durable=self._durable)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise
        finally:
            self._done = True
        return self.path

    def abort(self) -> None:
        """Discard everything written so far; the target is left as it was."""
        if self._done:
            return
        self._done = True
        try:
            self._discard()
        finally:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
