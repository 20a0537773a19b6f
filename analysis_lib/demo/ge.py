"""A SuperCDMS-like germanium detector: four phonon channels read out at 625 kHz.

What is simulated (every parameter below is in :data:`GE_PARAMETERS`, stored with the data)
-----------------------------------------------------------------------------------------
- **Pulses**: two-exponential TES phonon pulses, rise 20 µs, fall 500 µs (W-TES phonon
  sensors: rise tens of µs, fall 0.3–1 ms; Irwin & Hilton, "Transition-Edge Sensors",
  Cryogenic Particle Detection (2005), eq. 53). The energy is shared among the four
  channels with event-to-event (position) variations (Dirichlet, concentration 8 per
  channel), and the trigger jitters the onset by ±2 samples.
- **Noise**: white (TES Johnson + SQUID) + 1/f + narrow lines at 60 Hz and 180 Hz (mains)
  and 27 kHz (electronics), generated from the PSD by :mod:`analysis_lib.pulses.simulate`.
  The levels give ≈ 11 ADC rms per channel and an optimal-filter baseline resolution of
  ≈ 45 eV on the channel sum — the range quoted for SuperCDMS SNOLAB iZIP/HV phonon
  channels (Agnese et al., Phys. Rev. D 95, 082002 (2017), Table III).
- **Detector**: a 1.39 kg Ge crystal (a SuperCDMS SNOLAB iZIP/HV detector, Agnese et al.,
  Phys. Rev. D 95, 082002 (2017)), stored as ``detector_mass_kg``. The live time of each
  run (no dead time is simulated: the run's duration) is in its catalog metadata as
  ``live_time_s``.
- **Gain**: 40 ADC counts per keV on the sum of the channel amplitudes (on a 2000-count
  baseline of a 16-bit ADC), so 10.37 keV is ≈ 100 counts per channel.
- **Runs**: random-trigger *noise* runs (no pulses); a *calibration* run of neutron-
  activated Ge: ⁷¹Ge electron capture lines at 10.37 keV (K shell) and 1.30 keV (L shell)
  with an L/K ratio of 0.11, and the ⁶⁸Ge → ⁶⁸Ga K line at 9.66 keV at a tenth of the K
  rate (line energies: Bearden & Burr, Rev. Mod. Phys. 39, 125 (1967); L/K from CDMSlite,
  Agnese et al., Phys. Rev. Lett. 112, 041302 (2014)), on a flat + exponential
  background; a *physics* run of background only; and a **continuous stream** (≥ 1 s)
  with pulses at a Poisson rate of 20 Hz for offline-trigger studies.

Outputs (see :func:`write_ge_demo`): the raw HDF5 files of :mod:`analysis_lib.io.raw`, the
triggered runs again in a binary DAQ format described by ``ge_daq.ksy`` (read with
:mod:`analysis_lib.io.binary`), and the injected truth as Parquet.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..io.binary import load_format, write_records
from ..io.parquet import write_parquet
from ..io.raw import RawWriter
from ..pulses.simulate import noise_psd_model, simulate_stream, simulate_traces

CHANNELS = ("PAS1", "PBS1", "PCS1", "PDS1")
GE_PARAMETERS = {
    "detector_mass_kg": 1.39,
    "fs_Hz": 625e3,
    "rise_s": 20e-6,
    "fall_s": 500e-6,
    "white_ADC2_per_Hz": 4e-4,
    "one_over_f_at_1Hz_ADC2_per_Hz": 2e-2,
    "noise_lines_Hz_ADC2": [[60.0, 4.0], [180.0, 1.5], [27e3, 0.3]],
    "gain_ADC_per_keV": 40.0,
    "baseline_ADC": 2000,
    "channel_share_concentration": 8.0,
    "trigger_jitter_samples": 2,
    "lines_keV": {"Ge71_K": 10.37, "Ga68_K": 9.66, "Ge71_L": 1.30},
    "line_rates_relative": {"Ge71_K": 1.0, "Ga68_K": 0.1, "Ge71_L": 0.11},
    "calibration_line_fraction": 0.6,
    "background_flat_fraction": 0.5,
    "background_exp_slope_keV": 3.0,
    "background_max_keV": 20.0,
    "stream_pulse_rate_Hz": 20.0,
}

DAQ_FORMAT = """\
meta:
  id: rarehub_ge_daq
  title: RareHub demo germanium DAQ, triggered phonon traces
  endian: le
  file-extension: bin
