"""Declarative processing steps with lineage-keyed storage, and their runners."""

from .analysis_steps import Energies, Selection
from .core import LINEAGE_SCHEMA, Option, Pipeline, PipelineError, RunInput, Step, lineage_hash
from .pulse_steps import (
    DEFAULT_STEPS,
    Features,
    NoiseEvents,
    NoisePSD,
    OFAmplitudes,
    RawChunk,
    RawEvents,
)
from .trigger_steps import StreamChunk, StreamSamples, Triggers

__all__ = [
    "DEFAULT_STEPS",
    "LINEAGE_SCHEMA",
    "Energies",
    "Features",
    "NoiseEvents",
    "NoisePSD",
    "OFAmplitudes",
    "Option",
    "Pipeline",
    "PipelineError",
    "RawChunk",
    "RawEvents",
    "RunInput",
    "Selection",
    "Step",
    "StreamChunk",
    "StreamSamples",
    "Triggers",
    "lineage_hash",
]
