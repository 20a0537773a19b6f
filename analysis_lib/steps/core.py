"""Declarative processing steps with lineage-keyed storage (after strax's plugins).

A step is a small class::

    class Features(Step):
        provides = "features"
        depends_on = ("raw_events",)
        __version__ = "0.1.0"
        pretrigger_samples = Option(1024, help="samples before the pulse onset")

        def compute(self, raw_events):
            return pd.DataFrame(compute_features(raw_events.traces, ...))

Options are declared one way only — class attributes of type :class:`Option` (typed,
with a default and help text); on an instance they read as plain values. Mistakes fail
when the class is defined (no ``provides``, no version, a non-Option option-like
attribute) or when the :class:`Pipeline` is built (a dependency nothing provides, a
cycle, two steps providing one name, an unknown option or step in the configuration,
a value of the wrong type) — each error names what is wrong.

Lineage (strax ``Plugin.lineage``): for a step and a run, the nested dict of the step's
name, class, version and tracked options, and the lineage of each input; a source step's
lineage holds the run's id and the sha256 checksums of its input files (from the catalog
when available). The sha256 of the lineage's canonical JSON is the storage key: outputs
go to ``<root>/<run>/<provides>-<hash16>.parquet`` with ``….lineage.json`` beside them.
Same lineage → the stored result is reused; any changed option → a new key. A ``make``
computes each step's lineage once: its keys, the stored ``….lineage.json`` and the
artifacts steps apply (calibrations, cut flows, read by content) all come from that one
reading. Stored per-chunk results are read back row group by row group only after
checking that they are what their key says (the key in their Parquet metadata) and that
each row group matches the source chunk asking for it (rows, event numbers); run ids name
folders of the storage and are checked where a :class:`RunInput` is made.

Kinds of steps
--------------
* *source* (``is_source = True``): yields chunks of raw data for a run (not stored);
* *per-chunk* (default): ``compute(**inputs)`` returns the chunk's table — a dict of
  equal-length 1-D NumPy arrays (cheapest) or a DataFrame — with one row per event of the
  chunk; stored chunk by chunk (one Parquet row group per chunk), so memory is bounded by
  one chunk whatever the run size. Per-chunk inputs reach later steps as dicts of arrays;
* *per-run* (``per_run = True``): ``accumulate(**inputs)`` per chunk, then
  ``finish() -> DataFrame`` (e.g. a noise PSD); available whole to later steps.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..io.atomic import atomic_write_text

__all__ = [
    "LINEAGE_SCHEMA",
    "Option",
    "Pipeline",
    "PipelineError",
    "RunInput",
    "Step",
]

LINEAGE_SCHEMA = "rarehub.lineage/1"
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")


class PipelineError(ValueError):
    """A step declaration, pipeline configuration or stored result is wrong."""


class Option:
    """A typed step option: ``window_us = Option(400.0, help="± delay window (µs)")``.

    Parameters
    ----------
    default
        Default value; its type is the option's type unless ``type`` is given.
    help
        What the option means, with units.
    type
        ``int``, ``float``, ``str``, ``bool`` (ints are accepted for floats).
    track
        Whether the option enters the lineage (``False`` only for options that cannot
        change results, such as a thread count).
    """

    def __init__(self, default: Any, *, help: str, type: type | None = None, track: bool = True):
        self.type = type if type is not None else builtin_type(default)
        if self.type not in (int, float, str, bool):
            raise PipelineError(f"option type must be int, float, str or bool, got {self.type}")
        self.help = help
        self.track = track
        self.name = "?"
        self.default = self.check(default)

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def check(self, value: Any) -> Any:
        """Return ``value`` as the option's type, or raise naming the option."""
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, self.type) or (self.type is int and isinstance(value, bool)):
            raise PipelineError(
                f"option {self.name!r} must be {self.type.__name__}, got {value!r} "
                f"({builtin_type(value).__name__})"
            )
        return value

    def parse(self, text: str) -> Any:
        """Convert command-line text (``"400"``, ``"true"``) to the option's type."""
        if self.type is bool:
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise PipelineError(f"option {self.name!r} is a bool: got {text!r}")
            return text.lower() in ("true", "1", "yes")
        try:
            return self.type(text)
        except ValueError:
            raise PipelineError(
                f"option {self.name!r} must be {self.type.__name__}, got {text!r}"
            ) from None


