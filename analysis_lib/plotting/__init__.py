"""HoloViews figures for every step of an analysis, each carrying its lineage and a caption.

One public function per module; all return HoloViews objects (display them in a notebook,
put them in a Panel app, or save them with ``hv.save``). Arrays and DataFrames in, so they
work on catalog tables, processing results and hand-made arrays alike. ``**kwds`` go to the
main element's HoloViews options.

Importing this package loads HoloViews' Bokeh backend (no output is displayed).
"""

from __future__ import annotations

import holoviews.plotting.bokeh  # noqa: F401  (registers the Bokeh backend's options)

from .annotate import annotate, lineage_of
from .calibration import calibration_fit
from .cutflow import cut_flow
from .decimate import minmax_decimate
from .discrimination import discrimination_vs_energy
from .energy_time import energy_vs_time
from .limits import exclusion_limit
from .long_trace import long_trace
from .offline import notebook_extension
from .psd import noise_psd
from .rate import rate_vs_time
from .spectrum import energy_spectrum
from .template_fit import template_fit_projection
from .traces import trace_viewer

__all__ = [
    "annotate",
    "calibration_fit",
    "cut_flow",
    "discrimination_vs_energy",
    "energy_spectrum",
    "energy_vs_time",
    "exclusion_limit",
    "lineage_of",
    "long_trace",
    "minmax_decimate",
    "noise_psd",
    "notebook_extension",
    "rate_vs_time",
    "template_fit_projection",
    "trace_viewer",
]
