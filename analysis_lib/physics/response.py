"""Detector response hooks: quenching, energy resolution, threshold efficiency.

A recoil spectrum in nuclear-recoil energy (keVnr) becomes what a detector records by

1. **quenching** — the visible (electron-equivalent, keVee) energy E_ee = L(E_nr) · E_nr,
   with L a constant or Lindhard's model (Lindhard et al., Mat. Fys. Medd. Dan. Vid. Selsk.
   33 (1963) 10; k = 0.133 Z^{2/3} A^{−1/2}, ε = 11.5 Z^{−7/3} E_nr/keV,
   g(ε) = 3ε^{0.15} + 0.7ε^{0.6} + ε, L = k g / (1 + k g));
2. **resolution** — Gaussian smearing with σ(E) = √(σ₀² + F·w·E + (c·E)²) (a noise term, a
   Fano-like statistical term and a constant term, all optional);
3. **threshold efficiency** — an error-function turn-on, or a logistic a/(1 + e^{−k(x−x₀)})
   as COHERENT's CsI analysis used (Science 357 (2017) 1123, data release
   arXiv:1804.09459).

:func:`coherent_csi_2017_acceptance` is that release's signal acceptance in photoelectrons,
and :func:`photoelectron_pmf` the Poisson statistics of the photoelectrons a scintillator
records for a given mean.

:class:`DetectorResponse` chains the three and maps dR/dE_nr on a grid to dR/dE_obs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import erf

from .nuclei import Nucleus, nucleus

__all__ = [
    "COHERENT_CSI_2017_ACCEPTANCE",
    "DetectorResponse",
    "coherent_csi_2017_acceptance",
    "erf_efficiency",
    "gaussian_resolution",
    "lindhard_quenching",
    "logistic_efficiency",
    "photoelectron_pmf",
    "smear",
]


def lindhard_quenching(recoil_keV: np.ndarray, target: str | Nucleus, k: float | None = None):
    """Lindhard quenching factor L(E_nr) (visible / recoil energy) for ``target``.

    ``k`` defaults to 0.133 Z^{2/3} A^{−1/2} (≈ 0.157 for Ge)."""
    nuc = nucleus(target)
    if k is None:
        k = 0.133 * nuc.Z ** (2 / 3) * nuc.A ** (-0.5)
    eps = 11.5 * nuc.Z ** (-7 / 3) * np.asarray(recoil_keV, dtype=float)
    g = 3 * eps**0.15 + 0.7 * eps**0.6 + eps
    return k * g / (1 + k * g)


def gaussian_resolution(
    sigma0_keV: float = 0.0, fano_w_keV: float = 0.0, constant: float = 0.0
) -> Callable[[np.ndarray], np.ndarray]:
    """σ(E) = √(σ₀² + F·w·E + (c·E)²) in keV, as a function of the observed energy (keV).

    ``fano_w_keV`` is the product F·w (Fano factor times energy per quantum, in keV)."""

    def sigma(e_keV: np.ndarray) -> np.ndarray:
        e = np.asarray(e_keV, dtype=float)
        return np.sqrt(sigma0_keV**2 + fano_w_keV * np.clip(e, 0, None) + (constant * e) ** 2)

    return sigma


def erf_efficiency(threshold: float, width: float, plateau: float = 1.0):
    """ε(x) = plateau · ½[1 + erf((x − threshold)/(√2 width))]: a Gaussian-smeared step."""

    def eff(x: np.ndarray) -> np.ndarray:
        return (
            plateau
            * 0.5
            * (1 + erf((np.asarray(x, dtype=float) - threshold) / (np.sqrt(2) * width)))
        )

    return eff


def logistic_efficiency(a: float, k: float, x0: float, cut_below: float | None = None):
    """ε(x) = a / (1 + exp(−k (x − x₀))), zero below ``cut_below`` if given."""

    def eff(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        out = a / (1 + np.exp(-k * (x - x0)))
        if cut_below is not None:
            out = np.where(x < cut_below, 0.0, out)
        return out

    return eff


#: Parameters of COHERENT's CsI[Na] 2017 signal acceptance (data release, arXiv:1804.09459).
COHERENT_CSI_2017_ACCEPTANCE = {"a": 0.6655, "k": 0.4942, "x0": 10.8507}


def coherent_csi_2017_acceptance(pe: np.ndarray) -> np.ndarray:
    """COHERENT's CsI[Na] 2017 signal acceptance at ``pe`` photoelectrons.

    ε(x) = a / (1 + exp(−k (x − x₀))) with a = 0.6655, k = 0.4942, x₀ = 10.8507; ε = 0
    below 5 PE and ½ ε(x) for 5 ≤ x < 6 PE (release note, arXiv:1804.09459,
    doi:10.5281/zenodo.1228631).
    """
    x = np.asarray(pe, dtype=float)
    p = COHERENT_CSI_2017_ACCEPTANCE
    eps = p["a"] / (1 + np.exp(-p["k"] * (x - p["x0"])))
    return np.where(x < 5, 0.0, np.where(x < 6, 0.5 * eps, eps))


def photoelectron_pmf(mean_pe: np.ndarray, n_max: int) -> np.ndarray:
    """P(n photoelectrons | mean) for n = 0 … n_max − 1, Poisson statistics (shape
    mean.shape + (n_max,)); the probability of n ≥ n_max is left out."""
    from scipy.stats import poisson

    mu = np.asarray(mean_pe, dtype=float)
    if np.any(mu < 0):
        raise ValueError("mean_pe: a mean number of photoelectrons is ≥ 0")
    return poisson.pmf(np.arange(n_max), mu[..., None])


def smear(
    energies: np.ndarray,
    spectrum: np.ndarray,
    sigma: Callable[[np.ndarray], np.ndarray],
    observed: np.ndarray | None = None,
) -> np.ndarray:
    """Gaussian-smear a spectrum given on a grid; returns dR/dE on ``observed`` (default: the
    same grid). The smearing conserves the integral for observed grids that cover the tails.
    """
    e = np.asarray(energies, dtype=float)
    obs = e if observed is None else np.asarray(observed, dtype=float)
    w = np.gradient(e) * np.asarray(spectrum, dtype=float)  # events per true-energy bin
    s = np.maximum(sigma(e), 1e-12)
    kernel = np.exp(-0.5 * ((obs[:, None] - e[None, :]) / s[None, :]) ** 2) / (
        np.sqrt(2 * np.pi) * s[None, :]
    )
    return kernel @ w


@dataclass
class DetectorResponse:
    """Quenching → resolution → efficiency, applied to a nuclear-recoil spectrum.

    Attributes
    ----------
    quenching : float or callable, optional
        Constant L or a function L(E_nr keV); None means no quenching (E_obs = E_nr).
    resolution : callable, optional
        σ(E_obs keV) in keV; None means perfect resolution.
    efficiency : callable, optional
        ε(E_obs keV) in [0, 1]; None means 1.
    """

    quenching: float | Callable[[np.ndarray], np.ndarray] | None = None
    resolution: Callable[[np.ndarray], np.ndarray] | None = None
    efficiency: Callable[[np.ndarray], np.ndarray] | None = None

    def visible_keV(self, recoil_keV: np.ndarray) -> np.ndarray:
        """Visible energy for nuclear-recoil energies (keV)."""
        e = np.asarray(recoil_keV, dtype=float)
        if self.quenching is None:
            return e
        q = self.quenching(e) if callable(self.quenching) else self.quenching
        return e * q

    def apply(
        self, recoil_keV: np.ndarray, rate_per_keVnr: np.ndarray, observed_keV: np.ndarray
    ) -> np.ndarray:
        """dR/dE_obs on ``observed_keV`` from dR/dE_nr on the (fine, increasing) recoil grid."""
        enr = np.asarray(recoil_keV, dtype=float)
        evis = self.visible_keV(enr)
        dvis = np.gradient(evis, enr)
        rate_vis = np.asarray(rate_per_keVnr, dtype=float) / np.where(dvis > 0, dvis, np.inf)
        if self.resolution is None:
            out = np.interp(observed_keV, evis, rate_vis, left=0.0, right=0.0)
        else:
            out = smear(evis, rate_vis, self.resolution, observed_keV)
        if self.efficiency is not None:
            out = out * self.efficiency(np.asarray(observed_keV, dtype=float))
        return out
