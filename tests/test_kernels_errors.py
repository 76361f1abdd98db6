"""Bad input to the elastic solvers gives clear errors before any work is done."""

import numpy as np
import pytest

from kernels import elastic_homogenization, estimate_memory, solve_elastic
from kernels.tensors import isotropic_stiffness

C = isotropic_stiffness(100.0, 0.3)


def test_non_integer_labels():
    with pytest.raises(ValueError, match="integer dtype"):
        solve_elastic(np.zeros((4, 4)), {0: C}, [1, 0, 0])


def test_labels_without_stiffness_are_named():
    labels = np.zeros((4, 4), dtype=int)
    labels[0, 0], labels[1, 1] = 3, 7
    with pytest.raises(ValueError, match=r"labels \[3, 7\] have no stiffness"):
        solve_elastic(labels, {0: C}, [1, 0, 0])


@pytest.mark.parametrize("bad, match", [
    (np.full((6, 6), np.nan), "non-finite"),
    (-C, "positive definite"),
    (np.ones((3, 3)), "6x6"),
])
def test_bad_stiffness(bad, match):
    with pytest.raises(ValueError, match=match):
        elastic_homogenization(np.array([[0, 1], [1, 0]]), {0: C, 1: bad})


@pytest.mark.parametrize("labels", [np.zeros(5, dtype=int), np.zeros((2, 2, 2, 2), dtype=int)])
def test_wrong_dimensions(labels):
    with pytest.raises(ValueError, match="2D or 3D"):
        solve_elastic(labels, {0: C}, np.zeros(6))


def test_macro_load_checks():
    labels = np.zeros((4, 4), dtype=int)
    with pytest.raises(ValueError, match="3 Mandel components"):
        solve_elastic(labels, {0: C}, [1, 0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="exactly one"):
        solve_elastic(labels, {0: C}, [1, 0, 0], [0, 0, 0])
    with pytest.raises(ValueError, match="exactly one"):
        solve_elastic(labels, {0: C}, [1, np.nan, 0])


def test_voids_are_refused_by_the_basic_scheme_and_all_void_everywhere():
    labels = np.array([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="solver='cg'"):
        solve_elastic(labels, {0: C, 1: np.zeros((6, 6))}, [1, 0, 0], solver="basic")
    with pytest.raises(ValueError, match="nothing carries load"):
        solve_elastic(labels, {0: np.zeros((6, 6)), 1: np.zeros((6, 6))}, [1, 0, 0])


def test_grid_too_large_for_memory_is_refused_before_allocating():
    huge = np.broadcast_to(np.zeros(1, dtype=np.int8), (4096, 4096, 4096))  # no memory used
    with pytest.raises(MemoryError, match=r"needs about \d+\.\d+ GiB"):
        solve_elastic(huge, {0: C}, np.eye(6)[0])
    assert estimate_memory((128, 128, 128)) < 300 * 128**3  # ≤ 300 bytes per voxel in 3D


def test_unknown_solver_and_tolerance():
    labels = np.zeros((4, 4), dtype=int)
    with pytest.raises(ValueError, match="unknown solver"):
        solve_elastic(labels, {0: C}, [1, 0, 0], solver="gmres")
    with pytest.raises(ValueError, match="tol"):
        solve_elastic(labels, {0: C}, [1, 0, 0], tol=0)
    with pytest.raises(ValueError, match="lengths"):
        solve_elastic(labels, {0: C}, [1, 0, 0], lengths=(1.0, -1.0))


@pytest.mark.parametrize("solver", ["cg", "basic"])
def test_a_failed_solve_names_a_high_phase_contrast(solver):
    """A contrast of 1e22 broke CG down with a message that blamed a non-positive stiffness."""
    from kernels import ConvergenceError

    labels = np.zeros((16, 16), dtype=int)
    labels[4:9, 4:9] = 1
    stiff = {0: C, 1: isotropic_stiffness(1e24, 0.19)}
    with pytest.raises(ConvergenceError, match=r"the stiffness contrast of the phases is "
                                               r"1\.8e\+22 .* the likely cause"):
        solve_elastic(labels, stiff, [0.01, 0, 0], solver=solver, maxiter=2)
    with pytest.raises(ConvergenceError) as low:  # a moderate contrast is not blamed
        solve_elastic(labels, {0: C, 1: isotropic_stiffness(500.0, 0.19)}, [0.01, 0, 0],
                      solver=solver, maxiter=2)
    assert "contrast of the phases" not in str(low.value)
