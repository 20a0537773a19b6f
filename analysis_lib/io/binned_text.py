"""Binned text releases (bin centres and contents, comma-separated) into ``hist`` histograms.

Many experiments publish histograms as text rows ``x₀, x₁, …, value`` — one row per bin,
bins given by their centres. :func:`read_binned_text` turns such a file into a
:class:`hist.Hist` with regular axes whose edges are inferred from the centres (spacing
checked), names, labels and units (``axis.metadata["unit"]``); every bin must appear exactly
once. :func:`read_coherent_csi_2017` reads COHERENT's CsI[Na] 2017 release (Science 357
(2017) 1123; arXiv:1804.09459, doi:10.5281/zenodo.1228631): the four 2-D histograms
(photoelectrons × arrival time) and the three arrival-time PDFs. A copy ships with the
package (MIT licence, see its ``README.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "COHERENT_CSI_2017",
    "BinnedTextError",
    "CoherentCsI2017",
    "read_binned_text",
    "read_coherent_csi_2017",
]

#: The release's copy inside the package.
COHERENT_CSI_2017 = Path(__file__).resolve().parent.parent / "data" / "coherent-csi-2017"


class BinnedTextError(ValueError):
    """A binned text file does not hold what was asked: names the file, line and value."""


@dataclass(frozen=True)
class Axis:
    """One axis of a binned text file: ``name``, human ``label`` and ``unit``."""

    name: str
    label: str
    unit: str


def _regular_edges(path: Path, axis: Axis, centres: np.ndarray) -> tuple[int, float, float]:
    if centres.size < 2:
        raise BinnedTextError(f"{path}: axis {axis.name!r} has {centres.size} bin; need ≥ 2")
    widths = np.diff(centres)
    w = float(np.median(widths))
    bad = np.flatnonzero(~np.isclose(widths, w, rtol=1e-6, atol=1e-9))
    if w <= 0 or bad.size:
        i = int(bad[0]) if bad.size else 0
        raise BinnedTextError(
            f"{path}: axis {axis.name!r} is not regular: centres {centres[i]} and "
            f"{centres[i + 1]} are {widths[i]} apart, others {w}; only regular binning can be "
            "inferred from bin centres"
        )
    return centres.size, float(centres[0] - w / 2), float(centres[-1] + w / 2)


def read_binned_text(path: str | Path, *, axes: Sequence[Axis | tuple[str, str, str]]):
    """Read a ``x₀, …, x_{d−1}, value`` text file into a d-dimensional ``hist.Hist``.

    Parameters
    ----------
    path : path
        Comma-separated rows, one per bin; the first d columns are bin centres, the last the
        bin content. Blank lines and lines starting with ``#`` are skipped.
    axes : sequence of Axis or (name, label, unit)
        One per coordinate column, in file order.

    Raises
    ------
    BinnedTextError
        A row with the wrong number of fields or a non-number (file and line named), an
        irregular axis, a bin missing or given twice, a non-finite content.
    """
    import hist

    path = Path(path)
    axes = [a if isinstance(a, Axis) else Axis(*a) for a in axes]
    d = len(axes)
    rows = []
    try:
        text = path.read_text()
    except OSError as e:
        raise BinnedTextError(f"{path}: cannot read: {e}") from e
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        fields = [f.strip() for f in s.split(",")]
        if len(fields) != d + 1:
            raise BinnedTextError(
                f"{path}:{lineno}: {len(fields)} fields in {s!r}; expected {d + 1} "
                f"({', '.join(a.name for a in axes)}, value)"
            )
        try:
            rows.append([float(f) for f in fields])
        except ValueError:
            raise BinnedTextError(f"{path}:{lineno}: not a number in {s!r}") from None
    if not rows:
        raise BinnedTextError(f"{path}: no data rows")
    table = np.array(rows)
    if not np.all(np.isfinite(table)):
        row = int(np.flatnonzero(~np.isfinite(table).all(axis=1))[0])
        raise BinnedTextError(f"{path}: data row {row + 1} has a non-finite value {rows[row]}")
    hist_axes, index = [], []
    for j, ax in enumerate(axes):
        centres = np.unique(table[:, j])
        n, lo, hi = _regular_edges(path, ax, centres)
        hist_axes.append(
            hist.axis.Regular(n, lo, hi, name=ax.name, label=ax.label, metadata={"unit": ax.unit})
        )
        index.append(np.searchsorted(centres, table[:, j]))
    h = hist.Hist(*hist_axes, storage=hist.storage.Double())
    seen = np.zeros(h.shape, dtype=int)
    np.add.at(seen, tuple(index), 1)
    if np.any(seen != 1):
        where = np.argwhere(seen != 1)[0]
        centre = [float(h.axes[j].centers[k]) for j, k in enumerate(where)]
        coords = ", ".join(f"{a.name}={c:g}" for a, c in zip(axes, centre, strict=True))
        count = int(seen[tuple(where)])
        raise BinnedTextError(
            f"{path}: the bin at {coords} appears {count} times; each bin must appear once "
            f"({int(np.prod(h.shape))} rows for this grid, the file has {len(table)})"
        )
    values = np.zeros(h.shape)
    values[tuple(index)] = table[:, d]
    h.view()[...] = values
    return h


PE_AXIS = Axis("pe", "Photoelectrons", "PE")
TIME_AXIS = Axis("t", "Arrival time after the POT trigger", "µs")


@dataclass(frozen=True)
class CoherentCsI2017:
    """COHERENT's CsI[Na] 2017 release as histograms.

    Attributes
    ----------
    coincidence_on, anticoincidence_on, coincidence_off, anticoincidence_off : hist.Hist
        Counts in photoelectrons (``pe``, PE) × arrival time (``t``, µs), beam on and off.
        Coincidence (C): the window after the POT trigger; anti-coincidence (AC): an equal
        window before it (the steady-state background).
    prompt_neutrinos, delayed_neutrinos, prompt_neutrons : hist.Hist
        Arrival-time PDFs (probability per 0.5 µs bin, summing to 1).
    folder : Path
        Where the files were read from.
    """

    coincidence_on: object
    anticoincidence_on: object
    coincidence_off: object
    anticoincidence_off: object
    prompt_neutrinos: object
    delayed_neutrinos: object
    prompt_neutrons: object
    folder: Path


def read_coherent_csi_2017(folder: str | Path | None = None) -> CoherentCsI2017:
    """Read COHERENT's CsI[Na] 2017 release from ``folder`` (default: the packaged copy).

    Checks what the release note states: the four data histograms share one 25 × 24 grid
    (PE centres 1…49, time centres 0.25…11.75 µs) and the PDFs that time axis, and each PDF
    sums to 1.
    """
    folder = COHERENT_CSI_2017 if folder is None else Path(folder)
    data = {}
    for window in ("coincidence", "anticoincidence"):
        for beam in ("On", "Off"):
            f = folder / f"data_{window}_beam{beam}.txt"
            h = read_binned_text(f, axes=[PE_AXIS, TIME_AXIS])
            if np.any(h.values() < 0) or np.any(h.values() != np.round(h.values())):
                raise BinnedTextError(f"{f}: counts must be non-negative integers")
            data[f"{window}_{beam.lower()}"] = h
    grids = {name: [tuple(e.ravel()) for e in h.axes.edges] for name, h in data.items()}
    first = next(iter(grids.values()))
    for name, g in grids.items():
        if g != first:
            raise BinnedTextError(f"{folder}: {name} has another binning than the others")
    pdfs = {}
    for name, stem in (
        ("prompt_neutrinos", "promptNeutrinos"),
        ("delayed_neutrinos", "delayedNeutrinos"),
        ("prompt_neutrons", "promptNeutrons"),
    ):
        f = folder / f"arrivalTimePDF_{stem}.txt"
        h = read_binned_text(f, axes=[TIME_AXIS])
        if tuple(h.axes[0].edges) != first[1]:
            raise BinnedTextError(f"{f}: time bins differ from the data's {first[1]}")
        total = float(h.values().sum())
        if np.any(h.values() < 0) or abs(total - 1) > 1e-6:
            raise BinnedTextError(f"{f}: a PDF has bins ≥ 0 summing to 1, got sum {total}")
        pdfs[name] = h
    return CoherentCsI2017(**data, **pdfs, folder=folder)
