"""A simulated accelerator IOC: beam power and protons on target per pulse over Channel Access.

A pulsed spallation source (SNS-like: 1 GeV protons, 60 Hz) publishes, once per pulse,

- ``<prefix>BEAM:POWER_MW``   beam power on target in MW,
- ``<prefix>BEAM:POT_PER_PULSE`` protons on target in that pulse
  (POT = P / (E_p · f), with E_p = 1 GeV = 1.602e-10 J, f = 60 Hz: 1.4 MW ↔ 1.46e14),
- ``<prefix>BEAM:PULSE_ID`` a pulse counter from 0 at IOC start (lets tests prove that no
  update was lost),
- ``<prefix>SC:CHAN<i>`` for ``i < n_extra``: extra slow-control channels (benchmarks).

Each value carries the IOC's wall-clock timestamp of the pulse. Beam trips (power 0) come
at random with a mean spacing ``trip_every_s``. This is a caproto asyncio server; run it
with ``rarehub archiver sim-ioc`` or ``python -m analysis_lib.beam.sim_ioc``. Set the
EPICS_CAS_* environment variables (loopback only) before starting it.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import numpy as np

PROTON_ENERGY_J = 1.0e9 * 1.602176634e-19  # 1 GeV in joules
NOMINAL_POWER_MW = 1.4


def pot_per_pulse(power_MW: float, rate_Hz: float = 60.0) -> float:
    """Protons on target per pulse for a beam power (MW) at ``rate_Hz`` with 1 GeV protons."""
    return power_MW * 1e6 / (PROTON_ENERGY_J * rate_Hz)


def pv_names(prefix: str = "", n_extra: int = 0) -> list[str]:
    """The names the simulator publishes."""
    return [f"{prefix}BEAM:POWER_MW", f"{prefix}BEAM:POT_PER_PULSE", f"{prefix}BEAM:PULSE_ID"] + [
        f"{prefix}SC:CHAN{i:03d}" for i in range(n_extra)
    ]


async def _serve(prefix: str, n_extra: int, rate_Hz: float, trip_every_s: float, seed: int) -> None:
    from caproto import ChannelDouble
    from caproto.asyncio.server import start_server

    names = pv_names(prefix, n_extra)
    pvdb = {name: ChannelDouble(value=0.0) for name in names}
    rng = np.random.default_rng(seed)
    period = 1.0 / rate_Hz

    async def pulses() -> None:
        next_t = time.monotonic()
        trip_until = 0.0
        pulse = 0
        while True:
            now = time.time()
            if trip_every_s > 0 and rng.random() < period / trip_every_s:
                trip_until = now + 0.5
            power = 0.0 if now < trip_until else NOMINAL_POWER_MW * (1 + 0.01 * rng.normal())
            values = [power, pot_per_pulse(power, rate_Hz), pulse, *rng.normal(size=n_extra)]
            pulse += 1
            for name, value in zip(names, values, strict=True):
                # values are ours and valid: skip caproto's limit checks (≈ 25 % of a write)
                await pvdb[name].write(
                    float(value), timestamp=now, verify_value=False, update_fields=False
                )
            next_t += period
            await asyncio.sleep(max(0.0, next_t - time.monotonic()))

    task = asyncio.ensure_future(pulses())
    try:
        await start_server(pvdb, interfaces=["127.0.0.1"])
    finally:
        task.cancel()


def run_sim_ioc(
    prefix: str = "",
    *,
    n_extra: int = 0,
    rate_Hz: float = 60.0,
    trip_every_s: float = 0.0,
    seed: int = 1,
) -> None:
    """Serve the simulated beam PVs on 127.0.0.1 until interrupted."""
    asyncio.run(_serve(prefix, n_extra, rate_Hz, trip_every_s, seed))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prefix", default="", help="PV name prefix, e.g. 'SNS:'")
    p.add_argument("--extra-pvs", type=int, default=0, help="extra slow-control PVs")
    p.add_argument("--rate-hz", type=float, default=60.0, help="pulse rate in Hz (60)")
    p.add_argument(
        "--trip-every-s", type=float, default=0.0, help="mean seconds between beam trips (0: none)"
    )
    p.add_argument("--seed", type=int, default=1, help="random seed")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(p)
    a = p.parse_args(argv)
    run_sim_ioc(
        a.prefix, n_extra=a.extra_pvs, rate_Hz=a.rate_hz, trip_every_s=a.trip_every_s, seed=a.seed
    )


if __name__ == "__main__":
    main()
