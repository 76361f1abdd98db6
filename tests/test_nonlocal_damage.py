"""Non-local damage: the averaging operators, the material, the ROM coupling and the DNS."""

import numpy as np
import pytest
from oracles import disc_labels

from homog.dns import dns
from homog.failure import failure_metrics, run_to_failure
from homog.loading import uniaxial_stress
from homog.materials import LinearElastic, LinearHardening, VonMisesDamage, from_config
from homog.nonlocal_average import ClusterAverage, GridAverage, cluster_weights
from homog.sca.model import build_rom, load_rom
from kernels import ConvergenceError

E, NU, SY = 100.0, 0.3, 0.5


def nonlocal_matrix(length=0.15, s=0.02, m=1.0, **kwargs):
    return VonMisesDamage(E, NU, LinearHardening(SY, 0.5), onset=0.01, softening_strain=s,
                          nonlocal_length=length, over_nonlocal=m, **kwargs)


def brute_force_average(mask, lengths, length, kappa):
    """κ̄ by direct summation of the Gaussian over the voxels and their periodic images."""
    shape = mask.shape
    centres = np.stack(np.meshgrid(*[(np.arange(n) + 0.5) * L / n for n, L in
                                     zip(shape, lengths)], indexing="ij"), -1)[mask]
    diff = centres[:, None, :] - centres[None, :, :]
    weights = np.zeros(diff.shape[:2])
    images = 4 if len(shape) == 2 else 6
    for shift in np.ndindex(*(2 * images + 1,) * len(shape)):
        offset = (np.array(shift) - images) * np.asarray(lengths)
        weights += np.exp(-np.sum((diff + offset) ** 2, axis=-1) / (2 * length**2))
    return weights @ kappa / weights.sum(axis=1)


@pytest.mark.parametrize(("shape", "lengths"), [((8, 6), (1.0, 0.75)),
                                                ((6, 5, 4), (1.0, 0.8, 0.6))], ids=["2d", "3d"])
def test_grid_average_is_the_periodic_gaussian_over_the_material(shape, lengths):
    rng = np.random.default_rng(0)
    mask = rng.random(shape) < 0.7
    length = 0.4  # ≥ 2.4 voxels: aliasing below 1e-12
    kappa = rng.random(mask.sum())
    average = GridAverage(mask, lengths, length)
    np.testing.assert_allclose(average(kappa), brute_force_average(mask, lengths, length, kappa),
                               rtol=1e-9)
    np.testing.assert_allclose(average(np.full(mask.sum(), 0.3)), 0.3, rtol=1e-12)


def test_cluster_weights_project_the_grid_operator_on_the_clusters():
    labels = disc_labels(16, 0.3)
    rom = build_rom(labels, {0: nonlocal_matrix(), 1: LinearElastic(500.0, 0.19)},
                    {0: 7, 1: 2}, backend="scipy")
    matrix = np.flatnonzero(rom.cluster_phases == 0)
    W = rom.nonlocal_weights(0.15, matrix)
    assert W.shape == (7, 7) and np.all(W >= 0)
    np.testing.assert_allclose(W.sum(axis=1), 1.0, rtol=1e-12)
    # W κ = cluster means of the grid average of the cluster-wise constant field κ
    kappa = np.linspace(0.0, 1.0, 7)
    mask = labels == 0
    owner = np.searchsorted(matrix, rom.cluster_labels[mask])
    smoothed = GridAverage(mask, (1.0, 1.0), 0.15)(kappa[owner])
    means = np.bincount(owner, weights=smoothed) / np.bincount(owner)
    np.testing.assert_allclose(W @ kappa, means, rtol=1e-12)
    # one voxel per cluster: the grid operator itself
    cl = np.arange(labels.size).reshape(labels.shape)
    voxels = np.flatnonzero(mask)
    Wv = cluster_weights(cl, voxels, (1.0, 1.0), 0.15)
    np.testing.assert_allclose(Wv @ kappa[owner], smoothed, rtol=1e-12)
    # a batch of points averages each point's clusters separately
    batch = ClusterAverage(W)(np.concatenate([kappa, 2 * kappa]))
    np.testing.assert_allclose(batch, np.concatenate([W @ kappa, 2 * W @ kappa]), rtol=1e-14)


