"""Energy scale (polynomial amplitude → energy) with uncertainties, and versioned
calibration artifacts.

The scale ``E(a) = Σ_i p_i a^i`` is fitted by weighted least squares to calibration points
``(a_j ± σ_a,j, E_j)`` with the *effective variance* method for errors in the abscissa
(Orear 1982, Am. J. Phys. 50, 912): ``σ_eff,j² = (dE/da)² σ_a,j² + σ_E,j²``, iterated to
convergence. The parameter covariance is ``(Aᵀ W A)⁻¹``. The uncertainty of an applied
energy propagates that covariance, ``σ_E(a)² = gᵀ C g`` with ``g_i = a^i``.
With as many points as parameters the fit is exact and σ comes from the points' errors.

Artifacts are JSON documents with ``schema`` and ``version`` fields, written atomically
(temporary file, then rename); :func:`load_calibration` names any missing or malformed
field.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_write_text
from .lines import LineFit

__all__ = ["Calibration", "EnergyScale", "fit_energy_scale", "load_calibration"]

SCHEMA = "rarehub.calibration/1"


@dataclass(frozen=True)
class EnergyScale:
    """Polynomial energy scale ``E = Σ coefficients[i] · a**i`` (keV per amplitude unit^i)."""

    coefficients: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...]

    @property
    def degree(self) -> int:
        return len(self.coefficients) - 1

    def energy_keV(self, amplitude: np.ndarray) -> np.ndarray:
        """Calibrated energy of each amplitude."""
        a = np.asarray(amplitude, dtype=np.float64)
        return np.polynomial.polynomial.polyval(a, np.asarray(self.coefficients))

    def energy_err_keV(self, amplitude: np.ndarray) -> np.ndarray:
        """1σ uncertainty of the calibrated energy from the scale's parameter covariance."""
        a = np.asarray(amplitude, dtype=np.float64)
        g = a[..., None] ** np.arange(self.degree + 1)
        cov = np.asarray(self.covariance)
        return np.sqrt(np.einsum("...i,ij,...j->...", g, cov, g))

    def to_dict(self) -> dict:
        return {
            "coefficients": list(self.coefficients),
            "covariance": [list(r) for r in self.covariance],
        }


def fit_energy_scale(
    amplitudes: Sequence[float],
    energies_keV: Sequence[float],
    *,
    amplitude_errors: Sequence[float] | None = None,
    energy_errors_keV: Sequence[float] | None = None,
    degree: int = 1,
    through_zero: bool = False,
) -> EnergyScale:
    """Fit a polynomial energy scale to calibration points (see the module docstring).

    Parameters
    ----------
    amplitudes, energies_keV
        Fitted line positions (e.g. :attr:`LineFit.mean`) and the lines' known energies.
    amplitude_errors, energy_errors_keV
        1σ errors (default 0; at least one must be non-zero somewhere for a covariance).
    degree
        Polynomial degree (1 = linear).
    through_zero
        Fix the constant term to 0 (``E(0) = 0``).
    """
    a = np.asarray(amplitudes, dtype=np.float64)
    e = np.asarray(energies_keV, dtype=np.float64)
    sa = np.zeros_like(a) if amplitude_errors is None else np.asarray(amplitude_errors, float)
    se = np.zeros_like(e) if energy_errors_keV is None else np.asarray(energy_errors_keV, float)
    if not a.shape == e.shape == sa.shape == se.shape or a.ndim != 1:
        raise ValueError("amplitudes, energies and their errors must be 1-D of equal length")
    powers = np.arange(1 if through_zero else 0, degree + 1)
    if a.size < powers.size:
        raise ValueError(
            f"{a.size} calibration point(s) cannot fix a degree-{degree} scale "
            f"({powers.size} parameters)"
        )
    if not np.any(sa > 0) and not np.any(se > 0):
        raise ValueError("give amplitude_errors or energy_errors_keV: the scale needs errors")
    design = a[:, None] ** powers
    p = np.linalg.lstsq(design, e, rcond=None)[0]
    for _ in range(50):
        deriv = sum(k * p[j] * a ** (k - 1) for j, k in enumerate(powers) if k > 0)
        var = deriv**2 * sa**2 + se**2
        if np.any(var <= 0):
            raise ValueError("a calibration point has zero total error")
        w = 1.0 / var
        fisher = design.T @ (design * w[:, None])
        p_new = np.linalg.solve(fisher, design.T @ (w * e))
        done = np.allclose(p_new, p, rtol=1e-12, atol=0)
        p = p_new
        if done:
            break
    cov_small = np.linalg.inv(fisher)
    coeffs = np.zeros(degree + 1)
    cov = np.zeros((degree + 1, degree + 1))
    coeffs[powers] = p
    cov[np.ix_(powers, powers)] = cov_small
    return EnergyScale(tuple(map(float, coeffs)), tuple(tuple(map(float, r)) for r in cov))


