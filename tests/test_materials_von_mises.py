"""Von Mises plasticity: closed-form uniaxial curves, consistent tangent, return-mapping facts."""

import copy

import numpy as np
import pytest

from homog.loading import cyclic, uniaxial_stress
from homog.materials import (
    LinearHardening,
    PiecewiseLinearHardening,
    ReturnMappingError,
    SwiftHardening,
    VoceHardening,
    VonMises,
)
from kernels.arraymodule import gpu_available

E, NU = 100.0, 0.3
HARDENING = {
    "linear": LinearHardening(0.5, 5.0),
    "perfect": LinearHardening(0.5, 0.0),
    "table": PiecewiseLinearHardening([0.0, 0.04, 2.0], [0.5, 0.7, 4.62]),
    "swift": SwiftHardening(sigma_y0=0.5, eps0=0.005, n=0.2),
    "voce": VoceHardening(0.5, 0.4, 30.0),
}
MODELS = {
    f"{name}{'+kin' if h_kin else ''}": VonMises(E, NU, law, kinematic_modulus=h_kin)
    for name, law in HARDENING.items()
    for h_kin in (0.0, 3.0)
}


def drive(material, path):
    """One material point along a mixed strain/stress load path (Newton on the free strains)."""
    state = material.initial_state(1)
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


