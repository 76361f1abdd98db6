"""Batched dense linear algebra of the online stage: Jacobian assembly and per-point LU."""

import numpy as np
import pytest

from homog.sca.batched_linalg import assemble_jacobians, lu_factor_points, lu_solve_points


@pytest.mark.parametrize("m", [3, 6])
def test_assembled_jacobians_equal_the_dense_formula(m):
    """Aᵀ of A_p = 1 + (a_p D1 − c_p D2)·blockdiag(Δ_pJ), built block by block with numpy."""
    rng = np.random.default_rng(0)
    P, K = 4, 5
    D1, D2 = rng.normal(size=(2, K, K, m, m))  # D_IJ[a, b]
    delta = rng.normal(size=(P, K, m, m))
    coef_a, coef_c = rng.normal(size=(2, P))
    layout = (1, 3, 0, 2)  # Dᵀ blocks [J, b, (I a)] = D_IJ[a, b]
    d1t = np.ascontiguousarray(D1.transpose(layout).reshape(K, m, K * m))
    d2t = np.ascontiguousarray(D2.transpose(layout).reshape(K, m, K * m))
    At = assemble_jacobians(delta.transpose(0, 1, 3, 2), d1t, d2t, coef_a, coef_c)
    for p in range(P):
        D = (coef_a[p] * D1 - coef_c[p] * D2).transpose(0, 2, 1, 3).reshape(K * m, K * m)
        blocks = np.zeros((K * m, K * m))
        for J in range(K):
            blocks[J * m:(J + 1) * m, J * m:(J + 1) * m] = delta[p, J]
        A = np.eye(K * m) + D @ blocks
        np.testing.assert_allclose(At[p], A.T, rtol=0, atol=1e-12 * np.abs(A).max())


def test_per_point_lu_solves_equal_numpy_including_pivoting():
    rng = np.random.default_rng(1)
    P, n, r = 5, 12, 3
    A = rng.normal(size=(P, n, n))
    A[0] = np.roll(np.eye(n), 1, axis=0) + 1e-3 * A[0]  # zero diagonal: pivoting required
    A[1, :, 0] = 0.0
    A[1, 0, 0] = 1e-14  # a tiny leading pivot: partial pivoting swaps it away
    A[1, 5, 0] = 2.0
    B = rng.normal(size=(P, n, r))
    At = np.ascontiguousarray(A.transpose(0, 2, 1))  # A in Fortran order, as the solver holds it
    piv = lu_factor_points(At)
    expected = np.linalg.solve(A, B)
    np.testing.assert_allclose(lu_solve_points(At, piv, B), expected, rtol=1e-12, atol=1e-12)
    points = np.array([3, 0])  # a subset of the factorized points with its own right-hand sides
    np.testing.assert_allclose(lu_solve_points(At, piv, B[points], points), expected[points],
                               rtol=1e-12, atol=1e-12)


def test_a_singular_point_gives_non_finite_solutions_not_an_error():
    A = np.stack([np.eye(4), np.zeros((4, 4))])
    At = np.ascontiguousarray(A.transpose(0, 2, 1))
    X = lu_solve_points(At, lu_factor_points(At), np.ones((2, 4, 1)))
    np.testing.assert_array_equal(X[0], np.ones((4, 1)))
    assert not np.all(np.isfinite(X[1]))
