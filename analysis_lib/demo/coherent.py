"""A COHERENT-like CsI[Na] detector at a 60 Hz pulsed spallation source.

Events carry their energy in photoelectrons (PE) and their time relative to the
protons-on-target (POT) trigger in µs. Beam-on events are recorded in a window after the
POT trigger; beam-off (anti-coincidence) events in an equal window before it.

The beam (:func:`simulate_beam`) is a 60 Hz train of proton spills with protons on target
(POT) per spill and the beam power, with trips (outages) during which no POT arrives; the
CEvNS rate of each spill is proportional to its POT. :func:`write_beam_archive` stores it as
the archived slow-control time series ``SNS:BEAM_POWER_MW`` (1 Hz) and
``SNS:POT_PER_SPILL`` (each spill) in the partitioned Parquet layout of
:mod:`analysis_lib.beam.archive`, with one archiver gap.

Physical parameters (sources):
- SNS: 60 Hz, ~360 ns FWHM proton pulse; prompt νμ from π⁺ decay at rest (τ_π = 26 ns),
  delayed νe and ν̄μ from μ⁺ decay (τ_μ = 2.197 µs) — Akimov et al., Science 357 (2017) 1123.
- SNS beam: 1.4 MW of 1.0 GeV protons at 60 Hz → P / (60 Hz · 1 GeV) ≈ 1.46·10¹⁴ POT per
  spill (SNS parameters: Henderson et al., NIM A 763 (2014) 610); spill-to-spill POT
  fluctuations of 2 % rms; trips every ~15 min on average lasting 10 s–3 min (order of the
  SNS trip statistics; illustrative).
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
SPILL_RATE_HZ = 60.0
PROTON_ENERGY_GEV = 1.0
NOMINAL_POWER_MW = 1.4
GEV_TO_J = 1.602176634e-10
NOMINAL_POT_PER_SPILL = NOMINAL_POWER_MW * 1e6 / (SPILL_RATE_HZ * PROTON_ENERGY_GEV * GEV_TO_J)
POT_RMS_FRACTION = 0.02
MEAN_TIME_BETWEEN_TRIPS_S = 900.0
TRIP_DURATION_RANGE_S = (10.0, 180.0)
CEVNS_PER_NOMINAL_SPILL = 2e-3  # CEvNS events per nominal spill in the beam-on window
BKG_PER_WINDOW = 0.05  # steady-state background events per 12 µs window
DEFAULT_START = "2026-01-10T00:00:00Z"


def simulate_beam(n_spills: int, seed: int = 1, start: str = DEFAULT_START) -> pd.DataFrame:
    """Per-spill beam record: ``spill``, ``time_ns`` (UTC ns of the POT trigger), ``pot``.

    Trips are a Poisson process (mean time between trips 15 min) with uniformly
    distributed durations; during a trip ``pot`` is 0.
    """
    rng = np.random.default_rng([seed, 60])
    t0 = pd.Timestamp(start).value
    period_ns = round(1e9 / SPILL_RATE_HZ)
    time_ns = t0 + np.arange(n_spills, dtype=np.int64) * period_ns
    duration_s = n_spills / SPILL_RATE_HZ
    n_trips = rng.poisson(duration_s / MEAN_TIME_BETWEEN_TRIPS_S)
    pot = NOMINAL_POT_PER_SPILL * (1 + POT_RMS_FRACTION * rng.standard_normal(n_spills))
    for s, d in zip(
        rng.uniform(0, duration_s, n_trips),
        rng.uniform(*TRIP_DURATION_RANGE_S, n_trips),
        strict=True,
    ):
        lo, hi = int(s * SPILL_RATE_HZ), int((s + d) * SPILL_RATE_HZ)
        pot[lo:hi] = 0.0
    return pd.DataFrame({"spill": np.arange(n_spills), "time_ns": time_ns, "pot": pot})


def beam_power_MW(beam: pd.DataFrame, interval_s: float = 1.0) -> pd.DataFrame:
    """Beam power averaged over ``interval_s``: POT rate × proton energy."""
    per = round(interval_s * SPILL_RATE_HZ)
    n = len(beam) // per * per
    pot = beam["pot"].to_numpy()[:n].reshape(-1, per).sum(axis=1)
    power = pot / interval_s * PROTON_ENERGY_GEV * GEV_TO_J / 1e6
    return pd.DataFrame({"time_ns": beam["time_ns"].to_numpy()[:n:per], "value": power})


def write_beam_archive(root, beam: pd.DataFrame) -> list:
    """Archive the beam as slow-control PVs under ``root`` (partitioned Parquet) and return
    the written files. One archiver outage (a *gap*, not a beam trip) is recorded."""
    from pathlib import Path

    from ..beam.archive import BeamArchive

    arch = BeamArchive(root)
    power = beam_power_MW(beam)
    t = beam["time_ns"].to_numpy()
    # the archiver was down for 2 minutes a third of the way in: no samples, one gap
    g0 = t[len(t) // 3]
    g1 = g0 + 120 * 10**9
    keep_p = (power["time_ns"] < g0) | (power["time_ns"] >= g1)
    keep_s = (t < g0) | (t >= g1)
    arch.append(
        "SNS:BEAM_POWER_MW", power["time_ns"][keep_p].to_numpy(), power["value"][keep_p].to_numpy()
    )
    arch.append("SNS:POT_PER_SPILL", t[keep_s], beam["pot"].to_numpy()[keep_s])
    for pv in ("SNS:BEAM_POWER_MW", "SNS:POT_PER_SPILL"):
        arch.record_gap(pv, int(g0), int(g1), "archiver restart")
    return sorted(p for p in Path(root).rglob("*.parquet") if not p.name.startswith("."))


def generate_csi_events(
    n_spills: int = 200_000, seed: int = 1, beam: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Generate beam-on and beam-off CsI events.

    Parameters
    ----------
    n_spills
        Number of 60 Hz POT triggers simulated (both windows are recorded for each).
    seed
        Seed of the random generator: equal seeds give equal tables.
    beam
        Per-spill beam from :func:`simulate_beam` (default: constant nominal beam). The
        CEvNS rate of a spill scales with its POT; trips have none.

    Returns
    -------
    pandas.DataFrame
        Columns ``spill`` (int), ``time_us`` (time after the window start, µs),
        ``energy_PE`` (float), ``beam_on`` (bool), ``truth`` (``"cevns"`` or
        ``"background"``), ``time_ns`` (UTC ns of the event).
    """
    if beam is not None and len(beam) != n_spills:
        raise ValueError(f"beam has {len(beam)} spills, n_spills is {n_spills}")
    rng = np.random.default_rng(seed)
    # Steady-state background (gammas, cosmics, ¹³⁴Cs/afterglow): flat in time,
    # falling in energy. Same rate in both windows.
    bkg_rate_per_window = BKG_PER_WINDOW
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
    if beam is None:
        n_sig = rng.poisson(CEVNS_PER_NOMINAL_SPILL * n_spills)
        sig_spill = rng.integers(0, n_spills, n_sig)
    else:
        per_spill = CEVNS_PER_NOMINAL_SPILL * beam["pot"].to_numpy() / NOMINAL_POT_PER_SPILL
        counts = rng.poisson(per_spill)
        sig_spill = np.repeat(np.arange(n_spills), counts)
        n_sig = len(sig_spill)
    delayed = rng.random(n_sig) < 2 / 3
    t = rng.normal(1.0, POT_SIGMA_US, n_sig) + np.where(
        delayed, rng.exponential(TAU_MU_US, n_sig), 0.0
    )
    recoil_keVnr = rng.exponential(8.0, n_sig)  # steeply falling CEvNS recoil spectrum
    mean_pe = recoil_keVnr * QUENCHING * LIGHT_YIELD_PE_PER_KEVEE
    frames.append(
        pd.DataFrame(
            {
                "spill": sig_spill,
                "time_us": np.clip(t, 0, WINDOW_US),
                "energy_PE": rng.poisson(mean_pe).astype(float) + rng.normal(0, 0.3, n_sig),
                "beam_on": True,
                "truth": "cevns",
            }
        )
    )
    events = pd.concat(frames, ignore_index=True)
    events = events[events["energy_PE"] > 0].sort_values(["spill", "time_us"])
    events = events.reset_index(drop=True)
    if beam is None:
        spill_ns = pd.Timestamp(DEFAULT_START).value + events["spill"].to_numpy() * round(
            1e9 / SPILL_RATE_HZ
        )
    else:
        spill_ns = beam["time_ns"].to_numpy()[events["spill"].to_numpy()]
    # beam-on window opens at the POT trigger, the beam-off window one window earlier
    window_start_ns = spill_ns - np.where(events["beam_on"], 0, int(WINDOW_US * 1e3))
    events["time_ns"] = window_start_ns + (events["time_us"].to_numpy() * 1e3).astype(np.int64)
    return events
