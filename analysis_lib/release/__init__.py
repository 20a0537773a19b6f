"""Frozen data releases: bundle results with lineage, data, notebooks and environment, and
verify a bundle by checksums and by re-running it.

- :func:`~.bundle.freeze` writes a bundle (see :mod:`.bundle` for the layout);
- :func:`~.verify.verify` checks every checksum, re-runs the pipeline command and the
  notebooks (locally or inside the release image) and compares the numbers by name.
"""

from .bundle import ReleaseSpec, freeze
from .verify import Problem, VerifyReport, verify

__all__ = ["Problem", "ReleaseSpec", "VerifyReport", "freeze", "verify"]
