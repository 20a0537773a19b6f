"""Calibration: line fits (peak + background, binned Poisson likelihood), polynomial
energy scales with uncertainties, versioned JSON calibration artifacts."""

from .energy_scale import Calibration, EnergyScale, fit_energy_scale, load_calibration
from .lines import LineFit, find_line_candidates, fit_line, fit_lines

__all__ = [
    "Calibration",
    "EnergyScale",
    "LineFit",
    "find_line_candidates",
    "fit_energy_scale",
    "fit_line",
    "fit_lines",
    "load_calibration",
]
