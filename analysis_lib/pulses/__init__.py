"""Pulse processing for cryogenic detectors: simulation, noise PSD/CSD, optimal filter,
features and offline triggering.

Conventions: PSDs are one-sided in trace²/Hz (see :mod:`analysis_lib.pulses.noise`);
templates have unit peak, so OF amplitudes are pulse heights in trace units.
"""

from .features import FEATURE_COLUMNS, compute_features
from .noise import calc_csd, calc_psd, fold_weights, two_sided_psd
from .optimal_filter import OFResult, OptimalFilter
from .simulate import (
    generate_noise,
    iter_noise_stream,
    noise_psd_model,
    pulse_shape,
    pulse_template,
    simulate_stream,
    simulate_traces,
)
from .trigger import StreamTrigger, TriggerBatch, find_triggers, raw_stream_chunks

__all__ = [
    "FEATURE_COLUMNS",
    "OFResult",
    "OptimalFilter",
    "StreamTrigger",
    "TriggerBatch",
    "calc_csd",
    "calc_psd",
    "compute_features",
    "find_triggers",
    "fold_weights",
    "generate_noise",
    "iter_noise_stream",
    "noise_psd_model",
    "pulse_shape",
    "pulse_template",
    "raw_stream_chunks",
    "simulate_stream",
    "simulate_traces",
    "two_sided_psd",
]