def builtin_type(value: Any) -> type:
    return type(value)


class Step:
    """Base class of processing steps; see the module docstring."""

    provides: ClassVar[str] = ""
    depends_on: ClassVar[tuple[str, ...]] = ()
    __version__: ClassVar[str] = ""
    is_source: ClassVar[bool] = False
    per_run: ClassVar[bool] = False
    options: ClassVar[dict[str, Option]] = {}

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        opts: dict[str, Option] = {}
        for klass in reversed(cls.__mro__):
            for k, v in vars(klass).items():
                if isinstance(v, Option):
                    opts[k] = v
        cls.options = opts
        if isinstance(cls.__dict__.get("depends_on"), str):
            cls.depends_on = (cls.depends_on,)
        if cls.__dict__.get("abstract", False):
            return
        where = f"step class {cls.__name__}"
        if not isinstance(cls.provides, str) or not _IDENT.match(cls.provides):
            raise PipelineError(f"{where}: provides={cls.provides!r} must be a lowercase name")
        if not isinstance(cls.__version__, str) or not cls.__version__:
            raise PipelineError(f"{where}: set __version__ = '0.1.0' (a non-empty string)")
        if not all(isinstance(d, str) and d for d in cls.depends_on):
            raise PipelineError(f"{where}: depends_on must be a tuple of names")
        if cls.is_source and cls.depends_on:
            raise PipelineError(f"{where}: a source step cannot depend on others")
        if not cls.is_source and not cls.depends_on:
            raise PipelineError(f"{where}: depends_on is empty (only sources have no inputs)")

    def __init__(self, **config: Any) -> None:
        unknown = sorted(set(config) - set(self.options))
        if unknown:
            raise PipelineError(
                f"step {self.provides!r} ({type(self).__name__}) has no option(s) {unknown}; "
                f"its options are {sorted(self.options) or 'none'}"
            )
        self.config = {}
        for name, opt in self.options.items():
            try:
                value = opt.check(config[name]) if name in config else opt.default
            except PipelineError as e:
                raise PipelineError(f"step {self.provides!r}: {e}") from None
            self.config[name] = value
            setattr(self, name, value)

    # --- lineage -----------------------------------------------------------------------
    def own_lineage(self) -> dict:
        return {
            "step": self.provides,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "version": self.__version__,
            "options": {k: v for k, v in self.config.items() if self.options[k].track},
        }

    # --- interfaces (override one set) -------------------------------------------------
    def source_lineage(self, run: RunInput) -> dict:  # sources
        raise NotImplementedError

    def iter_chunks(self, run: RunInput) -> Iterator[Any]:  # sources
        raise NotImplementedError

    def compute(self, **inputs: Any) -> pd.DataFrame:  # per-chunk steps
        raise NotImplementedError

    def start(self) -> None:  # per-run steps: reset accumulators (called before each run)
        pass

    def accumulate(self, **inputs: Any) -> None:  # per-run steps
        raise NotImplementedError

    def finish(self) -> pd.DataFrame:  # per-run steps
        raise NotImplementedError


@dataclass(frozen=True)
class RunInput:
    """What a source needs to read one run: its id and files (with sha256 checksums).

    ``companions`` maps a role (e.g. ``"noise"``) to another file list with checksums, for
    sources that read a related run (the noise run whose PSD a physics run's filter uses).
    """

    run_id: str
    files: tuple[str, ...]
    checksums: tuple[str, ...]
    companions: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # the run id names the run's folder under the storage root: never ".", ".." or a
        # hidden name, never a separator
        if not isinstance(self.run_id, str) or not _RUN_ID.match(self.run_id):
            raise PipelineError(
                f"run_id {self.run_id!r}: use 1 to 200 letters, digits, '_', '.' or '-',"
                " starting with a letter or digit (it names a folder of the storage)"
            )
        for what, names in (("files", self.files), ("checksums", self.checksums)):
            if isinstance(names, str) or not all(isinstance(f, str) and f for f in names):
                raise PipelineError(
                    f"run {self.run_id}: {what} must be a sequence of non-empty strings,"
                    f" got {names!r}"
                )
        if len(self.files) != len(self.checksums):
            raise PipelineError(
                f"run {self.run_id}: {len(self.files)} files but {len(self.checksums)} checksums"
            )
        if not self.files:
            raise PipelineError(f"run {self.run_id} has no files: nothing to process")


