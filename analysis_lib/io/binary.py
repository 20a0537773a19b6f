"""Declarative binary DAQ formats: a subset of Kaitai Struct's ``.ksy`` → ``numpy.memmap``.

A user describes a fixed-record file in YAML, in the language of Kaitai Struct
(https://doc.kaitai.io/user_guide.html), and RareHub reads it at disk speed as a memory map
of structured records — no per-record Python code runs. The same ``.ksy`` still compiles
with ``kaitai-struct-compiler`` for any other language.

Supported subset
----------------
- ``meta``: ``id``, ``endian`` (``le``/``be``), ``title``, ``file-extension``, ``license``,
  ``ks-version``, ``application``; per-type ``meta: {endian: …}``.
- ``seq`` entries with ``id`` and one of
  - ``type:`` a primitive ``u1 u2 u4 u8 s1 s2 s4 s8 f4 f8`` (optionally suffixed ``le``/``be``)
    or the name of a user type in ``types:`` (nested, fixed size);
  - ``size:`` a byte blob of fixed size (an integer or a header expression);
  - ``contents:`` a magic/sync word (list of bytes or a string); every record's copy is
    checked, so a corrupt record is reported with its byte offset;
  - ``repeat: expr`` with ``repeat-expr:`` an integer expression of header fields
    (``_root.header.n_samples * _root.header.n_channels``), for sample arrays.
- The file: top-level ``seq`` fields before the last one form the *header* (fixed size);
  the last one is the *record* array, with ``repeat: eos`` (records until the end of the
  file) or ``repeat: expr`` (a count given in the header).
- ``doc``, ``doc-ref``, ``enum`` (read as the integer) and top-level ``enums`` are accepted.

Anything else (``if``, ``switch-on``, ``process``, ``instances``, ``repeat: until``,
``str``/``strz``, bit fields, ``pos``, ``size-eos``, ``valid`` …) is refused with an error
naming the construct and where it is, and pointing to :mod:`analysis_lib.io.kaitai`, which
reads any ``.ksy`` through the official compiler (arrays of primitives still by numpy).

A header value that would make a record 2 GiB or more, or leave a header-sized array of a
record empty (``n_channels = 0``), is refused naming the header fields and their values;
so is a file that is not a whole number of records.

Header fields are repacked cheaply: :meth:`BinaryFile.fields` copies field by field into a
packed array (copying a multi-field *view* of a wide record at once is the well-known
numpy trap that is ~1000× slower).
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .atomic import atomic_path

PRIMITIVES = {
    "u1": "u1",
    "u2": "u2",
    "u4": "u4",
    "u8": "u8",
    "s1": "i1",
    "s2": "i2",
    "s4": "i4",
    "s8": "i8",
    "f4": "f4",
    "f8": "f8",
}
_FIELD_KEYS = {
    "id",
    "type",
    "size",
    "repeat",
    "repeat-expr",
    "contents",
    "doc",
    "doc-ref",
    "enum",
    "-orig-id",
}
_TOP_KEYS = {"meta", "seq", "types", "doc", "doc-ref", "enums"}
_TYPE_KEYS = {"meta", "seq", "doc", "doc-ref"}
_META_KEYS = {
    "id",
    "endian",
    "title",
    "file-extension",
    "license",
    "ks-version",
    "application",
    "imports",
    "xref",
    "tags",
}
_KNOWN_UNSUPPORTED = {
    "if": "conditional fields",
    "switch-on": "type switching",
    "process": "processed (compressed/encrypted) fields",
    "instances": "instances (computed or positioned values)",
    "pos": "positioned fields",
    "io": "substreams",
    "size-eos": "size to end of stream",
    "terminator": "terminated fields",
    "encoding": "strings",
    "valid": "validation expressions",
    "params": "parametric types",
    "repeat-until": "repeat: until",
    "pad-right": "padded strings",
    "include": "terminator options",
    "consume": "terminator options",
    "eos-error": "terminator options",
}


_MAX_RECORD_BYTES = 2**31 - 1  # numpy: "dtype size in bytes must fit into a C int"


class FormatError(Exception):
    """The YAML description is wrong or uses an unsupported construct (message says where)."""


class BinaryDataError(Exception):
    """The data file does not match its description (message names file, record, offset)."""


# ------------------------------------------------------------------ expressions
_ALLOWED_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.USub,
    ast.UAdd,
    ast.Constant,
    ast.Name,
    ast.Attribute,
    ast.Load,
)


def _parse_expr(text: Any, where: str) -> ast.Expression:
    if isinstance(text, int):
        return ast.Expression(ast.Constant(text))
    try:
        tree = ast.parse(str(text), mode="eval")
    except SyntaxError:
        raise FormatError(f"{where}: cannot parse expression {text!r}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise FormatError(
                f"{where}: expression {text!r} uses {type(node).__name__}; only integers,"
                " header field names and + - * / % ( ) are supported"
            )
        if isinstance(node, ast.Constant) and not isinstance(node.value, int):
            raise FormatError(f"{where}: expression {text!r}: only integer constants")
    return tree


def _dotted(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [*_dotted(node.value), node.attr]
    raise FormatError(f"not a field reference: {ast.dump(node)}")


def _names(tree: ast.Expression) -> list[list[str]]:
    """The maximal dotted field references (``_root.`` stripped) in an expression."""
    out: list[list[str]] = []

    def visit(node):
        if isinstance(node, ast.Attribute | ast.Name):
            out.append(_dotted(node))
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree.body)
    return [p[1:] if p[0] == "_root" else p for p in out]


def _eval(tree: ast.Expression, header: Mapping[str, Any], where: str, text: Any) -> int:
    def ev(node):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name | ast.Attribute):
            path = _dotted(node)
            if path[0] == "_root":
                path = path[1:]
            value: Any = header
            for part in path:
                if not isinstance(value, Mapping) or part not in value:
                    raise FormatError(
                        f"{where}: expression {text!r} refers to {'.'.join(path)!r}, which is"
                        f" not a header field (header fields: {_flat_names(header)})"
                    )
                value = value[part]
            return int(value)
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        a, b = ev(node.left), ev(node.right)
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.Mult):
            return a * b
        if b == 0:
            raise BinaryDataError(f"{where}: expression {text!r} divides by zero")
        return a % b if isinstance(node.op, ast.Mod) else a // b

    return int(ev(tree.body))


def _flat_names(d: Mapping, prefix: str = "") -> list[str]:
    out = []
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.extend(_flat_names(v, f"{prefix}{k}."))
        else:
            out.append(prefix + k)
    return out


# ------------------------------------------------------------------ description
@dataclass
class _Field:
    id: str
    where: str
    kind: str  # "prim" | "user" | "blob"
    base: str = ""  # numpy dtype string for prim, type name for user
    size: Any = None  # blob size expression
    repeat: Any = None  # repeat-expr or None
    contents: bytes | None = None


@dataclass
class BinaryFormat:
    """A parsed description. Build with :meth:`from_yaml` / :func:`load_format`."""

    id: str
    endian: str
    types: dict[str, list[_Field]]
    type_endian: dict[str, str]
    header: list[_Field]
    records: _Field
    records_repeat: str  # "eos" | "expr"
    source: str = ""
    doc: str = ""
    _header_dtype: np.dtype | None = field(default=None, repr=False)

    # -------------------------------------------------------------- parsing
    @classmethod
    def from_yaml(cls, text_or_path: str | os.PathLike) -> BinaryFormat:
        """Parse a ``.ksy`` description given as YAML text or a path."""
        source = "<text>"
        if isinstance(text_or_path, os.PathLike) or (
            isinstance(text_or_path, str)
            and "\n" not in text_or_path
            and text_or_path.endswith((".ksy", ".yaml", ".yml"))
        ):
            path = Path(text_or_path)
            if not path.is_file():
                raise FormatError(f"{path}: no such format description")
            source, text = str(path), path.read_text()
        else:
            text = str(text_or_path)
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise FormatError(f"{source}: not valid YAML: {e}") from None
        if not isinstance(doc, dict):
            raise FormatError(f"{source}: a description is a YAML mapping with meta: and seq:")
        return cls._parse(doc, source)

    @classmethod
    def _parse(cls, doc: dict, source: str) -> BinaryFormat:
        def unsupported(key, where):
            what = _KNOWN_UNSUPPORTED.get(key, "an unknown key")
            raise FormatError(
                f"{source}: {where}: unsupported construct {key!r} ({what}); this memory-map"
                " reader takes fixed-size records: seq of primitives, size: blobs, contents:,"
                " nested types and repeat: expr/eos. Any other .ksy reads with the official"
                " Kaitai compiler: analysis_lib.io.kaitai.compile_ksy(path).parse(data_file)"
            )

        for k in doc:
            if k not in _TOP_KEYS:
                unsupported(k, "top level")
        meta = doc.get("meta") or {}
        for k in meta:
            if k not in _META_KEYS:
                unsupported(k, "meta")
        endian = meta.get("endian", "le")
        if endian not in ("le", "be"):
            raise FormatError(f"{source}: meta.endian must be 'le' or 'be', got {endian!r}")
        raw_types = doc.get("types") or {}
        if not isinstance(raw_types, dict):
            raise FormatError(f"{source}: types: must be a mapping of type names")
        type_endian: dict[str, str] = {}
        types: dict[str, list[_Field]] = {}

        def parse_seq(seq, where) -> list[_Field]:
            if not isinstance(seq, list) or not seq:
                raise FormatError(f"{source}: {where}: seq must be a non-empty list")
            out = []
            seen = set()
            for i, f in enumerate(seq):
                w = f"{where}[{i}]"
                if not isinstance(f, dict) or "id" not in f:
                    raise FormatError(f"{source}: {w}: each seq entry needs an id")
                fid = f["id"]
                w = f"{where}[{i}] (field {fid!r})"
                if fid in seen:
                    raise FormatError(f"{source}: {w}: duplicate id")
                seen.add(fid)
                for k in f:
                    if k not in _FIELD_KEYS:
                        unsupported(k, w)
                rep = f.get("repeat")
                if rep not in (None, "expr", "eos"):
                    unsupported("repeat-until" if rep == "until" else "repeat", w)
                if rep == "expr" and "repeat-expr" not in f:
                    raise FormatError(f"{source}: {w}: repeat: expr needs repeat-expr")
                if "repeat-expr" in f and rep != "expr":
                    raise FormatError(f"{source}: {w}: repeat-expr given without repeat: expr")
                rexpr = f.get("repeat-expr")
                if rexpr is not None:
                    _parse_expr(rexpr, f"{source}: {w} repeat-expr")
                if "contents" in f:
                    c = f["contents"]
                    if isinstance(c, str):
                        cb = c.encode()
                    elif isinstance(c, list) and all(
                        isinstance(b, int) and 0 <= b < 256 for b in c
                    ):
                        cb = bytes(c)
                    else:
                        raise FormatError(
                            f"{source}: {w}: contents must be a string or a list of bytes"
                        )
                    out.append(_Field(fid, w, "blob", size=len(cb), repeat=rexpr, contents=cb))
                elif "type" in f:
                    t = f["type"]
                    if "size" in f:
                        unsupported("size", w + " with type (sized substream)")
                    if not isinstance(t, str):
                        unsupported("switch-on", w)
                    m_end = None
                    base = t
                    if t[-2:] in ("le", "be") and t[:-2] in PRIMITIVES:
                        base, m_end = t[:-2], t[-2:]
                    if base in PRIMITIVES:
                        out.append(
                            _Field(
                                fid,
                                w,
                                "prim",
                                base=PRIMITIVES[base] + (f":{m_end}" if m_end else ""),
                                repeat=rexpr,
                            )
                        )
                    elif t in raw_types:
                        out.append(_Field(fid, w, "user", base=t, repeat=rexpr))
                    elif t in ("str", "strz") or (t.startswith("b") and t[1:].isdigit()):
                        raise FormatError(
                            f"{source}: {w}: unsupported type {t!r} (strings and bit fields"
                            " are not fixed-width numpy types)"
                        )
                    else:
                        raise FormatError(
                            f"{source}: {w}: unknown type {t!r}; primitives are"
                            f" {sorted(PRIMITIVES)} (+le/be), user types {sorted(raw_types)}"
                        )
                    if rep == "eos":
                        out[-1].repeat = "eos"
                elif "size" in f:
                    _parse_expr(f["size"], f"{source}: {w} size")
                    out.append(_Field(fid, w, "blob", size=f["size"], repeat=rexpr))
                else:
                    raise FormatError(f"{source}: {w}: needs type:, size: or contents:")
                if rep == "eos" and out[-1].repeat != "eos":
                    out[-1].repeat = "eos"
            return out

        for name, t in raw_types.items():
            if not isinstance(t, dict):
                raise FormatError(f"{source}: types.{name} must be a mapping")
            for k in t:
                if k not in _TYPE_KEYS:
                    unsupported(k, f"types.{name}")
            tm = t.get("meta") or {}
            type_endian[name] = tm.get("endian", endian)
            if type_endian[name] not in ("le", "be"):
                raise FormatError(f"{source}: types.{name}.meta.endian must be 'le' or 'be'")
            types[name] = parse_seq(t.get("seq"), f"types.{name}.seq")
        top = parse_seq(doc.get("seq"), "seq")
        for fields in types.values():
            for f in fields:
                if f.repeat == "eos":
                    raise FormatError(
                        f"{source}: {f.where}: repeat: eos is allowed only on the last top-level"
                        " field (the record array)"
                    )
        records = top[-1]
        for f in top[:-1]:
            if f.repeat == "eos":
                raise FormatError(f"{source}: {f.where}: repeat: eos must be the last field")
        if records.repeat is None:
            raise FormatError(
                f"{source}: {records.where}: the last top-level field is the record array and"
                " needs repeat: eos or repeat: expr"
            )
        fmt = cls(
            id=meta.get("id", "unnamed"),
            endian=endian,
            types=types,
            type_endian=type_endian,
            header=top[:-1],
            records=records,
            records_repeat="eos" if records.repeat == "eos" else "expr",
            source=source,
            doc=str(doc.get("doc", "")),
        )
        fmt._check_cycles()
        fmt._header_dtype = fmt._dtype_of(fmt.header, endian, {}, header_only=True)
        fmt._check_references()
        return fmt

    def _check_references(self) -> None:
        """Fail fast: every expression may only name header fields that exist."""

        def paths(dt: np.dtype, prefix=()):
            for n in dt.names or ():
                sub = dt.fields[n][0]
                yield (*prefix, n)
                if sub.names:
                    yield from paths(sub, (*prefix, n))

        known = {".".join(p) for p in paths(self._header_dtype)}

        def check(fields, seen):
            for f in fields:
                for what, text in (("size", f.size), ("repeat-expr", f.repeat)):
                    if text is None or text == "eos" or f.contents is not None:
                        continue
                    for ref in _names(_parse_expr(text, f"{self.source}: {f.where} {what}")):
                        if ".".join(ref) not in known:
                            raise FormatError(
                                f"{self.source}: {f.where}: {what} {text!r} refers to"
                                f" {'.'.join(ref)!r}, which is not a header field (header"
                                f" fields: {sorted(known)}); records must have a fixed size"
                            )
                if f.kind == "user" and f.base not in seen:
                    check(self.types[f.base], seen | {f.base})

        check([self.records], set())

    def _check_cycles(self) -> None:
        def visit(name, stack):
            if name in stack:
                raise FormatError(
                    f"{self.source}: types form a cycle: {' → '.join([*stack, name])}"
                )
            for f in self.types[name]:
                if f.kind == "user":
                    visit(f.base, [*stack, name])

        for name in self.types:
            visit(name, [])

    # -------------------------------------------------------------- dtypes
    def _dtype_of(
        self, fields: Sequence[_Field], endian: str, header: Mapping, header_only: bool = False
    ) -> np.dtype:
        order = "<" if endian == "le" else ">"
        spec = []
        total = 0
        for f in fields:
            if f.kind == "prim":
                base, _, own = f.base.partition(":")
                o = ("<" if own == "le" else ">") if own else order
                dt = np.dtype(o + base) if base[1] != "1" else np.dtype(base)
            elif f.kind == "user":
                dt = self._dtype_of(
                    self.types[f.base], self.type_endian[f.base], header, header_only
                )
            else:
                n = self._expr(f.size, header, f, "size", header_only)
                if n < 0:
                    raise BinaryDataError(f"{self.source}: {f.where}: size evaluates to {n} < 0")
                self._check_bytes(n, f, "size", f.size, header)
                dt = np.dtype(f"V{n}")
            if f.repeat is not None and f.repeat != "eos":
                n = self._expr(f.repeat, header, f, "repeat-expr", header_only)
                if n < 0:
                    raise BinaryDataError(
                        f"{self.source}: {f.where}: repeat-expr {f.repeat!r} evaluates to {n} < 0"
                    )
                if n == 0 and not header_only and _names(_parse_expr(f.repeat, f.where)):
                    raise BinaryDataError(
                        f"{self.source}: {f.where}: field {f.id!r} has 0 elements: its"
                        f" repeat-expr {f.repeat!r} is 0 with {self._refs(f.repeat, header)} —"
                        " every record would be read without it (a corrupt or wrong header?)"
                    )
                self._check_bytes(n * dt.itemsize, f, "repeat-expr", f.repeat, header)
                dt = np.dtype((dt, (n,)))
            spec.append((f.id, dt))
            total += dt.itemsize
            if total >= _MAX_RECORD_BYTES:
                raise BinaryDataError(
                    f"{self.source}: {f.where}: the record reaches {total} bytes at field"
                    f" {f.id!r}; numpy records must be < 2 GiB ({_MAX_RECORD_BYTES} bytes)"
                )
        return np.dtype(spec)

    def _refs(self, text, header: Mapping) -> str:
        """``header.n_channels = 0, header.n_samples = 50``: the header fields an expression
        reads, with their values."""
        out = []
        for ref in _names(_parse_expr(text, "")):
            value: Any = header
            for part in ref:
                value = value.get(part) if isinstance(value, Mapping) else None
            out.append(f"{'.'.join(ref)} = {value}")
        return (
            "header field " + ", ".join(out)
            if len(out) == 1
            else ("header fields " + ", ".join(out))
        )

    def _check_bytes(self, nbytes: int, f: _Field, what: str, text, header: Mapping) -> None:
        if nbytes >= _MAX_RECORD_BYTES:
            refs = self._refs(text, header) if text is not None else ""
            raise BinaryDataError(
                f"{self.source}: {f.where}: field {f.id!r} would be {nbytes} bytes ({what}"
                f" {text!r} with {refs}); numpy records must be < 2 GiB"
                f" ({_MAX_RECORD_BYTES} bytes) — a corrupt header?"
            )

    def record_size_fields(self, header: Mapping) -> str:
        """The header fields (with values) that set the record size, as text."""
        seen: list[str] = []

        def visit(fields, stack):
            for f in fields:
                for text in (f.size, f.repeat):
                    if text is None or text == "eos" or f.contents is not None:
                        continue
                    for ref in _names(_parse_expr(text, f.where)):
                        name = ".".join(ref)
                        if name not in seen:
                            seen.append(name)
                if f.kind == "user" and f.base not in stack:
                    visit(self.types[f.base], stack | {f.base})

        visit([self.records], set())
        if not seen:
            return "a fixed size (no header field)"
        return self._refs(" + ".join(seen), header)

    def _expr(self, text, header, f: _Field, what: str, header_only: bool) -> int:
        tree = _parse_expr(text, f"{self.source}: {f.where} {what}")
        if header_only and _names(tree):
            raise FormatError(
                f"{self.source}: {f.where}: the header must have a fixed size, but its {what}"
                f" {text!r} depends on field values"
            )
        return _eval(tree, header, f"{self.source}: {f.where} {what}", text)

    @property
    def header_dtype(self) -> np.dtype:
        """The numpy dtype of the fixed-size header."""
        return self._header_dtype

    def record_dtype(self, header: Mapping[str, Any]) -> np.dtype:
        """The numpy dtype of one record, given the header values."""
        rec = self.records
        f = _Field(rec.id, rec.where, rec.kind, rec.base, rec.size, None, rec.contents)
        dt = self._dtype_of([f], self.endian, header)
        return dt[rec.id]

    def open(self, path: str | os.PathLike, *, mode: str = "r") -> BinaryFile:
        """Open a data file described by this format (see :class:`BinaryFile`)."""
        return BinaryFile(self, path, mode=mode)


def load_format(path_or_text: str | os.PathLike) -> BinaryFormat:
    """Parse a ``.ksy`` description (a path or YAML text)."""
    return BinaryFormat.from_yaml(path_or_text)


# ------------------------------------------------------------------ data files
def _to_dict(value: np.void | np.ndarray) -> Any:
    if isinstance(value, np.void) and value.dtype.names:
        return {n: _to_dict(value[n]) for n in value.dtype.names}
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, np.void):
        return bytes(value)
    return value.item() if hasattr(value, "item") else value


def _contents_fields(dt: np.dtype, fmt: BinaryFormat, fields, prefix=()) -> list:
    """(path, expected bytes) of every contents: field inside a record dtype."""
    out = []
    for f in fields:
        if f.contents is not None:
            out.append(((*prefix, f.id), f.contents, f.where))
        elif f.kind == "user" and f.repeat is None:
            out.extend(_contents_fields(dt, fmt, fmt.types[f.base], (*prefix, f.id)))
    return out


class BinaryFile:
    """A data file as a memory map of structured records.

    Attributes
    ----------
    header : dict
        Header field values (nested dicts for user types).
    records : numpy.memmap
        Structured records (read-only by default); slicing reads only what is touched.
    """

    def __init__(self, fmt: BinaryFormat, path: str | os.PathLike, *, mode: str = "r"):
        self.format = fmt
        self.path = Path(path)
        if not self.path.is_file():
            raise BinaryDataError(f"{self.path}: no such file")
        size = self.path.stat().st_size
        hdt = fmt.header_dtype
        if size < hdt.itemsize:
            raise BinaryDataError(
                f"{self.path}: {size} bytes, shorter than the {hdt.itemsize}-byte header of"
                f" format {fmt.id!r}"
            )
        raw = np.fromfile(self.path, dtype=hdt, count=1) if hdt.itemsize else None
        self.header: dict[str, Any] = _to_dict(raw[0]) if raw is not None else {}
        for fpath, want, where in _contents_fields(hdt, fmt, fmt.header):
            got = raw[0]
            for p in fpath:
                got = got[p]
            if bytes(got) != want:
                raise BinaryDataError(
                    f"{self.path}: header field {'.'.join(fpath)!r} at byte offset"
                    f" {self._offset(hdt, fpath)} is {bytes(got)!r}, expected {want!r}"
                    f" ({where}) — not a {fmt.id!r} file?"
                )
        try:
            self.dtype = fmt.record_dtype(self.header)
        except BinaryDataError as e:
            raise BinaryDataError(f"{self.path}: {e}") from None
        self.offset = hdt.itemsize
        rec_size = self.dtype.itemsize
        if rec_size == 0:
            raise BinaryDataError(f"{self.path}: records of format {fmt.id!r} have size 0")
        body = size - self.offset
        n_whole, rest = divmod(body, rec_size)
        if fmt.records_repeat == "expr":
            n = fmt._expr(fmt.records.repeat, self.header, fmt.records, "repeat-expr", False)
            expected = self.offset + n * rec_size
            if size < expected:
                raise BinaryDataError(
                    f"{self.path}: truncated: the header announces {n} records of {rec_size} bytes"
                    f" ({expected} bytes in all) but the file has {size}; record {n_whole} at"
                    f" byte offset {self.offset + n_whole * rec_size} is incomplete"
                    f" ({rest} of {rec_size} bytes)"
                )
            if size > expected:
                raise BinaryDataError(
                    f"{self.path}: {size - expected} unexpected trailing bytes after the"
                    f" {n} announced records, from byte offset {expected}"
                )
        else:
            n = n_whole
            if rest:
                raise BinaryDataError(
                    f"{self.path}: truncated or corrupt: after the {self.offset}-byte header,"
                    f" {body} bytes are not a whole number of {rec_size}-byte records; record"
                    f" {n_whole} at byte offset {self.offset + n_whole * rec_size} has only"
                    f" {rest} bytes. The record size comes from"
                    f" {fmt.record_size_fields(self.header)}: a wrong header value reads"
                    " every record at the wrong size"
                )
        self.n_records = n
        if n:
            self.records = np.memmap(
                self.path, dtype=self.dtype, mode=mode, offset=self.offset, shape=(n,)
            )
        else:
            self.records = np.zeros(0, self.dtype)
        self._contents = _contents_fields(self.dtype, fmt, self._record_fields())

    def _record_fields(self) -> list[_Field]:
        rec = self.format.records
        return self.format.types[rec.base] if rec.kind == "user" else [rec]

    @staticmethod
    def _offset(dt: np.dtype, fpath: Sequence[str]) -> int:
        off = 0
        for p in fpath:
            sub, o = dt.fields[p][:2]
            off += o
            dt = sub
        return off

    def __len__(self) -> int:
        return self.n_records

    def __repr__(self) -> str:
        return (
            f"BinaryFile({str(self.path)!r}, format={self.format.id!r},"
            f" n_records={self.n_records}, record_bytes={self.dtype.itemsize})"
        )

    def record_offset(self, i: int) -> int:
        """Byte offset of record ``i`` in the file."""
        return self.offset + i * self.dtype.itemsize

    def validate(self, *, step: int = 1 << 16) -> None:
        """Check every record's ``contents:`` (sync words); raise naming the first bad one."""
        if not self._contents or self.dtype.names is None:
            return
        for start in range(0, self.n_records, step):
            block = self.records[start : start + step]
            for fpath, want, where in self._contents:
                col = block
                for p in fpath:
                    col = col[p]
                expect = np.frombuffer(want, dtype=col.dtype)[0]
                bad = np.flatnonzero(col != expect)
                if bad.size:
                    i = start + int(bad[0])
                    off = self.record_offset(i) + self._offset(self.dtype, fpath)
                    raise BinaryDataError(
                        f"{self.path}: corrupt record {i} at byte offset {self.record_offset(i)}:"
                        f" field {'.'.join(fpath)!r} (byte offset {off}) is"
                        f" {bytes(col[bad[0]])!r}, expected {want!r} ({where})"
                    )

    def fields(
        self, names: Sequence[str] | None = None, start: int = 0, stop: int | None = None
    ) -> np.ndarray:
        """A packed copy of some fields of records [start, stop).

        Copies field by field into a new packed structured array: each copy is a fast
        strided copy. (Copying ``records[names]`` — a multi-field view that keeps the wide
        record's itemsize — is the numpy trap this avoids.) Default: every field except
        sample arrays and blobs.
        """
        if self.dtype.names is None:
            raise BinaryDataError(f"{self.path}: records are not structured; use .records")
        if names is None:
            names = [
                n
                for n in self.dtype.names
                if self.dtype[n].shape == () and self.dtype[n].kind != "V"
            ]
        unknown = [n for n in names if n not in self.dtype.names]
        if unknown:
            raise BinaryDataError(
                f"{self.path}: unknown field(s) {unknown}; record fields: {list(self.dtype.names)}"
            )
        view = self.records[start:stop]
        out = np.empty(len(view), dtype=[(n, self.dtype[n]) for n in names])
        for n in names:
            out[n] = view[n]
        return out

    def table(self, names: Sequence[str] | None = None, start: int = 0, stop: int | None = None):
        """Scalar fields of records [start, stop) as a pandas DataFrame."""
        import pandas as pd

        arr = self.fields(names, start, stop)
        return pd.DataFrame(
            {
                n: arr[n].astype(arr.dtype[n].newbyteorder("="), copy=False)
                for n in arr.dtype.names
                if arr.dtype[n].shape == ()
            }
        )

    def iter_records(self, step: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_index, records_view)`` blocks of ``step`` records (memory-mapped)."""
        for s in range(0, self.n_records, step):
            yield s, self.records[s : s + step]


def write_records(
    path: str | os.PathLike,
    fmt: BinaryFormat,
    header: Mapping[str, Any],
    records: np.ndarray | Iterator[np.ndarray],
) -> Path:
    """Write a data file in ``fmt`` (header values + record arrays), atomically.

    ``records`` is one structured array of :meth:`BinaryFormat.record_dtype` or an iterator
    of such blocks (to write files larger than memory). ``contents:`` fields are filled in.
    """
    path = Path(path)
    hdt = fmt.header_dtype
    hrec = np.zeros(1, hdt)

    def fill(dst, values, fields, prefix):
        for f in fields:
            if f.contents is not None:
                dst[f.id] = np.frombuffer(f.contents, dtype=dst.dtype[f.id])[0]
            elif f.kind == "user" and f.repeat is None and isinstance(values.get(f.id), Mapping):
                fill(dst[f.id], values[f.id], fmt.types[f.base], (*prefix, f.id))
            elif f.id in values:
                dst[f.id] = values[f.id]

    fill(hrec[0], dict(header), fmt.header, ())
    hvals = _to_dict(hrec[0]) if hdt.itemsize else {}
    rdt = fmt.record_dtype(hvals)
    contents = _contents_fields(
        rdt, fmt, fmt.types[fmt.records.base] if fmt.records.kind == "user" else [fmt.records]
    )
    blocks = [records] if isinstance(records, np.ndarray) else records
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        out.write(hrec.tobytes())
        for block in blocks:
            if block.dtype != rdt:
                block = block.astype(rdt)
            for fpath, want, _ in contents:
                col = block
                for p in fpath[:-1]:
                    col = col[p]
                col[fpath[-1]] = np.frombuffer(want, dtype=col.dtype[fpath[-1]])[0]
            out.write(block.tobytes())
    return path
