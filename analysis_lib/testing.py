"""Test helpers shipped with the library (after strax's ``testutils``): Hypothesis
strategies that draw realistic pulse data, shared by property-based tests and tutorials.

Needs the ``hypothesis`` package (in the test dependency group); importing this module
without it raises ImportError with the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

try:
    from hypothesis import strategies as st
except ImportError as e:  # pragma: no cover - hypothesis is in the test group
    raise ImportError(
        "analysis_lib.testing needs hypothesis: install it with: pip install hypothesis"
    ) from e

from .pulses.simulate import generate_noise, noise_psd_model, pulse_template

__all__ = ["PulseSet", "noise_psds", "pulse_sets"]


@dataclass(frozen=True)
class PulseSet:
    """Traces with known pulses: ``traces`` (n, n_samples) = amplitude × template shifted
    by ``delays_samples`` + noise of one-sided ``psd`` (trace²/Hz), sampled at ``fs_Hz``."""

    traces: np.ndarray
    amplitudes: np.ndarray
    delays_samples: np.ndarray
    template: np.ndarray
    psd: np.ndarray
    fs_Hz: float
    pretrigger_samples: int


@st.composite
def noise_psds(draw, n_samples: int, fs_Hz: float = 625e3) -> np.ndarray:
    """A one-sided PSD: white floor, 1/f^α (α ∈ [0.5, 2]) and up to three lines."""
    n_lines = draw(st.integers(0, 3))
    lines = [
        (draw(st.floats(50.0, fs_Hz / 2.5)), draw(st.floats(0.01, 10.0))) for _ in range(n_lines)
    ]
    return noise_psd_model(
        n_samples,
        fs_Hz=fs_Hz,
        white_per_Hz=draw(st.floats(1e-6, 1e-2)),
        one_over_f_at_1Hz_per_Hz=draw(st.floats(0.0, 1.0)),
        one_over_f_exponent=draw(st.floats(0.5, 2.0)),
        lines=lines,
    )


@st.composite
def pulse_sets(
    draw,
    n_samples: st.SearchStrategy[int] | None = None,
    n_traces: st.SearchStrategy[int] | None = None,
    max_delay_samples: int = 16,
    noise: bool = True,
) -> PulseSet:
    """Draw a :class:`PulseSet` of realistic TES pulses (rise 5–40 µs, fall 50–800 µs),
    amplitudes in template units (the template's peak is 1)."""
    fs = 625e3
    n = draw(n_samples if n_samples is not None else st.sampled_from([256, 512, 1024]))
    k = draw(n_traces if n_traces is not None else st.integers(1, 8))
    rise = draw(st.floats(5e-6, 40e-6))
    fall = draw(st.floats(max(2 * rise, 50e-6), 800e-6))
    pre = draw(st.integers(n // 8, n // 2))
    psd = draw(noise_psds(n, fs))
    amps = np.array(draw(st.lists(st.floats(-1e3, 1e3), min_size=k, max_size=k)))
    delays = np.array(
        draw(st.lists(st.integers(-max_delay_samples, max_delay_samples), min_size=k, max_size=k))
    )
    seed = draw(st.integers(0, 2**32 - 1))
    template = pulse_template(n, fs_Hz=fs, pretrigger_samples=pre, rise_s=rise, fall_s=fall)
    # pulses are circular shifts of the template: the model the frequency-domain optimal
    # filter fits exactly, so noise-free sets are recovered to rounding precision
    traces = amps[:, None] * np.stack([np.roll(template, d) for d in delays])
    if noise:
        traces = traces + generate_noise(psd, k, n_samples=n, fs_Hz=fs, rng=seed)
    return PulseSet(traces, amps, delays, template, psd, fs, pre)
