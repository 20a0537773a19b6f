"""Poisson limits against the published tables (PDG; Feldman & Cousins 1998)."""

from __future__ import annotations

import pytest

from analysis_lib.stats.poisson import classical_upper_limit, feldman_cousins_interval


@pytest.mark.parametrize(
    ("n", "cl", "expected"),
    # PDG Statistics review, Table "Poisson upper limits for n observed events, b = 0"
    [
        (0, 0.9, 2.30),
        (1, 0.9, 3.89),
        (2, 0.9, 5.32),
        (0, 0.95, 3.00),
        (1, 0.95, 4.74),
        (5, 0.95, 10.51),
    ],
)
def test_classical_upper_limits_match_the_pdg_table(n, cl, expected):
    assert classical_upper_limit(n, 0.0, cl) == pytest.approx(expected, abs=0.006)


def test_classical_limit_with_background_subtracts_and_can_go_negative():
    assert classical_upper_limit(3, 1.0) == pytest.approx(6.68 - 1.0, abs=0.01)
    assert classical_upper_limit(0, 3.0) < 0
    assert classical_upper_limit(0, 3.0, clip=True) == 0.0
    with pytest.raises(ValueError, match="n ≥ 0"):
        classical_upper_limit(-1)


# Feldman & Cousins, PRD 57 (1998) 3873, Table IV (90 % C.L.) and Table V (95 % C.L.).
# FC's n0 = 0 entries for b ≥ 2 were adjusted by the authors (their text) and differ from
# the literal construction, so they are not used here.
FC_TABLE = [
    # (n0, b, cl, lower, upper)
    (0, 0.0, 0.9, 0.00, 2.44),
    (1, 0.0, 0.9, 0.11, 4.36),
    (2, 0.0, 0.9, 0.53, 5.91),
    (3, 0.0, 0.9, 1.10, 7.42),
    (4, 0.0, 0.9, 1.47, 8.60),
    (5, 0.0, 0.9, 1.84, 9.99),
    (7, 0.0, 0.9, 3.56, 12.53),
    (10, 0.0, 0.9, 5.50, 16.50),
    (0, 0.5, 0.9, 0.00, 1.94),
    (0, 1.0, 0.9, 0.00, 1.61),
    (1, 1.0, 0.9, 0.00, 3.36),
    (3, 1.0, 0.9, 0.10, 6.42),
    (1, 3.0, 0.9, 0.00, 1.88),
    (3, 3.0, 0.9, 0.00, 4.42),
    (0, 0.0, 0.95, 0.00, 3.09),
    (1, 0.0, 0.95, 0.05, 5.14),
    (3, 0.0, 0.95, 0.82, 8.25),
]


@pytest.mark.parametrize(("n", "b", "cl", "lower", "upper"), FC_TABLE)
def test_feldman_cousins_reproduces_the_published_table(n, b, cl, lower, upper):
    lo, hi = feldman_cousins_interval(n, b, cl, step=0.001)
    assert lo == pytest.approx(lower, abs=0.006)  # the table is rounded to 0.01
    assert hi == pytest.approx(upper, abs=0.006)
