"""Full-field DNS (homog.dns): physical facts the nonlinear FFT solution must reproduce."""

from types import SimpleNamespace

import numpy as np
import pytest

from homog.dns import dns
from homog.loading import LoadPath, Segment, uniaxial_stress
from homog.materials import (
    LinearElastic,
    LinearHardening,
    PiecewiseLinearHardening,
    VonMises,
)
from homog.response import Response
from kernels import ConvergenceError, elastic_homogenization, get_backend
from kernels.tensors import PLANE_INDICES

# small grids: one thread is faster than two, and immune to other processes on the CPUs
BACKEND = get_backend("auto", threads=1)
P = list(PLANE_INDICES)
CRATE_MATRIX = VonMises(100.0, 0.3, PiecewiseLinearHardening([0, 0.04, 2.0], [0.5, 0.7, 4.62]))
FIBRE = LinearElastic(500.0, 0.19)
MATERIALS = {0: CRATE_MATRIX, 1: FIBRE}


pytestmark = pytest.mark.usefixtures("one_thread")


def fibre_labels(n: int, fraction: float = 0.3) -> np.ndarray:
    x = (np.arange(n) + 0.5) / n
    X, Y = np.meshgrid(x, x, indexing="ij")
    return (((X - 0.5) ** 2 + (Y - 0.5) ** 2) < fraction / np.pi).astype(int)


def point_response(material, targets, strain_controlled):
    """Single material point driven by mixed targets (nsteps, 6): Newton on the free strains."""
    state = material.initial_state(1)
    strain, stresses, strains = np.zeros(6), [], []
    for target, fixed in zip(targets, strain_controlled):
        free = ~fixed
        dstrain = np.where(fixed, target - strain, 0.0)
        for _ in range(50):
            stress, tangent, new = material.update(dstrain[None], state)
            residual = target[free] - stress[0, free]
            if np.linalg.norm(residual) <= 1e-13 * max(1.0, np.linalg.norm(stress)):
                break
            dstrain[free] += np.linalg.solve(tangent[0][np.ix_(free, free)], residual)
        state, strain = new, strain + dstrain
        strains.append(strain)
        stresses.append(stress[0])
    return np.array(strains), np.array(stresses)


def plane_strain_uniaxial(strain: float, steps: int) -> LoadPath:
    """ε11 ramped, ε33 = ε13 = ε23 = 0 (plane strain), σ22 = σ12 = 0: a 2D uniaxial stress."""
    flags = np.array([True, False, True, True, True, False])
    return LoadPath([Segment(np.array([strain, 0, 0, 0, 0, 0]), flags, steps)])