def lineage_hash(lineage: Mapping) -> str:
    """sha256 of the canonical JSON (sorted keys, no whitespace) of a lineage."""
    text = json.dumps(lineage, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Pipeline:
    """A validated set of steps with their configuration and a storage root.

    Parameters
    ----------
    steps
        Step classes (or instances) — every name any of them depends on must be provided.
    config
        ``{provides: {option: value}}``.
    storage
        Root folder of stored results.
    environment
        What made the results, recorded in each lineage JSON beside them (not hashed into
        the key), e.g. ``{"image_digest": "sha256:…"}``: the container image a rebuild must
        use to give the same bytes (``rarehub storage plan`` requires it).

    Raises
    ------
    PipelineError
        Dependency on what nothing provides, cycles, duplicate providers, unknown steps or
        options in ``config``, wrong option types — at construction, naming them.
    """

    def __init__(
        self,
        steps: Sequence[type[Step] | Step],
        config: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        storage: str | os.PathLike,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        config = dict(config or {})
        self.environment = dict(environment or {})
        classes = [s if isinstance(s, type) else type(s) for s in steps]
        by_name: dict[str, Step] = {}
        for s, cls in zip(steps, classes, strict=True):
            if not (isinstance(cls, type) and issubclass(cls, Step)):
                raise PipelineError(f"{s!r} is not a Step class")
            if cls.provides in by_name:
                raise PipelineError(
                    f"{cls.provides!r} is provided by both {type(by_name[cls.provides]).__name__}"
                    f" and {cls.__name__}"
                )
            by_name[cls.provides] = (
                cls(**config.get(cls.provides, {})) if isinstance(s, type) else s
            )
        unknown = sorted(set(config) - set(by_name))
        if unknown:
            raise PipelineError(
                f"configuration for unknown step(s) {unknown}; steps are {sorted(by_name)}"
            )
        for name, step in by_name.items():
            missing = [d for d in step.depends_on if d not in by_name]
            if missing:
                raise PipelineError(
                    f"step {name!r} ({type(step).__name__}) depends on {missing}, which no "
                    f"step provides (provided: {sorted(by_name)})"
                )
        self.steps = by_name
        self.order = self._toposort()
        if not isinstance(storage, str | os.PathLike) or not str(storage):
            raise PipelineError(f"storage must be a folder path, got {storage!r}")
        self.storage = Path(storage)
        # lineages of one make() call, so that its keys, its stored lineage files and the
        # artifacts steps use all come from one reading of the inputs
        self._memo: dict | None = None

    def _toposort(self) -> list[str]:
        order: list[str] = []
        state: dict[str, int] = {}  # 1 visiting, 2 done

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = [*path[path.index(name) :], name]
                raise PipelineError(f"dependency cycle: {' -> '.join(cycle)}")
            state[name] = 1
            for d in self.steps[name].depends_on:
                visit(d, [*path, name])
            state[name] = 2
            order.append(name)

        for name in sorted(self.steps):
            visit(name, [])
        return order

    # --- lineage and storage -----------------------------------------------------------
    def lineage(self, target: str, run: RunInput) -> dict:
        """The full lineage of ``target`` for ``run`` (nested through its inputs)."""
        memo_key = (target, id(run))
        if self._memo is not None and memo_key in self._memo:
            return self._memo[memo_key][1]
        step = self._step(target)
        lin = step.own_lineage()
        if step.is_source:
            lin["source"] = step.source_lineage(run)
        else:
            lin["inputs"] = {d: self.lineage(d, run) for d in step.depends_on}
        if self._memo is not None:
            self._memo[memo_key] = (run, lin)  # the run is kept so that its id stays unique
        return lin

    def key(self, target: str, run: RunInput) -> str:
        """Storage key ``<provides>-<first 16 hex digits of the lineage hash>``."""
        return f"{target}-{lineage_hash(self.lineage(target, run))[:16]}"

    def path(self, target: str, run: RunInput) -> Path:
        if not isinstance(run, RunInput):
            raise PipelineError(f"expected a RunInput, got {type(run).__name__}")
        path = self.storage / run.run_id / f"{self.key(target, run)}.parquet"
        if path.parent.parent != self.storage:  # RunInput and keys keep it inside
            raise PipelineError(f"{path} is not a run folder of the storage {self.storage}")
        return path

    def is_stored(self, target: str, run: RunInput) -> bool:
        p = self.path(target, run)
        return p.is_file() and p.with_suffix(".lineage.json").is_file()

    def load(self, target: str, run: RunInput, *, columns: Sequence[str] | None = None):
        """The stored result as a DataFrame (``PipelineError`` if not made yet)."""
        if not self.is_stored(target, run):
            raise PipelineError(
                f"{target!r} for run {run.run_id} is not stored under "
                f"{self.path(target, run)}; make it first"
            )
        return pd.read_parquet(self.path(target, run), columns=columns)

    def _step(self, name: str) -> Step:
        if name not in self.steps:
            raise PipelineError(f"no step provides {name!r}; steps are {sorted(self.steps)}")
        return self.steps[name]

    def _ancestors(self, targets: Sequence[str]) -> list[str]:
        need: set[str] = set()

        def add(n: str) -> None:
            if n not in need:
                need.add(n)
                for d in self._step(n).depends_on:
                    add(d)

        for t in targets:
            add(t)
        return [n for n in self.order if n in need]

    # --- running -------------------------------------------------------------------------
    def make(
        self,
        run: RunInput,
        targets: str | Sequence[str],
        *,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, Path]:
        """Compute (or reuse) ``targets`` for ``run``; return their stored paths.

        Streams the source chunk by chunk: per-chunk results are written as they are
        made, so memory holds one chunk (plus per-run accumulators) at a time.
        ``progress(n_events)`` is called after each chunk.
        """
        if self._memo is not None:  # within a make() (a step calling back): no new memo
            return self._make(run, targets, progress)
        self._memo = {}
        try:
            return self._make(run, targets, progress)
        finally:
            self._memo = None

    def _make(self, run, targets, progress) -> dict[str, Path]:
        targets = [targets] if isinstance(targets, str) else list(targets)
        for t in targets:
            if self._step(t).is_source:
                raise PipelineError(f"{t!r} is a source: it is read, not stored")
        needed = [n for n in self._ancestors(targets) if not self.steps[n].is_source]
        todo = [n for n in needed if not self.is_stored(n, run)]
        # earliest stage: per-run barriers below a step (each stage = one source pass)
        stage: dict[str, int] = {}
        for n in self.order:
            stage[n] = max(
                (stage[d] + (1 if self.steps[d].per_run else 0) for d in self.steps[n].depends_on),
                default=0,
            )
        src = {n: self._source_of(n) for n in todo}
        last = {}
        for n in todo:
            last[src[n]] = max(last.get(src[n], 0), stage[n])
        # run per-chunk steps as late as their dependents allow, so that steps reading
        # the same source share one pass over it
        assigned: dict[str, int] = {}
        for n in reversed(todo):
            if self.steps[n].per_run:
                assigned[n] = stage[n]
                continue
            later = [assigned[d] for d in todo if d in assigned and n in self.steps[d].depends_on]
            assigned[n] = min([last[src[n]], *later])
        per_run_results: dict[str, pd.DataFrame] = {}
        for s in sorted(set(assigned.values())):
            for source in sorted({src[n] for n in todo if assigned[n] == s}):
                names = [n for n in todo if assigned[n] == s and src[n] == source]
                self._pass(run, names, per_run_results, progress)
        return {t: self.path(t, run) for t in targets}

    def _per_run_input(self, name: str, run: RunInput, cache: dict) -> pd.DataFrame:
        if name not in cache:
            cache[name] = self.load(name, run)
        return cache[name]

    def _source_of(self, name: str) -> str:
        """The one source a step's chunk-level inputs stream from (per-run inputs are
        read whole and do not count)."""
        found: set[str] = set()

        def walk(n: str, top: bool) -> None:
            st = self.steps[n]
            if st.is_source:
                found.add(n)
            elif top or not st.per_run:
                for d in st.depends_on:
                    walk(d, False)

        walk(name, True)
        if len(found) != 1:
            raise PipelineError(
                f"step {name!r} streams from {len(found)} sources {sorted(found)}: a step's "
                f"per-chunk inputs must come from exactly one source"
            )
        return found.pop()

    def _pass(self, run, names, per_run_results, progress) -> None:
        """One pass over the source(s), computing ``names`` (all of one stage).

        The CPU time of this thread during the pass is recorded in each result's lineage
        JSON, split evenly among the results the pass made (``cpu_seconds``).
        """
        from ..io.parquet import ParquetWriter

        cpu_start = time.thread_time()

        # chunk-level values needed in this pass: the closure of names over per-chunk deps
        chunk_level: list[str] = []

        def add(n: str) -> None:
            st = self.steps[n]
            if n in chunk_level or (st.per_run and n not in names):
                return
            if n in names or st.is_source:  # stored inputs are read, not re-derived
                for d in st.depends_on:
                    add(d)
            chunk_level.append(n)

        for n in names:
            add(n)
        add(self._source_of(names[0]))  # the stream that paces the pass (shared by names)
        chunk_level = [n for n in self.order if n in chunk_level]
        sources = [n for n in chunk_level if self.steps[n].is_source]
        if len(sources) != 1:
            raise PipelineError(
                f"steps {names} read {len(sources)} sources {sources}: a pass "
                f"streams exactly one source (combine sources in one step)"
            )
        keys = {n: self.key(n, run) for n in chunk_level if not self.steps[n].is_source}
        writers: dict[str, Any] = {}
        stored_readers: dict[str, Any] = {}
        (self.storage / run.run_id).mkdir(parents=True, exist_ok=True)
        for n in names:
            if not self.steps[n].per_run:
                writers[n] = ParquetWriter(
                    self.path(n, run), metadata={"rarehub.lineage_key": keys[n]}
                )
        for n in chunk_level:
            st = self.steps[n]
            if not st.is_source and n not in names:
                stored_readers[n] = _open_stored(self.path(n, run), keys[n])
        for n in names:
            if self.steps[n].per_run:
                self.steps[n].start()
        chunk_rows: dict[str, list[int]] = {n: [] for n in writers}
        n_chunks = 0
        try:
            for i, chunk in enumerate(self.steps[sources[0]].iter_chunks(run)):
                values: dict[str, Any] = {sources[0]: chunk}
                for n in chunk_level:
                    st = self.steps[n]
                    if st.is_source:
                        continue
                    if n in stored_readers:
                        values[n] = _stored_chunk(stored_readers[n], self.path(n, run), i, chunk)
                        continue
                    inputs = {
                        d: values[d]
                        if d in values
                        else self._per_run_input(d, run, per_run_results)
                        for d in st.depends_on
                    }
                    if st.per_run:
                        st.accumulate(**inputs)
                        continue
                    out = _as_columns(st.compute(**inputs), n)
                    n_rows = _chunk_len(chunk)
                    if _table_len(out) != n_rows:
                        raise PipelineError(
                            f"step {n!r} returned {_table_len(out)} rows for a chunk of {n_rows} "
                            f"events: per-chunk steps give one row per event"
                        )
                    writers[n].write(_arrow_table(out))
                    chunk_rows[n].append(n_rows)
                    values[n] = out
                if progress is not None:
                    progress(_chunk_len(chunk))
                n_chunks = i + 1
            for n, reader in stored_readers.items():
                if reader.num_row_groups != n_chunks:
                    raise PipelineError(
                        f"{self.path(n, run)}: {reader.num_row_groups} row groups, but the"
                        f" source gave {n_chunks} chunks: the stored result was not made from"
                        " these chunks; delete it to re-make it"
                    )
            for n, w in writers.items():
                if not chunk_rows[n]:
                    raise PipelineError(
                        f"run {run.run_id}: the source gave no events "
                        f"(empty run) — nothing to store for {n!r}"
                    )
                w.close()
        except BaseException:
            for w in writers.values():
                w.abort()
            raise
        finally:
            for r in stored_readers.values():
                r.close()
        from ..io.parquet import write_parquet

        rows = dict(chunk_rows)
        for n in names:
            if self.steps[n].per_run:
                result = self.steps[n].finish()
                write_parquet(result, self.path(n, run), metadata={"rarehub.lineage_key": keys[n]})
                rows[n] = [len(result)]
                per_run_results[n] = result
        cpu_each = (time.thread_time() - cpu_start) / len(names)
        for n in names:
            self._write_lineage(n, run, keys[n], rows[n], cpu_seconds=cpu_each)

    def _write_lineage(
        self, name: str, run: RunInput, key: str, chunk_rows: list[int], *, cpu_seconds: float
    ) -> None:
        doc = {
            "schema": LINEAGE_SCHEMA,
            "key": key,
            "run_id": run.run_id,
            "lineage": self.lineage(name, run),  # memoized: the one the key came from
            "chunk_rows": chunk_rows,
            "cpu_seconds": round(cpu_seconds, 6),
            "environment": self.environment,
        }
        atomic_write_text(
            self.path(name, run).with_suffix(".lineage.json"),
            json.dumps(doc, indent=1, sort_keys=True, default=str),
        )


def _chunk_len(chunk: Any) -> int:
    return len(chunk)


def _open_stored(path: Path, key: str):
    """A stored per-chunk result, opened for reading by row group, after checking that it
    is the result its key names (its Parquet metadata holds the key it was written under)."""
    import pyarrow.parquet as pq

    reader = pq.ParquetFile(path)
    stored_key = (reader.schema_arrow.metadata or {}).get(b"rarehub.lineage_key", b"").decode()
    if stored_key != key:
        reader.close()
        raise PipelineError(
            f"{path}: written under lineage key {stored_key or '(none)'!r}, expected {key!r}:"
            " it is not the result its name says; delete it to re-make it"
        )
    return reader


def _stored_chunk(reader, path: Path, i: int, chunk: Any) -> dict[str, np.ndarray]:
    """Row group ``i`` of a stored result, checked against the source chunk ``i`` that asks
    for it: as many rows, and the same event numbers where both carry them."""
    if i >= reader.num_row_groups:
        raise PipelineError(
            f"{path}: {reader.num_row_groups} row groups, but the source gave chunk {i}: the"
            " stored result was not made from these chunks; delete it to re-make it"
        )
    rg = reader.read_row_group(i)
    values = {c: rg.column(c).to_numpy() for c in rg.column_names}
    n_rows = _chunk_len(chunk)
    if rg.num_rows != n_rows:
        raise PipelineError(
            f"{path}: row group {i} has {rg.num_rows} rows, but source chunk {i} has {n_rows}"
            " events: the stored result was not made from these chunks; delete it to re-make it"
        )
    events = getattr(chunk, "events", None)
    same_events = (
        not isinstance(events, Mapping)
        or "event" not in events
        or "event" not in values
        or np.array_equal(np.asarray(events["event"]), values["event"])
    )
    if not same_events:
        raise PipelineError(
            f"{path}: row group {i} holds events {_span(values['event'])}, but source"
            f" chunk {i} has events {_span(events['event'])}: the stored rows are not"
            " this chunk's; delete the file to re-make it"
        )
    return values


def _span(events: Any) -> str:
    events = np.asarray(events)
    return f"{events[0]}…{events[-1]} ({len(events)})" if len(events) else "none"


def _as_columns(out: Any, name: str) -> dict[str, np.ndarray]:
    """A step's chunk table as a dict of 1-D arrays of equal length."""
    if isinstance(out, pd.DataFrame):
        return {str(c): out[c].to_numpy() for c in out.columns}
    if isinstance(out, Mapping):
        cols = {str(k): np.asarray(v) for k, v in out.items()}
        lengths = {k: v.shape for k, v in cols.items()}
        if (
            not cols
            or any(v.ndim != 1 for v in cols.values())
            or len({v.shape[0] for v in cols.values()}) != 1
        ):
            raise PipelineError(
                f"step {name!r} must return 1-D columns of one length; got shapes {lengths}"
            )
        return cols
    raise PipelineError(
        f"step {name!r} returned {type(out).__name__}; return a dict of arrays or a DataFrame"
    )


def _table_len(cols: Mapping[str, np.ndarray]) -> int:
    return len(next(iter(cols.values())))


def _arrow_table(cols: Mapping[str, np.ndarray]):
    import pyarrow as pa

    return pa.table({k: pa.array(v) for k, v in cols.items()})
