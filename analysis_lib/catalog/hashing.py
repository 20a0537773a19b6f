"""SHA-256 of many files for :meth:`Catalog.scan`, in this process or in helper processes.

A scan of many small files costs as much in the catalog's own work (listing, inserting,
building the answer) as in hashing. So a big scan prepares and hashes its files in helper
processes — this file run as a script by the same Python, standard library only, nothing of
RareHub imported — while the catalog process lists and registers: the two overlap on
separate cores. :func:`scan_batch` does for one batch everything that needs no database
(each name's format and run number, its stored path, its hash), and answers in columns, so
that the catalog process touches each file as few times as possible.

The helpers speak a private protocol over their stdin/stdout pipes: the parent sends a
pickled ``(work, job)`` — ``work`` names a function of this module, :data:`WORKS` — and the
helper answers with the pickled result; each message is preceded by its length (8 bytes,
big-endian). Each helper has at most one batch outstanding, so neither side can block the
other on a full pipe. A helper that dies or cannot start is replaced by doing the work in
the calling process: a scan never fails for want of helpers.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import re
import select
import signal
import stat
import struct
import subprocess
import sys
from pathlib import Path

_CHUNK_BYTES = 1 << 20
_HEADER = struct.Struct(">Q")

# Opening a file to hash during a scan: never follows a symlink put there since the listing,
# never blocks on a FIFO (the fstat then refuses anything but a regular file).
_SCAN_OPEN = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)


def scan_hash(path: str, *, follow: bool = False) -> tuple[str, int] | None:
    """(SHA-256, bytes hashed) of one regular file, or None when it vanished or is no
    longer a regular file. One ``open``/``fstat``/``read``…/``close`` per file and no Python
    file object: for small files the per-file overhead is the cost."""
    try:
        fd = os.open(path, _SCAN_OPEN & ~os.O_NOFOLLOW if follow else _SCAN_OPEN)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        h = hashlib.sha256()
        n = 0
        while chunk := os.read(fd, _CHUNK_BYTES):
            h.update(chunk)
            n += len(chunk)
        return h.hexdigest(), n
    except OSError:
        return None
    finally:
        os.close(fd)


def hash_batch(items: list[tuple[str, bool]]) -> list[tuple[str, int] | None]:
    """:func:`scan_hash` of each ``(path, follow)``, in order."""
    return [scan_hash(path, follow=follow) for path, follow in items]


class RunNameError(ValueError):
    """A file name the run pattern takes something other than a run number from."""


def scan_batch(job: tuple) -> tuple[list, list, list, list, list, list]:
    """One scan batch: what :meth:`Catalog.scan` registers of it, as columns.

    ``job`` is ``(formats, run_regex, own_name, own_real, parts)``: ``formats`` maps a
    lower-case suffix to a format name (a file with none is skipped), ``run_regex``'s first
    group is the run number, and a name starting with ``own_name`` or the real path
    ``own_real`` (the catalog's own file) is skipped. Each part is ``(folder, stored_folder,
    real_folder, volume, follow, names, stored_names)``: files ``folder + name``, stored as
    ``stored_folder + name`` (or ``stored_names[k]`` when given: a resolved symlink).

    Returns ``(stored paths, volumes, sizes, sha256s, formats, run numbers)`` of the files
    hashed; a file that vanished or is no longer a regular file is left out."""
    formats, run_regex, own_name, own_real, parts = job
    search = re.compile(run_regex).search
    get_format = formats.get
    stored_out: list[str] = []
    volumes: list[str] = []
    sizes: list[int] = []
    shas: list[str] = []
    fmts: list[str] = []
    runs: list[int | None] = []
    for folder, stored_folder, real_folder, volume, follow, names, stored_names in parts:
        for k, name in enumerate(names):
            dot = name.rfind(".")
            fmt = get_format(name[dot:].lower()) if dot >= 0 else None
            if fmt is None or (own_name is not None and name.startswith(own_name)):
                continue
            if own_real is not None and real_folder + name == own_real:
                continue
            found = scan_hash(folder + name, follow=follow)
            if found is None:
                continue
            m = search(name)  # (the name, not the folders above it)
            run = m[1] if m else None  # (None too where an optional group took nothing)
            if run is not None and not run.isdecimal():
                raise RunNameError(
                    f"{folder + name}: the run pattern {run_regex!r} takes {run!r} from this"
                    " name, not a run number (its first group must match digits only)"
                )
            stored_out.append(stored_folder + name if stored_names is None else stored_names[k])
            volumes.append(volume)
            shas.append(found[0])
            sizes.append(found[1])
            fmts.append(fmt)
            runs.append(int(run) if run is not None else None)
    return stored_out, volumes, sizes, shas, fmts, runs


#: What a helper may be asked to do, by name.
WORKS = {"hash_batch": hash_batch, "scan_batch": scan_batch}


def _read_exact(f, n: int) -> bytes | None:
    data = f.read(n)
    return data if len(data) == n else None


def _serve() -> None:
    """The helper's loop: a batch in, its hashes out, until the parent closes stdin.

    Ctrl-C in a terminal reaches the whole process group: the helper ignores it and ends
    when the parent, which handles it, closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    src, dst = sys.stdin.buffer, sys.stdout.buffer
    try:
        while (head := _read_exact(src, _HEADER.size)) is not None:
            body = _read_exact(src, _HEADER.unpack(head)[0])
            if body is None:
                return
            work, job = pickle.loads(body)
            try:
                result = WORKS[work](job)
            except Exception:  # e.g. a run pattern that takes no number from a name: the
                result = None  # parent does this batch itself and raises the error there
            out = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
            dst.write(_HEADER.pack(len(out)) + out)
            dst.flush()
    except BrokenPipeError:  # the parent is gone
        return