def test_uniaxial_stress_curve_matches_closed_form_linear_hardening():
    H = 5.0
    history = drive(MODELS["linear"], uniaxial_stress(strain=0.05, steps=20))
    strain, stress = history["strain"][:, 0], history["stress"][:, 0]
    yield_strain = 0.5 / E
    tangent_modulus = E * H / (E + H)
    exact = np.where(
        strain <= yield_strain, E * strain, 0.5 + tangent_modulus * (strain - yield_strain)
    )
    np.testing.assert_allclose(stress, exact, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(history["stress"][:, 1:], 0.0, atol=1e-11)


@pytest.mark.parametrize("name", ["linear", "table", "swift", "voce"])
def test_uniaxial_stress_follows_each_hardening_law(name):
    """In uniaxial stress σ = σ_y(ε̄p) and ε = σ/E + ε̄p once yielded."""
    law = HARDENING[name]
    history = drive(MODELS[name], uniaxial_stress(strain=0.1, steps=25))
    stress, eqps = history["stress"][:, 0], history["eqps"][:, 0]
    yielded = eqps > 0
    assert yielded.sum() > 20
    np.testing.assert_allclose(stress[yielded], law.sigma_y(eqps[yielded]), rtol=1e-10)
    np.testing.assert_allclose(history["strain"][:, 0], stress / E + eqps, rtol=1e-10)


def test_crate_table_reproduces_the_peer_curve():
    history = drive(MODELS["table"], uniaxial_stress(strain=0.2, steps=40))
    stress, eqps = history["stress"][:, 0], history["eqps"][:, 0]
    peer = np.where(eqps <= 0.04, 0.5 + 5.0 * eqps, 0.7 + 2.0 * (eqps - 0.04))
    yielded = eqps > 0
    assert eqps.max() > 0.1
    np.testing.assert_allclose(stress[yielded], peer[yielded], rtol=1e-10)


def test_kinematic_hardening_shows_the_bauschinger_effect():
    """Prager hardening, no isotropic part: the elastic range 2σ_y0 translates with the back
    stress, so reverse yielding starts at σ_max − 2σ_y0 and the cycle is symmetric."""
    material = VonMises(E, NU, LinearHardening(0.5, 0.0), kinematic_modulus=10.0)
    path = cyclic(0.02, cycles=1, steps=40)
    history = drive(material, path)
    stress, eqps = history["stress"][1:, 0], history["eqps"][1:, 0]
    peak = stress[path.segment_ends[0]]
    assert peak == pytest.approx(0.5 + 10.0 * (0.02 - peak / E), rel=1e-10)
    assert stress[path.segment_ends[1]] == pytest.approx(-peak, rel=1e-10)
    after_peak = np.arange(path.segment_ends[0] + 1, path.segment_ends[1])
    reverse_yield = after_peak[np.diff(eqps)[after_peak - 1] > 0][0]
    assert stress[reverse_yield - 1] >= peak - 2 * 0.5 - 1e-12
    assert stress[reverse_yield] < peak - 2 * 0.5
    assert abs(peak - 2 * 0.5) < 0.5  # yields in compression below the initial yield stress


def random_states(material, rng, npoints=40, scale=0.02, steps=3):
    """Converged states after a few random multiaxial increments (mostly plastic)."""
    state = material.initial_state(npoints)
    for _ in range(steps):
        _, _, state = material.update(scale * rng.standard_normal((npoints, 6)), state)
    return state


def finite_difference_tangent(material, dstrain, state, h=1e-6):
    columns = []
    for j in range(6):
        step = np.zeros(6)
        step[j] = h
        plus, _, _ = material.update(dstrain + step, state)
        minus, _, _ = material.update(dstrain - step, state)
        columns.append((plus - minus) / (2 * h))
    return np.stack(columns, axis=-1)


@pytest.mark.parametrize("name", MODELS)
def test_consistent_tangent_matches_finite_differences(name):
    material = MODELS[name]
    rng = np.random.default_rng(7)
    state = random_states(material, rng)
    for scale in (1e-4, 0.02):  # elastic (unloading or small) and plastic increments
        dstrain = scale * rng.standard_normal(state["strain"].shape)
        _, tangent, new_state = material.update(dstrain, state)
        numeric = finite_difference_tangent(material, dstrain, state)
        error = np.abs(numeric - tangent).max(axis=(1, 2)) / np.abs(tangent).max(axis=(1, 2))
        assert error.max() <= 1e-6
    plastic = (new_state["eqps"] > state["eqps"])[:, 0]
    assert plastic.sum() >= 30  # the large increments did load plastically
    assert not np.allclose(tangent[plastic], material.stiffness)


@pytest.mark.parametrize("name", MODELS)
def test_stress_is_on_the_yield_surface_and_dissipation_is_positive(name):
    material = MODELS[name]
    rng = np.random.default_rng(3)
    state = random_states(material, rng, steps=1)
    stress, _, new_state = material.update(0.03 * rng.standard_normal((40, 6)), state)
    plastic = (new_state["eqps"] > state["eqps"])[:, 0]
    assert plastic.sum() >= 30
    sigma_y = material.hardening.sigma_y(new_state["eqps"][:, 0])
    f = material.yield_function(stress, new_state)
    assert np.abs(f[plastic] / sigma_y[plastic]).max() <= 1e-10
    # (σ − β) : Δεp = σ_y Δε̄p ≥ 0 for associative J2 flow
    relative = stress - new_state.get("back_stress", 0.0)
    relative = relative - relative[:, :3].mean(axis=1, keepdims=True) * np.r_[1, 1, 1, 0, 0, 0]
    dissipation = (relative * (new_state["plastic_strain"] - state["plastic_strain"])).sum(1)
    deqps = (new_state["eqps"] - state["eqps"])[:, 0]
    assert np.all(dissipation >= 0.0)
    np.testing.assert_allclose(dissipation, sigma_y * deqps, rtol=1e-10, atol=1e-16)
    assert np.all(np.abs(new_state["plastic_strain"][:, :3].sum(1)) < 1e-14)  # isochoric


def test_elastic_unloading_follows_the_elastic_stiffness():
    material = MODELS["swift+kin"]
    state = drive(material, uniaxial_stress(strain=0.03, steps=10))
    state = {name: values[-1:] for name, values in state.items()}
    dstrain = np.array([[-1e-3, 3e-4, 3e-4, 0.0, 0.0, 0.0]])
    stress, tangent, new_state = material.update(dstrain, state)
    np.testing.assert_allclose(stress - state["stress"], dstrain @ material.stiffness, atol=1e-14)
    np.testing.assert_array_equal(tangent[0], material.stiffness)
    np.testing.assert_array_equal(new_state["eqps"], state["eqps"])


def test_update_does_not_mutate_the_state():
    material = MODELS["voce+kin"]
    rng = np.random.default_rng(1)
    state = random_states(material, rng)
    before = copy.deepcopy(state)
    for _ in range(3):
        material.update(0.02 * rng.standard_normal((40, 6)), state)
    for name in state:
        np.testing.assert_array_equal(state[name], before[name])


def test_state_layout_and_pack_unpack_round_trip():
    material = MODELS["linear+kin"]
    assert material.state_variables == (
        ("strain", 6),
        ("stress", 6),
        ("plastic_strain", 6),
        ("eqps", 1),
        ("back_stress", 6),
    )
    assert MODELS["linear"].nstate == 19 and material.nstate == 25
    state = random_states(material, np.random.default_rng(5), npoints=7)
    flat = material.pack_state(state)
    assert flat.shape == (7, 25)
    np.testing.assert_array_equal(flat[:, 18], state["eqps"][:, 0])
    unpacked = material.unpack_state(flat)
    assert list(unpacked) == [name for name, _ in material.state_variables]
    for name in state:
        np.testing.assert_array_equal(unpacked[name], state[name])
    with pytest.raises(ValueError, match="expects"):
        material.unpack_state(flat[:, :19])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_strain_increment_is_rejected(bad):
    material = MODELS["linear"]
    dstrain = np.zeros((3, 6))
    dstrain[1, 2] = bad
    with pytest.raises(ValueError, match="NaN or inf"):
        material.update(dstrain, material.initial_state(3))


def test_misshapen_input_is_rejected():
    material = MODELS["linear"]
    with pytest.raises(ValueError, match=r"expected \(3, 6\)"):
        material.update(np.zeros((2, 6)), material.initial_state(3))
    with pytest.raises(ValueError, match="lacks"):
        material.update(np.zeros((3, 6)), {"strain": np.zeros((3, 6))})


def test_return_mapping_failure_raises_instead_of_returning_nan():
    material = VonMises(E, NU, SwiftHardening(sigma_y0=0.5, eps0=1e-3, n=0.3))
    material.max_iterations = 1
    with pytest.raises(ReturnMappingError, match="did not converge"):
        material.update(np.array([[0.5, 0, 0, 0, 0, 0]]), material.initial_state(1))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"E": 100.0, "nu": 0.5}, "nu"),
        ({"E": 100.0, "nu": -1.0}, "nu"),
        ({"E": 0.0, "nu": 0.3}, "E"),
        ({"E": -5.0, "nu": 0.3}, "E"),
        ({"E": 100.0, "nu": 0.3, "kinematic_modulus": -1.0}, "kinematic_modulus"),
        ({"E": 100.0, "nu": 0.3, "hardening": 0.5}, "HardeningLaw"),
    ],
)
def test_bad_von_mises_parameters_are_rejected(kwargs, match):
    kwargs = {"hardening": HARDENING["linear"]} | kwargs
    with pytest.raises(ValueError, match=match):
        VonMises(**kwargs)


@pytest.mark.gpu
def test_numpy_and_cupy_updates_agree():
    cupy = pytest.importorskip("cupy")
    if not gpu_available():
        pytest.skip("no CUDA device")
    rng = np.random.default_rng(11)
    for name in ("table+kin", "swift", "voce+kin"):
        material = MODELS[name]
        state = random_states(material, rng, npoints=1000)
        dstrain = 0.02 * rng.standard_normal((1000, 6))
        expected = material.update(dstrain, state)
        gpu_state = {key: cupy.asarray(value) for key, value in state.items()}
        stress, tangent, new_state = material.update(cupy.asarray(dstrain), gpu_state)
        assert isinstance(stress, cupy.ndarray) and isinstance(tangent, cupy.ndarray)
        np.testing.assert_allclose(stress.get(), expected[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(tangent.get(), expected[1], rtol=1e-10, atol=1e-12)
        for key in new_state:
            np.testing.assert_allclose(new_state[key].get(), expected[2][key], atol=1e-14)
