"""A COHERENT-like CsI[Na] detector at a 60 Hz pulsed spallation source.

Events carry their energy in photoelectrons (PE) and their time relative to the
protons-on-target (POT) trigger in µs. Beam-on events are recorded in a window after the
POT trigger; beam-off (anti-coincidence) events in an equal window before it.

**Exposure scaling.** The CEvNS rate is the Standard-Model one
(:func:`analysis_lib.physics.cevns.cevns_events`: Freedman cross section, Helm form factor,
π-DAR flux), about 1e-6 events per SNS spill in 14.57 kg of CsI at 19.3 m. So that a
demo of a few hundred thousand rows shows a signal, each simulated *spill record* stands
for :data:`SPILLS_PER_RECORD` consecutive beam spills: its POT is the POT of all of them
(archived as ``SNS:POT_PER_SPILL``, one sample per record), its beam-on and beam-off windows
hold the events of all their windows, and the steady-state background scales the same
way. The records keep the 60 Hz timeline (the tiny demo's 200 000 records span 56 min of
timestamps but stand for 6·10⁸ spills, ≈ 116 days of beam and ≈ 8·10²² POT, half of
COHERENT's 2017 exposure), while the archived beam power stays the physical 1.4 MW. POT ×
detector mass × the SM rate per POT and kg therefore gives the injected count, and every
number a tutorial needs to predict it is in the catalog's ``generator_config``.

The beam (:func:`simulate_beam`) is a train of spill records with their POT and trips
(outages) during which no POT arrives; the CEvNS rate of each record is proportional to
its POT. :func:`write_beam_archive` stores it as the archived slow-control time series
``SNS:BEAM_POWER_MW`` (1 Hz) and ``SNS:POT_PER_SPILL`` (each record) in the partitioned
Parquet layout of :mod:`analysis_lib.beam.archive`, with one archiver gap.

Physical parameters (sources):
- SNS: 60 Hz, ~360 ns FWHM proton pulse; prompt νμ from π⁺ decay at rest (τ_π = 26 ns),
  delayed νe and ν̄μ from μ⁺ decay (τ_μ = 2.197 µs); 0.08 ν per flavour per proton; the
  CsI[Na] detector of 14.57 kg at 19.3 m from the target — Akimov et al. (COHERENT),
  Science 357 (2017) 1123.
- SNS beam: 1.4 MW of 1.0 GeV protons at 60 Hz → P / (60 Hz · 1 GeV) ≈ 1.46·10¹⁴ POT per
  spill (SNS parameters: Henderson et al., NIM A 763 (2014) 610); spill-to-spill POT
  fluctuations of 2 % rms; trips every ~15 min on average lasting 10 s–3 min (order of the
  SNS trip statistics; illustrative).
- CsI[Na] light yield 13.35 PE/keVee and a constant quenching factor of 8.78 % for
  nuclear recoils (COHERENT 2017, same reference; data release arXiv:1804.09459), so CEvNS
  recoils (≲ 45 keVnr) give ≲ 55 PE; the PE count is Poisson with a 0.3 PE Gaussian
  electronics smear, and an event is recorded above 0.5 PE.
- Steady-state background (gammas, cosmics, ¹³⁴Cs/¹³⁷Cs, afterglow): flat in time, falling
  exponentially in PE, the same in both windows. Its rate is set so that in tutorial 04's
  region (1–20 PE, first 6 µs of the window) it is ≈ 4× the SM CEvNS expectation — the
  ratio in COHERENT's CsI data: ≈ 1270 steady-state vs 306 ± 20 CEvNS events in the fit
  region of the full data set (Akimov et al., PRL 129 (2022) 081801; the 2017 first
  observation, Science 357 (2017) 1123, fitted 134 ± 22 CEvNS events).
- Not simulated: beam-related prompt neutrons and neutrino-induced neutrons (≈ 6 % and
  ≈ 2 % of the CEvNS count in COHERENT 2022): here beam-on − beam-off is pure CEvNS.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TAU_MU_US = 2.197  # muon lifetime, µs (PDG)
TAU_PI_US = 0.026  # π⁺ lifetime, µs (PDG)
POT_SIGMA_US = 0.153  # Gaussian σ of the ~360 ns FWHM proton pulse, µs
PULSE_OFFSET_US = 1.0  # centre of the proton pulse after the beam-on window opens, µs
WINDOW_US = 12.0  # beam-on / beam-off window length, µs
LIGHT_YIELD_PE_PER_KEVEE = 13.35
QUENCHING = 0.0878  # constant nuclear-recoil quenching factor (COHERENT 2017)
PE_NOISE_SIGMA = 0.3  # Gaussian smear added to the Poisson PE count
TRIGGER_THRESHOLD_PE = 0.5  # events with fewer PE are not recorded
SPILL_RATE_HZ = 60.0
PROTON_ENERGY_GEV = 1.0
NOMINAL_POWER_MW = 1.4
GEV_TO_J = 1.602176634e-10
NOMINAL_POT_PER_SPILL = NOMINAL_POWER_MW * 1e6 / (SPILL_RATE_HZ * PROTON_ENERGY_GEV * GEV_TO_J)
POT_RMS_FRACTION = 0.02  # per spill
MEAN_TIME_BETWEEN_TRIPS_S = 900.0
TRIP_DURATION_RANGE_S = (10.0, 180.0)
SPILLS_PER_RECORD = 3000  # beam spills one simulated spill record stands for
NOMINAL_POT_PER_RECORD = NOMINAL_POT_PER_SPILL * SPILLS_PER_RECORD
# the CEvNS model: analysis_lib.physics.cevns.cevns_events with these arguments
DETECTOR_MASS_KG = 14.57
DISTANCE_M = 19.3
TARGETS = {"Cs": 1, "I": 1}  # atoms per formula unit
NU_PER_FLAVOUR_PER_POT = 0.08
FORM_FACTOR = "helm"  # Helm (Lewin & Smith 1996) — "none" for F = 1
RECOIL_MIN_KEVNR = 0.0
RECOIL_MAX_KEVNR = 60.0  # above T_max of Cs and I for 52.8 MeV neutrinos (≈ 45 keVnr)
# steady-state background per (real) 12 µs window above the trigger threshold, and its
# exponential slope in PE (see the module docstring for the normalisation)
SS_BKG_PER_WINDOW = 1.1e-5
SS_BKG_SLOPE_PE = 25.0
DEFAULT_START = "2026-01-10T00:00:00Z"

CONFIG_KEYS = (
    "WINDOW_US",
    "TAU_MU_US",
    "TAU_PI_US",
    "POT_SIGMA_US",
    "PULSE_OFFSET_US",
    "LIGHT_YIELD_PE_PER_KEVEE",
    "QUENCHING",
    "PE_NOISE_SIGMA",
    "TRIGGER_THRESHOLD_PE",
    "SPILL_RATE_HZ",
    "NOMINAL_POWER_MW",
    "NOMINAL_POT_PER_SPILL",
    "SPILLS_PER_RECORD",
    "NOMINAL_POT_PER_RECORD",
    "DETECTOR_MASS_KG",
    "DISTANCE_M",
    "TARGETS",
    "NU_PER_FLAVOUR_PER_POT",
    "FORM_FACTOR",
    "RECOIL_MIN_KEVNR",
    "RECOIL_MAX_KEVNR",
    "SS_BKG_PER_WINDOW",
    "SS_BKG_SLOPE_PE",
)
"""The module constants stored in the catalog's ``generator_config`` of the CsI demo."""


