"""Deterministic, physically plausible synthetic experiments for tests and tutorials.

- :mod:`analysis_lib.demo.ge` — a SuperCDMS-like germanium detector (raw phonon traces,
  noise/calibration/physics runs, a continuous stream, a binary DAQ format);
- :mod:`analysis_lib.demo.coherent` — a COHERENT-like CsI detector at a 60 Hz spallation
  source, with its archived beam time series;
- :func:`generate_demo` writes both and registers them in ``DIR/catalog.sqlite``
  (``rarehub demo --size tiny --out DIR``).

Names are imported lazily, so that ``rarehub --help`` does not load numpy and pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_LAZY = {
    "generate_demo": ".cli",
    "generate_csi_events": ".coherent",
    "simulate_beam": ".coherent",
}

if TYPE_CHECKING:
    from .cli import generate_demo
    from .coherent import generate_csi_events, simulate_beam

__all__ = ["generate_csi_events", "generate_demo", "simulate_beam"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
