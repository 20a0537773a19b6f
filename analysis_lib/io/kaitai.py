"""Any Kaitai Struct ``.ksy`` through the official compiler, with numpy where the bytes are.

:func:`compile_ksy` turns a ``.ksy`` (and the ``.ksy`` files it imports) into Python with the
official compiler — npm ``kaitai-struct-compiler`` 0.11.0, run with Node.js through
``kaitai_compiler/compile.js`` (an argument vector, no shell) — and loads the generated
parser, which reads with the ``kaitaistruct`` runtime (PyPI). The whole Kaitai language
works: ``switch-on``, ``if``, ``instances``, ``enums``, variable-length records, imports.

Generated parsers are cached by a SHA-256 of the compiler version and the bytes of every
``.ksy`` involved: first among the parsers shipped with RareHub (``formats/compiled/``, so
the lab image reads the bundled formats without Node.js), then in the user's cache
(``$RAREHUB_KAITAI_CACHE``, default ``~/.cache/rarehub/kaitai``); only a miss runs the
compiler.

**Disk speed.** The stock generated code reads an array of primitives
(``type: u2`` with ``repeat: expr`` or ``repeat: eos``) one value at a time, each a Python
int (~5 MB/s). :class:`KsyFormat` recognises those loops in the generated source and
replaces each with one :func:`read_array` call: a numpy array of the same values (a
zero-copy view when the stream is a :class:`ViewIO` over a buffer). A field is replaced only
if the parser uses it nowhere else (an expression on a numpy scalar could overflow where a
Python int does not), so every value equals the stock parser's; ``fast=False`` gives the
stock parser.

Compiler errors raise :class:`KsyError` naming the ``.ksy`` file, the line and column (from
the YAML path the compiler reports) and the compiler's message.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import yaml

from .binary import BinaryDataError, FormatError

KSC_VERSION = "0.11.0"
DRIVER_DIR = Path(__file__).with_name("kaitai_compiler")
BUNDLED_COMPILED = Path(__file__).with_name("formats") / "compiled"
_COMPILE_TIMEOUT_S = 120


class KsyError(FormatError):
    """A ``.ksy`` the compiler refuses (message: file:line:column, the compiler's words)."""


class KsyDataError(BinaryDataError):
    """A data file that does not match its ``.ksy`` (message: file, .ksy, byte offset)."""


class CompilerNotFound(KsyError):
    """Node.js or the pinned compiler is not installed where RareHub looks."""


# ------------------------------------------------------------------ finding the compiler
def compiler_modules() -> Path | None:
    """The ``node_modules`` folder holding the pinned compiler, or None.

    ``$RAREHUB_KAITAI_COMPILER`` (a folder with ``node_modules/``) if set, else
    ``<environment>/share/rarehub/kaitai-compiler`` (where ``./dev`` installs it from
    ``kaitai_compiler/package-lock.json``).
    """
    candidates = []
    if os.environ.get("RAREHUB_KAITAI_COMPILER"):
        candidates.append(Path(os.environ["RAREHUB_KAITAI_COMPILER"]))
    candidates.append(Path(sys.prefix) / "share" / "rarehub" / "kaitai-compiler")
    for c in candidates:
        if (c / "node_modules" / "kaitai-struct-compiler" / "package.json").is_file():
            return c / "node_modules"
    return None


def _node() -> str:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        raise CompilerNotFound(
            "compiling a .ksy needs Node.js ('node' on PATH) and the Kaitai Struct compiler;"
            " `./dev test` and `./dev start` install both (npm kaitai-struct-compiler"
            f" {KSC_VERSION}, pinned by analysis_lib/io/kaitai_compiler/package-lock.json)"
        )
    return node


# ------------------------------------------------------------------ imports and cache keys
def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise KsyError(f"{where}: not valid YAML: {getattr(e, 'problem', e)}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise KsyError(f"{path}: cannot read the .ksy: {e}") from None


def _import_closure(main: Path, import_dirs: Sequence[Path]) -> list[Path]:
    """``main`` and every ``.ksy`` it imports (transitively), resolved as compile.js does."""
    seen: list[Path] = []

    def visit(path: Path, importer: Path | None):
        path = path.resolve()
        if path in seen:
            return
        seen.append(path)
        doc = _load_yaml(path)
        imports = (
            ((doc or {}).get("meta") or {}).get("imports") or [] if isinstance(doc, dict) else []
        )
        for i, name in enumerate(imports):
            name = str(name)
            bases = list(import_dirs) if name.startswith("/") else [main.parent]
            rel = name.lstrip("/")
            for base in bases:
                cand = Path(base) / f"{rel}.ksy"
                if cand.is_file():
                    visit(cand, path)
                    break
            else:
                line = _yaml_line(path, ["meta", "imports", str(i)])
                raise KsyError(
                    f"{path}{line}: meta/imports/{i}: imported {name!r} not found (looked for"
                    f" {rel}.ksy in {', '.join(str(b) for b in bases)})"
                )

    visit(main, None)
    return seen


def cache_key(main: Path, closure: Sequence[Path]) -> str:
    """SHA-256 of the compiler version and the name and bytes of every ``.ksy`` involved."""
    h = hashlib.sha256(f"kaitai-struct-compiler {KSC_VERSION}\n".encode())
    for p in closure:
        rel = p.name if p == closure[0] else os.path.relpath(p, main.parent)
        h.update(f"{rel}\n".encode())
        data = p.read_bytes()
        h.update(f"{len(data)}\n".encode())
        h.update(data)
    return h.hexdigest()


def user_cache_dir() -> Path:
    env = os.environ.get("RAREHUB_KAITAI_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rarehub" / "kaitai"


# ------------------------------------------------------------------ error locations
def _ksy_id(path: Path) -> str | None:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        return str(doc["meta"]["id"])
    except Exception:
        return None


def _yaml_line(path: Path, keys: Sequence[str]) -> str:
    """``:line:column`` of a YAML path (``["seq", "0", "type"]``) in ``path``, or ''."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except Exception:
        return ""
    best = node
    for k in keys:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for kn, vn in node.value:
                if kn.value == k:
                    nxt = vn
                    break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and k.isdigit() and int(k) < len(node.value):
            node = node.value[int(k)]
        else:
            node = None
        if node is None:
            break
        best = node
    if best is None:
        return ""
    return f":{best.start_mark.line + 1}:{best.start_mark.column + 1}"


_YAML_PATH = re.compile(r"(/[A-Za-z0-9_\-/]*?):\s*\n?\s*error:\s*(.*)", re.S)


def _compiler_error(raw: str, file: Path, closure: Sequence[Path]) -> KsyError:
    """The compiler's message, located: ``file.ksy:line:col: /yaml/path: message``."""
    text = raw.strip()
    # "(main): /seq/0/type:\n\terror: unable to find type 'foo'" or "(scdms): /types/…"
    m = re.match(r"(?:\((?P<o1>[^)]*)\)|(?P<o2>[A-Za-z0-9_]+)):\s*(?=/)", text)
    owner_file = file
    if m:
        owner = m.group("o1") or m.group("o2")
        text = text[m.end() :]
        for p in closure:
            if owner != "main" and owner in (p.stem, _ksy_id(p)):
                owner_file = p
    m2 = _YAML_PATH.match(text)
    if m2:
        ypath, msg = m2.group(1), " ".join(m2.group(2).split())
        loc = _yaml_line(owner_file, [k for k in ypath.split("/") if k])
        return KsyError(f"{owner_file}{loc}: {ypath}: {msg}")
    return KsyError(f"{owner_file}: {' '.join(text.split())}")


# ------------------------------------------------------------------ compiling
def _run_compiler(
    main: Path, closure: Sequence[Path], out: Path, import_dirs: Sequence[Path]
) -> list[str]:
    modules = compiler_modules()
    if modules is None:
        raise CompilerNotFound(
            f"{main}: compiling needs the Kaitai Struct compiler {KSC_VERSION}, which is not"
            " installed here (no RAREHUB_KAITAI_COMPILER, nothing in"
            f" {Path(sys.prefix) / 'share/rarehub/kaitai-compiler'}); `./dev test` or"
            f" `./dev start` installs it, or `npm ci --prefix DIR` in {DRIVER_DIR} and"
            " RAREHUB_KAITAI_COMPILER=DIR"
        )
    env = {
        "NODE_PATH": str(modules),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    cmd = [_node(), str(DRIVER_DIR / "compile.js"), str(main), str(out)]
    cmd += [str(Path(d).resolve()) for d in import_dirs]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=_COMPILE_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise KsyError(f"{main}: the compiler ran longer than {_COMPILE_TIMEOUT_S} s") from None
    try:
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise KsyError(
            f"{main}: the compiler failed (status {proc.returncode}): {proc.stderr.strip()[-2000:]}"
        ) from None
    if "error" in summary:
        failed = Path(summary.get("file") or main)
        raise _compiler_error(summary["error"], failed if failed.exists() else main, closure)
    return list(summary["files"])


def run_compiler(
    path: str | os.PathLike, out_dir: str | os.PathLike, *, import_dirs: Sequence = ()
) -> list[str]:
    """Run the official compiler on ``path`` (no cache): write the ``.py`` files into
    ``out_dir`` and return their names. Raises :class:`KsyError` on a compiler error."""
    main = Path(path).resolve()
    dirs = [Path(d) for d in import_dirs]
    return _run_compiler(main, _import_closure(main, dirs), Path(out_dir), dirs)


def _compiled_dir(
    main: Path, key: str, closure: Sequence[Path], import_dirs: Sequence[Path]
) -> Path:
    bundled = BUNDLED_COMPILED / key
    if (bundled / "files.json").is_file():
        return bundled
    cache = user_cache_dir() / key
    if (cache / "files.json").is_file():
        return cache
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
    except OSError:  # no writable home (a locked-down container): a private temp folder
        cache = Path(tempfile.gettempdir()) / f"rarehub-kaitai-{os.getuid()}" / key
        if (cache / "files.json").is_file():
            return cache
        cache.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=cache.parent))
    try:
        files = _run_compiler(main, closure, tmp, import_dirs)
        (tmp / "files.json").write_text(
            json.dumps({"files": files, "ksy": [p.name for p in closure], "compiler": KSC_VERSION})
        )
        try:
            tmp.rename(cache)
        except OSError:  # another process won the race: theirs is the same
            if not (cache / "files.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return cache


# ------------------------------------------------------------------ the numpy fast path
_NP_OF = {
    "u1": "u1",
    "s1": "i1",
    "u2": "u2",
    "s2": "i2",
    "u4": "u4",
    "s4": "i4",
    "u8": "u8",
    "s8": "i8",
    "f4": "f4",
    "f8": "f8",
}
_REPEAT_EXPR = re.compile(
    r"^(?P<ind>[ \t]+)self\.(?P<name>\w+) = \[\]\n"
    r"(?P=ind)for i in range\((?P<count>.+)\):\n"
    r"(?P=ind)[ \t]+self\.(?P=name)\.append\(self\._io\.read_"
    r"(?P<t>[us][1248]|f[48])(?P<e>le|be)?\(\)\)\n",
    re.M,
)
_REPEAT_EOS = re.compile(
    r"^(?P<ind>[ \t]+)self\.(?P<name>\w+) = \[\]\n"
    r"(?P=ind)i = 0\n"
    r"(?P=ind)while not self\._io\.is_eof\(\):\n"
    r"(?P=ind)[ \t]+self\.(?P=name)\.append\(self\._io\.read_"
    r"(?P<t>[us][1248]|f[48])(?P<e>le|be)?\(\)\)\n"
    r"(?P=ind)[ \t]+i \+= 1\n",
    re.M,
)


_PRIM_LINE = re.compile(
    r"^(?P<ind>[ \t]+)self\.(?P<name>\w+) = self\._io\.read_(?P<t>[us]1|[usf][248](?:le|be))\(\)$"
)
_STRUCT_CODE = {"u1": "B", "s1": "b", "u2": "H", "s2": "h", "u4": "I", "s4": "i", "u8": "Q"}
_STRUCT_CODE.update({"s8": "q", "f4": "f", "f8": "d"})


def _merge_primitive_runs(source: str) -> tuple[str, int]:
    """Merge runs of ≥ 2 consecutive ``self.x = self._io.read_<prim>()`` lines of one
    indentation and byte order into one ``read_struct`` call (same values, in order)."""
    lines = source.split("\n")
    out: list[str] = []
    merged = 0
    i = 0
    while i < len(lines):
        m = _PRIM_LINE.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        run = [m]
        order = m.group("t")[2:] or None
        j = i + 1
        while j < len(lines):
            n = _PRIM_LINE.match(lines[j])
            if not n or n.group("ind") != m.group("ind"):
                break
            o = n.group("t")[2:] or None
            if order and o and o != order:
                break
            order = order or o
            run.append(n)
            j += 1
        if len(run) < 2:
            out.append(lines[i])
            i += 1
            continue
        fmt = ("<" if order != "be" else ">") + "".join(_STRUCT_CODE[r.group("t")[:2]] for r in run)
        names = ", ".join(f"self.{r.group('name')}" for r in run)
        out.append(f"{m.group('ind')}({names},) = _rarehub_read_struct(self._io, {fmt!r})")
        merged += 1
        i = j
    return "\n".join(out), merged


def _np_dtype(t: str, e: str | None) -> str:
    return ("<" if e == "le" else ">" if e == "be" else "|") + _NP_OF[t]


def patch_source(source: str) -> tuple[str, list[str]]:
    """Replace primitive-array loops with :func:`read_array` calls; return (source, fields).

    A loop is replaced only if the field it fills is used nowhere else in the parser but
    ``len(self.<field>)`` (so no expression ever sees a numpy scalar instead of an int).
    """
    patched: list[str] = []
    candidates = [(m, "expr") for m in _REPEAT_EXPR.finditer(source)]
    candidates += [(m, "eos") for m in _REPEAT_EOS.finditer(source)]
    safe = []
    for m, kind in candidates:
        name = m.group("name")
        uses = len(re.findall(rf"\.{re.escape(name)}\b", source))
        own = 2 + len(re.findall(rf"len\(self\.{re.escape(name)}\)", source))
        # own: "self.x = []" and "self.x.append(" in each loop filling it; all loops of the
        # same name count (a switch may fill it in several branches)
        loops = sum(1 for c, _ in candidates if c.group("name") == name)
        if uses == own + 2 * (loops - 1):
            safe.append((m, kind))
    for m, kind in sorted(safe, key=lambda x: -x[0].start()):
        ind, name = m.group("ind"), m.group("name")
        dt = _np_dtype(m.group("t"), m.group("e"))
        if kind == "expr":
            new = f"{ind}self.{name} = _rarehub_read_array(self._io, {dt!r}, {m.group('count')})\n"
        else:
            new = f"{ind}self.{name} = _rarehub_read_array_eos(self._io, {dt!r})\n"
        source = source[: m.start()] + new + source[m.end() :]
        patched.append(name)
    # Runs of consecutive primitive fields: one struct.unpack_from for the run
    source, merged = _merge_primitive_runs(source)
    # KaitaiStruct.__init__ only sets _io: do that without a super() call per object
    source = re.sub(
        r"^(?P<ind>[ \t]+)super\([\w.]+, self\)\.__init__\(_io\)$",
        r"\g<ind>self._io = _io",
        source,
        flags=re.M,
    )
    if patched or merged:
        source = source.replace(
            "import kaitaistruct\n",
            "import kaitaistruct\nfrom analysis_lib.io.kaitai import read_array as"
            " _rarehub_read_array, read_array_eos as _rarehub_read_array_eos,"
            " read_struct as _rarehub_read_struct\n",
            1,
        )
    return source, sorted(set(patched))


class ViewIO(io.RawIOBase):
    """A read-only, seekable stream over a buffer (no copy of it is made).

    Arrays that :func:`read_array` reads from it are zero-copy views into the buffer.
    """

    def __init__(self, buffer):
        super().__init__()
        self.rarehub_view = memoryview(buffer).cast("B")
        self.rarehub_offsets: dict[int, int] | None = None  # id(array) → byte offset
        self._len = len(self.rarehub_view)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._len}
        pos = base[whence] + offset
        if pos < 0:
            raise ValueError(f"negative seek position {pos}")
        self._pos = pos
        return pos

    def read(self, n: int = -1) -> bytes:
        view = self.rarehub_view
        end = self._len if n is None or n < 0 else min(self._len, self._pos + n)
        out = bytes(view[self._pos : end]) if end > self._pos else b""
        self._pos = max(self._pos, end)
        return out

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def _stream_class():
    """:class:`BufferStream`, built on first use (kaitaistruct is imported lazily)."""
    global _BUFFER_STREAM
    if _BUFFER_STREAM is not None:
        return _BUFFER_STREAM
    import struct

    from kaitaistruct import EndOfStreamError, KaitaiStream

    def short(n, have):
        have = max(have, 0)
        return EndOfStreamError(f"requested {n} bytes, but only {have} bytes available", n, have)

    def reader(fmt: str, n: int):
        unpack_from = struct.Struct(fmt).unpack_from

        def read(self):
            if self.bits_left:
                self.align_to_byte()
            io = self._io
            p = io._pos
            if p + n > io._len:
                raise short(n, io._len - p)
            io._pos = p + n
            return unpack_from(io.rarehub_view, p)[0]

        return read

    methods = {}
    for name, fmt, n in [
        ("u1", "B", 1),
        ("s1", "b", 1),
        *[
            (f"{k}{w}{e}", ("<" if e == "le" else ">") + c, w)
            for k, codes in (("u", "HIQ"), ("s", "hiq"), ("f", "_fd"))
            for w, c in zip((2, 4, 8), codes, strict=True)
            if c != "_"
            for e in ("le", "be")
        ],
    ]:
        methods[f"read_{name}"] = reader(fmt, n)

    def read_bytes(self, n):
        if self.bits_left:
            self.align_to_byte()
        if n < 0:
            return KaitaiStream.read_bytes(self, n)  # the runtime's own error
        io = self._io
        p = io._pos
        if p + n > io._len:
            raise short(n, io._len - p)
        io._pos = p + n
        return bytes(io.rarehub_view[p : p + n])

    def pos(self):
        return self._io._pos

    def size(self):
        return self._io._len

    methods.update(read_bytes=read_bytes, pos=pos, size=size)
    doc = (
        "A KaitaiStream over an in-memory buffer (a :class:`ViewIO`): the same values and"
        " errors as the runtime's, each primitive read with one ``struct.unpack_from``."
    )
    _BUFFER_STREAM = type("BufferStream", (KaitaiStream,), {"__doc__": doc, **methods})
    return _BUFFER_STREAM


_BUFFER_STREAM = None


def buffer_stream(buffer, offset: int = 0):
    """A fast Kaitai stream over ``buffer`` (bytes-like), positioned at ``offset``."""
    stream = _stream_class()(ViewIO(buffer))
    if offset:
        stream.seek(offset)
    return stream


_DTYPES: dict[str, np.dtype] = {}
_STRUCTS: dict = {}


def read_struct(kio, fmt: str) -> tuple:
    """Consecutive primitives (a ``struct`` format) read at once; the runtime's
    EndOfStreamError if the stream is short."""
    st = _STRUCTS.get(fmt)
    if st is None:
        import struct

        st = _STRUCTS.setdefault(fmt, struct.Struct(fmt))
    src = kio._io
    if getattr(src, "rarehub_view", None) is None:
        return st.unpack(kio.read_bytes(st.size))
    if kio.bits_left:
        kio.align_to_byte()
    pos = src._pos
    if pos + st.size > src._len:
        from kaitaistruct import EndOfStreamError

        have = max(src._len - pos, 0)
        raise EndOfStreamError(
            f"requested {st.size} bytes, but only {have} bytes available", st.size, have
        )
    src._pos = pos + st.size
    return st.unpack_from(src.rarehub_view, pos)


def read_array(kio, dtype: str, count) -> np.ndarray:
    """``count`` values of ``dtype`` from a Kaitai stream as one numpy array.

    Same values as the stock loop; a short stream raises the runtime's EndOfStreamError
    naming the bytes requested and available. Over a :class:`ViewIO` the array is a
    zero-copy view into the buffer.
    """
    n = int(count)
    dt = _DTYPES.get(dtype)
    if dt is None:
        dt = _DTYPES.setdefault(dtype, np.dtype(dtype))
    if n <= 0:
        return np.empty(0, dt)
    nbytes = n * dt.itemsize
    src = kio._io
    view = getattr(src, "rarehub_view", None)
    if view is None:
        return np.frombuffer(kio.read_bytes(nbytes), dt)
    if kio.bits_left:
        kio.align_to_byte()  # as read_bytes does
    pos = src._pos
    if pos + nbytes > src._len:
        from kaitaistruct import EndOfStreamError

        have = max(src._len - pos, 0)
        raise EndOfStreamError(
            f"requested {nbytes} bytes, but only {have} bytes available", nbytes, have
        )
    src._pos = pos + nbytes
    arr = np.frombuffer(view, dt, n, pos)
    if src.rarehub_offsets is not None:  # a reader that wants to know where arrays lie
        src.rarehub_offsets[id(arr)] = pos
    return arr


def read_array_eos(kio, dtype: str) -> np.ndarray:
    """Values of ``dtype`` until the end of the stream (``repeat: eos``), as numpy."""
    dt = np.dtype(dtype)
    rest = kio.size() - kio.pos()
    n, extra = divmod(rest, dt.itemsize)
    arr = read_array(kio, dtype, n)
    if extra:  # the stock loop fails on the last, partial value
        kio.read_bytes(dt.itemsize)
    return arr


# ------------------------------------------------------------------ loading
def _class_name(ksy_id: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in ksy_id.split("_"))


@dataclass
class KsyFormat:
    """A compiled ``.ksy``: the generated parser module(s), stock or numpy-patched.

    ``root`` is the top-level class (``meta/id`` in CamelCase); ``module(stem)`` gives a
    generated module by its ``.ksy`` id (imports included); ``fast_fields`` lists the
    array fields read by numpy.
    """

    path: Path
    key: str
    directory: Path
    fast: bool
    modules: dict[str, types.ModuleType] = field(repr=False)
    root: type = field(repr=False)
    fast_fields: list[str]

    def module(self, stem: str) -> types.ModuleType:
        return self.modules[stem]

    def parse(self, source: str | os.PathLike | bytes | bytearray | memoryview | BinaryIO):
        """Parse a file path, a bytes-like object or an open binary file; return the root.

        The fast parser reads from memory through :func:`buffer_stream` (a path is
        memory-mapped); the stock one (``fast=False``) through the runtime's own
        ``KaitaiStream`` (a path is read whole). Data that do not match the description
        raise :class:`KsyDataError` naming the file, the ``.ksy`` and the byte offset the
        parser had reached (the runtime's exception is its ``__cause__``).
        """
        from kaitaistruct import KaitaiStream, KaitaiStructError

        name = "<bytes>"
        if isinstance(source, str | os.PathLike):
            name = str(source)
            with open(source, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if self.fast and size:
                    import mmap

                    # memory-mapped: arrays are views of the page cache, not a copy
                    source = memoryview(mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ))
                else:
                    source = f.read()
        if isinstance(source, bytes | bytearray | memoryview):
            fast = self.fast
            stream = buffer_stream(source) if fast else KaitaiStream(io.BytesIO(bytes(source)))
        else:
            name = getattr(source, "name", "<stream>")
            stream = KaitaiStream(source)
        try:
            return self.root(stream)
        except (EOFError, KaitaiStructError, ValueError, UnicodeDecodeError) as e:
            try:
                where = f"byte offset {stream.pos()}"
            except Exception:  # a closed or odd stream: say what we can
                where = "an unknown byte offset"
            raise KsyDataError(
                f"{name}: does not parse as {self.path.name} (stopped at {where}):"
                f" {type(e).__name__}: {e}"
            ) from e


def _load(directory: Path, main: Path, key: str, fast: bool) -> KsyFormat:
    meta = json.loads((directory / "files.json").read_text())
    sources = {Path(f).stem: (directory / f).read_text() for f in meta["files"]}
    modules: dict[str, types.ModuleType] = {}
    fast_fields: list[str] = []
    names = set(sources)

    def load(stem: str, stack: tuple[str, ...] = ()):
        if stem in modules:
            return modules[stem]
        src = sources[stem]
        deps = re.findall(r"^import (\w+)$", src, re.M)
        ns_deps = {}
        for d in deps:
            if d in names and d not in stack:
                ns_deps[d] = load(d, (*stack, stem))
                src = re.sub(
                    rf"^import {d}$", f"# import {d}: given by analysis_lib", src, flags=re.M
                )
        if fast:
            src, patched = patch_source(src)
            fast_fields.extend(f"{stem}.{p}" for p in patched)
        mod = types.ModuleType(f"rarehub_ksy_{key[:12]}_{stem}")
        mod.__file__ = str(directory / f"{stem}.py")
        mod.__dict__.update(ns_deps)
        exec(compile(src, mod.__file__, "exec"), mod.__dict__)
        modules[stem] = mod
        return mod

    doc = _load_yaml(main)
    ksy_id = str(((doc or {}).get("meta") or {}).get("id") or main.stem)
    if ksy_id not in sources:
        raise KsyError(f"{main}: the compiler produced {sorted(sources)}, not {ksy_id}.py")
    for stem in sources:
        load(stem)
    root = getattr(modules[ksy_id], _class_name(ksy_id))
    return KsyFormat(main, key, directory, fast, modules, root, fast_fields)


_LOADED: dict[tuple[str, bool], KsyFormat] = {}
_KEYS: dict[tuple, tuple[str, list[Path], list[tuple]]] = {}


def _stamp(p: Path) -> tuple:
    return (str(p), hashlib.sha256(p.read_bytes()).digest())  # µs for a .ksy; no YAML


def _key_of(main: Path, import_dirs: tuple[Path, ...]) -> tuple[str, list[Path]]:
    """(cache key, import closure), re-read only when a file involved changed."""
    memo = _KEYS.get((main, import_dirs))
    if memo is not None:
        key, closure, stamps = memo
        try:
            if [_stamp(p) for p in closure] == stamps:
                return key, closure
        except OSError:
            pass
    closure = _import_closure(main, list(import_dirs))
    key = cache_key(main, closure)
    _KEYS[(main, import_dirs)] = (key, closure, [_stamp(p) for p in closure])
    return key, closure


def compile_ksy(
    path: str | os.PathLike,
    *,
    fast: bool = True,
    import_dirs: Sequence[str | os.PathLike] = (),
) -> KsyFormat:
    """Compile (or fetch from the caches) the ``.ksy`` at ``path`` and load its parser.

    ``fast=False`` loads the stock generated parser (every array a list of ints), the
    reference the fast one is checked against. Relative ``meta/imports`` are read beside
    ``path``; absolute ones (``/name``) from ``import_dirs``.
    """
    main = Path(path)
    if not main.is_file():
        raise KsyError(f"{main}: no such .ksy file")
    main = main.resolve()
    key, closure = _key_of(main, tuple(Path(d) for d in import_dirs))
    if (key, fast) in _LOADED:
        return _LOADED[(key, fast)]
    dirs = [Path(d) for d in import_dirs]
    directory = _compiled_dir(main, key, closure, dirs)
    fmt = _load(directory, main, key, fast)
    _LOADED[(key, fast)] = fmt
    return fmt


def bundle(formats_dir: Path = BUNDLED_COMPILED.parent) -> list[Path]:
    """Compile every ``.ksy`` in ``formats_dir`` into ``compiled/<key>/`` (the shipped
    parsers), removing stale ones. Needs Node.js and the compiler."""
    out = formats_dir / "compiled"
    out.mkdir(exist_ok=True)
    keep = []
    for ksy in sorted(formats_dir.glob("*.ksy")):
        main = ksy.resolve()
        closure = _import_closure(main, [])
        key = cache_key(main, closure)
        target = out / key
        if not (target / "files.json").is_file():
            target.mkdir(parents=True, exist_ok=True)
            files = _run_compiler(main, closure, target, [])
            (target / "files.json").write_text(
                json.dumps(
                    {"files": files, "ksy": [p.name for p in closure], "compiler": KSC_VERSION}
                )
            )
        keep.append(target)
    for stale in out.iterdir():
        if stale.is_dir() and stale not in keep:
            shutil.rmtree(stale)
    return keep


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Compile the bundled .ksy formats")
    parser.add_argument("--bundle", action="store_true", required=True)
    parser.parse_args()
    for d in bundle():
        print(d)
