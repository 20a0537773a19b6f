"""What crosses from users to the hub's root side of Slurm, checked: job ids, command words,
and the job's output file (which the user controls).

- :func:`check_job_id`: a job id is ASCII digits, or ``N_M`` for an array task — wherever one
  enters (``sbatch``'s answer, the saved state, the database at reconcile).
- :func:`split_command`: an admin's ``exec_prefix``/command split into words once, at
  configuration time; ``{username}``/``{job_id}`` are whole words, so each value is exactly one
  argument of ``create_subprocess_exec`` — there is no shell between the hub and Slurm.
- :func:`read_user_tail`: the job's output file in the user's home, read without following
  links and without blocking, only if it is a regular file the user owns, at most 64 KiB.
"""

from __future__ import annotations

import errno
import os
import re
import shlex
import stat
from pathlib import Path

#: A Slurm job id: digits, or ``N_M`` for an array job's task.
JOB_ID = re.compile(r"[0-9]{1,12}(?:_[0-9]{1,9})?")
#: Placeholders a Slurm command may hold, each as one whole word.
PLACEHOLDERS = ("{username}", "{job_id}")
#: The most of a job's output file the pending page reads, and how long it waits.
TAIL_MAX_BYTES = 64 * 1024
TAIL_TIMEOUT_S = 2.0


def check_job_id(text: str) -> str:
    """``text`` if it is a Slurm job id (``123`` or ``123_4``, ASCII digits); else ValueError."""
    if not isinstance(text, str) or not JOB_ID.fullmatch(text):
        raise ValueError(f"{text!r} is not a Slurm job id (digits, or N_M for an array task)")
    return text


def split_command(text: str, what: str = "command") -> list[str]:
    """Split an admin's command (``exec_prefix``, ``batch_submit_cmd`` …) into words, once.

    ``{username}`` and ``{job_id}`` may appear only as whole words (each becomes exactly one
    argument); any other brace is refused, as is an unbalanced quote.
    """
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise ValueError(f"{what} {text!r}: {e}") from None
    for w in words:
        if w not in PLACEHOLDERS and ("{" in w or "}" in w):
            raise ValueError(
                f"{what} {text!r}: {w!r} — placeholders must be whole words: "
                + " or ".join(PLACEHOLDERS)
            )
    return words


class UnsafeFile(OSError):
    """A user-controlled path the hub refuses to read (link, FIFO, someone else's file)."""


def read_user_tail(home: str, path: str, uid: int, max_bytes: int = TAIL_MAX_BYTES) -> str:
    """The last ``max_bytes`` of ``path`` (``{homedir}`` = ``home``) if it is a regular file
    owned by ``uid``; blocking: run it in a thread.

    Below the home every component is opened with ``O_NOFOLLOW`` (a symlink anywhere there
    raises, no race between check and open), the file with ``O_NONBLOCK`` (a FIFO cannot
    block the open) and then checked with ``fstat``: regular, owned by ``uid``.
    """
    if path.startswith("{homedir}"):
        base, rest = home, path[len("{homedir}") :].lstrip("/")
    else:
        base, rest = str(Path(path).parent), Path(path).name
    parts = [p for p in rest.split("/") if p]
    shown = f"{base.rstrip('/')}/{'/'.join(parts)}"
    if not parts or any(p in (".", "..") for p in parts):
        raise UnsafeFile(f"{path!r}: not a file path below {base}")
    nofollow = os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            try:
                nfd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | nofollow, dir_fd=fd)
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR):  # a link, or a file
                    raise UnsafeFile(f"{base}/{part} is not a plain folder") from None
                raise
            os.close(fd)
            fd = nfd
        try:
            ffd = os.open(
                parts[-1], os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | nofollow, dir_fd=fd
            )
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise UnsafeFile(f"{shown} is a symbolic link") from None
            raise
    finally:
        os.close(fd)
    try:
        st = os.fstat(ffd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFile(f"{shown} is not a regular file ({stat.filemode(st.st_mode)})")
        if st.st_uid != uid:
            raise UnsafeFile(f"{shown} is owned by uid {st.st_uid}, not the user (uid {uid})")
        start = max(0, st.st_size - max_bytes)
        data = os.pread(ffd, max_bytes, start)
    finally:
        os.close(ffd)
    return data.decode(errors="replace")
