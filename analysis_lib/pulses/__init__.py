"""Pulse processing for cryogenic detectors: simulation, noise PSD/CSD, optimal filter,
features and offline triggering (see the submodules)."""
