"""Von Mises plasticity with ductile damage: closed-form curves, crack band, consistent tangent."""

import copy

import numpy as np
import pytest
from test_materials_von_mises import finite_difference_tangent

from homog.loading import uniaxial_stress
from homog.materials import (
    LinearHardening,
    VoceHardening,
    VonMises,
    VonMisesDamage,
    from_config,
    material_from_config,
)
from kernels.arraymodule import gpu_available

E, NU = 100.0, 0.3
SY, H = 0.5, 5.0
ONSET, GF = 0.01, 2e-3


def model(softening="exponential", h_kin=0.0, **kwargs):
    kwargs = {"onset": ONSET, "fracture_energy": GF} | kwargs
    return VonMisesDamage(E, NU, VoceHardening(SY, 0.4, 30.0), softening=softening,
                          kinematic_modulus=h_kin, **kwargs)


def drive(material, path, state):
    """One material point from ``state`` along a mixed strain/stress path (Newton on the free
    strains); returns the history of every state variable, row 0 the initial state."""
    history = [state]
    for target, strain_controlled in path.for_dimension(3):
        free = ~strain_controlled
        dstrain = np.where(strain_controlled, target - state["strain"][0], 0.0)
        for _ in range(25):
            stress, tangent, new_state = material.update(dstrain[None], state)
            residual = stress[0, free] - target[free]
            if np.abs(residual).max() <= 1e-12:
                break
            dstrain[free] -= np.linalg.solve(tangent[0][np.ix_(free, free)], residual)
        else:
            raise AssertionError("mixed-control Newton did not converge")
        state = new_state
        history.append(state)
    return {name: np.concatenate([s[name] for s in history]) for name in state}


def random_states(material, rng, npoints=40, scale=0.01, steps=2):
    """Converged states after a few random multiaxial increments (plastic, partly damaged)."""
    state = material.initial_state(npoints, element_length=rng.uniform(0.05, 0.5, npoints))
    for _ in range(steps):
        _, _, state = material.update(scale * rng.standard_normal((npoints, 6)), state)
    return state


@pytest.mark.parametrize("softening", ["exponential", "linear"])
@pytest.mark.parametrize("h_kin", [0.0, 3.0])
def test_consistent_tangent_matches_finite_differences(softening, h_kin):
    material = model(softening, h_kin)
    rng = np.random.default_rng(7)
    state = random_states(material, rng)
    for scale in (1e-4, 0.01):  # elastic unloading of damaged points, and damaging increments
        dstrain = scale * rng.standard_normal(state["strain"].shape)
        _, tangent, new_state = material.update(dstrain, state)
        numeric = finite_difference_tangent(material, dstrain, state)
        error = np.abs(numeric - tangent).max(axis=(1, 2)) / np.abs(tangent).max(axis=(1, 2))
        assert error.max() <= 1e-6
    growing = ((new_state["damage"] > state["damage"]) & (new_state["damage"] < 0.99))[:, 0]
    assert growing.sum() >= 20  # the large increments did damage most points
    assert not np.allclose(tangent[growing], tangent[growing].transpose(0, 2, 1))


def test_secant_tangent_is_the_symmetric_damaged_effective_tangent():
    consistent, secant = model(h_kin=3.0), model(h_kin=3.0, tangent="secant")
    rng = np.random.default_rng(9)
    state = random_states(consistent, rng)
    dstrain = 0.01 * rng.standard_normal((40, 6))
    stress, _, new_state = consistent.update(dstrain, state)
    secant_stress, tangent, _ = secant.update(dstrain, state)
    _, effective, _ = consistent.effective.update(dstrain, state)
    np.testing.assert_array_equal(secant_stress, stress)
    np.testing.assert_allclose(tangent, (1 - new_state["damage"])[:, :, None] * effective,
                               rtol=1e-14)
    np.testing.assert_allclose(tangent, tangent.transpose(0, 2, 1), atol=1e-12)
    assert material_from_config(secant.to_config()).tangent == "secant"


def test_local_law_tangent_matches_finite_differences():
    material = model("linear", fracture_energy=None, softening_strain=0.05)
    rng = np.random.default_rng(5)
    state = material.initial_state(30)
    for _ in range(2):
        _, _, state = material.update(0.01 * rng.standard_normal((30, 6)), state)
    dstrain = 0.01 * rng.standard_normal((30, 6))
    _, tangent, _ = material.update(dstrain, state)
    numeric = finite_difference_tangent(material, dstrain, state)
    assert np.abs(numeric - tangent).max() <= 1e-6 * np.abs(tangent).max()