@dataclass(frozen=True)
class Calibration:
    """A named, versioned calibration: the line fits it came from and the energy scale.

    ``apply(events)`` adds ``energy_keV`` and ``energy_err_keV`` columns computed from an
    amplitude column.
    """

    name: str
    version: str
    scale: EnergyScale
    lines: tuple[tuple[float, LineFit], ...] = ()  # (known energy keV, fit)
    amplitude_column: str = "of_amplitude"
    created_utc: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds")
    )
    notes: str = ""

    def apply(self, events):
        """Return a copy of the pandas DataFrame ``events`` with calibrated energies."""
        if self.amplitude_column not in events.columns:
            raise KeyError(
                f"calibration {self.name}@{self.version} needs column "
                f"{self.amplitude_column!r}; the events have {list(events.columns)}"
            )
        out = events.copy()
        amp = out[self.amplitude_column].to_numpy(dtype=np.float64)
        out["energy_keV"] = self.scale.energy_keV(amp)
        out["energy_err_keV"] = self.scale.energy_err_keV(amp)
        return out

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA,
            "name": self.name,
            "version": self.version,
            "created_utc": self.created_utc,
            "amplitude_column": self.amplitude_column,
            "scale": self.scale.to_dict(),
            "lines": [{"energy_keV": e, "fit": f.to_dict()} for e, f in self.lines],
            "notes": self.notes,
        }

    def save(self, path: str | Path) -> Path:
        """Write the artifact atomically as JSON; refuses to overwrite another version."""
        path = Path(path)
        if path.exists():
            old = json.loads(path.read_text())
            if old.get("version") != self.version:
                raise FileExistsError(
                    f"{path} holds version {old.get('version')!r}; "
                    f"write version {self.version!r} under a new name"
                )
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=2, sort_keys=True))


def load_calibration(path: str | Path) -> Calibration:
    """Read a calibration artifact written by :meth:`Calibration.save`."""
    path = Path(path)
    try:
        d = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e
    if d.get("schema") != SCHEMA:
        raise ValueError(f"{path}: field 'schema' is {d.get('schema')!r}, expected {SCHEMA!r}")
    for key in ("name", "version", "scale", "created_utc", "amplitude_column"):
        if key not in d:
            raise ValueError(f"{path}: missing field {key!r}")
    s = d["scale"]
    try:
        coeffs = tuple(float(c) for c in s["coefficients"])
        cov = tuple(tuple(float(c) for c in row) for row in s["covariance"])
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: field 'scale' is malformed ({e!r})") from e
    if len(cov) != len(coeffs) or any(len(r) != len(coeffs) for r in cov):
        raise ValueError(f"{path}: 'scale.covariance' must be {len(coeffs)}×{len(coeffs)}")
    lines = tuple((float(x["energy_keV"]), LineFit.from_dict(x["fit"])) for x in d.get("lines", []))
    return Calibration(
        name=d["name"],
        version=d["version"],
        scale=EnergyScale(coeffs, cov),
        lines=lines,
        amplitude_column=d["amplitude_column"],
        created_utc=d["created_utc"],
        notes=d.get("notes", ""),
    )