doc: |
  One file per run: a fixed header, then one fixed-size record per triggered event.
  Samples are int16 ADC counts, channel after channel (n_channels blocks of n_samples).
seq:
  - id: header
    type: file_header
  - id: records
    type: event_record
    repeat: eos
types:
  file_header:
    seq:
      - id: magic
        contents: "RHGE"
      - id: version
        type: u2
      - id: n_channels
        type: u2
      - id: n_samples
        type: u4
      - id: sample_rate_hz
        type: f8
      - id: run_number
        type: u4
      - id: reserved
        size: 4
      - id: run_start_ns
        type: s8
  event_record:
    seq:
      - id: sync
        contents: [0xEB, 0x90]
      - id: trigger_channel
        type: u1
      - id: flags
        type: u1
      - id: event
        type: u4
      - id: time_ns
        type: s8
      - id: samples
        type: s2
        repeat: expr
        repeat-expr: _root.header.n_channels * _root.header.n_samples
"""


@dataclass(frozen=True)
class GeSize:
    """Event counts of one demo size."""

    n_samples: int
    noise_events: int
    calibration_events: int
    physics_events: int
    stream_s: float


GE_SIZES = {
    "tiny": GeSize(4096, 64, 400, 200, 1.05),
    "small": GeSize(4096, 500, 5_000, 2_000, 10.0),
    "medium": GeSize(16384, 2_000, 40_000, 20_000, 60.0),
}


def noise_psd(n_samples: int, p: dict = GE_PARAMETERS) -> np.ndarray:
    """The one-sided noise PSD (ADC²/Hz) of one channel on the rfft grid of ``n_samples``."""
    return noise_psd_model(
        n_samples,
        fs_Hz=p["fs_Hz"],
        white_per_Hz=p["white_ADC2_per_Hz"],
        one_over_f_at_1Hz_per_Hz=p["one_over_f_at_1Hz_ADC2_per_Hz"],
        lines=[tuple(x) for x in p["noise_lines_Hz_ADC2"]],
    )


def draw_energies(
    n: int, rng: np.random.Generator, *, calibration: bool, p: dict = GE_PARAMETERS
) -> tuple[np.ndarray, np.ndarray]:
    """Deposited energies (keV) and their source label for ``n`` events."""
    src = np.full(n, "background", dtype=object)
    e = np.empty(n)
    n_line = rng.binomial(n, p["calibration_line_fraction"]) if calibration else 0
    names = list(p["lines_keV"])
    w = np.array([p["line_rates_relative"][k] for k in names])
    pick = rng.choice(len(names), size=n_line, p=w / w.sum())
    e[:n_line] = np.array([p["lines_keV"][k] for k in names])[pick]
    src[:n_line] = np.array(names, dtype=object)[pick]
    nb = n - n_line
    flat = rng.random(nb) < p["background_flat_fraction"]
    e_bkg = np.where(
        flat,
        rng.uniform(0.2, p["background_max_keV"], nb),
        0.2 + rng.exponential(p["background_exp_slope_keV"], nb),
    )
    e[n_line:] = np.minimum(e_bkg, p["background_max_keV"])
    order = rng.permutation(n)
    return e[order], src[order]


def event_amplitudes(
    energies_keV: np.ndarray, rng: np.random.Generator, p: dict = GE_PARAMETERS
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel pulse amplitudes (ADC, shape (n, 4)) and trigger jitters (samples)."""
    n = len(energies_keV)
    share = rng.dirichlet([p["channel_share_concentration"]] * len(CHANNELS), size=n)
    amps = energies_keV[:, None] * p["gain_ADC_per_keV"] * share
    jitter = rng.integers(-p["trigger_jitter_samples"], p["trigger_jitter_samples"] + 1, n)
    return amps, jitter


