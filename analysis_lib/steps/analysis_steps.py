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


class Energies(Step):
    """Calibrated energy (keV) and its uncertainty for every event, from OF amplitudes."""

    provides = "energies"
    depends_on = ("of_amplitudes",)
    __version__ = "0.1.0"
    calibration = Option("", help="path of the calibration JSON (analysis_lib.calib)", track=False)

    def own_lineage(self) -> dict:
        lin = super().own_lineage()
        lin["calibration_sha256"] = _artifact_sha256(self.provides, "calibration", self.calibration)
        return lin

    def _cal(self):
        from ..calib import load_calibration

        if getattr(self, "_loaded", None) is None:
            self._loaded = load_calibration(self.calibration)
        return self._loaded

    def compute(self, of_amplitudes) -> dict[str, np.ndarray]:
        cal = self._cal()
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

    def own_lineage(self) -> dict:
        lin = super().own_lineage()
        lin["cutflow_sha256"] = _artifact_sha256(self.provides, "cutflow", self.cutflow)
        return lin

    def compute(self, energies, of_amplitudes, features) -> dict[str, np.ndarray]:
        from ..cuts import load_cutflow

        if getattr(self, "_flow", None) is None:
            self._flow = load_cutflow(self.cutflow)
        events = pd.DataFrame({**features, **of_amplitudes, **energies})
        out = {"event": np.asarray(energies["event"])}
        passed = np.ones(len(events), dtype=bool)
        for cut in self._flow.cuts:
            m = cut.mask(events)
            out[f"cut_{cut.name}"] = m
            passed &= m
        out["passed"] = passed
        return out
