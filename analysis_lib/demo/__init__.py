"""Deterministic, physically plausible synthetic experiments for tests and tutorials."""

from .coherent import generate_csi_events

__all__ = ["generate_csi_events"]
