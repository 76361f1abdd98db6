"""Linear elasticity: σ = C : ε for isotropic and anisotropic stiffnesses."""

import numpy as np
import pytest

from homog.materials import LinearElastic
from kernels.tensors import isotropic_stiffness


def transversely_isotropic_stiffness():
    """Fibre along axis 0: E1 = 230, E2 = 15, ν12 = 0.2, ν23 = 0.07, G12 = 15 (Mandel)."""
    E1, E2, nu12, nu23, G12 = 230.0, 15.0, 0.2, 0.07, 15.0
    S = np.zeros((6, 6))
    S[0, 0], S[1, 1], S[2, 2] = 1 / E1, 1 / E2, 1 / E2
    S[0, 1] = S[1, 0] = S[0, 2] = S[2, 0] = -nu12 / E1
    S[1, 2] = S[2, 1] = -nu23 / E2
    S[3, 3] = (1 + nu23) / E2  # 1/(2 G23) with G23 = E2 / (2 (1 + nu23))
    S[4, 4] = S[5, 5] = 1 / (2 * G12)
    return np.linalg.inv(S)


def test_isotropic_update_is_hooke_law_with_constant_tangent():
    material = LinearElastic(70.0, 0.3)
    rng = np.random.default_rng(0)
    state = material.initial_state(5)
    state["strain"] = 0.01 * rng.standard_normal((5, 6))
    dstrain = 0.01 * rng.standard_normal((5, 6))
    stress, tangent, new_state = material.update(dstrain, state)
    C = isotropic_stiffness(70.0, 0.3)
    np.testing.assert_allclose(stress, (state["strain"] + dstrain) @ C, rtol=1e-14)
    np.testing.assert_array_equal(tangent, np.broadcast_to(C, (5, 6, 6)))
    np.testing.assert_array_equal(new_state["stress"], stress)
    assert material.state_variables == (("strain", 6), ("stress", 6))


def test_anisotropic_stiffness_gives_the_engineering_constants():
    material = LinearElastic.from_stiffness(transversely_isotropic_stiffness())
    stress, _, _ = material.update(np.array([[0, 0, 0, 0, 0, 0.01]]), material.initial_state(1))
    # Mandel shear: σ̃12 = 2 G12 ε̃12
    assert stress[0, 5] == pytest.approx(2 * 15.0 * 0.01)
    uniaxial = np.linalg.solve(material.stiffness, [1.0, 0, 0, 0, 0, 0])
    assert 1 / uniaxial[0] == pytest.approx(230.0)
    assert material.to_config()["stiffness"][0][0] == pytest.approx(material.stiffness[0, 0])


@pytest.mark.parametrize(
    ("C", "match"),
    [
        (np.eye(6) - 2 * np.eye(6)[0, None].T @ np.eye(6)[0, None], "positive definite"),
        (np.eye(6) + np.triu(np.ones((6, 6)), 1), "symmetric"),
        (np.full((6, 6), np.nan), "non-finite"),
        (np.eye(3), "6x6"),
    ],
)
def test_bad_stiffness_is_rejected(C, match):
    with pytest.raises(ValueError, match=match):
        LinearElastic.from_stiffness(C)


@pytest.mark.parametrize(
    ("E", "nu", "match"),
    [(70.0, 0.5, "nu"), (70.0, 0.7, "nu"), (70.0, -1.0, "nu"), (0.0, 0.3, "E"), (-1.0, 0.3, "E")],
)
def test_bad_moduli_are_rejected(E, nu, match):
    with pytest.raises(ValueError, match=match):
        LinearElastic(E, nu)
