"""Newton–CG full-field solver (kernels.nonlinear) with hand-written constitutive laws."""

import numpy as np
import pytest

from kernels import ConvergenceError, elastic_homogenization, get_backend
from kernels.nonlinear import NewtonCG, solve_nonlinear
from kernels.tensors import PLANE_INDICES, isotropic_stiffness

# small grids: one thread is faster than two, and immune to other processes on the CPUs
BACKEND = get_backend("auto", threads=1, gpu=False)  # the test laws are numpy
C_MATRIX = isotropic_stiffness(100.0, 0.3)
C_FIBRE = isotropic_stiffness(500.0, 0.19)


pytestmark = pytest.mark.usefixtures("one_thread")


def fibre_labels(n: int, fraction: float = 0.3) -> np.ndarray:
    x = (np.arange(n) + 0.5) / n
    X, Y = np.meshgrid(x, x, indexing="ij")
    return (((X - 0.5) ** 2 + (Y - 0.5) ** 2) < fraction / np.pi).astype(int)


def linear_law(labels: np.ndarray):
    """σ = C(x):(ε_n + Δε) with the state holding the converged strain (npoints, 6)."""
    C = np.where(labels.reshape(-1, 1, 1) == 1, C_FIBRE, C_MATRIX)

    def law(dstrain, state):
        strain = state + dstrain
        return np.einsum("nij,nj->ni", C, strain), C.copy(), strain

    return law, np.zeros((labels.size, 6))


def test_tangent_is_applied_voxel_by_voxel():
    rng = np.random.default_rng(0)
    labels = np.zeros((6, 5), int)
    law, state = linear_law(labels)
    solver = NewtonCG(labels, law, state, backend=BACKEND)
    K = rng.standard_normal((3, 3, 30))
    solver._K[...] = K
    v = rng.standard_normal((3, 6, 5))
    out = solver.apply_tangent(v, np.empty_like(v))
    expected = np.einsum("ijn,jn->in", K, v.reshape(3, -1)).reshape(v.shape)
    np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("labels", [fibre_labels(16), np.repeat(fibre_labels(8)[:, :, None], 4, 2)],
                         ids=["2d", "3d"])
def test_linear_law_reproduces_elastic_homogenization(labels):
    n = 3 if labels.ndim == 2 else 6
    E = np.array([0.01, -0.004, 0.003, 0.002, -0.001, 0.005])
    E = E[list(PLANE_INDICES)] if n == 3 else E
    law, state = linear_law(labels)
    history = solve_nonlinear(labels, law, state, E[None], np.ones((1, n), bool),
                              tol=1e-8, backend=BACKEND)
    C_eff = elastic_homogenization(labels, {0: C_MATRIX, 1: C_FIBRE}, tol=1e-10,
                                   backend=BACKEND).C_eff
    sel = list(PLANE_INDICES) if n == 3 else list(range(6))
    np.testing.assert_allclose(history[0].macro_strain[sel], E, atol=1e-15)
    np.testing.assert_allclose(history[0].macro_stress[sel], C_eff @ E, rtol=1e-6)


def test_failing_law_is_cut_into_substeps_and_recovers():
    labels = fibre_labels(16)
    law, state = linear_law(labels)
    calls = {"refused": 0}

    def fragile(dstrain, state):
        if np.abs(dstrain).max() > 0.004:  # a return mapping that needs small increments
            calls["refused"] += 1
            raise RuntimeError("increment too large")
        return law(dstrain, state)

    target = np.array([[0.01, 0.0, 0.0]])
    controls = np.array([[True, False, False]])  # uniaxial stress along 1
    history = solve_nonlinear(labels, fragile, state, target, controls, backend=BACKEND)
    reference = solve_nonlinear(labels, law, state, target, controls, backend=BACKEND)
    assert calls["refused"] > 0 and history[0].cuts >= 2
    np.testing.assert_allclose(history[0].macro_stress, reference[0].macro_stress, rtol=1e-5,
                               atol=1e-6)


