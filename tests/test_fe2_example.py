"""The FE² example (examples/fe2_plate.py): a plate with a hole whose material is the SCA ROM.

Physical facts checked on a coarse plate and a tiny ROM: the first (elastic) increment is the
linear elastic solution, the macroscopic Newton iteration converges at once in the elastic
range and quadratically once plasticity spreads (DDSDDE is the consistent tangent), and the
load–displacement curve falls below the elastic line.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("skfem")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fe2_plate.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("fe2_plate", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


fe2 = _load_example()

DELTA, STEPS = 0.012, 12  # top displacement (half-width 1); increment 1 is elastic


@pytest.fixture(scope="module")
def plate():
    return fe2.PlateModel(fe2.plate_with_hole_mesh(1.0, 0.3, n_theta=4, n_radial=3), 1.0)


@pytest.fixture(scope="module")
def rom():
    return fe2.fibre_rom(size=32, clusters={0: 3, 1: 1}, radius=0.15)


@pytest.fixture(scope="module")
def run(plate, rom):
    umat = fe2.rom_umat(rom, "frozen")  # consistent DDSDDE (see docs/fe2.md)
    return umat, fe2.FE2Solver(plate, umat, verbose=False).run(DELTA, STEPS)


def test_first_increment_is_the_linear_elastic_solution(plate, rom, run):
    umat, result = run
    first = result.increments[0]
    assert len(first.residuals) == 1  # the tangent predictor is already in equilibrium
    # the ROM's own elastic DDSDDE reproduces it to round-off ...
    n = plate.npoints
    zeros = np.zeros((n, 4))
    ddsdde = umat.batch(zeros, umat.initial_statev(n), zeros, zeros)[2][0]
    C_rom = ddsdde[np.ix_(fe2.IN_PLANE, fe2.IN_PLANE)]
    _, F_rom = fe2.elastic_solution(plate, C_rom, first.displacement)
    assert first.force == pytest.approx(F_rom, rel=1e-6)
    # ... and C_eff of the FFT solution to the clustering error of the elastic ROM tangent
    C_eff = fe2.mandel_plane_to_voigt(rom.C_eff)
    _, F_eff = fe2.elastic_solution(plate, C_eff, first.displacement)
    clustering_error = np.abs(C_rom - C_eff).max() / np.abs(C_eff).max()
    assert abs(first.force / F_eff - 1) <= 2 * clustering_error + 1e-6


def test_newton_converges_at_once_elastic_and_quadratically_plastic(run):
    _, result = run
    assert result.cuts == 0
    histories = [inc.residuals for inc in result.increments]
    assert len(histories[0]) == 1, histories  # elastic: the predictor is the solution
    plastic = [h for h in histories if len(h) >= 3]
    assert len(plastic) >= 5, histories
    assert max(len(h) for h in histories) <= 6, histories
    # asymptotic range: r_{k+1} ≤ C r_k² (a linear rate q would give q / r_k ≥ 100 here)
    ratios = [r1 / r0**2 for h in plastic for r0, r1 in zip(h, h[1:])
              if r0 < 1e-3 and r1 > 1e-12]
    assert len(ratios) >= 5, histories
    assert max(ratios) < 50.0, histories


def test_curve_softens_below_the_elastic_line(run):
    _, result = run
    d, F = result.displacement[1:], result.force[1:]
    secant = F / d
    assert np.all(np.diff(F) > 0)  # the hardening matrix keeps the plate stable
    assert np.all(np.diff(secant) <= 1e-9 * secant[0])  # the secant stiffness never grows
    assert secant[-1] < 0.6 * secant[0]
