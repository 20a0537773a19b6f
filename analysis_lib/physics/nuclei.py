"""Target nuclei and the Helm nuclear form factor.

The Helm form factor follows Lewin & Smith, Astropart. Phys. 6 (1996) 87, sec. 4.1
(eq. 4.7 with the parametrisation of eq. 4.11):

    F(q) = 3 j₁(q rₙ) / (q rₙ) · exp(-(q s)² / 2),
    rₙ² = c² + (7/3) π² a² − 5 s²,  c = 1.23 A^{1/3} − 0.60 fm,  a = 0.52 fm,  s = 0.9 fm,

with q = √(2 m_N E_R) / ħc the momentum transfer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .constants import AMU_GEV, HBARC_GEV_FM

__all__ = ["NUCLEI", "Nucleus", "helm_form_factor", "momentum_transfer_fm", "nucleus"]


@dataclass(frozen=True)
class Nucleus:
    """A target nucleus: element symbol, mass number ``A`` (may be the isotopic mean), ``Z``.

    Attributes
    ----------
    name : str
    A : float
        Mass number; the natural-abundance mean for elements with several isotopes.
    Z : int
        Protons.
    """

    name: str
    A: float
    Z: int

    @property
    def N(self) -> float:
        """Neutrons (A − Z)."""
        return self.A - self.Z

    @property
    def mass_GeV(self) -> float:
        """Nuclear mass ≈ A · u, in GeV/c² (binding and electrons neglected, < 0.1 %)."""
        return self.A * AMU_GEV


# Natural-abundance mean mass numbers (standard atomic weights, IUPAC).
NUCLEI: dict[str, Nucleus] = {
    n.name: n
    for n in (
        Nucleus("Si", 28.0855, 14),
        Nucleus("Ar", 39.948, 18),
        Nucleus("Ge", 72.630, 32),
        Nucleus("I", 126.904, 53),
        Nucleus("Xe", 131.293, 54),
        Nucleus("Cs", 132.905, 55),
        Nucleus("Na", 22.990, 11),
    )
}


def nucleus(name: str | Nucleus) -> Nucleus:
    """The :class:`Nucleus` called ``name`` (e.g. ``"Ge"``); a Nucleus passes through."""
    if isinstance(name, Nucleus):
        return name
    try:
        return NUCLEI[name]
    except KeyError:
        raise KeyError(f"unknown target nucleus {name!r}; known: {sorted(NUCLEI)}") from None


def momentum_transfer_fm(recoil_keV: np.ndarray, target: str | Nucleus) -> np.ndarray:
    """q = √(2 m_N E_R) / ħc in fm⁻¹ for recoil energies in keV."""
    m = nucleus(target).mass_GeV
    return np.sqrt(2.0 * m * np.asarray(recoil_keV, dtype=float) * 1e-6) / HBARC_GEV_FM


def helm_form_factor(recoil_keV: np.ndarray, target: str | Nucleus) -> np.ndarray:
    """Helm form factor F(E_R) (not squared), Lewin & Smith (1996) eq. 4.7/4.11; F(0) = 1."""
    nuc = nucleus(target)
    q = momentum_transfer_fm(recoil_keV, nuc)
    a, s = 0.52, 0.9  # fm
    c = 1.23 * nuc.A ** (1 / 3) - 0.60
    rn = np.sqrt(c**2 + (7 / 3) * np.pi**2 * a**2 - 5 * s**2)
    x = np.asarray(q * rn, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        # 3 j1(x)/x, with its series near 0 to avoid 0/0 and cancellation
        j1_over_x = np.where(
            x > 1e-3,
            3 * (np.sin(x) - x * np.cos(x)) / np.maximum(x, 1e-3) ** 3,
            1 - x**2 / 10,
        )
    return j1_over_x * np.exp(-((q * s) ** 2) / 2)
