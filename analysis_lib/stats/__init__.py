"""Statistics for rare-event searches: Poisson limits, Yellin's methods, fits, exposure.

- :mod:`.poisson` — classical and Feldman–Cousins limits;
- :mod:`.yellin` — maximum gap and optimum interval;
- :mod:`.beam_fit` — binned beam-on/beam-off likelihood with nuisance parameters (iminuit);
- :mod:`.templates` — binned template likelihood in any number of dimensions: constrained
  yields, shape systematics, profile intervals, discovery significance (iminuit);
- :mod:`.exposure` — kg·day and POT bookkeeping;
- :mod:`.exclusion` — cross-section limits versus WIMP mass.
"""

from .exposure import Exposure, total_exposure
from .poisson import classical_upper_limit, feldman_cousins_interval
from .templates import (
    Component,
    Free,
    Gaussian,
    PoissonControl,
    TemplateFit,
    TemplateModel,
    ToyResults,
)
from .yellin import max_gap_c0, max_gap_upper_limit

__all__ = [
    "Component",
    "Exposure",
    "Free",
    "Gaussian",
    "PoissonControl",
    "TemplateFit",
    "TemplateModel",
    "ToyResults",
    "classical_upper_limit",
    "feldman_cousins_interval",
    "max_gap_c0",
    "max_gap_upper_limit",
    "total_exposure",
]
