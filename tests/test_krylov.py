"""Batched right-preconditioned GMRES (homog.sca.krylov) against direct solves."""

import numpy as np

from homog.sca.krylov import gmres


def systems(n=3, N=40, seed=0, noise=0.05):
    """n nonsymmetric systems near the identity and a preconditioner M ≈ A for each."""
    rng = np.random.default_rng(seed)
    A = np.eye(N) + 0.4 * rng.standard_normal((n, N, N)) / np.sqrt(N)
    M = A + noise * rng.standard_normal((n, N, N)) / np.sqrt(N)
    Minv = np.linalg.inv(M)
    return (A, lambda v: np.einsum("pik,prk->pri", A, v),
            lambda v: np.einsum("pik,prk->pri", Minv, v))


def test_each_system_stops_at_its_own_relative_residual():
    A, matvec, precondition = systems()
    b = np.random.default_rng(1).standard_normal((3, 4, 40))
    rtol = np.array([1e-3, 1e-8, 1e-11, 1e-11])
    x, ok, steps = gmres(matvec, precondition, b, None, rtol, 40)
    assert ok.all()
    residual = np.linalg.norm(b - matvec(x), axis=2) / np.linalg.norm(b, axis=2)
    assert np.all(residual <= rtol * 1.001)
    assert np.all(steps[:, 0] < steps[:, 2])  # a looser tolerance takes fewer iterations
    exact = np.linalg.solve(A[:, None], b[..., None])[..., 0]
    np.testing.assert_allclose(x[:, 2:], exact[:, 2:], rtol=0, atol=1e-9)


def test_an_exact_preconditioner_converges_in_one_iteration_and_a_start_is_used():
    A, matvec, _ = systems(noise=0.0)
    Ainv = np.linalg.inv(A)
    b = np.random.default_rng(2).standard_normal((3, 2, 40))
    x, ok, steps = gmres(matvec, lambda v: np.einsum("pik,prk->pri", Ainv, v), b, None,
                         1e-12, 5)
    assert ok.all() and np.all(steps == 1)
    # started from the solution, nothing is left to do
    x2, ok2, steps2 = gmres(matvec, lambda v: v, b, x, 1e-10, 5)
    assert ok2.all() and np.all(steps2 == 0)
    np.testing.assert_array_equal(x2, x)


def test_unconverged_and_non_finite_systems_are_reported():
    _, matvec, _ = systems(N=60, noise=0.0)
    b = np.random.default_rng(3).standard_normal((3, 1, 60))
    b[1, 0, 5] = np.nan
    x, ok, steps = gmres(matvec, lambda v: v, b, None, 1e-12, 3)  # too few iterations
    assert not ok.any() and np.all(steps == 3)
    x, ok, _ = gmres(matvec, lambda v: v, b, None, 1e-12, 60)
    assert ok[0, 0] and ok[2, 0] and not ok[1, 0]
    assert np.all(np.isfinite(x[[0, 2]]))
