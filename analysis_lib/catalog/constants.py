"""Vocabulary of the catalog (kept import-light: the command line's --help uses it)."""

RUN_TYPES = ("physics", "calibration", "noise", "beam-off", "simulation")
QUALITIES = ("good", "bad", "unknown")
