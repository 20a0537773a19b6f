"""Named, composable cuts on event tables and the cut-flow table.

A :class:`Cut` is a name, a boolean expression over event columns in pandas' ``eval``
syntax (``"of_chi2 < 1.3 * 32768"``, ``"(energy_keV > 0.1) & (baseline_slope_per_s < 5)"``)
and a description. Because the expression is text, a cut's definition is stored next to
every result made with it, and composing cuts (``a & b``, ``a | b``, ``~a``) composes the
text. A :class:`CutFlow` applies cuts in order and tabulates how many events survive each.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..io.atomic import atomic_write_text

__all__ = ["Cut", "CutFlow", "load_cutflow"]

SCHEMA = "rarehub.cutflow/1"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_IDENT = re.compile(r"(?<![\w.'\"])([A-Za-z_]\w*)(?![\w'\"(])")
_KEYWORDS = {"and", "or", "not", "in", "True", "False", "abs", "sqrt", "log", "exp", "nan"}


@dataclass(frozen=True)
class Cut:
    """A named boolean selection on an event table.

    Parameters
    ----------
    name
        Identifier shown in cut-flow tables (letters, digits, ``_ . -``).
    expression
        Boolean expression over column names, evaluated with :meth:`pandas.DataFrame.eval`.
    description
        What the cut is for (physics motivation, units).
    """

    name: str
    expression: str
    description: str = ""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"cut name {self.name!r} must match {_NAME.pattern}")
        if not self.expression.strip():
            raise ValueError(f"cut {self.name!r} has an empty expression")

    def columns(self) -> set[str]:
        """Column names the expression refers to."""
        return {m for m in _IDENT.findall(self.expression) if m not in _KEYWORDS}

    def mask(self, events: pd.DataFrame) -> np.ndarray:
        """Boolean array: True where the event passes."""
        missing = sorted(self.columns() - set(events.columns))
        if missing:
            raise KeyError(
                f"cut {self.name!r} ({self.expression}) needs column(s) {missing}; "
                f"the events have {sorted(events.columns)}"
            )
        result = events.eval(self.expression)
        arr = np.asarray(result)
        if arr.dtype != bool or arr.shape != (len(events),):
            raise ValueError(
                f"cut {self.name!r} ({self.expression}) does not give one boolean "
                f"per event (got {arr.dtype} {arr.shape})"
            )
        return arr

    def __and__(self, other: Cut) -> Cut:
        return Cut(
            f"{self.name}-and-{other.name}",
            f"({self.expression}) & ({other.expression})",
            f"{self.name} and {other.name}",
        )

    def __or__(self, other: Cut) -> Cut:
        return Cut(
            f"{self.name}-or-{other.name}",
            f"({self.expression}) | ({other.expression})",
            f"{self.name} or {other.name}",
        )

    def __invert__(self) -> Cut:
        return Cut(f"not-{self.name}", f"~({self.expression})", f"not {self.name}")

    def to_dict(self) -> dict:
        return {"name": self.name, "expression": self.expression, "description": self.description}


class CutFlow:
    """Cuts applied in sequence, with a table of survivors after each.

    Parameters
    ----------
    cuts
        The cuts, in the order they are applied; names must be unique.
    name
        Name of the selection (e.g. ``"wimp-search-v3"``).
    """

    def __init__(self, cuts: Sequence[Cut], *, name: str = "selection") -> None:
        names = [c.name for c in cuts]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"cut names must be unique in a cut flow; repeated: {dupes}")
        if not cuts:
            raise ValueError("a cut flow needs at least one cut")
        self.cuts = tuple(cuts)
        self.name = name

    def apply(self, events: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
        """Apply the cuts; return the final pass mask and the cut-flow table.

        The table has one row for all events, then one per cut, with ``passed`` (events
        surviving this and all earlier cuts), ``efficiency`` (relative to the previous row)
        and ``cumulative_efficiency`` (relative to all events). Efficiencies of an empty
        step are NaN.
        """
        passing = np.ones(len(events), dtype=bool)
        rows = [("all events", "", len(events))]
        for cut in self.cuts:
            passing &= cut.mask(events)
            rows.append((cut.name, cut.expression, int(passing.sum())))
        table = pd.DataFrame(rows, columns=["cut", "expression", "passed"])
        n = table["passed"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            table["efficiency"] = np.r_[1.0 if n[0] else np.nan, n[1:] / n[:-1]]
            table["cumulative_efficiency"] = n / n[0] if n[0] else np.nan
        return passing, table

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "name": self.name, "cuts": [c.to_dict() for c in self.cuts]}

    def save(self, path: str | Path, *, table: pd.DataFrame | None = None) -> Path:
        """Store the definitions (and optionally a cut-flow table) as JSON, atomically."""
        path = Path(path)
        doc = self.to_dict()
        if table is not None:
            doc["table"] = json.loads(table.to_json(orient="records"))
        return atomic_write_text(path, json.dumps(doc, indent=2))


def load_cutflow(path: str | Path) -> CutFlow:
    """Read a cut flow stored by :meth:`CutFlow.save`."""
    path = Path(path)
    d = json.loads(Path(path).read_text())
    if d.get("schema") != SCHEMA:
        raise ValueError(f"{path}: field 'schema' is {d.get('schema')!r}, expected {SCHEMA!r}")
    try:
        cuts = [Cut(c["name"], c["expression"], c.get("description", "")) for c in d["cuts"]]
    except (KeyError, TypeError) as e:
        raise ValueError(f"{path}: field 'cuts' is malformed ({e!r})") from e
    return CutFlow(cuts, name=d.get("name", "selection"))