def iter_event_traces(
    amps: np.ndarray,
    jitter: np.ndarray,
    n_samples: int,
    rng: np.random.Generator,
    *,
    batch: int = 256,
    p: dict = GE_PARAMETERS,
) -> Iterator[np.ndarray]:
    """Int16 traces ``(k, 4, n_samples)`` in batches of ``batch`` events (bounded memory)."""
    psd = np.broadcast_to(noise_psd(n_samples, p), (len(CHANNELS), n_samples // 2 + 1))
    for s in range(0, len(amps), batch):
        sl = slice(s, min(len(amps), s + batch))
        tr = simulate_traces(
            amps[sl],
            n_samples=n_samples,
            psd=psd,
            fs_Hz=p["fs_Hz"],
            pulse_times_s=(n_samples // 2 + jitter[sl]) / p["fs_Hz"],
            rise_s=p["rise_s"],
            fall_s=p["fall_s"],
            baseline=p["baseline_ADC"],
            rng=rng,
        )
        yield np.clip(np.rint(tr), -32768, 32767).astype(np.int16)


def write_ge_demo(
    out: Path, *, size: str = "tiny", seed: int = 1, start: str = "2026-01-05T08:00:00Z"
) -> list[dict]:
    """Write the germanium demo runs under ``out`` and return one record per run
    (run number, run type, times, files) for the catalog."""
    cfg = GE_SIZES[size]
    p = GE_PARAMETERS
    fs = p["fs_Hz"]
    rng = np.random.default_rng([seed, 71])
    out = Path(out)
    (out / "raw").mkdir(parents=True, exist_ok=True)
    (out / "daq").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    ksy = out / "daq" / "ge_daq.ksy"
    tmp = ksy.with_name(".ge_daq.ksy.tmp")
    tmp.write_text(DAQ_FORMAT)
    tmp.replace(ksy)
    fmt = load_format(ksy)
    t0 = pd.Timestamp(start)
    runs = []
    plan = [
        (1, "noise", cfg.noise_events, None),
        (2, "calibration", cfg.calibration_events, True),
        (3, "physics", cfg.physics_events, False),
        (4, "noise", cfg.noise_events, None),
    ]
    attrs = {
        "detector": "ge1",
        "adc_bits": 16,
        "gain_ADC_per_keV": p["gain_ADC_per_keV"],
        "simulated": True,
    }
    for i, (run, kind, n, calib) in enumerate(plan):
        run_start = t0 + pd.Timedelta(days=i)
        if calib is None:
            energies, src = np.zeros(n), np.full(n, "noise", dtype=object)
        else:
            energies, src = draw_energies(n, rng, calibration=calib)
        amps, jitter = event_amplitudes(energies, rng)
        # event times: random triggers (noise) or a Poisson process (pulses), 5 Hz mean
        times_ns = run_start.value + np.cumsum(rng.exponential(0.2e9, n)).astype(np.int64)
        trig = (
            np.argmax(amps, axis=1).astype(np.int16)
            if calib is not None
            else np.full(n, -1, np.int16)
        )
        name = f"run{run:04d}_{kind}"
        raw = out / "raw" / f"{name}.h5"
        header = {
            "header": {
                "version": 1,
                "n_channels": len(CHANNELS),
                "n_samples": cfg.n_samples,
                "sample_rate_hz": fs,
                "run_number": run,
                "run_start_ns": run_start.value,
            }
        }
        rdt = fmt.record_dtype(header)
        with RawWriter(
            raw,
            sample_rate_Hz=fs,
            channels=CHANNELS,
            n_samples=cfg.n_samples,
            attrs={**attrs, "run_number": run, "run_type": kind},
            event_fields={"trigger_channel": "i2"},
        ) as w:

            def records(w=w, amps=amps, jitter=jitter, trig=trig, times_ns=times_ns, rdt=rdt):
                """Each batch goes to the raw file and, as DAQ records, to the binary file."""
                s = 0
                for traces in iter_event_traces(amps, jitter, cfg.n_samples, rng):
                    k = len(traces)
                    sl = slice(s, s + k)
                    w.append_events(traces, time_ns=times_ns[sl], trigger_channel=trig[sl])
                    recs = np.zeros(k, rdt)
                    recs["trigger_channel"] = np.where(trig[sl] < 0, 255, trig[sl])
                    recs["event"] = np.arange(s, s + k)
                    recs["time_ns"] = times_ns[sl]
                    recs["samples"] = traces.reshape(k, -1)
                    s += k
                    yield recs

            daq = write_records(out / "daq" / f"{name}.bin", fmt, header, records())
        truth = write_parquet(
            pd.DataFrame(
                {
                    "event": np.arange(n),
                    "time_ns": times_ns,
                    "energy_true_keV": energies,
                    "source": src.astype(str),
                    **{f"amplitude_{c}_ADC": amps[:, k] for k, c in enumerate(CHANNELS)},
                }
            ),
            out / "truth" / f"{name}_truth.parquet",
        )
        end = pd.Timestamp(int(times_ns[-1]) if n else run_start.value, tz="UTC")
        runs.append(
            {
                "run": run,
                "run_type": kind,
                "start": run_start,
                "end": end,
                "files": [raw, daq, truth],
                "n_events": n,
                "live_time_s": (end - run_start).total_seconds(),  # no dead time simulated
            }
        )
    # the continuous stream: ≥ 1 s of all channels with pulses at 20 Hz
    run, kind = 5, "physics"
    run_start = t0 + pd.Timedelta(days=len(plan))
    total = int(cfg.stream_s * fs)
    n_pulses = rng.poisson(p["stream_pulse_rate_Hz"] * cfg.stream_s)
    onsets = np.sort(rng.uniform(0, total - 1, n_pulses))
    energies, src = draw_energies(n_pulses, rng, calibration=True)
    share = rng.dirichlet([p["channel_share_concentration"]] * len(CHANNELS), size=n_pulses)
    name = f"run{run:04d}_stream"
    raw = out / "raw" / f"{name}.h5"
    n_psd = 1 << 14
    psd = noise_psd(n_psd)
    streams = [
        simulate_stream(
            total,
            pulse_samples=onsets,
            amplitudes=energies * p["gain_ADC_per_keV"] * share[:, k],
            psd=psd,
            n_samples_psd=n_psd,
            fs_Hz=fs,
            rise_s=p["rise_s"],
            fall_s=p["fall_s"],
            chunk_samples=1 << 17,
            rng=rng.spawn(1)[0],
        )
        for k in range(len(CHANNELS))
    ]
    with RawWriter(
        raw,
        sample_rate_Hz=fs,
        channels=CHANNELS,
        attrs={**attrs, "run_number": run, "run_type": "stream", "start_ns": run_start.value},
    ) as w:
        for blocks in zip(*streams, strict=True):
            block = np.stack(blocks) + p["baseline_ADC"]
            w.append_stream(np.clip(np.rint(block), -32768, 32767).astype(np.int16))
    truth = write_parquet(
        pd.DataFrame(
            {
                "onset_sample": onsets,
                "time_ns": run_start.value + (onsets / fs * 1e9).astype(np.int64),
                "energy_true_keV": energies,
                "source": src.astype(str),
            }
        ),
        out / "truth" / f"{name}_truth.parquet",
    )
    runs.append(
        {
            "run": run,
            "run_type": kind,
            "start": run_start,
            "end": run_start + pd.Timedelta(seconds=total / fs),
            "files": [raw, truth],
            "n_events": n_pulses,
            "continuous": True,
            "live_time_s": total / fs,
        }
    )
    return runs
