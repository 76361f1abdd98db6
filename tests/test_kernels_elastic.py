"""Elastic FFT homogenization against closed-form physics."""

import numpy as np
import pytest
from oracles import (
    dilute_sphere_moduli,
    disc_labels,
    hashin_shtrikman,
    hashin_shtrikman_2d,
    laminate_stiffness,
    sphere_labels,
)

from kernels import ConvergenceError, elastic_homogenization, solve_elastic, to_numpy
from kernels.tensors import PLANE_INDICES, isotropic_projection, isotropic_stiffness

P2 = np.ix_(PLANE_INDICES, PLANE_INDICES)
MATRIX, FIBRE = isotropic_stiffness(100.0, 0.3), isotropic_stiffness(500.0, 0.19)


def transversely_isotropic(E1, E2, nu12, nu23, G12):
    """Fibre-like stiffness with axis 1 (Mandel) from its compliance."""
    S = np.zeros((6, 6))
    S[0, 0], S[1, 1], S[2, 2] = 1 / E1, 1 / E2, 1 / E2
    S[0, 1] = S[1, 0] = S[0, 2] = S[2, 0] = -nu12 / E1
    S[1, 2] = S[2, 1] = -nu23 / E2
    G23 = E2 / (2 * (1 + nu23))
    S[3, 3], S[4, 4], S[5, 5] = 1 / (2 * G23), 1 / (2 * G12), 1 / (2 * G12)
    return np.linalg.inv(S)


@pytest.mark.parametrize("shape", [(7, 9), (6, 5, 4)])
def test_homogeneous_material_returns_its_own_stiffness(shape):
    C = transversely_isotropic(200.0, 20.0, 0.25, 0.4, 8.0)
    r = elastic_homogenization(np.zeros(shape, dtype=np.int8), {0: C})
    ref = C if len(shape) == 3 else C[P2]
    np.testing.assert_allclose(r.C_eff, ref, rtol=1e-12)
    assert max(r.iterations) == 0


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_3d_laminate_matches_closed_form(axis):
    C1 = transversely_isotropic(200.0, 20.0, 0.25, 0.4, 8.0)
    C0 = isotropic_stiffness(3.0, 0.35)
    labels = np.zeros((10, 8, 6), dtype=np.int32)
    idx = [slice(None)] * 3
    idx[axis] = slice(0, 3)
    labels[tuple(idx)] = 1
    frac = 3 / labels.shape[axis]
    # express the laminate in a frame whose axis 1 is the layer normal, then rotate back
    perm = {0: [0, 1, 2, 3, 4, 5], 1: [1, 0, 2, 4, 3, 5], 2: [2, 1, 0, 5, 4, 3]}[axis]
    Cs = [C[np.ix_(perm, perm)] for C in (C0, C1)]
    ref_rot = laminate_stiffness(Cs, [1 - frac, frac], [0, 4, 5])
    inv = np.argsort(perm)
    ref = ref_rot[np.ix_(inv, inv)]
    r = elastic_homogenization(labels, {0: C0, 1: C1}, tol=1e-10)
    np.testing.assert_allclose(r.C_eff, ref, rtol=1e-8, atol=1e-8 * np.abs(ref).max())


def test_2d_laminate_matches_closed_form_with_both_solvers():
    labels = np.zeros((12, 5), dtype=np.int32)
    labels[:5] = 1
    ref = laminate_stiffness([MATRIX[P2], FIBRE[P2]], [7 / 12, 5 / 12], [0, 2])
    for solver in ("cg", "basic"):
        r = elastic_homogenization(labels, {0: MATRIX, 1: FIBRE}, solver=solver, tol=1e-10)
        np.testing.assert_allclose(r.C_eff, ref, rtol=1e-8, atol=1e-12 * np.abs(ref).max())


