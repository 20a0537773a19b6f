"""Fixtures of the notebook tests: the RareHub image, built once per session
(tests/support/rarehub_image.py), in which the tutorials are executed."""

from __future__ import annotations

from rarehub_image import rarehub_image  # noqa: F401  (a session fixture)