@pytest.mark.parametrize("kwargs", [{"max_damage": 0.0}, {"onset": 10.0}])
def test_without_damage_it_is_exactly_von_mises(kwargs):
    damaged = model(h_kin=3.0, **kwargs)
    plain = VonMises(E, NU, VoceHardening(SY, 0.4, 30.0), kinematic_modulus=3.0)
    rng = np.random.default_rng(2)
    state = damaged.initial_state(20, element_length=0.1)
    plain_state = plain.initial_state(20)
    for _ in range(4):
        dstrain = 0.02 * rng.standard_normal((20, 6))
        stress, tangent, state = damaged.update(dstrain, state)
        plain_stress, plain_tangent, plain_state = plain.update(dstrain, plain_state)
        np.testing.assert_array_equal(stress, plain_stress)
        np.testing.assert_array_equal(tangent, plain_tangent)
    np.testing.assert_array_equal(state["damage"], 0.0)
    assert state["eqps"].min() > 0.02  # plastic flow happened


@pytest.mark.parametrize("softening", ["exponential", "linear"])
@pytest.mark.parametrize("h", [0.05, 0.2])
def test_uniaxial_curve_matches_closed_form_with_crack_band_scaling(softening, h):
    """Uniaxial stress, linear hardening: ε = σ_y(ε̄p)/E + ε̄p and σ = (1 − D(ε̄p)) σ_y(ε̄p),
    with the softening scale s = G_f/(σ_y(ε̄p_0) h)."""
    material = VonMisesDamage(E, NU, LinearHardening(SY, H), onset=ONSET, fracture_energy=GF,
                              softening=softening)
    state = material.initial_state(1, element_length=h)
    history = drive(material, uniaxial_stress(0.4, 80), state)
    eqps, strain, stress = history["eqps"][:, 0], history["strain"][:, 0], history["stress"][:, 0]
    s = GF / ((SY + H * ONSET) * h)
    x = np.maximum(eqps - ONSET, 0.0) / s
    damage = np.minimum(1.0 - np.exp(-x) if softening == "exponential" else 0.5 * x, 0.99)
    sigma_y = SY + H * eqps
    yielded = eqps > 0
    np.testing.assert_allclose(strain[yielded], sigma_y[yielded] / E + eqps[yielded], rtol=1e-10)
    np.testing.assert_allclose(stress[yielded], (1 - damage[yielded]) * sigma_y[yielded],
                               rtol=1e-9)
    np.testing.assert_allclose(history["damage"][:, 0], damage, atol=1e-12)
    assert (damage > 0.0).sum() > 5 and damage.max() == pytest.approx(0.99)  # softened to the cap


def test_crack_band_keeps_the_energy_per_unit_band_area():
    """Perfect plasticity, exponential law: the plastic work after onset up to the cap is
    σ_y s D_max per unit volume, so its product with h is G_f D_max for every h."""
    energies = []
    for h in (0.02, 0.1, 0.4):
        material = VonMisesDamage(E, NU, LinearHardening(SY), onset=ONSET, fracture_energy=GF)
        end = SY / E + ONSET + 3.0 * GF / (SY * h)  # ε = σ_y/E + ε̄p: 3 s past the onset
        history = drive(material, uniaxial_stress(end, 1000),
                        material.initial_state(1, element_length=h))
        stress, eqps = history["stress"][:, 0], history["eqps"][:, 0]
        after = eqps >= ONSET
        work = np.trapezoid(stress[after], eqps[after])
        energies.append(work * h)
    np.testing.assert_allclose(energies, GF * (1.0 - np.exp(-3.0)), rtol=5e-3)


def test_failed_point_keeps_a_positive_residual_stiffness():
    material = model(max_damage=0.95)
    state = material.initial_state(1, element_length=0.1)
    state = drive(material, uniaxial_stress(0.5, 50), state)
    state = {name: values[-1:] for name, values in state.items()}
    assert state["damage"][0, 0] == 0.95
    dstrain = np.array([[-1e-4, 3e-5, 3e-5, 0.0, 0.0, 0.0]])
    stress, tangent, _ = material.update(dstrain, state)
    np.testing.assert_allclose(tangent[0], 0.05 * material.stiffness, rtol=1e-12)
    np.testing.assert_allclose(stress - state["stress"], 0.05 * dstrain @ material.stiffness,
                               atol=1e-14)
    assert np.linalg.eigvalsh(tangent[0]).min() > 0.0