class _Helper:
    """One helper process with at most one batch outstanding."""

    def __init__(self) -> None:
        # -I: no PYTHONPATH, user site or working folder on the path; -S: no site (the
        # helper needs only the standard library). An argument list, never a shell.
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        self.batch: object = None

    def send(self, work: str, batch: object) -> bool:
        body = pickle.dumps((work, batch), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.proc.stdin.write(_HEADER.pack(len(body)) + body)
            self.proc.stdin.flush()
        except OSError:
            return False
        self.batch = batch
        return True

    def receive(self) -> object:
        """The outstanding batch's result, or None when the helper died."""
        self.batch = None
        try:
            head = _read_exact(self.proc.stdout, _HEADER.size)
            body = head and _read_exact(self.proc.stdout, _HEADER.unpack(head)[0])
            return pickle.loads(body) if body else None  # our own child's answer
        except (OSError, pickle.UnpicklingError, EOFError):
            return None

    def close(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                pipe.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _answers(work: str, batch: object, result: object) -> bool:
    """Whether a helper's ``result`` is a whole answer to ``batch`` (else it died meanwhile)."""
    if work == "hash_batch":
        return isinstance(result, list) and len(result) == len(batch)
    return (
        isinstance(result, tuple)
        and len(result) == 6
        and all(isinstance(c, list) and len(c) == len(result[0]) for c in result)
    )


class HashPipeline:
    """Hash batches of files in helper processes while the caller works on earlier batches.

    ``submit(key, job)`` queues a batch; it returns the batches that finished meanwhile,
    as ``(key, result)``. ``work`` names what is done with each job (:data:`WORKS`): by
    default :func:`hash_batch` (a job is a list of ``(path, follow)``, the result one hash
    per item), for a scan :func:`scan_batch`. ``drain()`` returns the rest.
    With ``helpers=0`` everything is done in this process at submit.
    Use as a context manager: the helpers end with it, also on errors and Ctrl-C.
    """

    def __init__(self, helpers: int, work: str = "hash_batch") -> None:
        self._work_name, self._work = work, WORKS[work]
        self._helpers: list[_Helper] = []
        for _ in range(helpers):
            try:
                self._helpers.append(_Helper())
            except (OSError, TypeError, ValueError):  # no interpreter to start: work here
                break
        self._idle = list(self._helpers)
        self._pending: list[tuple[object, _Helper]] = []

    def __enter__(self) -> HashPipeline:
        return self

    def __exit__(self, *exc) -> None:
        for h in self._helpers:
            h.close()

    def _collect(self, key: object, helper: _Helper) -> tuple[object, object]:
        self._pending.remove((key, helper))
        batch = helper.batch
        result = helper.receive()
        if result is None or not _answers(self._work_name, batch, result):
            self._helpers.remove(helper)  # the helper died: work here
            helper.close()
            return key, self._work(batch)
        self._idle.append(helper)
        return key, result

    def _ready(self) -> list[tuple[object, object]]:
        """The batches whose answers have arrived, without waiting for the others (between
        messages a helper's pipe buffer is empty, so ``select`` on its descriptor tells)."""
        if not self._pending:
            return []
        by_fd = {helper.proc.stdout.fileno(): (key, helper) for key, helper in self._pending}
        readable, _, _ = select.select(list(by_fd), [], [], 0)
        return [self._collect(*by_fd[fd]) for fd in readable]

    def submit(
        self, key: object, job: object, *, help_hash: bool = False
    ) -> list[tuple[object, object]]:
        """Queue a batch with an idle helper. When every helper is busy: with ``help_hash``
        this process does the batch at once (big files: hashing is all the work, and
        waiting would leave a core idle), else it waits for the oldest batch and hands this
        one to the helper that answered (small files: this process has the registering to
        do). Returns the batches finished meanwhile, in no particular order."""
        done = self._ready()
        if not self._idle and self._pending and not help_hash:
            done.append(self._collect(*self._pending[0]))
        while self._idle:
            helper = self._idle.pop()
            if helper.send(self._work_name, job):
                self._pending.append((key, helper))
                return done
            self._helpers.remove(helper)  # it died: try another, else work here
            helper.close()
        done.append((key, self._work(job)))
        return done

    def drain(self) -> list[tuple[object, object]]:
        """Wait for every batch still with a helper."""
        return [self._collect(*self._pending[0]) for _ in range(len(self._pending))]


if __name__ == "__main__":
    _serve()
