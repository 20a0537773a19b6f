"""Beam and slow-control data: the EPICS archiver, its Parquet archive, joins to events.

- :mod:`.archive` stores and queries time series per process variable (PV).
- :mod:`.joins` attaches slow-control values to events and computes exposure.
- :mod:`.archiver` subscribes to PVs over Channel Access and writes the archive.
"""

from .archive import BeamArchive, Gap, to_time_ns

__all__ = ["BeamArchive", "Gap", "to_time_ns"]