def test_update_does_not_mutate_the_state_and_layout_round_trips():
    material = model(h_kin=3.0)
    state = random_states(material, np.random.default_rng(1), npoints=6)
    before = copy.deepcopy(state)
    material.update(0.02 * np.ones((6, 6)), state)
    for name in state:
        np.testing.assert_array_equal(state[name], before[name])
    assert [name for name, _ in material.state_variables][-3:] == [
        "back_stress", "damage", "element_length"]
    assert material.nstate == 27 and model(fracture_energy=None, softening_strain=0.1).nstate == 20
    flat = material.pack_state(state)
    np.testing.assert_array_equal(flat[:, -1], state["element_length"][:, 0])
    for name, values in material.unpack_state(flat).items():
        np.testing.assert_array_equal(values, state[name])


def test_element_length_is_required_and_checked():
    material = model()
    with pytest.raises(ValueError, match="needs element_length"):
        material.initial_state(3)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        material.initial_state(3, element_length=[0.1, 0.2])
    with pytest.raises(ValueError, match="finite and > 0"):
        material.initial_state(2, element_length=[0.1, 0.0])
    zeros = {name: np.zeros((2, size)) for name, size in material.state_variables}
    with pytest.raises(ValueError, match="STATEV"):  # a zero-filled UMAT state
        material.update(np.zeros((2, 6)), zeros)
    local = model(fracture_energy=None, softening_strain=0.1)
    assert "element_length" not in local.initial_state(2, element_length=0.3)
    per_point = material.initial_state(2, element_length=np.array([0.1, 0.3]))
    np.testing.assert_array_equal(per_point["element_length"][:, 0], [0.1, 0.3])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fracture_energy": None}, "exactly one of fracture_energy"),
        ({"softening_strain": 0.1}, "exactly one of fracture_energy"),
        ({"fracture_energy": -1.0}, "fracture_energy"),
        ({"fracture_energy": None, "softening_strain": 0.0}, "softening_strain"),
        ({"onset": -0.1}, "onset"),
        ({"max_damage": 1.0}, r"max_damage = 1.0 must lie in \[0, 1\)"),
        ({"max_damage": -0.1}, "max_damage"),
        ({"max_damage": float("nan")}, "max_damage"),
        ({"softening": "cubic"}, "allowed"),
        ({"tangent": "numerical"}, "tangent"),
        ({"nu": 0.5}, "nu"),
    ],
)
def test_bad_parameters_are_rejected(kwargs, match):
    kwargs = {"E": E, "nu": NU, "hardening": LinearHardening(SY), "onset": ONSET,
              "fracture_energy": GF} | kwargs
    with pytest.raises(ValueError, match=match):
        VonMisesDamage(**kwargs)


def test_toml_config_round_trip_and_errors():
    table = {"model": "von_mises_damage", "E": 70e3, "nu": 0.33, "onset": 0.05,
             "fracture_energy": 10.0, "softening": "linear",
             "hardening": {"law": "swift", "sigma_y0": 250.0, "eps0": 0.002, "n": 0.15}}
    material = from_config({"phases": {"0": table}})[0]
    assert isinstance(material, VonMisesDamage) and material.softening == "linear"
    again = material_from_config(material.to_config())
    assert again.to_config() == material.to_config()
    with pytest.raises(ValueError, match=r"phases.0: unknown key\(s\) \['G_f'\]"):
        from_config({"phases": {"0": table | {"G_f": 1.0}}})
    with pytest.raises(ValueError, match="phases.0: give exactly one"):
        from_config({"phases": {"0": table | {"softening_strain": 0.1}}})


@pytest.mark.gpu
def test_numpy_and_cupy_updates_agree():
    cupy = pytest.importorskip("cupy")
    if not gpu_available():
        pytest.skip("no CUDA device")
    rng = np.random.default_rng(11)
    for softening in ("exponential", "linear"):
        material = model(softening, h_kin=3.0)
        state = random_states(material, rng, npoints=1000)
        dstrain = 0.01 * rng.standard_normal((1000, 6))
        expected = material.update(dstrain, state)
        gpu_state = {key: cupy.asarray(value) for key, value in state.items()}
        stress, tangent, new_state = material.update(cupy.asarray(dstrain), gpu_state)
        assert isinstance(stress, cupy.ndarray) and isinstance(tangent, cupy.ndarray)
        np.testing.assert_allclose(stress.get(), expected[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(tangent.get(), expected[1], rtol=1e-10, atol=1e-12)
        for key in new_state:
            np.testing.assert_allclose(new_state[key].get(), expected[2][key], atol=1e-14)