def test_homogeneous_rve_follows_the_closed_form_linear_hardening_curve():
    E, nu, sigma_y0, H = 200.0, 0.3, 1.0, 20.0
    material = VonMises(E, nu, LinearHardening(sigma_y0, H))
    r = dns(np.zeros((2, 2, 2), int), {0: material}, uniaxial_stress(0.03, steps=12),
            backend=BACKEND, tol=1e-8)
    eps = r.strain[:, 0]
    sigma = np.where(E * eps <= sigma_y0, E * eps, E * (sigma_y0 + H * eps) / (E + H))
    eps_p = np.maximum(eps - sigma / E, 0.0)
    np.testing.assert_allclose(r.stress[:, 0], sigma, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(r.stress[:, 1:], 0.0, atol=1e-7)
    np.testing.assert_allclose(r.strain[:, 1], -nu * sigma / E - 0.5 * eps_p, rtol=1e-8,
                               atol=1e-12)
    assert r.stress[-1, 0] > sigma_y0  # the path goes well into the plastic range


def test_homogeneous_plane_strain_rve_matches_a_material_point():
    path = plane_strain_uniaxial(0.05, 10)
    r = dns(np.zeros((4, 4), int), {0: CRATE_MATRIX}, path, backend=BACKEND, tol=1e-8)
    strains, stresses = point_response(CRATE_MATRIX, path.targets, path.strain_controlled)
    np.testing.assert_allclose(r.strain[1:], strains, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(r.stress[1:], stresses, rtol=1e-7, atol=1e-7)
    assert r.stress[-1, 2] > 0.1  # σ33: the plane-strain reaction is reported


def test_laminate_loaded_along_its_layers_is_iso_strain():
    # layers normal to x2 (labels vary along axis 1): every layer sees the same ε11 and is
    # traction free on its faces (σ22 = σ12 = 0), so ⟨σ⟩ = Σ c_p σ_p(ε11)
    labels = np.zeros((4, 20), int)
    labels[:, 13:] = 1
    hard = VonMises(300.0, 0.25, LinearHardening(1.2, 30.0))
    path = plane_strain_uniaxial(0.04, 8)
    r = dns(labels, {0: CRATE_MATRIX, 1: hard}, path, backend=BACKEND, tol=1e-8)
    _, soft_stress = point_response(CRATE_MATRIX, path.targets, path.strain_controlled)
    _, hard_stress = point_response(hard, path.targets, path.strain_controlled)
    exact = 0.65 * soft_stress + 0.35 * hard_stress
    np.testing.assert_allclose(r.stress[1:, [0, 2]], exact[:, [0, 2]], rtol=1e-6)
    assert hard_stress[-1, 0] > 1.2 and soft_stress[-1, 0] > 0.5  # both layers yield


def test_strain_stress_and_mixed_control_of_the_same_path_agree():
    labels = fibre_labels(16)
    mixed = dns(labels, MATERIALS, uniaxial_stress(0.03, steps=6), backend=BACKEND, tol=1e-8)
    k = len(mixed.iterations)

    def replay(values, flags):
        return LoadPath([Segment(v, flags, 1) for v in values])

    strain_flags = np.ones(6, bool)
    stress_flags = np.array([False, False, True, True, True, False])  # in-plane all stress
    strain_path = replay(mixed.strain[1:], strain_flags)
    stress_values = np.where(stress_flags, mixed.strain[1:], mixed.stress[1:])
    stress_path = replay(stress_values, stress_flags)
    by_strain = dns(labels, MATERIALS, strain_path, backend=BACKEND, tol=1e-8)
    by_stress = dns(labels, MATERIALS, stress_path, backend=BACKEND, tol=1e-8)
    assert len(by_strain.iterations) == len(by_stress.iterations) == k
    scale = np.abs(mixed.stress).max()
    np.testing.assert_allclose(by_strain.stress, mixed.stress, atol=1e-6 * scale)
    np.testing.assert_allclose(by_stress.strain, mixed.strain, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(by_stress.stress, mixed.stress, atol=1e-6 * scale)


def test_macroscopic_stress_converges_with_grid_refinement():
    path = uniaxial_stress(0.02, steps=4)
    final = {n: dns(fibre_labels(n), MATERIALS, path, backend=BACKEND).stress[-1, 0]
             for n in (16, 32, 64)}
    coarse, medium = abs(final[16] - final[64]), abs(final[32] - final[64])
    assert medium < 0.6 * coarse
    assert medium < 0.01 * final[64]


@pytest.mark.parametrize("mixed", [False, True], ids=["strain", "uniaxial-stress"])
def test_first_elastic_increment_matches_elastic_homogenization(mixed):
    labels = fibre_labels(24)
    strain = 0.002  # the matrix yields at 0.5/100 = 0.005
    path = uniaxial_stress(strain, 1) if mixed else LoadPath.from_components(
        strain={"11": strain, "22": -0.0004, "12": 0.0003, "33": 0.0, "13": 0.0, "23": 0.0})
    r = dns(labels, MATERIALS, path, backend=BACKEND, tol=1e-9)
    stiffness = {p: m.stiffness for p, m in MATERIALS.items()}
    C_eff = elastic_homogenization(labels, stiffness, tol=1e-10, backend=BACKEND).C_eff
    np.testing.assert_allclose(r.stress[1, P], C_eff @ r.strain[1, P], rtol=1e-6, atol=1e-8)
    if mixed:
        np.testing.assert_allclose(r.stress[1, [1, 5]], 0.0, atol=1e-8)
        assert r.strain[1, 1] < 0.0


def test_two_dimensional_rve_equals_its_extrusion_in_plane_strain():
    labels = fibre_labels(12)
    path = plane_strain_uniaxial(0.03, 6)
    flat = dns(labels, MATERIALS, path, backend=BACKEND, tol=1e-8)
    extruded = dns(np.repeat(labels[:, :, None], 2, axis=2), MATERIALS, path, backend=BACKEND,
                   tol=1e-8)
    scale = np.abs(flat.stress).max()
    np.testing.assert_allclose(extruded.stress, flat.stress, atol=1e-6 * scale)
    np.testing.assert_allclose(extruded.strain, flat.strain, rtol=1e-5, atol=1e-9)
    assert flat.stress[-1, 2] > 0.1 * flat.stress[-1, 0]  # σ33 reported in both


def test_microstructure_object_config_and_field_snapshots(tmp_path):
    labels = fibre_labels(8)
    rve = SimpleNamespace(labels=labels, lengths=(2.0, 2.0))
    config = {"phases": {"0": CRATE_MATRIX.to_config(), "1": FIBRE.to_config()}}
    r = dns(rve, config, uniaxial_stress(0.02, steps=3), backend=BACKEND,
            save_fields=[0, -1])
    assert isinstance(r, Response) and r.strain.shape == r.stress.shape == (4, 6)
    np.testing.assert_array_equal(r.fields["increments"], [0, 2])
    assert r.fields["strain"].shape == r.fields["stress"].shape == (2, 6, 8, 8)
    assert r.fields["eqps"].shape == (2, 8, 8)
    assert np.all(r.fields["eqps"][:, labels == 1] == 0.0)
    assert r.fields["eqps"][1].max() > 0.0
    np.testing.assert_allclose(r.fields["stress"][1].reshape(6, -1).mean(axis=1), r.stress[-1])
    assert r.info["wall_time_s"] > 0 and len(r.info["cg_iterations"]) == 3
    r.to_csv(tmp_path / "dns.csv")
    np.testing.assert_allclose(Response.from_csv(tmp_path / "dns.csv").stress, r.stress)


def test_phase_without_material_is_named():
    labels = fibre_labels(8)
    labels[0, 0] = 3
    with pytest.raises(ValueError, match=r"phase label\(s\) \[1, 3\].*given for \[0\]"):
        dns(labels, {0: CRATE_MATRIX}, uniaxial_stress(0.01, 2), backend=BACKEND)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loading": np.array([0.01, 0, 0, 0, 0, 0])}, "LoadPath"),
        ({"materials": {0: CRATE_MATRIX, 1: "steel"}}, "not a homog.materials.Material"),
        ({"materials": [CRATE_MATRIX, FIBRE]}, "mapping label -> Material"),
        ({"save_fields": [5]}, "not an increment index"),
        ({"save_fields": "first"}, "'last'"),
        ({"microstructure": np.zeros((4, 4))}, "integer dtype"),
        ({"microstructure": SimpleNamespace(labels=fibre_labels(8), lengths=(1, 1)),
          "lengths": (2, 2)}, "lengths is only for a plain label array"),
    ],
)
def test_bad_inputs_are_rejected(kwargs, match):
    args = {"microstructure": fibre_labels(8), "materials": MATERIALS,
            "loading": uniaxial_stress(0.01, 2), "backend": BACKEND} | kwargs
    with pytest.raises(ValueError, match=match):
        dns(**args)


def test_nan_material_parameters_are_rejected_upstream():
    config = {"phases": {"0": {"model": "linear_elastic", "E": float("nan"), "nu": 0.3}}}
    with pytest.raises(ValueError, match="E"):
        dns(np.zeros((4, 4), int), config, uniaxial_stress(0.01, 2), backend=BACKEND)


def test_too_few_newton_iterations_raise_convergence_error():
    with pytest.raises(ConvergenceError, match=r"load increment 1 of 2.*Newton did not "
                       r"converge in 1 iterations") as info:
        dns(fibre_labels(8), MATERIALS, uniaxial_stress(0.02, 2), backend=BACKEND,
            max_iterations=1, max_cuts=1)
    assert info.value.iterations == 1 and info.value.residual > 1e-6
