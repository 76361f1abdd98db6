"""Krylov solvers of the Newton corrections: restarted GMRES (kernels.projection.gmres) next to
CG, chosen by NewtonCG(krylov=...) and dns(krylov=...)."""

import numpy as np
import pytest
from oracles import disc_labels

from homog.dns import dns
from homog.loading import uniaxial_stress
from homog.materials import LinearElastic, LinearHardening, VonMises, VonMisesDamage
from kernels import ConvergenceError, get_backend
from kernels.nonlinear import NewtonCG
from kernels.projection import gmres

# small grids: one thread is faster than two, and immune to other processes on the CPUs
BACKEND = get_backend("scipy", threads=1)
FIBRE = LinearElastic(500.0, 0.19)

pytestmark = pytest.mark.usefixtures("one_thread")


def nonsymmetric_system(npoints=20, ncomp=2, seed=0):
    """A dense non-symmetric, indefinite operator on fields (ncomp, npoints) and a right-hand
    side: eigenvalues ±[1, 3] mixed by a random non-orthogonal basis."""
    rng = np.random.default_rng(seed)
    n = npoints * ncomp
    X = np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
    A = X @ np.diag(np.r_[-np.linspace(1, 3, n // 2), np.linspace(1, 3, n - n // 2)]) @ (
        np.linalg.inv(X))
    return A, rng.standard_normal((ncomp, npoints))


def dense(A):
    def apply(v, out):
        out[...] = (A @ v.reshape(-1)).reshape(v.shape)
        return out

    return apply


def rms(field):
    return np.sqrt(np.sum(field**2) / field.shape[1])  # ||.||_RMS of the Krylov solvers


@pytest.mark.parametrize("projected", [False, True], ids=["identity", "subspace"])
def test_gmres_solves_a_small_nonsymmetric_system(projected):
    A, b = nonsymmetric_system()
    n = A.shape[0]
    assert np.abs(A - A.T).max() > 0.1 and np.linalg.eigvalsh(A + A.T).min() < 0  # not for CG
    if projected:  # P: orthogonal projection on a 25-dimensional subspace, basis Q
        Q = np.linalg.qr(np.random.default_rng(1).standard_normal((n, 25)))[0]
        exact = Q @ np.linalg.solve(Q.T @ A @ Q, Q.T @ b.reshape(-1))  # P:A:δ = P:b, δ = Q y

        def project(v):
            v[...] = (Q @ (Q.T @ v.reshape(-1))).reshape(v.shape)
            return v
    else:
        exact = np.linalg.solve(A, b.reshape(-1))

        def project(v):
            return v
    r = project(b.copy())
    x, w = np.zeros_like(b), np.empty_like(b)
    its, residual = gmres(dense(A), project, x, r, w, atol=1e-12 * rms(r), maxiter=500,
                          restart=8)
    np.testing.assert_allclose(x.reshape(-1), exact, rtol=0, atol=1e-10 * np.abs(exact).max())
    assert its > 8  # restarted
    true_residual = project(b - (A @ x.reshape(-1)).reshape(b.shape))
    np.testing.assert_allclose(r, true_residual, atol=1e-13 * rms(b))  # r on exit: b − A x
    assert residual == pytest.approx(rms(true_residual), rel=1e-6)
    # full GMRES (restart ≥ dimension) terminates in at most dim(range P) iterations
    x[...] = 0.0
    r = project(b.copy())
    its, _ = gmres(dense(A), project, x, r, w, atol=1e-12 * rms(r), maxiter=500, restart=n)
    assert its <= (25 if projected else n)
    np.testing.assert_allclose(x.reshape(-1), exact, rtol=0, atol=1e-10 * np.abs(exact).max())


def test_gmres_raises_when_maxiter_is_too_small():
    A, b = nonsymmetric_system()
    x, r, w = np.zeros_like(b), b.copy(), np.empty_like(b)
    atol = 1e-10 * rms(b)
    with pytest.raises(ConvergenceError, match=r"GMRES\(3\) did not converge: residual "
                       r"\S+ > \S+ after 5 iterations") as info:
        gmres(dense(A), lambda v: v, x, r, w, atol=atol, maxiter=5, restart=3)
    assert info.value.iterations == 5
    assert atol < info.value.residual < rms(b)  # minimal residual: reduced, not converged
    with pytest.raises(ValueError, match="restart"):
        gmres(dense(A), lambda v: v, x, b.copy(), w, atol=atol, maxiter=5, restart=0)


def test_gmres_and_cg_give_the_same_stresses_on_a_plastic_rve():
    materials = {0: VonMises(100.0, 0.3, LinearHardening(0.5, 0.5)), 1: FIBRE}
    runs = {krylov: dns(disc_labels(32, 0.3), materials, uniaxial_stress(0.03, 6),
                        backend=BACKEND, tol=1e-9, krylov=krylov) for krylov in ("cg", "gmres")}
    cg, gm = runs["cg"], runs["gmres"]
    assert (cg.info["krylov"], gm.info["krylov"]) == ("cg", "gmres")
    assert "krylov_switch" not in cg.info  # CG converges on the symmetric plastic tangent
    assert cg.stress[-1, 0] > 0.6  # well into the plastic range (σy = 0.5)
    # both meet the equilibrium tolerance 1e-9: measured differences 1.5e-10 (stress) and
    # 2e-11 (strain) of the largest value
    np.testing.assert_allclose(gm.stress, cg.stress, rtol=0, atol=1e-8 * cg.stress[:, 0].max())
    np.testing.assert_allclose(gm.strain, cg.strain, rtol=0, atol=1e-8 * cg.strain[:, 0].max())


def softening_dns(tangent, krylov):
    matrix = VonMisesDamage(100.0, 0.3, LinearHardening(0.5, 0.5), onset=0.01,
                            fracture_energy=3e-3, tangent=tangent)
    return dns(disc_labels(32, 0.3), {0: matrix, 1: FIBRE}, uniaxial_stress(0.015, 60),
               backend=BACKEND, krylov=krylov, save_fields="last")


def test_gmres_follows_softening_with_the_consistent_tangent():
    consistent = softening_dns("consistent", "gmres")
    secant = softening_dns("secant", "cg")
    stress = consistent.stress[:, 0]
    peak = int(np.argmax(stress))
    assert 0 < peak < 30 and stress[-1] < 0.7 * stress[peak]  # well down the softening branch
    assert max(consistent.info["cuts"]) == 0
    # Newton with the consistent tangent: 3-7 iterations per increment, where the secant Newton
    # converges linearly (measured 255 vs 498 in total, a median of 4 vs 7 past the peak)
    assert consistent.iterations.sum() < 0.75 * secant.iterations.sum()
    assert np.median(consistent.iterations[peak:]) < np.median(secant.iterations[peak:])
    # the same equilibria up to the bifurcation: through the peak and one increment past it
    # the curves agree to the equilibrium tolerance (tol = 1e-6; measured ≤ 2.0e-6 · peak)
    np.testing.assert_allclose(stress[:peak + 2], secant.stress[:peak + 2, 0], rtol=0,
                               atol=1e-5 * stress[peak])
    # Past it the discrete problem has several equilibria: Newton with the consistent tangent
    # keeps the mirror symmetry of the RVE (a diamond of four bands), while the secant
    # iteration may leave it for a single band (measured: σ11 = 0.351 vs 0.284 at the end).
    # Measured asymmetry of the consistent solution: 3.3e-5 of the largest ε̄p.
    eqps = consistent.fields["eqps"][-1]
    assert np.abs(eqps - eqps[::-1]).max() < 1e-3 * eqps.max()
    assert np.abs(eqps - eqps[:, ::-1]).max() < 1e-3 * eqps.max()


def skew_law(labels, skew):
    """A linear law σ = K:ε with a non-symmetric tangent: isotropic K (E 100 in the matrix, 500
    in the fibre, ν 0.3) plus ``skew``·μ times an antisymmetric coupling of 11, 22 and 12."""
    E = np.where(labels.reshape(-1) == 1, 500.0, 100.0)
    lam, mu = E * 0.3 / (1.3 * 0.4), E / 2.6
    J = np.zeros((6, 6))
    J[:3, :3] = 1.0
    A = np.zeros((6, 6))
    for i, j in ((0, 1), (0, 5), (1, 5)):
        A[i, j], A[j, i] = 1.0, -1.0
    K = lam[:, None, None] * J + 2.0 * mu[:, None, None] * np.eye(6) + skew * mu[:, None, None] * A

    def law(dstrain, state):
        strain = state + dstrain
        return np.einsum("pij,pj->pi", K, strain), K.copy(), strain

    return law, np.zeros((labels.size, 6))


def test_a_newton_cg_that_cannot_converge_switches_to_gmres():
    """CG on a non-symmetric tangent fails at the first increment (60 iterations per solve at
    most), even cut twice; the solver switches to GMRES for the rest of the run and ends
    where GMRES from the start ends."""
    labels = disc_labels(16, 0.3)
    targets = np.array([[0.01, 0.0, 0.0], [0.02, 0.0, 0.0]])
    controls = np.array([[True, False, False]] * 2)
    runs = {}
    for krylov in ("cg", "gmres"):
        law, state = skew_law(labels, 2.0)
        solver = NewtonCG(labels, law, state, krylov=krylov, cg_maxiter=60, max_cuts=2,
                          backend=BACKEND, tol=1e-8)
        runs[krylov] = (list(solver.run(targets, controls)), solver.info)
    (switched, info), (direct, _) = runs["cg"], runs["gmres"]
    assert (info["krylov"], info["krylov_switch"]) == ("gmres", 1)
    for a, b in zip(switched, direct):
        np.testing.assert_allclose(a.macro_stress, b.macro_stress, rtol=1e-12, atol=1e-12)
    assert switched[-1].macro_stress[0] > 4.0  # the skew stiffens the 11 response (4.57)
    # with CG alone the increment fails: without the switch it would have raised
    law, state = skew_law(labels, 2.0)
    solver = NewtonCG(labels, law, state, krylov="cg", cg_maxiter=60, max_cuts=2,
                      backend=BACKEND, tol=1e-8)
    solver._switch_to_gmres = lambda step: False
    with pytest.raises(ConvergenceError, match="load increment 1 of 2 did not converge"):
        list(solver.run(targets, controls))


def test_gmres_solves_stop_at_their_own_cap():
    """GMRES stops at ``gmres_maxiter`` (600 by default, at most ``cg_maxiter``): a solve that
    reaches it fails its Newton attempt, as one that reaches ``cg_maxiter`` did."""
    labels = disc_labels(16, 0.3)
    law, state = skew_law(labels, 2.0)
    assert NewtonCG(labels, law, state, krylov="gmres", backend=BACKEND).gmres_maxiter == 600
    assert NewtonCG(labels, law, state, krylov="gmres", cg_maxiter=60,
                    backend=BACKEND).gmres_maxiter == 60
    targets = np.array([[0.01, 0.0, 0.0]])
    controls = np.array([[True, False, False]])
    solver = NewtonCG(labels, law, state, krylov="gmres", gmres_maxiter=3, max_cuts=0,
                      backend=BACKEND, tol=1e-8)
    with pytest.raises(ConvergenceError, match=r"GMRES\(30\) did not converge.* after 3 "):
        list(solver.run(targets, controls))
    solver = NewtonCG(labels, law, state, krylov="gmres", max_cuts=0, backend=BACKEND, tol=1e-8)
    assert list(solver.run(targets, controls))[0].macro_stress[0] > 0.0
    with pytest.raises(ValueError, match="gmres_maxiter = 0 must be an integer >= 1"):
        NewtonCG(labels, law, state, gmres_maxiter=0, backend=BACKEND)


def test_unknown_krylov_solver_is_rejected():
    materials = {0: VonMises(100.0, 0.3, LinearHardening(0.5, 0.5)), 1: FIBRE}
    with pytest.raises(ValueError, match=r"krylov = 'bicg': use 'cg' .* or 'gmres'"):
        dns(disc_labels(8, 0.3), materials, uniaxial_stress(0.01, 2), backend=BACKEND,
            krylov="bicg")
    with pytest.raises(ValueError, match="gmres_restart"):
        NewtonCG(disc_labels(8, 0.3), lambda d, s: None, None, backend=BACKEND,
                 krylov="gmres", gmres_restart=0)