def test_homogeneous_field_follows_the_local_law():
    """ε̄p_nl = ε̄p on a material point: the local law with the same softening scale."""
    nonlocal_ = nonlocal_matrix(m=1.5)
    local = VonMisesDamage(E, NU, LinearHardening(SY, 0.5), onset=0.01, softening_strain=0.02)
    a, b = nonlocal_.initial_state(1), local.initial_state(1)
    for _ in range(60):
        d = np.array([[1e-3, -4e-4, -4e-4, 0.0, 0.0, 0.0]])
        sa, ta, a = nonlocal_.update(d, a)
        sb, tb, b = local.update(d, b)
        np.testing.assert_allclose(sa, sb, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(ta, tb, rtol=1e-12, atol=1e-12)
    assert a["damage"][0, 0] > 0.5
    np.testing.assert_allclose(a["nonlocal_eqps"], a["eqps"], rtol=1e-14)


def test_bad_parameters_give_clear_errors():
    with pytest.raises(ValueError, match="softening_strain"):
        VonMisesDamage(E, NU, LinearHardening(SY), fracture_energy=1e-3, nonlocal_length=0.1)
    with pytest.raises(ValueError, match="nonlocal_length"):
        nonlocal_matrix(length=-0.1)
    with pytest.raises(ValueError, match="over_nonlocal"):
        nonlocal_matrix(m=0.5)
    config = nonlocal_matrix(m=1.2).to_config()
    material = from_config({"phases": {"0": config}})[0]
    assert material.nonlocal_length == 0.15 and material.over_nonlocal == 1.2


def test_one_voxel_per_cluster_rom_reproduces_the_nonlocal_dns():
    """Same discrete problem through the softening: ROM (W on voxel clusters, coupled Newton)
    and DNS (FFT convolution on the grid, Newton–CG with the local part of the tangent)."""
    labels = disc_labels(8, 0.3)
    materials = {0: nonlocal_matrix(), 1: LinearElastic(500.0, 0.19)}
    path = uniaxial_stress(0.016, 32)
    ref = dns(labels, materials, path, backend="scipy", tol=1e-11)
    cl = np.arange(labels.size).reshape(labels.shape)
    rom = build_rom(labels, materials, None, cluster_labels=cl, backend="scipy", tol=1e-11,
                    discretization="willot")
    r = rom.run(path, tol=1e-11)
    assert ref.stress[:, 0].max() > 1.5 * ref.stress[-1, 0]  # well past the peak
    np.testing.assert_allclose(r.stress, ref.stress, atol=1e-7 * np.abs(ref.stress).max())
    # the coupled tangent keeps Newton quadratic: a few iterations per softening increment
    assert r.iterations[-10:].max() <= 6


def test_umat_tangent_includes_the_nonlocal_coupling():
    """DDSDDE against central differences while the damage grows (over-non-local, m = 1.5:
    coupling and local part), and the same check fails without the coupling."""
    labels = disc_labels(16, 0.3)
    rom = build_rom(labels, {0: nonlocal_matrix(m=1.5), 1: LinearElastic(500.0, 0.19)},
                    {0: 6, 1: 2}, backend="scipy")
    umat = rom.umat(tol=1e-12)
    dstran = np.array([1e-3, -3e-4, 0.0, 2e-4])
    stress, statev, stran = np.zeros(4), umat.initial_statev(), np.zeros(4)
    for _ in range(16):  # past the peak
        stress, statev, _ = umat(stress, statev, stran, dstran)
        stran = stran + dstran
    _, statev_end, ddsdde = umat(stress, statev, stran, dstran)
    damage = [i for i, name in enumerate(umat.statev_names) if name.endswith(".damage")]
    grows = statev_end[damage] - statev[damage]
    assert np.count_nonzero(grows > 1e-4) >= 2  # several clusters soften in this increment
    h = 1e-7
    fd = np.zeros((4, 4))
    for j in (0, 1, 3):
        up, down = dstran.copy(), dstran.copy()
        up[j] += h
        down[j] -= h
        fd[:, j] = (umat(stress, statev, stran, up)[0]
                    - umat(stress, statev, stran, down)[0]) / (2 * h)
    scale = np.abs(ddsdde).max()
    cols = [0, 1, 3]
    np.testing.assert_allclose(fd[:, cols], ddsdde[:, cols], atol=1e-5 * scale)
    # the solver without the coupling term (each cluster's own tangent only) misses it; its
    # Newton converges linearly, hence the looser tolerance
    solver = umat.solver
    solver.coupled, solver.tol, solver.max_newton = False, 1e-7, 200
    try:
        _, _, uncoupled = umat(stress, statev, stran, dstran)
    finally:
        solver.coupled, solver.tol, solver.max_newton = True, 1e-12, 25
    assert np.abs(uncoupled[:, cols] - fd[:, cols]).max() > 1e-2 * scale


@pytest.fixture(scope="module")
def fibre_failure():
    """Single-fibre RVE with a softening non-local matrix (ℓ = 0.08 of the RVE edge)."""
    materials = {0: nonlocal_matrix(length=0.08), 1: LinearElastic(500.0, 0.19)}
    return materials, uniaxial_stress(0.04, 80)


def test_dns_toughness_converges_under_voxel_refinement(fibre_failure):
    """Objectivity: 32² and 64² voxels (ℓ = 2.6 and 5.1 voxels) dissipate the same energy
    (measured 0.2 % apart with Newton–CG, the band branch; the crack band moved 75 % here,
    docs/failure.md)."""
    materials, path = fibre_failure
    W = [failure_metrics(run_to_failure(disc_labels(n, 0.3), path, materials=materials,
                                        backend="scipy")).toughness for n in (32, 64)]
    assert W[1] == pytest.approx(W[0], rel=0.02)


@pytest.mark.parametrize("seed", [2, 5])
def test_dns_toughness_converges_under_increment_refinement(seed):
    """The DNS's toughness is a property of the RVE, not of the increments: random 32² fibre
    RVEs of issue 16's case (ℓ = 0.08) run to failure in 30 and 120 increments (measured
    0.9 % and 0.4 % apart, peaks 0.16 % and 0.07 %). The ROM's is not yet (docs/adaptive.md:
    up to 200 points between 60 and 480 increments), which is why it is checked against
    this reference."""
    import rve_gen

    matrix = VonMisesDamage(100.0, 0.3, LinearHardening(0.5, 0.5), onset=0.01,
                            softening_strain=0.02, nonlocal_length=0.08)
    materials = {0: matrix, 1: LinearElastic(500.0, 0.19)}
    labels = rve_gen.circles(volume_fraction=0.3, radius=0.1, seed=seed).voxelize((32, 32))
    coarse, fine = (failure_metrics(run_to_failure(labels, uniaxial_stress(0.03, n),
                                                   materials=materials))
                    for n in (30, 120))
    assert fine.failure_mode == coarse.failure_mode == "drop"
    assert fine.toughness == pytest.approx(coarse.toughness, rel=0.02)
    assert fine.peak_stress == pytest.approx(coarse.peak_stress, rel=0.005)


def test_a_stalled_newton_step_is_cut_without_changing_the_curve():
    """Increments too large for Newton past the peak (a random 24² RVE of issue 16's case in
    10 increments to 3 %): three steps wander above their lowest residual until
    ``max_iterations``. The stall test cuts them after 8 iterations without a new lowest
    residual; the cut steps then take the same halves, so the curve is the same to the last
    bit and the run spends fewer Newton and Krylov iterations (measured 140 against 181)."""
    import rve_gen

    matrix = VonMisesDamage(100.0, 0.3, LinearHardening(0.5, 0.5), onset=0.01,
                            softening_strain=0.02, nonlocal_length=0.08)
    materials = {0: matrix, 1: LinearElastic(500.0, 0.19)}
    labels = rve_gen.circles(volume_fraction=0.3, radius=0.1, seed=1).voxelize((24, 24))
    stalled, patient = (run_to_failure(labels, uniaxial_stress(0.03, 10), materials=materials,
                                       stall_iterations=n) for n in (8, None))
    assert stalled.info["stopped"] == patient.info["stopped"] == "stop"
    np.testing.assert_array_equal(stalled.stress, patient.stress)
    assert stalled.iterations.sum() < 0.8 * patient.iterations.sum()
    assert sum(stalled.info["cg_iterations"]) < sum(patient.info["cg_iterations"])


def test_the_stall_test_is_off_for_secant_tangents():
    """A secant tangent converges linearly and can wander before it converges: on the
    symmetric 32² cell of docs/dns.md, increment 25 of the 60 to ε = 1.5 % stalls at every
    cut when sub-steps are cut after 8 iterations without a new lowest residual, and
    converges without the test. The default ("auto") leaves the test out for such laws."""
    matrix = VonMisesDamage(100.0, 0.3, LinearHardening(0.5, 0.5), onset=0.01,
                            fracture_energy=3e-3, tangent="secant")
    materials = {0: matrix, 1: LinearElastic(500.0, 0.19)}
    path = uniaxial_stress(0.00625, 25)
    auto, off = (dns(disc_labels(32, 0.3), materials, path, stall_iterations=n)
                 for n in ("auto", None))
    np.testing.assert_array_equal(auto.stress, off.stress)
    assert sum(auto.info["cg_iterations"]) == sum(off.info["cg_iterations"])
    with pytest.raises(ConvergenceError, match="Newton stalled"):
        dns(disc_labels(32, 0.3), materials, path, stall_iterations=8)
    with pytest.raises(ValueError, match="stall_iterations"):
        dns(disc_labels(8, 0.3), materials, uniaxial_stress(0.006, 2), stall_iterations="x")
    # the materials say which tangent they return
    assert matrix.secant_tangent and not VonMisesDamage(
        100.0, 0.3, LinearHardening(0.5, 0.5), onset=0.01, fracture_energy=3e-3).secant_tangent
    assert not LinearElastic(500.0, 0.19).secant_tangent


def test_rom_toughness_converges_to_the_dns_with_the_clusters(fibre_failure):
    """Past the peak the DNS has two branches: exact Newton (GMRES with the non-local coupling)
    keeps the mirror symmetry of the cell, Newton–CG without the coupling leaves it for a band.
    The ROM's clusters are symmetric (mirror voxels share their strain concentration), so it
    converges to the symmetric branch: with a frozen reference medium its toughness error falls
    from +129 % to +12 % and −7 % at 16, 64, 128 matrix clusters (measured)."""
    materials, path = fibre_failure
    labels = disc_labels(32, 0.3)
    reference = failure_metrics(run_to_failure(labels, path, materials=materials,
                                               backend="scipy", krylov="gmres")).toughness
    errors = []
    for k in (16, 64, 128):
        rom = build_rom(labels, materials, {0: k, 1: 2}, backend="scipy", adaptive=None,
                        discretization="willot")
        r = run_to_failure(rom, path, scs_tol=np.inf)
        assert r.info["stopped"] == "stop"
        errors.append(abs(failure_metrics(r).toughness / reference - 1.0))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.1


def test_dns_follows_the_symmetric_branch_with_the_coupled_newton(fibre_failure):
    """GMRES with the non-local coupling: quadratic Newton (fewer iterations than CG) and the
    symmetric branch, whose toughness is objective too (0.00484 / 0.00485 on 32² / 64²)."""
    materials, path = fibre_failure
    labels = disc_labels(24, 0.3)
    runs = {k: run_to_failure(labels, path, materials=materials, backend="scipy", krylov=k)
            for k in ("gmres", "cg")}
    peak = int(np.argmax(runs["cg"].stress[:, 0]))
    softening = {k: r.iterations[peak:].mean() for k, r in runs.items()}  # per increment
    assert softening["gmres"] < 0.6 * softening["cg"]  # measured 5.8 against 15.2
    W = {k: failure_metrics(r).toughness for k, r in runs.items()}
    assert W["gmres"] > 1.1 * W["cg"]  # the band dissipates less than the symmetric mode
    # up to the peak the two solvers solve the same problem
    np.testing.assert_allclose(runs["gmres"].stress[:peak + 1], runs["cg"].stress[:peak + 1],
                               atol=1e-5)


def test_saved_model_keeps_the_nonlocal_material(tmp_path):
    labels = disc_labels(16, 0.3)
    rom = build_rom(labels, {0: nonlocal_matrix(m=1.2), 1: LinearElastic(500.0, 0.19)},
                    {0: 5, 1: 2}, backend="scipy")
    rom.save(tmp_path / "rom.npz")
    loaded = load_rom(tmp_path / "rom.npz")
    assert loaded.materials[0].nonlocal_length == 0.15
    path = uniaxial_stress(0.02, 20)
    np.testing.assert_array_equal(loaded.run(path).stress, rom.run(path).stress)


def test_umat_batch_of_softening_points_equals_single_calls():
    """P points with their own clusters' averages and couplings, solved together."""
    labels = disc_labels(16, 0.3)
    rom = build_rom(labels, {0: nonlocal_matrix(m=1.5), 1: LinearElastic(500.0, 0.19)},
                    {0: 5, 1: 2}, backend="scipy")
    umat = rom.umat()
    rng = np.random.default_rng(1)
    dstran = np.array([1e-3, -3e-4, 0.0, 2e-4]) * rng.uniform(0.7, 1.3, (4, 1))
    stress, stran, statev = np.zeros((4, 4)), np.zeros((4, 4)), umat.initial_statev(4)
    for _ in range(20):
        stress, statev, ddsdde, ok = umat.batch(stress, statev, stran, dstran)
        stran = stran + dstran
    assert ok.all()
    damage = [i for i, name in enumerate(umat.statev_names) if name.endswith(".damage")]
    assert statev[:, damage].max() > 0.2
    for p in range(4):
        s, sv, dd = np.zeros(4), umat.initial_statev(), None
        e = np.zeros(4)
        for _ in range(20):
            s, sv, dd = umat(s, sv, e, dstran[p])
            e = e + dstran[p]
        np.testing.assert_allclose(stress[p], s, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ddsdde[p], dd, rtol=1e-7, atol=1e-8)
