"""RareHub's analysis library for small rare-event experiments.

Data flows one way: catalog → io (readers) → steps (pulses, calibration, cuts, beam
joins) → results with lineage → plotting / apps / releases. Nothing here reads global
state or the environment at import time: paths and options are arguments.
"""

__version__ = "0.1.0"
