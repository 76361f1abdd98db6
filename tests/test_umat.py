"""The ROM as a UMAT: Abaqus conventions, consistent tangent, batches, restarts, bad input."""

import numpy as np
import pytest
from oracles import disc_labels, sphere_labels

from homog.loading import strain_path
from homog.materials import LinearElastic, PiecewiseLinearHardening, VonMises
from homog.sca.model import build_rom
from kernels import ConvergenceError
from kernels.arraymodule import gpu_available

PLASTIC = {0: VonMises(100.0, 0.3, PiecewiseLinearHardening([0.0, 0.04, 2.0], [0.5, 0.7, 4.62])),
           1: LinearElastic(500.0, 0.19)}
DSTRAN = {4: np.array([1e-3, -3e-4, 0.0, 5e-4]),
          6: np.array([1e-3, -3e-4, 2e-4, 5e-4, 2e-4, -1e-4])}


@pytest.fixture(scope="module")
def rom2d():
    return build_rom(disc_labels(24, 0.3), PLASTIC, {0: 6, 1: 3})


@pytest.fixture(scope="module")
def rom3d():
    return build_rom(sphere_labels(12, 0.2), PLASTIC, {0: 5, 1: 3})


@pytest.fixture(scope="module")
def rom3d_large():
    """53 clusters, 318 unknowns: GMRES steps with a single-precision factorization."""
    return build_rom(sphere_labels(12, 0.2), PLASTIC, {0: 35, 1: 18}, adaptive=None)


def drive(umat, dstran, increments, statev=None):
    """``increments`` single-point calls with a constant increment; the last outputs."""
    n = umat.ntens
    stress, stran = np.zeros(n), np.zeros(n)
    statev = umat.initial_statev() if statev is None else statev
    for _ in range(increments):
        stress, statev, ddsdde = umat(stress, statev, stran, dstran)
        stran = stran + dstran
    return stress, statev, stran, ddsdde


@pytest.mark.parametrize("dim", [2, 3, "3-large"])
def test_ddsdde_is_the_derivative_of_the_stress(dim, rom2d, rom3d, rom3d_large):
    """DDSDDE against central differences of the UMAT itself, in the plastic range (also
    where the system is large enough for the Krylov steps of the online solver)."""
    rom = {2: rom2d, 3: rom3d, "3-large": rom3d_large}[dim]
    umat = rom.umat(tol=1e-12)
    if dim == "3-large":
        assert 6 * sum(rom.n_clusters.values()) >= umat.solver.krylov_from
    n = umat.ntens
    dstran = DSTRAN[n]
    stress, statev, stran, _ = drive(umat, dstran, 6)
    _, statev_end, ddsdde = umat(stress, statev, stran, dstran)
    eqps = [i for i, name in enumerate(umat.statev_names) if name.endswith(".eqps")]
    assert statev_end[eqps].max() > 1e-3  # the matrix yields in this increment
    h = 1e-7
    free = [j for j in range(n) if not (n == 4 and j == 2)]
    for j in free:
        up, down = dstran.copy(), dstran.copy()
        up[j] += h
        down[j] -= h
        column = (umat(stress, statev, stran, up)[0] - umat(stress, statev, stran, down)[0])
        np.testing.assert_allclose(column / (2 * h), ddsdde[:, j],
                                   atol=1e-6 * np.abs(ddsdde).max())


def test_single_point_calls_reproduce_rom_run_exactly(rom2d):
    path = strain_path([{"11": 0.02, "22": -0.006, "12": 0.0}], steps=12)
    # the UMAT runs the initial clusters, at its own tolerances
    ref = rom2d.run(path, tol=1e-8, scs_tol=1e-8, adaptivity=None)
    umat = rom2d.umat()
    stress, statev, stran = np.zeros(4), umat.initial_statev(), np.zeros(4)
    for k, (target, _) in enumerate(path.for_dimension(2)):
        total = np.array([target[0], target[1], 0.0, 0.0])
        stress, statev, ddsdde = umat(stress, statev, stran, total - stran)
        stran = total
        np.testing.assert_array_equal(stress[:3], ref.stress[k + 1, :3])
        assert stress[3] == ref.stress[k + 1, 5] / np.sqrt(2)
    eqps = [i for i, name in enumerate(umat.statev_names) if name.endswith(".eqps")]
    assert statev[eqps].max() > 5e-3  # well into plasticity