def test_spectral_discretization_is_not_exact_for_laminates_but_willot_is():
    """Documents why Willot's scheme is the default (DESIGN.md §3, Nyquist handling)."""
    labels = np.zeros((16, 16), dtype=np.int32)
    labels[:5] = 1
    ref = laminate_stiffness([MATRIX[P2], FIBRE[P2]], [11 / 16, 5 / 16], [0, 2])
    w = elastic_homogenization(labels, {0: MATRIX, 1: FIBRE}, tol=1e-10)
    s = elastic_homogenization(labels, {0: MATRIX, 1: FIBRE}, tol=1e-10,
                               discretization="spectral")
    assert np.abs(w.C_eff - ref).max() < 1e-8 * np.abs(ref).max()
    assert np.abs(s.C_eff - ref).max() > 1e-3 * np.abs(ref).max()


@pytest.fixture(scope="module")
def spheres_20():
    labels = sphere_labels(24, 0.2)
    r = elastic_homogenization(labels, {0: MATRIX, 1: FIBRE}, return_concentration=True)
    return labels, r


def test_spheres_fall_inside_hashin_shtrikman_bounds(spheres_20):
    labels, r = spheres_20
    c = labels.mean()
    K, G = isotropic_projection(r.C_eff)
    km, gm = isotropic_projection(MATRIX)
    ki, gi = isotropic_projection(FIBRE)
    (k_lo, k_up), (g_lo, g_up) = hashin_shtrikman([km, ki], [gm, gi], [1 - c, c])
    assert k_lo <= K <= k_up
    assert g_lo <= G <= g_up


def test_effective_stiffness_is_symmetric_positive_definite(spheres_20):
    _, r = spheres_20
    np.testing.assert_array_equal(r.C_eff, r.C_eff.T)  # the symmetric part of the columns
    assert 0 <= r.info["asymmetry"] < 1e-4  # what was removed: of the order of the tolerance
    assert np.linalg.eigvalsh(r.C_eff).min() > 0


def test_strain_concentration_averages_to_identity_and_gives_c_eff(spheres_20):
    labels, r = spheres_20
    A = to_numpy(r.strain_concentration)  # a cupy array where the default backend is CuPy
    np.testing.assert_allclose(A.mean(axis=(2, 3, 4)), np.eye(6), atol=1e-12)
    C_field = np.where(labels[None, None] == 1, FIBRE[..., None, None, None],
                       MATRIX[..., None, None, None])
    CA = np.einsum("ij...,jk...->ik...", C_field, A).mean(axis=(2, 3, 4))
    np.testing.assert_allclose(0.5 * (CA + CA.T), r.C_eff, rtol=1e-12, atol=1e-12 * r.C_eff.max())


def test_dilute_spheres_approach_eshelby_estimate():
    labels = sphere_labels(32, 0.01)
    c = labels.mean()
    r = elastic_homogenization(labels, {0: MATRIX, 1: FIBRE}, tol=1e-8)
    K, G = isotropic_projection(r.C_eff)
    km, gm = isotropic_projection(MATRIX)
    ki, gi = isotropic_projection(FIBRE)
    Kd, Gd = dilute_sphere_moduli(km, gm, ki, gi, c)
    # within 5% of the O(c) perturbation the dilute theory predicts
    assert abs(K - Kd) < 0.05 * (Kd - km)
    assert abs(G - Gd) < 0.05 * (Gd - gm)


def test_2d_fibres_inside_transverse_hashin_shtrikman_bounds():
    labels = disc_labels(64, 0.3)
    c = labels.mean()
    r = elastic_homogenization(labels, {0: MATRIX, 1: FIBRE})
    k_eff = 0.25 * (r.C_eff[0, 0] + r.C_eff[1, 1] + 2 * r.C_eff[0, 1])  # plane-strain bulk
    # square symmetry: the isotropic in-plane shear averages the two shear moduli
    g_eff = 0.5 * (0.5 * r.C_eff[2, 2] + 0.5 * (r.C_eff[0, 0] - r.C_eff[0, 1]))
    lam = [isotropic_projection(C)[0] - 2 * isotropic_projection(C)[1] / 3 for C in (MATRIX, FIBRE)]
    mu = [isotropic_projection(C)[1] for C in (MATRIX, FIBRE)]
    ks = [la + m for la, m in zip(lam, mu)]
    (k_lo, k_up), (g_lo, g_up) = hashin_shtrikman_2d(ks, mu, [1 - c, c])
    assert k_lo <= k_eff <= k_up
    assert g_lo <= g_eff <= g_up


