"""``ingest_midas``: a SuperCDMS MIDAS file (``.mid``/``.mid.gz``) → a catalog run and file.

The whole file is read once first, event by event (never all of it in memory): a file that
does not read to its end is refused with the reader's message (file, event serial number,
bank, byte offset) and nothing is written to the catalog. Then, in one catalog transaction:
the dataset (created if new), the run — number, start and end time, run type (``noise`` if
every trigger is a random one, else ``physics``), the detector and, as run metadata, the
ODB's facts (sample rate, detectors and their configuration with the trigger geometry, the
whole ODB), the event counts and the phonon pulse onset measured on the physics triggers
in that same pass (``phonon_pulse_onset``:
:class:`~analysis_lib.io.scdms.PulseOnsetMeter`; None when there is no clear pulse) — and
the file with its SHA-256 (the catalog's, of the file as stored) and the SHA-256 and size
of the uncompressed MIDAS stream. An ODB trigger setting that cannot be right (a
pre-trigger offset outside the on-pulse window) is refused like a damaged file.

Uses the catalog's public API only (:class:`analysis_lib.catalog.Catalog`).
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections import Counter
from pathlib import Path
from typing import Any

from ..io.midas import MidasError
from ..io.scdms import RANDOM_TRIGGERS, PulseOnsetMeter, ScdmsFile

FORMAT = "midas"


class IngestError(Exception):
    """A file that cannot be ingested (message names the file and why)."""


def _stream_sha256(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    with opener(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def scan_midas(path: str | os.PathLike) -> dict[str, Any]:
    """Read every event of a SuperCDMS MIDAS file; return its facts for the catalog."""
    f = ScdmsFile(path)
    meta = f.metadata()  # first: an ODB setting that cannot be right stops here
    onset = PulseOnsetMeter()
    counts: Counter[str] = Counter()
    samples: dict[str, list[int]] = {}
    channels: list[str] = []
    last_time = f.start_time
    n_events = 0
    for ev in f.events():
        n_events += 1
        counts[ev.trigger_type] += 1
        onset.add(ev)
        samples.setdefault(ev.trigger_type, [len(a) for a in ev.arrays][:1])
        if not channels:
            channels = list(ev.channels)
        last_time = max(last_time, ev.time)
    sha, size = _stream_sha256(f.path)
    measured = onset.result()
    meta.update(
        {
            "channels": channels,
            "n_events": n_events,
            "triggers": dict(counts),
            "samples_per_trace": {k: v[0] if v else 0 for k, v in samples.items()},
            "phonon_pulse_onset": measured.as_dict() if measured else None,
        }
    )
    return {
        "file": f,
        "run_number": f.run_number,
        "start": f.start_time,
        "end": last_time,
        "run_type": "noise" if counts and set(counts) <= set(RANDOM_TRIGGERS) else "physics",
        "metadata": meta,
        "stream_sha256": sha,
        "stream_bytes": size,
    }


def ingest_midas(
    path: str | os.PathLike,
    *,
    catalog,
    dataset: str = "supercdms",
    detector: str | None = None,
    run_type: str | None = None,
    run_number: int | None = None,
) -> dict[str, Any]:
    """Validate ``path`` and register its run and file in ``catalog`` (a path or a Catalog).

    ``run_number`` defaults to the MIDAS run number, or — when the DAQ left it 0, as the
    SuperCDMS DAQ does — the series id from the file name (``51230216_125838_F0001`` →
    51230216125838). A further file of a run already in the catalog is added to that run.
    Returns a summary (run number, run type, event counts, file id).
    """
    from ..catalog import Catalog, sha256_file

    path = Path(path)
    try:
        facts = scan_midas(path)
    except MidasError as e:
        raise IngestError(f"not ingested (nothing was written to the catalog): {e}") from None
    meta = facts["metadata"]
    number = int(run_number if run_number is not None else facts["run_number"])
    dets = sorted(meta.get("detectors") or {})
    detector = detector or ("+".join(dets) if dets else "unknown")
    kind = run_type or facts["run_type"]
    run_meta = {k: v for k, v in meta.items() if k != "channels"}
    run_meta["channels"] = meta["channels"]
    file_meta = {
        "compressed": facts["file"].compressed,
        "uncompressed_sha256": facts["stream_sha256"],
        "uncompressed_bytes": facts["stream_bytes"],
        "n_events": meta["n_events"],
        "triggers": meta["triggers"],
        "series": meta.get("series"),
        "file_number": meta.get("file_number"),
        "reader": "analysis_lib.io.scdms.open_scdms",
    }
    try:  # the file as stored (compressed or not): hashed before the transaction opens
        file_sha = sha256_file(path)
    except OSError as e:
        raise IngestError(
            f"not ingested (nothing was written to the catalog): {path}: {e}"
        ) from None
    own = not isinstance(catalog, Catalog)
    cat = Catalog.open(catalog) if own else catalog
    try:
        with cat.transaction():
            cat.add_dataset(dataset, detector=detector, description="SuperCDMS MIDAS DAQ files")
            if len(cat.runs(dataset=dataset, run=number)):
                run_id = None
            else:
                run_id = cat.add_run(
                    dataset,
                    number,
                    run_type=kind,
                    detector=detector,
                    start=facts["start"],
                    end=facts["end"],
                    metadata=run_meta,
                )
            file_id = cat.add_file(
                path,
                dataset=dataset,
                run=number,
                format=FORMAT,
                start=facts["start"],
                end=facts["end"],
                metadata=file_meta,
                sha256=file_sha,
            )
    finally:
        if own:
            cat.close()
    return {
        "dataset": dataset,
        "run_number": number,
        "run_type": kind,
        "new_run": run_id is not None,
        "file_id": file_id,
        "n_events": meta["n_events"],
        "triggers": meta["triggers"],
        "start": facts["start"].isoformat(),
        "end": facts["end"].isoformat(),
    }