def cevns_rates_per_pot(n_points: int = 601) -> dict[str, tuple[float, np.ndarray, np.ndarray]]:
    """The injected Standard-Model CEvNS model, per neutrino flavour.

    Returns
    -------
    dict
        flavour → (events per POT in the detector, recoil grid in keVnr, normalised CDF of
        the recoil energy on that grid). The rate is
        :func:`analysis_lib.physics.cevns.cevns_events` with the module's detector, distance,
        flux normalisation, form factor and recoil range.
    """
    from ..physics.cevns import FLAVOURS, cevns_events, cevns_recoil_spectrum

    ff = FORM_FACTOR == "helm"
    t = np.linspace(RECOIL_MIN_KEVNR, RECOIL_MAX_KEVNR, n_points)
    out = {}
    for f in FLAVOURS:
        rate = cevns_events(
            TARGETS,
            DETECTOR_MASS_KG,
            1.0,
            DISTANCE_M,
            threshold_keV=RECOIL_MIN_KEVNR,
            max_keV=RECOIL_MAX_KEVNR,
            nu_per_flavour_per_pot=NU_PER_FLAVOUR_PER_POT,
            flavours=(f,),
            form_factor=ff,
        )
        spec = sum(
            k * cevns_recoil_spectrum(t, name, form_factor=ff, flavours=(f,))
            for name, k in TARGETS.items()
        )
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (spec[1:] + spec[:-1]) * np.diff(t))])
        out[f] = (rate, t, cdf / cdf[-1])
    return out


def simulate_beam(n_spills: int, seed: int = 1, start: str = DEFAULT_START) -> pd.DataFrame:
    """Per-record beam: ``spill`` (record number), ``time_ns`` (UTC ns of the POT trigger),
    ``pot`` (POT of the :data:`SPILLS_PER_RECORD` spills the record stands for).

    Records follow each other at 60 Hz. The POT of a record fluctuates by the 2 % rms of
    one spill over √:data:`SPILLS_PER_RECORD`. Trips are a Poisson process on the record
    timeline (mean time between trips 15 min) with uniformly distributed durations; during
    a trip ``pot`` is 0.
    """
    rng = np.random.default_rng([seed, 60])
    t0 = pd.Timestamp(start).value
    period_ns = round(1e9 / SPILL_RATE_HZ)
    time_ns = t0 + np.arange(n_spills, dtype=np.int64) * period_ns
    duration_s = n_spills / SPILL_RATE_HZ
    n_trips = rng.poisson(duration_s / MEAN_TIME_BETWEEN_TRIPS_S)
    rms = POT_RMS_FRACTION / np.sqrt(SPILLS_PER_RECORD)
    pot = NOMINAL_POT_PER_RECORD * (1 + rms * rng.standard_normal(n_spills))
    for s, d in zip(
        rng.uniform(0, duration_s, n_trips),
        rng.uniform(*TRIP_DURATION_RANGE_S, n_trips),
        strict=True,
    ):
        lo, hi = int(s * SPILL_RATE_HZ), int((s + d) * SPILL_RATE_HZ)
        pot[lo:hi] = 0.0
    return pd.DataFrame({"spill": np.arange(n_spills), "time_ns": time_ns, "pot": pot})


