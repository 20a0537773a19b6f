"""Beam and slow-control data: the EPICS archiver, its Parquet archive, joins to events.

- :mod:`.archive` stores and queries time series per process variable (PV).
- :mod:`.joins` attaches slow-control values to events and computes exposure.
- :mod:`.archiver` subscribes to PVs over Channel Access and writes the archive.
"""

from __future__ import annotations

__all__ = ["BeamArchive", "Gap", "to_time_ns"]


def __getattr__(name: str):
    # Lazy: ``python -m analysis_lib.beam.sim_ioc`` must not pay for pandas/pyarrow imports.
    if name in __all__:
        from . import archive

        return getattr(archive, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
