"""Isotropic hardening laws: each reproduces its formula, and slope = dσ_y/dε̄p."""

import numpy as np
import pytest

from homog.materials import (
    LinearHardening,
    PiecewiseLinearHardening,
    SwiftHardening,
    VoceHardening,
)

EPS_P = np.array([0.0, 1e-4, 0.01, 0.039, 0.041, 0.3, 2.5, 4.0])

LAWS = {
    "linear": (LinearHardening(0.5, 5.0), lambda e: 0.5 + 5.0 * e),
    "swift": (SwiftHardening(K=2.0, eps0=0.01, n=0.2), lambda e: 2.0 * (0.01 + e) ** 0.2),
    "voce": (VoceHardening(0.5, 0.3, 20.0), lambda e: 0.5 + 0.3 * (1.0 - np.exp(-20.0 * e))),
    "crate_table": (
        PiecewiseLinearHardening([0.0, 0.04, 2.0], [0.5, 0.7, 4.62]),
        lambda e: np.where(e <= 0.04, 0.5 + 5.0 * e, 0.7 + 2.0 * (e - 0.04)),
    ),
}


@pytest.mark.parametrize("name", LAWS)
def test_yield_stress_follows_the_formula(name):
    law, formula = LAWS[name]
    np.testing.assert_allclose(law.sigma_y(EPS_P), formula(EPS_P), rtol=1e-14)
    assert law.sigma_y0 == pytest.approx(formula(np.zeros(1))[0], rel=1e-14)


@pytest.mark.parametrize("name", LAWS)
def test_slope_is_the_derivative_of_the_yield_stress(name):
    law, _ = LAWS[name]
    e = 1.01 * EPS_P[1:] + 2e-3  # away from the kink of the table
    h = 1e-7
    numeric = (law.sigma_y(e + h) - law.sigma_y(e - h)) / (2 * h)
    np.testing.assert_allclose(law.slope(e), numeric, rtol=1e-6, atol=1e-7)


def test_crate_table_extrapolates_with_the_last_slope():
    law = PiecewiseLinearHardening([0.0, 0.04, 2.0], [0.5, 0.7, 4.62])
    assert law.sigma_y(np.array([3.0]))[0] == pytest.approx(4.62 + 2.0 * 1.0)
    np.testing.assert_allclose(law.slope(np.array([0.0, 0.04, 5.0])), [5.0, 2.0, 2.0])


def test_swift_from_initial_yield_stress():
    law = SwiftHardening(sigma_y0=0.5, eps0=0.002, n=0.1)
    assert law.sigma_y0 == pytest.approx(0.5, rel=1e-14)
    assert law.K == pytest.approx(0.5 / 0.002**0.1)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: LinearHardening(-1.0, 1.0), "sigma_y0"),
        (lambda: LinearHardening(0.0, 1.0), "sigma_y0"),
        (lambda: LinearHardening(1.0, -1.0), "H"),
        (lambda: LinearHardening(float("nan"), 1.0), "finite"),
        (lambda: VoceHardening(1.0, -0.1, 3.0), "Q"),
        (lambda: SwiftHardening(K=1.0, eps0=0.0, n=0.2), "eps0"),
        (lambda: SwiftHardening(K=1.0, sigma_y0=1.0, eps0=0.01, n=0.2), "exactly one"),
        (lambda: PiecewiseLinearHardening([0.0, 0.1, 0.1], [1.0, 2.0, 3.0]), "strictly"),
        (lambda: PiecewiseLinearHardening([0.0, 0.2, 0.1], [1.0, 2.0, 3.0]), "strictly"),
        (lambda: PiecewiseLinearHardening([0.0, 0.1], [1.0, 0.5]), "non-decreasing"),
        (lambda: PiecewiseLinearHardening([0.0, 0.1], [-1.0, 0.5]), "must be > 0"),
        (lambda: PiecewiseLinearHardening([0.01, 0.1], [1.0, 2.0]), "start at eps_p = 0"),
        (lambda: PiecewiseLinearHardening([0.0], [1.0]), ">= 2"),
    ],
)
def test_bad_hardening_parameters_are_rejected(build, match):
    with pytest.raises(ValueError, match=match):
        build()