def test_extruded_3d_rve_reproduces_the_2d_plane_strain_block():
    labels2 = disc_labels(20, 0.3)
    labels3 = np.repeat(labels2[:, :, None], 3, axis=2)
    r2 = elastic_homogenization(labels2, {0: MATRIX, 1: FIBRE}, tol=1e-9)
    r3 = elastic_homogenization(labels3, {0: MATRIX, 1: FIBRE}, tol=1e-9)
    np.testing.assert_allclose(r3.C_eff[P2], r2.C_eff, rtol=1e-7, atol=1e-9 * r2.C_eff.max())


def test_grid_refinement_converges():
    vals = []
    for n in (16, 32, 64, 128):
        r = elastic_homogenization(disc_labels(n, 0.3), {0: MATRIX, 1: FIBRE}, tol=1e-8)
        vals.append(r.C_eff[0, 0])
    diffs = np.abs(np.diff(vals))
    assert diffs[-1] < diffs[0]
    assert diffs[-1] < 5e-3 * vals[-1]


def test_basic_and_cg_agree_and_reference_medium_does_not_matter():
    labels = sphere_labels(16, 0.2)
    E = [0.01, -0.002, 0.0, 0.001, 0.0, 0.003]
    stiff = {0: MATRIX, 1: FIBRE}
    cg = solve_elastic(labels, stiff, E, tol=1e-9)
    b1 = solve_elastic(labels, stiff, E, solver="basic", tol=1e-9)
    b2 = solve_elastic(labels, stiff, E, solver="basic", tol=1e-9, reference_medium=(400.0, 150.0))
    scale = np.abs(to_numpy(cg.strain)).max()
    for b in (b1, b2):
        np.testing.assert_allclose(to_numpy(b.strain), to_numpy(cg.strain), atol=1e-6 * scale)
    np.testing.assert_allclose(b1.macro_stress, cg.macro_stress, rtol=1e-6, atol=1e-9)


def test_voids_converge_with_cg():
    labels = sphere_labels(20, 0.2)
    r = elastic_homogenization(labels, {0: MATRIX, 1: np.zeros((6, 6))}, tol=1e-8)
    K, G = isotropic_projection(r.C_eff)
    km, gm = isotropic_projection(MATRIX)
    c = labels.mean()
    (k_lo, k_up), (g_lo, g_up) = hashin_shtrikman([km, 1e-300], [gm, 1e-300], [1 - c, c])
    assert 0 < K <= k_up and 0 < G <= g_up
    # stress inside the pores is exactly zero
    s = solve_elastic(labels, {0: MATRIX, 1: np.zeros((6, 6))}, [0.01, 0, 0, 0, 0, 0])
    assert np.abs(to_numpy(s.stress)[:, labels == 1]).max() == 0.0