def test_gives_up_after_max_cuts_naming_the_increment():
    labels = fibre_labels(8)
    law, state = linear_law(labels)

    def broken(dstrain, state):
        if np.any(dstrain):
            raise RuntimeError("return mapping did not converge")
        return law(dstrain, state)

    solver = NewtonCG(labels, broken, state, backend=BACKEND, max_cuts=3)
    targets = np.array([[0.001, 0.0, 0.0], [0.002, 0.0, 0.0]])
    with pytest.raises(ConvergenceError, match=r"load increment 1 of 2 .* after 3 cuts.*"
                       r"return mapping did not converge") as info:
        list(solver.run(targets, np.ones((2, 3), bool)))
    assert info.value.iterations == 1


def test_nan_stress_raises_instead_of_returning_nan():
    labels = fibre_labels(8)
    law, state = linear_law(labels)

    def poisoned(dstrain, state):
        stress, tangent, new = law(dstrain, state)
        if np.any(dstrain):
            stress[3, 0] = np.nan
        return stress, tangent, new

    with pytest.raises(ConvergenceError, match="non-finite") as info:
        solve_nonlinear(labels, poisoned, state, [[0.001, 0.0, 0.0]], [[True] * 3],
                        backend=BACKEND, max_cuts=1)
    assert not np.isfinite(info.value.residual)


def test_law_returning_wrong_shapes_is_rejected():
    labels = fibre_labels(8)

    def flat(dstrain, state):
        return dstrain[:, :3], np.zeros((dstrain.shape[0], 3, 3)), state

    with pytest.raises(ValueError, match=r"expected \(64, 6\) and \(64, 6, 6\)"):
        NewtonCG(labels, flat, None, backend=BACKEND)


@pytest.mark.parametrize(
    ("targets", "controls", "match"),
    [
        (np.zeros((2, 6)), np.ones((2, 6), bool), r"expected \(nsteps, 3\)"),
        (np.zeros((2, 3)), np.ones((2, 3), int), "bool array"),
        (np.full((1, 3), np.nan), np.ones((1, 3), bool), "finite"),
    ],
)
def test_bad_load_path_is_rejected(targets, controls, match):
    labels = fibre_labels(8)
    law, state = linear_law(labels)
    solver = NewtonCG(labels, law, state, backend=BACKEND)
    with pytest.raises(ValueError, match=match):
        next(solver.run(targets, controls))


@pytest.mark.parametrize(
    ("options", "match"),
    [({"tol": 0.0}, "tol"), ({"max_iterations": 0}, "max_iterations"),
     ({"stall_iterations": 0}, "stall_iterations"), ({"correction_tol": -1.0}, "correction_tol"),
     ({"max_cuts": 2.5}, r"max_cuts = 2.5 must be an integer >= 0"),
     ({"cg_maxiter": True}, r"cg_maxiter = True must be an integer >= 1"),
     ({"gmres_restart": float("inf")}, r"gmres_restart = inf must be an integer >= 1")],
)
def test_bad_solver_options_are_rejected(options, match):
    labels = fibre_labels(8)
    law, state = linear_law(labels)
    with pytest.raises(ValueError, match=match):
        NewtonCG(labels, law, state, backend=BACKEND, **options)


def test_whole_number_solver_options_are_integers():
    """Counts given as whole floats (e.g. read from a TOML or JSON file) are accepted, as the
    elastic solver's maxiter is, and stored as ints."""
    labels = fibre_labels(8)
    law, state = linear_law(labels)
    solver = NewtonCG(labels, law, state, backend=BACKEND, max_iterations=30.0, max_cuts=6.0,
                      cg_maxiter=np.int64(100), stall_iterations=8.0, gmres_restart=20.0)
    values = (solver.max_iterations, solver.max_cuts, solver.cg_maxiter, solver.stall_iterations,
              solver.gmres_restart)
    assert values == (30, 6, 100, 8, 20)
    assert all(type(v) is int for v in values)


def test_forcing_terms_follow_the_convergence_rate():
    """Eisenstat & Walker's choice 2: η = 0.9 (||r_k|| / ||r_k−1||)², at most 0.1. A linearly
    converging Newton (ratio 0.4, as Newton–CG without a non-local coupling past a peak) keeps
    the loose 0.1; a quadratically converging one tightens with the ratio squared."""
    from kernels.nonlinear import MAX_FORCING, _forcing

    assert _forcing(0.4) == MAX_FORCING == 0.1
    assert _forcing(2.0) == MAX_FORCING  # a residual that grew
    assert _forcing(0.01) == pytest.approx(9e-5)
    assert _forcing(0.1) == pytest.approx(9e-3)
