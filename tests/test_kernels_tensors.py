"""Mandel algebra: conversions, isotropic stiffness and projections, validation."""

import numpy as np
import pytest

from kernels import tensors as T


def test_isotropic_stiffness_from_young_and_lame_agree():
    lam, mu = T.lame_from_young(210.0, 0.3)
    np.testing.assert_allclose(T.isotropic_stiffness(210.0, 0.3),
                               T.isotropic_stiffness(lam=lam, mu=mu))
    np.testing.assert_allclose(T.young_from_lame(lam, mu), (210.0, 0.3))


def test_isotropic_stiffness_gives_hooke_law():
    E, nu = 70.0, 0.25
    C = T.isotropic_stiffness(E, nu)
    eps = T.tensor_to_mandel(np.array([[1e-3, 2e-4, 0], [2e-4, -5e-4, 3e-4], [0, 3e-4, 1e-4]]))
    lam, mu = T.lame_from_young(E, nu)
    sig = lam * np.trace(T.mandel_to_tensor(eps)) * np.eye(3) + 2 * mu * T.mandel_to_tensor(eps)
    np.testing.assert_allclose(T.mandel_to_tensor(C @ eps), sig, atol=1e-14)


def test_isotropic_projection_recovers_moduli_and_is_a_projection():
    C = T.isotropic_stiffness(100.0, 0.3)
    K, mu = T.isotropic_projection(C)
    lam, mu_ref = T.lame_from_young(100.0, 0.3)
    assert K == pytest.approx(lam + 2 * mu_ref / 3) and mu == pytest.approx(mu_ref)
    rng = np.random.default_rng(1)
    A = rng.normal(size=(6, 6))
    A = A + A.T + 20 * np.eye(6)
    K1, mu1 = T.isotropic_projection(A)
    iso = T.isotropic_stiffness(lam=K1 - 2 * mu1 / 3, mu=mu1)
    assert T.isotropic_projection(iso) == pytest.approx((K1, mu1))
    # the remainder is orthogonal to both projectors
    R = A - iso
    assert np.trace(T.VOLUMETRIC @ R) == pytest.approx(0, abs=1e-12)
    assert np.trace(T.DEVIATORIC @ R) == pytest.approx(0, abs=1e-12)


def test_voigt_conversions_preserve_work_and_round_trip():
    rng = np.random.default_rng(0)
    eps, sig = rng.normal(size=6), rng.normal(size=6)
    ev, sv = T.mandel_to_voigt_strain(eps), T.mandel_to_voigt_stress(sig)
    assert ev @ sv == pytest.approx(eps @ sig)  # σ:ε is basis independent
    np.testing.assert_allclose(T.voigt_to_mandel_strain(ev), eps)
    np.testing.assert_allclose(T.voigt_to_mandel_stress(sv), sig)
    C = T.isotropic_stiffness(100.0, 0.3)
    Cv = T.mandel_to_voigt_stiffness(C)
    np.testing.assert_allclose(Cv @ ev, T.mandel_to_voigt_stress(C @ eps))
    np.testing.assert_allclose(T.voigt_to_mandel_stiffness(Cv), C)
    # Abaqus order: engineering shear γ12 in position 3
    e = np.zeros(6)
    e[5] = 1.0 / np.sqrt(2)  # ε12 = 0.5
    assert T.mandel_to_voigt_strain(e)[3] == pytest.approx(1.0)
    assert Cv[3, 3] == pytest.approx(100.0 / (2 * 1.3))  # G


def test_engineering_constants_of_isotropic_material():
    c = T.engineering_constants(T.isotropic_stiffness(100.0, 0.3))
    assert c["E1"] == pytest.approx(100.0) and c["nu23"] == pytest.approx(0.3)
    assert c["G12"] == pytest.approx(100.0 / 2.6)


@pytest.mark.parametrize("bad, match", [
    (np.ones((6, 6)), "positive definite"),
    (np.full((6, 6), np.nan), "non-finite"),
    (np.triu(np.ones((6, 6))) + 6 * np.eye(6), "symmetric"),
    (np.eye(3), "6x6"),
    (np.zeros((6, 6)), "zero"),
])
def test_check_stiffness_rejects_bad_matrices(bad, match):
    with pytest.raises(ValueError, match=match):
        T.check_stiffness(bad)


@pytest.mark.parametrize("E, nu", [(-1.0, 0.3), (100.0, 0.5), (100.0, -1.0), (np.nan, 0.2)])
def test_bad_moduli_are_rejected(E, nu):
    with pytest.raises(ValueError):
        T.isotropic_stiffness(E, nu)
