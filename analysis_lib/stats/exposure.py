"""Exposure bookkeeping: target mass × live time, beam POT, efficiencies, summed over runs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Exposure", "total_exposure"]


@dataclass(frozen=True)
class Exposure:
    """The exposure of one run (or a sum of runs).

    Attributes
    ----------
    mass_kg : float
        Fiducial target mass, kg.
    live_days : float
        Live time, days (dead time and vetoes removed).
    pot : float
        Protons on target delivered during the live time (0 for non-beam searches).
    efficiency : float
        Energy-independent selection efficiency in [0, 1] (energy-dependent efficiencies
        belong in the detector response).
    """

    mass_kg: float
    live_days: float
    pot: float = 0.0
    efficiency: float = 1.0

    def __post_init__(self) -> None:
        for name in ("mass_kg", "live_days", "pot"):
            if getattr(self, name) < 0:
                raise ValueError(f"Exposure.{name}={getattr(self, name)}: must be ≥ 0")
        if not 0 <= self.efficiency <= 1:
            raise ValueError(f"Exposure.efficiency={self.efficiency}: must be in [0, 1]")

    @property
    def kg_days(self) -> float:
        """Effective exposure mass × live time × efficiency, kg·day."""
        return self.mass_kg * self.live_days * self.efficiency

    @property
    def kg_pot(self) -> float:
        """Effective beam exposure mass × POT × efficiency, kg·POT."""
        return self.mass_kg * self.pot * self.efficiency

    def __add__(self, other: Exposure) -> Exposure:
        """Combine runs: kg·days and kg·POT add; the result is expressed with the total
        live time and POT and an efficiency-weighted effective mass."""
        if not isinstance(other, Exposure):
            return NotImplemented
        days = self.live_days + other.live_days
        pot = self.pot + other.pot
        kgd = self.kg_days + other.kg_days
        kgp = self.kg_pot + other.kg_pot
        mass = kgd / days if days > 0 else (kgp / pot if pot > 0 else 0.0)
        combined = Exposure(mass, days, pot, 1.0)
        if pot > 0 and days > 0 and abs(combined.kg_pot - kgp) > 1e-9 * kgp:
            raise ValueError(
                "cannot combine runs whose kg·day and kg·POT weights differ into one "
                "Exposure; keep them separate (e.g. a list) and sum expected counts"
            )
        return combined


def total_exposure(runs: Iterable[Exposure]) -> Exposure:
    """Sum of run exposures (see :meth:`Exposure.__add__`)."""
    runs = list(runs)
    if not runs:
        raise ValueError("no runs given")
    total = runs[0]
    for r in runs[1:]:
        total = total + r
    return total
