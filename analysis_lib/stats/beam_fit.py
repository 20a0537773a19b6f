"""Binned likelihood fit of beam-on and beam-off spectra with nuisance parameters.

The model (as in accelerator CEvNS analyses, e.g. COHERENT 2017): the beam-on histogram
n_on[i] and the beam-off histogram n_off[i] share the steady-state background b[i];
the beam-off data were taken with ``off_exposure_ratio`` = τ times the beam-on exposure:

    ν_on[i]  = μ · s[i] · (1 + σ_s θ_s) + Σ_k (1 + σ_k θ_k) · r_k[i] + b[i],
    ν_off[i] = τ · b[i],

with s the signal template (expected counts for μ = 1), r_k beam-related background
templates (their expected counts), θ nuisance parameters with unit-Gaussian constraints
(σ_s: the signal normalisation uncertainty, e.g. the neutrino flux; σ_k: each background's
normalisation uncertainty), and b[i]
free per bin (constrained by the beam-off data). The negative log-likelihood is
−ln L = Σ Poisson terms + ½ Σ θ², minimised with iminuit (MIGRAD, then MINOS-like profile
scans by re-minimising at fixed μ).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

__all__ = ["BeamOnOffFit", "FitResult", "fit_beam_on_off"]


@dataclass
class FitResult:
    """Best fit and profile-likelihood summary.

    Attributes
    ----------
    mu, mu_err : float
        Signal strength (1 = the template's expectation) and its HESSE error.
    mu_interval : tuple of float
        Profile-likelihood interval at ``cl`` (Δ(−2 ln L) = χ²₁ quantile), μ ≥ 0.
    significance : float
        √(−2 Δ ln L) of μ = 0 versus the best fit (0 if the best fit is μ = 0).
    params : dict
        All fitted parameters.
    nll : float
        Minimum of −ln L (without constant terms).
    """

    mu: float
    mu_err: float
    mu_interval: tuple[float, float]
    significance: float
    params: dict
    nll: float


def _poisson_nll(n: np.ndarray, nu: np.ndarray) -> float:
    nu = np.maximum(nu, 1e-300)
    return float(np.sum(nu - n * np.log(nu) + gammaln(n + 1)))


class BeamOnOffFit:
    """The likelihood of :func:`fit_beam_on_off`; call :meth:`nll` with a parameter vector."""

    def __init__(
        self,
        n_on: np.ndarray,
        n_off: np.ndarray,
        signal: np.ndarray,
        off_exposure_ratio: float,
        *,
        signal_sigma: float = 0.0,
        backgrounds: dict[str, tuple[np.ndarray, float]] | None = None,
    ) -> None:
        self.n_on = np.asarray(n_on, dtype=float)
        self.n_off = np.asarray(n_off, dtype=float)
        self.signal = np.asarray(signal, dtype=float)
        shapes = {self.n_on.shape, self.n_off.shape, self.signal.shape}
        backgrounds = dict(backgrounds or {})
        for name, (tmpl, _) in backgrounds.items():
            shapes.add(np.shape(tmpl))
            if np.any(np.asarray(tmpl) < 0):
                raise ValueError(f"background template {name!r} has negative bins")
        if len(shapes) != 1:
            raise ValueError(f"histograms and templates must have the same binning, got {shapes}")
        if off_exposure_ratio <= 0:
            raise ValueError(f"off_exposure_ratio={off_exposure_ratio}: must be > 0")
        self.tau = float(off_exposure_ratio)
        self.signal_sigma = float(signal_sigma)
        self.bkg_names = list(backgrounds)
        self.bkg_templates = [np.asarray(backgrounds[k][0], dtype=float) for k in self.bkg_names]
        self.bkg_sigmas = [float(backgrounds[k][1]) for k in self.bkg_names]
        self.nbins = self.n_on.size
        self.names = (
            ["mu", "theta_signal"]
            + [f"theta_{k}" for k in self.bkg_names]
            + [f"b_{i}" for i in range(self.nbins)]
        )

    def expected(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ν_on, ν_off) for the parameter vector ``p`` (order: :attr:`names`)."""
        k = len(self.bkg_names)
        mu, th_s = p[0], p[1]
        th = p[2 : 2 + k]
        b = p[2 + k :]
        nu_on = mu * self.signal * (1 + self.signal_sigma * th_s) + b
        for ti, si, tmpl in zip(th, self.bkg_sigmas, self.bkg_templates, strict=True):
            nu_on = nu_on + (1 + si * ti) * tmpl
        return nu_on, self.tau * b

    def nll(self, p: np.ndarray) -> float:
        """−ln L (with constraint terms ½θ²)."""
        p = np.asarray(p, dtype=float)
        nu_on, nu_off = self.expected(p)
        k = len(self.bkg_names)
        thetas = np.r_[p[1], p[2 : 2 + k]]
        return (
            _poisson_nll(self.n_on, nu_on)
            + _poisson_nll(self.n_off, nu_off)
            + 0.5 * float(np.sum(thetas**2))
        )

    def _minuit(self, fixed_mu: float | None = None):
        from iminuit import Minuit

        k = len(self.bkg_names)
        start = np.r_[
            1.0,
            0.0,
            np.zeros(k),
            np.maximum(self.n_off / self.tau, 0.1),
        ]
        m = Minuit(lambda p: self.nll(p), start, name=self.names)
        m.errordef = Minuit.LIKELIHOOD
        m.limits["mu"] = (0, None)
        for i in range(self.nbins):
            m.limits[f"b_{i}"] = (1e-9, None)
        if self.signal_sigma == 0:
            m.fixed["theta_signal"] = True
        for name, s in zip(self.bkg_names, self.bkg_sigmas, strict=True):
            if s == 0:
                m.fixed[f"theta_{name}"] = True
        if fixed_mu is not None:
            m.values["mu"] = fixed_mu
            m.fixed["mu"] = True
        m.migrad()
        return m


def fit_beam_on_off(
    n_on: np.ndarray,
    n_off: np.ndarray,
    signal: np.ndarray,
    off_exposure_ratio: float,
    *,
    signal_sigma: float = 0.0,
    backgrounds: dict[str, tuple[np.ndarray, float]] | None = None,
    cl: float = 0.6827,
    intervals: bool = True,
) -> FitResult:
    """Fit the signal strength μ to beam-on / beam-off histograms (see the module docstring).

    Parameters
    ----------
    n_on, n_off : arrays of counts
        Beam-on and beam-off histograms, same binning.
    signal : array
        Expected signal counts per bin for μ = 1 in the beam-on exposure.
    off_exposure_ratio : float
        Beam-off exposure / beam-on exposure (τ).
    signal_sigma : float
        Relative normalisation uncertainty of the signal (a constrained nuisance).
    backgrounds : dict name → (template, relative sigma), optional
        Beam-related backgrounds (e.g. prompt neutrons): expected counts per bin and the
        relative normalisation uncertainty (a constrained nuisance θ_k).
    cl : float
        Confidence level of the profile-likelihood interval on μ.
    intervals : bool
        Compute the profile interval and significance (re-fits; set False for fast toys,
        which then report NaN for both).
    """
    from scipy.optimize import brentq
    from scipy.stats import chi2

    model = BeamOnOffFit(
        n_on,
        n_off,
        signal,
        off_exposure_ratio,
        signal_sigma=signal_sigma,
        backgrounds=backgrounds,
    )
    m = model._minuit()
    if not m.valid:
        raise RuntimeError(f"beam-on/off fit did not converge: {m.fmin}")
    m.hesse()
    best_nll = float(m.fval)
    mu_hat = float(m.values["mu"])
    params = {k: float(m.values[k]) for k in model.names}
    if not intervals:
        return FitResult(mu_hat, float(m.errors["mu"]), (np.nan, np.nan), np.nan, params, best_nll)

    def profile(mu: float) -> float:
        return float(model._minuit(fixed_mu=mu).fval) - best_nll

    target = 0.5 * chi2.ppf(cl, 1)
    step = max(float(m.errors["mu"]), 0.1)
    hi = mu_hat + step
    while profile(hi) < target:
        hi += 2 * step
    upper = brentq(lambda x: profile(x) - target, mu_hat, hi, xtol=1e-4)
    if mu_hat <= 0 or profile(0.0) < target:
        lower = 0.0
    else:
        lower = brentq(lambda x: profile(x) - target, 0.0, mu_hat, xtol=1e-4)
    q0 = 2 * profile(0.0) if mu_hat > 0 else 0.0
    return FitResult(
        mu=mu_hat,
        mu_err=float(m.errors["mu"]),
        mu_interval=(float(lower), float(upper)),
        significance=float(np.sqrt(max(q0, 0.0))),
        params=params,
        nll=best_nll,
    )
