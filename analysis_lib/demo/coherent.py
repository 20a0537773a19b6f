"""A COHERENT-like CsI[Na] detector at a 60 Hz pulsed spallation source.

Events carry their energy in photoelectrons (PE) and their time relative to the
protons-on-target (POT) trigger in µs. Beam-on events are recorded in a window after the
POT trigger; beam-off (anti-coincidence) events in an equal window before it.

Physical parameters (sources):
- SNS: 60 Hz, ~360 ns FWHM proton pulse; prompt νμ from π⁺ decay at rest (τ_π = 26 ns),
  delayed νe and ν̄μ from μ⁺ decay (τ_μ = 2.197 µs) — Akimov et al., Science 357 (2017) 1123.
- CsI[Na] light yield ≈ 13.35 PE/keVee and quenching ≈ 8 % for nuclear recoils at a few
  keVnr, so CEvNS recoils (≲ 30 keVnr) give ≲ 30 PE — same reference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TAU_MU_US = 2.197  # muon lifetime, µs (PDG)
POT_SIGMA_US = 0.153  # Gaussian σ of the ~360 ns FWHM proton pulse, µs
WINDOW_US = 12.0  # beam-on / beam-off window length, µs
LIGHT_YIELD_PE_PER_KEVEE = 13.35
QUENCHING = 0.08


def generate_csi_events(n_spills: int = 200_000, seed: int = 1) -> pd.DataFrame:
    """Generate beam-on and beam-off CsI events.

    Parameters
    ----------
    n_spills
        Number of 60 Hz POT triggers simulated (both windows are recorded for each).
    seed
        Seed of the random generator: equal seeds give equal tables.

    Returns
    -------
    pandas.DataFrame
        Columns ``spill`` (int), ``time_us`` (time after the window start, µs),
        ``energy_PE`` (float), ``beam_on`` (bool), ``truth`` (``"cevns"`` or
        ``"background"``).
    """
    rng = np.random.default_rng(seed)
    # Steady-state background (gammas, cosmics, ¹³⁴Cs/afterglow): flat in time,
    # falling in energy. Same rate in both windows.
    bkg_rate_per_window = 0.05
    frames = []
    for beam_on in (True, False):
        n = rng.poisson(bkg_rate_per_window * n_spills)
        frames.append(
            pd.DataFrame(
                {
                    "spill": rng.integers(0, n_spills, n),
                    "time_us": rng.uniform(0, WINDOW_US, n),
                    "energy_PE": 1 + rng.exponential(25.0, n),
                    "beam_on": beam_on,
                    "truth": "background",
                }
            )
        )
    # CEvNS: only in beam-on windows. One third prompt (νμ), two thirds delayed (νe, ν̄μ).
    n_sig = rng.poisson(2e-3 * n_spills)
    delayed = rng.random(n_sig) < 2 / 3
    t = rng.normal(1.0, POT_SIGMA_US, n_sig) + np.where(
        delayed, rng.exponential(TAU_MU_US, n_sig), 0.0
    )
    recoil_keVnr = rng.exponential(8.0, n_sig)  # steeply falling CEvNS recoil spectrum
    mean_pe = recoil_keVnr * QUENCHING * LIGHT_YIELD_PE_PER_KEVEE
    frames.append(
        pd.DataFrame(
            {
                "spill": rng.integers(0, n_spills, n_sig),
                "time_us": np.clip(t, 0, WINDOW_US),
                "energy_PE": rng.poisson(mean_pe).astype(float) + rng.normal(0, 0.3, n_sig),
                "beam_on": True,
                "truth": "cevns",
            }
        )
    )
    events = pd.concat(frames, ignore_index=True)
    events = events[events["energy_PE"] > 0].sort_values(["spill", "time_us"])
    return events.reset_index(drop=True)
