"""Steps that apply stored artifacts to events: an energy calibration and a cut flow.

The artifacts (versioned JSON from :mod:`analysis_lib.calib` and :mod:`analysis_lib.cuts`)
are named by path options; the lineage holds the sha256 of the artifact's content, not
the path, so editing a calibration or a cut gives a new storage key while moving the
file does not.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from .core import Option, PipelineError, Step

__all__ = ["Energies", "Selection"]


def _artifact_sha256(step: str, option: str, path: str) -> str:
    if not path:
        raise PipelineError(f"step {step!r}: set option {option!r} to the artifact's path")
    p = Path(path)
    if not p.is_file():
        raise PipelineError(f"step {step!r}: option {option!r} = {path!r} is not a file")
    return hashlib.sha256(p.read_bytes()).hexdigest()


#: Parsed artifacts a step keeps, by content sha256 (older ones are dropped).
_KEEP_ARTIFACTS = 4


class _PinnedArtifact:
    """The artifact a path option names, pinned to the content its lineage holds.

    :meth:`pin` reads the file, hashes it and returns (sha256, parsed artifact) parsed from
    that very content (the file is hashed again after parsing; a file that changes while
    it is read is read again). The Pipeline calls a step's ``own_lineage`` once per
    ``make``, which pins; ``compute`` then uses what was pinned, so the result stored under
    a key is always made from the artifact whose sha256 is in that key. A changed file
    gives a new sha256 at the next ``make``, and is parsed anew; an unchanged one is not.
    """

    def __init__(self, step: str, option: str, loader) -> None:
        self.step, self.option, self.loader = step, option, loader
        self.parsed: dict[str, object] = {}
        self.current: tuple[str, object] | None = None

    def pin(self, path: str) -> tuple[str, object]:
        for _ in range(3):
            sha = _artifact_sha256(self.step, self.option, path)
            if sha in self.parsed:
                self.current = (sha, self.parsed[sha])
                return self.current
            artifact = self.loader(path)
            if _artifact_sha256(self.step, self.option, path) == sha:
                while len(self.parsed) >= _KEEP_ARTIFACTS:
                    self.parsed.pop(next(iter(self.parsed)))
                self.parsed[sha] = artifact
                self.current = (sha, artifact)
                return self.current
        raise PipelineError(
            f"step {self.step!r}: option {self.option!r} = {path!r} changed each time it was"
            " read (3 times): write artifacts atomically (save() does)"
        )

    def pinned(self, path: str):
        """The artifact pinned by the last lineage (pinned now if there was none)."""
        return (self.current or self.pin(path))[1]


class Energies(Step):
    """Calibrated energy (keV) and its uncertainty for every event, from OF amplitudes."""

    provides = "energies"
    depends_on = ("of_amplitudes",)
    __version__ = "0.1.0"
    calibration = Option("", help="path of the calibration JSON (analysis_lib.calib)", track=False)

    def __init__(self, **config) -> None:
        from ..calib import load_calibration

        super().__init__(**config)
        self._artifact = _PinnedArtifact(self.provides, "calibration", load_calibration)

    def own_lineage(self) -> dict:
        lin = super().own_lineage()
        lin["calibration_sha256"] = self._artifact.pin(self.calibration)[0]
        return lin

    def compute(self, of_amplitudes) -> dict[str, np.ndarray]:
        cal = self._artifact.pinned(self.calibration)
        if cal.amplitude_column not in of_amplitudes:
            raise PipelineError(
                f"calibration {cal.name}@{cal.version} needs column "
                f"{cal.amplitude_column!r}; of_amplitudes has "
                f"{sorted(of_amplitudes)}"
            )
        amp = np.asarray(of_amplitudes[cal.amplitude_column], dtype=np.float64)
        return {
            "event": np.asarray(of_amplitudes["event"]),
            "energy_keV": cal.scale.energy_keV(amp),
            "energy_err_keV": cal.scale.energy_err_keV(amp),
        }


class Selection(Step):
    """Pass/fail of every cut of a stored cut flow, and of all of them (``passed``)."""

    provides = "selection"
    depends_on = ("energies", "of_amplitudes", "features")
    __version__ = "0.1.0"
    cutflow = Option("", help="path of the cut-flow JSON (analysis_lib.cuts)", track=False)

    def __init__(self, **config) -> None:
        from ..cuts import load_cutflow

        super().__init__(**config)
        self._artifact = _PinnedArtifact(self.provides, "cutflow", load_cutflow)

    def own_lineage(self) -> dict:
        lin = super().own_lineage()
        lin["cutflow_sha256"] = self._artifact.pin(self.cutflow)[0]
        return lin

    def compute(self, energies, of_amplitudes, features) -> dict[str, np.ndarray]:
        flow = self._artifact.pinned(self.cutflow)
        events = pd.DataFrame({**features, **of_amplitudes, **energies})
        out = {"event": np.asarray(energies["event"])}
        passed = np.ones(len(events), dtype=bool)
        for cut in flow.cuts:
            m = cut.mask(events)
            out[f"cut_{cut.name}"] = m
            passed &= m
        out["passed"] = passed
        return out