@pytest.mark.parametrize("dim", [2, 3, "3-large"])
def test_batch_equals_single_point_calls(dim, rom2d, rom3d, rom3d_large):
    umat = {2: rom2d, 3: rom3d, "3-large": rom3d_large}[dim].umat()
    n, npoints = umat.ntens, 5
    rng = np.random.default_rng(0)
    dstran = rng.normal(scale=1e-3, size=(npoints, n))
    if n == 4:
        dstran[:, 2] = 0.0
    stress, stran = np.zeros((npoints, n)), np.zeros((npoints, n))
    statev = umat.initial_statev(npoints)
    for _ in range(8):
        stress, statev, ddsdde, ok = umat.batch(stress, statev, stran, dstran)
        stran = stran + dstran
    assert ok.all()
    # a large system's Newton steps take single-precision products with D (GEMM over the
    # batch, GEMV for one point: different rounding), so its states agree to the Newton
    # tolerance's effect (~1e-11 here on strains ~1e-3), not to the last bits
    atol = 1e-10 if dim == "3-large" else 1e-12
    for p in range(npoints):
        s, sv, _, dd = drive(umat, dstran[p], 8)
        np.testing.assert_allclose(stress[p], s, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(statev[p], sv, rtol=1e-10, atol=atol)
        np.testing.assert_allclose(ddsdde[p], dd, rtol=1e-9, atol=1e-9)


def test_restart_from_saved_statev_continues_identically(rom3d, tmp_path):
    umat = rom3d.umat()
    dstran = DSTRAN[6]
    reference = drive(umat, dstran, 10)
    stress, statev, stran, _ = drive(umat, dstran, 5)
    np.save(tmp_path / "statev.npy", statev)
    restarted = np.load(tmp_path / "statev.npy")
    stress2 = stress.copy()
    for _ in range(5):
        stress2, restarted, ddsdde = rom3d.umat()(stress2, restarted, stran, dstran)  # a new object
        stran = stran + dstran
    np.testing.assert_array_equal(stress2, reference[0])
    np.testing.assert_array_equal(restarted, reference[1])
    np.testing.assert_array_equal(ddsdde, reference[3])


def test_voigt_conventions_on_a_homogeneous_elastic_rve():
    """One isotropic phase: DDSDDE is the Voigt stiffness (λ+2μ, λ, μ for γ), σ12 = μ γ12."""
    E, nu = 200.0, 0.25
    lam, mu = E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))
    expected = lam * np.outer([1, 1, 1, 0, 0, 0], [1, 1, 1, 0, 0, 0]) + mu * np.diag(
        [2, 2, 2, 1, 1, 1])
    for labels, n in ((np.zeros((8, 8, 8), dtype=int), 6), (np.zeros((8, 8), dtype=int), 4)):
        umat = build_rom(labels, {0: LinearElastic(E, nu)}, {0: 1}).umat()
        dstran = DSTRAN[n]
        stress, _, ddsdde = umat(np.zeros(n), umat.initial_statev(), np.zeros(n), dstran)
        np.testing.assert_allclose(ddsdde, expected[:n, :n], rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(stress, expected[:n, :n] @ dstran, rtol=1e-10, atol=1e-12)
        assert abs(stress[3] - mu * dstran[3]) < 1e-10  # engineering shear strain


def test_stable_phases_do_positive_work_on_random_strain_paths(rom2d):
    """Hill (J. Mech. Phys. Solids 15, 1967): phases stable in Drucker's sense (elastic, von
    Mises with non-negative hardening) make a stable composite, ΔΣ:ΔE > 0 over every
    increment. The UMAT prescribes every strain component, so the online solver's guard
    against spurious roots (which needs a free strain) does not apply: its increments must
    meet this on their own, in every direction and through the onset of plastic flow."""
    umat = rom2d.umat()
    rng = np.random.default_rng(3)
    npoints, increments = 24, 10
    dstran = rng.normal(size=(npoints, 4))
    dstran[:, 2] = 0.0  # plane strain
    dstran *= 0.02 / increments / np.abs(dstran).max(axis=1, keepdims=True)
    # ΔΣ:ΔE ≤ the largest eigenvalue of the stiffest phase's (Mandel) stiffness times |ΔE|²
    stiffest = max(np.linalg.eigvalsh(mat.stiffness).max() for mat in PLASTIC.values())
    mandel = dstran * [1.0, 1.0, 1.0, 2.0**-0.5]  # γ12 → √2 ε12
    elastic = stiffest * (mandel * mandel).sum(axis=1)
    stress, statev = np.zeros((npoints, 4)), umat.initial_statev(npoints)
    stran = np.zeros((npoints, 4))
    for _ in range(increments):
        new, statev, _, ok = umat.batch(stress, statev, stran, dstran)
        assert ok.all()
        work = ((new - stress) * dstran).sum(axis=1)
        assert np.all(work > 0.0) and np.all(work < elastic)
        stress, stran = new, stran + dstran


def test_a_failing_point_does_not_poison_the_batch(rom2d):
    umat = rom2d.umat(max_newton=6, max_cuts=0)
    npoints = 4
    dstran = np.tile([1e-5, 0.0, 0.0, 0.0], (npoints, 1))
    dstran[2] = [0.2, -0.1, 0.0, 0.05]  # a large plastic step: not in 6 Newton iterations
    stress, statev = np.ones((npoints, 4)), umat.initial_statev(npoints)
    stran = np.zeros((npoints, 4))
    s, sv, dd, ok = umat.batch(stress, statev, stran, dstran)
    assert ok.tolist() == [True, True, False, True]
    np.testing.assert_array_equal(s[2], stress[2])
    np.testing.assert_array_equal(sv[2], statev[2])
    np.testing.assert_allclose(dd[2], umat.elastic_ddsdde(statev[2:3])[0])
    single = umat(stress[0], statev[0], stran[0], dstran[0])
    np.testing.assert_allclose(s[0], single[0], rtol=1e-12)
    with pytest.raises(ConvergenceError, match="PNEWDT"):
        umat(stress[2], statev[2], stran[2], dstran[2])


def test_statev_layout_is_documented(rom2d, rom3d):
    for rom in (rom2d, rom3d):
        umat = rom.umat()
        assert len(umat.statev_names) == umat.nstatv == len(set(umat.statev_names))
        assert umat.initial_statev().shape == (umat.nstatv,)
        assert umat.initial_statev(3).shape == (3, umat.nstatv)
        names = umat.statev_names
        assert names[0] == "cluster0.strain[11]"
        assert {"lam0", "mu0"} <= set(names)
        lam0 = umat.initial_statev()[names.index("lam0")]
        assert lam0 == rom.reference_medium[0]
    assert rom2d.umat().ntens == 4 and rom3d.umat().ntens == 6


def test_bad_input_gives_clear_errors(rom2d, rom3d):
    umat = rom3d.umat()
    s, sv, e = np.zeros(6), umat.initial_statev(), np.zeros(6)
    with pytest.raises(ValueError, match="NTENS = 6"):
        umat(np.zeros(4), sv, np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match="nstatv"):
        umat(s, sv[:-1], e, e)
    with pytest.raises(ValueError, match="NaN"):
        umat(s, sv, e, np.full(6, np.nan))
    with pytest.raises(ValueError, match="admissible reference medium"):
        umat(s, np.zeros_like(sv), e, e)
    with pytest.raises(ValueError, match="dtime"):
        umat(s, sv, e, e, dtime=-1.0)
    with pytest.raises(ValueError, match="same npoints"):
        umat.batch(np.zeros((2, 6)), umat.initial_statev(3), np.zeros((2, 6)), np.zeros((2, 6)))
    with pytest.raises(ValueError, match="points \\[1\\]"):
        bad = np.zeros((2, 6))
        bad[1, 0] = np.inf
        umat.batch(np.zeros((2, 6)), umat.initial_statev(2), np.zeros((2, 6)), bad)
    plane = rom2d.umat()
    with pytest.raises(ValueError, match="plane strain"):
        plane(np.zeros(4), plane.initial_statev(), np.zeros(4), np.array([0, 0, 1e-3, 0.0]))
    with pytest.raises(ValueError, match="real array"):
        umat(s, sv, e, np.array(["a"] * 6))


@pytest.mark.gpu
def test_cupy_batch_equals_numpy(rom3d):
    if not gpu_available():
        pytest.skip("needs CuPy and a CUDA device")
    import cupy

    umat = rom3d.umat()
    rng = np.random.default_rng(1)
    dstran = rng.normal(scale=1e-3, size=(64, 6))
    out = {}
    for xp in (np, cupy):
        stress, stran = xp.zeros((64, 6)), xp.zeros((64, 6))
        statev = umat.initial_statev(64, xp=xp)
        d = xp.asarray(dstran)
        for _ in range(6):
            stress, statev, ddsdde, ok = umat.batch(stress, statev, stran, d)
            stran = stran + d
        out[xp.__name__] = [cupy.asnumpy(a) if xp is cupy else a for a in (stress, ddsdde, ok)]
    for a, b in zip(out["numpy"], out["cupy"]):
        np.testing.assert_allclose(b, a, rtol=1e-8, atol=1e-10)


def test_an_elastic_increment_factorizes_once_per_point(rom3d):
    """Newton on the reference medium settles it with the strains: an elastic increment after
    the first costs one LU per point (it cost several with the fixed-point refits)."""
    umat = rom3d.umat()
    npoints = 6
    dstran = 1e-5 * np.random.default_rng(2).normal(size=(npoints, 6))
    stress, stran = np.zeros((npoints, 6)), np.zeros((npoints, 6))
    statev = umat.initial_statev(npoints)
    for _ in range(3):
        start = umat.solver.factorizations
        stress, statev, _, ok = umat.batch(stress, statev, stran, dstran)
        stran = stran + dstran
        assert ok.all()
    assert umat.solver.factorizations - start == npoints