def test_strain_stress_and_mixed_control_are_consistent():
    labels = disc_labels(32, 0.25)
    stiff = {0: MATRIX, 1: FIBRE}
    E = np.array([0.01, 0.002, -0.004])
    a = solve_elastic(labels, stiff, macro_strain=E, tol=1e-10)
    b = solve_elastic(labels, stiff, macro_stress=a.macro_stress, tol=1e-10)
    mixed_strain = np.array([E[0], np.nan, E[2]])
    mixed_stress = np.array([np.nan, a.macro_stress[1], np.nan])
    c = solve_elastic(labels, stiff, mixed_strain, mixed_stress, tol=1e-10)
    for other in (b, c):
        np.testing.assert_allclose(other.macro_strain, E, rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(to_numpy(other.strain), to_numpy(a.strain),
                                   atol=1e-7 * np.abs(E).max())
    # uniaxial stress: lateral stresses vanish, σ33 of plane strain is reported
    u = solve_elastic(labels, stiff, [0.01, np.nan, np.nan], [np.nan, 0.0, 0.0])
    assert abs(u.macro_stress[1]) < 1e-6 * u.macro_stress[0]
    assert u.stress_33.shape == labels.shape


def test_non_convergence_reports_iterations_and_residual():
    labels = sphere_labels(16, 0.2)
    with pytest.raises(ConvergenceError, match="did not converge") as info:
        solve_elastic(labels, {0: MATRIX, 1: 1e4 * MATRIX}, [1, 0, 0, 0, 0, 0], maxiter=3)
    assert info.value.iterations == 3 and info.value.residual > 1e-6
    with pytest.raises(ConvergenceError, match="basic scheme did not converge"):
        solve_elastic(labels, {0: MATRIX, 1: 1e4 * MATRIX}, [1, 0, 0, 0, 0, 0], solver="basic",
                      maxiter=5)


def test_compiled_and_array_stiffness_paths_agree(monkeypatch):
    from kernels import pointwise
    from kernels.stiffness_field import StiffnessField
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=(9, 8, 7))
    C2 = transversely_isotropic(200.0, 20.0, 0.25, 0.4, 8.0)
    # a fully anisotropic phase: couplings that are zero in the others (which the compiled
    # product skips when they are zero in every phase) must still be applied where it sits
    B = rng.normal(size=(6, 6))
    C3 = B @ B.T + 6.0 * np.eye(6)
    stiff = {0: MATRIX, 1: FIBRE, 2: C2, 3: C3}
    e = rng.normal(size=(6,) + labels.shape)
    compiled = StiffnessField(labels, stiff).apply(e, np.empty_like(e))
    only_isotropic = StiffnessField(labels % 2, stiff).apply(e, np.empty_like(e))
    monkeypatch.setattr(pointwise, "compiled", lambda *a: False)
    arrays = StiffnessField(labels, stiff).apply(e, np.empty_like(e))
    ref = np.einsum("...ab,b...->a...", np.stack([MATRIX, FIBRE, C2, C3])[labels], e)
    iso_ref = np.einsum("...ab,b...->a...", np.stack([MATRIX, FIBRE])[labels % 2], e)
    np.testing.assert_allclose(only_isotropic, iso_ref, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(compiled, ref, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(arrays, ref, rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("E_disc", [0.1, 1e5])
def test_spectral_concentration_rings_at_high_contrast_and_willot_does_not(E_disc):
    """The strain inside a disc in a periodic cell is nearly uniform (Eshelby: exactly so for
    an isolated one). At a contrast of 1000, compliant or rigid, the Moulinec–Suquet
    (spectral) field of ε11 under E11 oscillates inside the disc, with values of both signs,
    while Willot's stays close to its mean: why build_rom's discretization="auto" takes
    Willot's operator there. At a contrast of 10 the two agree."""
    labels = disc_labels(64, 0.2)
    spread = {}
    for disc in ("spectral", "willot"):
        for E in (E_disc, 10.0):
            res = elastic_homogenization(
                labels, {0: isotropic_stiffness(100.0, 0.3), 1: isotropic_stiffness(E, 0.3)},
                return_concentration=True, discretization=disc, tol=1e-8)
            inside = to_numpy(res.strain_concentration)[0, 0][labels == 1]
            spread[disc, E] = (inside.std() / abs(inside.mean()), inside.min() * inside.max())
    assert spread["spectral", E_disc][0] > 0.5 and spread["spectral", E_disc][1] < 0
    assert spread["willot", E_disc][0] < 0.2 and spread["willot", E_disc][1] > 0
    assert spread["spectral", 10.0][0] < 0.1 and spread["willot", 10.0][0] < 0.1