def beam_power_MW(beam: pd.DataFrame, interval_s: float = 1.0) -> pd.DataFrame:
    """Beam power averaged over ``interval_s``: the POT rate of the real spills (record POT
    / :data:`SPILLS_PER_RECORD` × 60 Hz) × proton energy, so 1.4 MW at nominal."""
    per = round(interval_s * SPILL_RATE_HZ)
    n = len(beam) // per * per
    pot = beam["pot"].to_numpy()[:n].reshape(-1, per).sum(axis=1) / SPILLS_PER_RECORD
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
        Number of spill records simulated (both windows are recorded for each); each
        stands for :data:`SPILLS_PER_RECORD` beam spills.
    seed
        Seed of the random generator: equal seeds give equal tables.
    beam
        Per-record beam from :func:`simulate_beam` (default: every record at the nominal
        :data:`NOMINAL_POT_PER_RECORD`). The CEvNS count of a record is Poisson with mean
        POT × the SM rate per POT (:func:`cevns_rates_per_pot`); trips have none.

    Returns
    -------
    pandas.DataFrame
        Columns ``spill`` (int, the record), ``time_us`` (time after the window start, µs),
        ``energy_PE`` (float), ``beam_on`` (bool), ``truth`` (``"cevns"`` or
        ``"background"``), ``time_ns`` (UTC ns of the event).
    """
    if beam is not None and len(beam) != n_spills:
        raise ValueError(f"beam has {len(beam)} spills, n_spills is {n_spills}")
    rng = np.random.default_rng(seed)
    # Steady-state background: flat in time, falling in energy, the same in both windows;
    # a record's window holds the background of SPILLS_PER_RECORD real windows.
    frames = []
    for beam_on in (True, False):
        n = rng.poisson(SS_BKG_PER_WINDOW * SPILLS_PER_RECORD * n_spills)
        frames.append(
            pd.DataFrame(
                {
                    "spill": rng.integers(0, n_spills, n),
                    "time_us": rng.uniform(0, WINDOW_US, n),
                    "energy_PE": 1 + rng.exponential(SS_BKG_SLOPE_PE, n),
                    "beam_on": beam_on,
                    "truth": "background",
                }
            )
        )
    # CEvNS, only in beam-on windows: Poisson per record with mean POT × rate per POT
    model = cevns_rates_per_pot()
    flavours = list(model)
    rates = np.array([model[f][0] for f in flavours])
    pot = np.full(n_spills, NOMINAL_POT_PER_RECORD) if beam is None else beam["pot"].to_numpy()
    counts = rng.poisson(rates.sum() * pot)
    sig_spill = np.repeat(np.arange(n_spills), counts)
    n_sig = len(sig_spill)
    flavour = rng.choice(len(flavours), size=n_sig, p=rates / rates.sum())
    recoil_keVnr = np.empty(n_sig)
    u = rng.random(n_sig)
    for k, f in enumerate(flavours):
        _, grid, cdf = model[f]
        sel = flavour == k
        recoil_keVnr[sel] = np.interp(u[sel], cdf, grid)
    # arrival: proton pulse (Gaussian) ⊗ π decay, and ⊗ μ decay for the delayed flavours
    delayed = np.array([f != "numu" for f in flavours])[flavour]
    t = (
        rng.normal(PULSE_OFFSET_US, POT_SIGMA_US, n_sig)
        + rng.exponential(TAU_PI_US, n_sig)
        + np.where(delayed, rng.exponential(TAU_MU_US, n_sig), 0.0)
    )
    mean_pe = recoil_keVnr * QUENCHING * LIGHT_YIELD_PE_PER_KEVEE
    energy = rng.poisson(mean_pe).astype(float) + rng.normal(0, PE_NOISE_SIGMA, n_sig)
    frames.append(
        pd.DataFrame(
            {
                "spill": sig_spill,
                "time_us": t,
                "energy_PE": energy,
                "beam_on": True,
                "truth": "cevns",
            }
        )
    )
    events = pd.concat(frames, ignore_index=True)
    recorded = (
        (events["energy_PE"] > TRIGGER_THRESHOLD_PE)
        & (events["time_us"] >= 0)
        & (events["time_us"] < WINDOW_US)
    )
    events = events[recorded].sort_values(["spill", "time_us"]).reset_index(drop=True)
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
