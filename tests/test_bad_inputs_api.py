"""Bad input at the public Python entry points (kernels, build_rom, run, the UMAT, dns, load
paths, materials, rve_gen): each case gets a ValueError (or the library's own error) naming
the argument, before any expensive work, never a raw traceback from numpy/scikit-learn, a
silently wrong result or a hang. The CLI's one-line errors are in test_bad_inputs.py."""

import math

import numpy as np
import pytest

import rve_gen
from homog import dns, loading
from homog.cli import main
from homog.failure import run_to_failure
from homog.materials import (
    LinearElastic,
    PiecewiseLinearHardening,
    SwiftHardening,
    reference_materials,
)
from homog.sca.model import build_rom
from kernels import elastic_homogenization, solve_elastic
from kernels.tensors import isotropic_stiffness

NAN = math.nan


def two_phase(n: int = 8) -> np.ndarray:
    """An n² label grid with a square inclusion (label 1) in a matrix (label 0)."""
    labels = np.zeros((n, n), dtype=np.int32)
    labels[n // 4: n // 2 + 1, n // 4: n // 2 + 1] = 1
    return labels


STIFFNESS = {0: isotropic_stiffness(100.0, 0.3), 1: isotropic_stiffness(500.0, 0.19)}


def no_fft(monkeypatch):
    """Make any elastic FFT solve of build_rom fail the test: checks must come first."""
    def fail(*args, **kwargs):
        raise AssertionError("the FFT solves started before the input was checked")

    monkeypatch.setattr("homog.sca.model.elastic_homogenization", fail)


@pytest.fixture(scope="module")
def rom():
    """A small static ROM (8² fibre RVE, 2 + 1 clusters)."""
    return build_rom(two_phase(), reference_materials(), {0: 2, 1: 1}, adaptive=None)


# --------------------------------------------------------------------------- kernels
def test_empty_label_grid_is_named_not_blamed_on_the_stiffness():
    for labels in (np.zeros((0, 8), np.int32), np.zeros((0, 0, 0), np.int32)):
        with pytest.raises(ValueError, match=r"labels is empty \(shape"):
            elastic_homogenization(labels, STIFFNESS)


@pytest.mark.parametrize("maxiter", [0, -1, 2.5, True])
def test_elastic_maxiter_must_be_a_positive_integer(maxiter):
    # 0 silently meant the default, -1 ended in a ConvergenceError, 2.5 was truncated
    with pytest.raises(ValueError, match=r"maxiter = .* must be an integer >= 1"):
        elastic_homogenization(two_phase(), STIFFNESS, maxiter=maxiter)


def test_elastic_arguments_that_are_not_numbers_are_named():
    with pytest.raises(ValueError, match="reference_medium = "):
        solve_elastic(two_phase(), STIFFNESS, [0.01, 0, 0], solver="basic",
                      reference_medium=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="macro_strain must be 3 numbers"):
        solve_elastic(two_phase(), STIFFNESS, macro_strain=["a", "b", "c"])
    with pytest.raises(ValueError, match="stiffness of label 7"):
        elastic_homogenization(two_phase(), {**STIFFNESS, 7: "x"})
    with pytest.raises(ValueError, match="stiffness: expected a 6x6 Mandel stiffness matrix"):
        LinearElastic.from_stiffness([["a"] * 6] * 6)


# --------------------------------------------------------------------------- ROM offline
@pytest.mark.parametrize("seed", [-1, "a", 2.5, 2**32])
def test_build_rom_checks_the_seed_before_the_fft(monkeypatch, seed):
    no_fft(monkeypatch)
    with pytest.raises(ValueError, match=r"seed = .* must be an integer in \[0, 2\*\*32 - 1\]"):
        build_rom(two_phase(), reference_materials(), {0: 2, 1: 1}, seed=seed)


def test_build_rom_checks_scaling_and_progress_before_the_fft(monkeypatch):
    no_fft(monkeypatch)
    # a misspelt scaling was silently ignored by the adaptive (hierarchy) clustering
    with pytest.raises(ValueError, match="scaling = 'standardise'"):
        build_rom(two_phase(), reference_materials(), {0: 2, 1: 1}, scaling="standardise")
    with pytest.raises(ValueError, match="progress must be a callable"):
        build_rom(two_phase(), reference_materials(), {0: 2, 1: 1}, progress=3)


def test_cluster_count_keys_are_not_truncated(monkeypatch):
    no_fft(monkeypatch)
    # {0.5: 2} was read as phase 0
    with pytest.raises(ValueError, match="n_clusters key 0.5 is not an integer phase label"):
        build_rom(two_phase(), reference_materials(), {0.5: 2, 1: 1})
    with pytest.raises(ValueError, match=r"n_clusters\[1\] = True must be a positive integer"):
        build_rom(two_phase(), reference_materials(), {0: 2, 1: True})


# --------------------------------------------------------------------------- ROM online, UMAT
@pytest.mark.parametrize(("options", "message"), [
    ({"tol": 0.0}, r"tol = 0.0 must be a number in \(0, 0.1\]"),
    ({"tol": NAN}, r"tol = nan must be a number in \(0, 0.1\]"),
    ({"tol": 10.0}, r"tol = 10.0 must be a number in \(0, 0.1\]"),
    ({"scs_tol": NAN}, "scs_tol = nan must be a number > 0"),
    ({"scs_tol": 0.0}, "scs_tol = 0.0 must be a number > 0"),
    ({"max_cuts": -1}, "max_cuts = -1 must be an integer >= 0"),
    ({"max_cuts": 2.5}, "max_cuts = 2.5 must be an integer >= 0"),
    ({"progress": 3}, "progress must be a callable"),
    ({"stop": "yes"}, "stop must be a callable"),
])
def test_rom_run_checks_its_options(rom, options, message):
    with pytest.raises(ValueError, match=message):
        rom.run(loading.uniaxial_stress(0.01, 2), **options)


@pytest.mark.parametrize(("options", "message"), [
    ({"tol": -1.0}, r"tol = -1.0 must be a number in \(0, 0.1\]"),
    ({"max_newton": 0}, "max_newton = 0 must be an integer >= 1"),
    ({"max_newton": 2.5}, "max_newton = 2.5 must be an integer >= 1"),
    ({"max_cuts": NAN}, "max_cuts = nan must be an integer >= 0"),
    ({"max_cuts": -1}, "max_cuts = -1 must be an integer >= 0"),
    ({"chunk": 2.5}, r"chunk \(points per batch\) = 2.5 must be an integer >= 1"),
    ({"chunk": "a"}, r"chunk \(points per batch\) = 'a' must be an integer >= 1"),
])
def test_umat_checks_its_options(rom, options, message):
    with pytest.raises(ValueError, match=message):
        rom.umat(**options)


@pytest.mark.parametrize("dtime", ["a", None, [0.1]])
def test_umat_dtime_must_be_a_number(rom, dtime):
    umat = rom.umat()
    z = np.zeros(umat.ntens)
    with pytest.raises(ValueError, match="dtime = .* must be finite and non-negative"):
        umat(z, umat.initial_statev(), z, z, dtime=dtime)


def test_umat_batch_of_no_points(rom):
    umat = rom.umat()
    statev = umat.initial_statev(0)  # documented as allowed; reshaping an empty state failed
    assert statev.shape == (0, umat.nstatv)
    z = np.zeros((0, umat.ntens))
    stress, statev, ddsdde, ok = umat.batch(z, statev, z, z)
    assert stress.shape == (0, umat.ntens) and ddsdde.shape == (0, umat.ntens, umat.ntens)
    assert ok.shape == (0,)


# --------------------------------------------------------------------------- DNS, failure
def test_dns_checks_before_solving():
    path = loading.uniaxial_stress(0.01, 2)
    with pytest.raises(ValueError, match="labels is empty"):  # was a ZeroDivisionError
        dns(np.zeros((0, 8), np.int32), reference_materials(), path)
    with pytest.raises(ValueError, match="save_fields = 1.5"):
        dns(two_phase(), reference_materials(), path, save_fields=1.5)
    with pytest.raises(ValueError, match="progress must be a callable"):
        dns(two_phase(), reference_materials(), path, progress=3)


@pytest.mark.parametrize("entry", ["dns", "build_rom"])
def test_the_memory_estimate_comes_before_any_pass_over_the_labels(monkeypatch, entry):
    """np.unique of a 600³ grid took 6 s before the MemoryError: the size is all it needs."""
    def unique(*args, **kwargs):
        raise AssertionError("np.unique ran over the grid before the memory estimate")

    huge = np.broadcast_to(np.zeros(1, dtype=np.int32), (600, 600, 600))  # no memory used
    monkeypatch.setattr(np, "unique", unique)
    monkeypatch.setattr("kernels.memory.available_bytes", lambda xp: 1 << 30)
    call = {"dns": lambda: dns(huge, reference_materials(), loading.uniaxial_stress(0.01, 2)),
            "build_rom": lambda: build_rom(huge, reference_materials(), {0: 2})}[entry]
    with pytest.raises(MemoryError, match="600x600x600 grid.* needs about"):
        call()


@pytest.mark.parametrize("entry", ["dns", "build_rom"])
def test_negative_labels_are_refused_as_by_microstructure(entry):
    labels = two_phase() - 1  # labels -1 and 0, each with a material
    materials = {-1: reference_materials()[0], 0: reference_materials()[1]}
    call = {"dns": lambda: dns(labels, materials, loading.uniaxial_stress(0.01, 2)),
            "build_rom": lambda: build_rom(labels, materials, {-1: 2, 0: 1})}[entry]
    message = r"labels contain negative values \(-1\): phase labels are 0, 1, 2"
    with pytest.raises(ValueError, match=message):
        call()
    with pytest.raises(ValueError, match=message):  # the same words as the microstructure's
        rve_gen.Microstructure(labels)


@pytest.mark.parametrize("tol", [0.99, 0.5, 1.0])
def test_solver_tolerances_must_be_clearly_below_one(tol):
    """A relative residual of 99 % was accepted as converged."""
    path = loading.uniaxial_stress(0.01, 2)
    message = rf"tol = {tol} must be a number in .*0\.1\]"
    with pytest.raises(ValueError, match=message):
        dns(two_phase(), reference_materials(), path, tol=tol)
    with pytest.raises(ValueError, match=message):
        solve_elastic(two_phase(), STIFFNESS, [0.01, 0, 0], tol=tol)
    solve_elastic(two_phase(), STIFFNESS, [0.01, 0, 0], tol=0.1)  # the loosest accepted


@pytest.mark.parametrize("model", [None, "rom.npz"])
def test_a_missing_microstructure_is_named(model):
    with pytest.raises(ValueError, match="microstructure must be an integer label array"):
        run_to_failure(model, loading.uniaxial_stress(0.05, 4), materials=reference_materials())


# --------------------------------------------------------------------------- load paths
def test_load_path_builders_name_their_arguments():
    with pytest.raises(ValueError, match="plane = 5 must be two different axes"):
        loading.pure_shear(0.01, 2, plane=5)
    with pytest.raises(ValueError, match=r"biaxial axes = \(0, 1, 2\)"):
        loading.biaxial(0.01, 0.01, 2, axes=(0, 1, 2))
    with pytest.raises(ValueError, match="steps = 2.0 must be an integer >= 1"):
        loading.strain_path([{"11": 0.01}], steps=2.0)
    with pytest.raises(ValueError, match="waypoint 0.01 is not a mapping"):
        loading.strain_path([0.01], steps=2)
    with pytest.raises(ValueError, match="waypoints must be a list of mappings"):
        loading.strain_path({"11": 0.01}, steps=2)
    assert loading.strain_path([{"11": 0.01}], steps=np.array([3])).nsteps == 3


@pytest.mark.parametrize(("build", "name"), [
    (lambda: loading.uniaxial_stress(1e6, 2), r"strain component 11 = 1e\+06"),
    (lambda: loading.pure_shear(-1.0, 2), "strain component 12 = -1"),
    (lambda: loading.cyclic(2.0), "strain component 11 = 2"),
    (lambda: loading.strain_path([{"11": 0.01}, {"22": 1.5}], 2), "strain component 22 = 1.5"),
])
def test_strains_of_100_percent_or_more_are_refused(build, name):
    """The models are small-strain: a strain of 1e6 was run silently."""
    with pytest.raises(ValueError, match=f"{name} is a strain of .* %, but the models are "
                                         "small-strain"):
        build()


def test_stress_targets_and_small_strains_are_not_limited():
    assert loading.LoadPath.from_components(stress={"11": 1e6}).nsteps == 1
    assert loading.uniaxial_strain(0.99, 1).targets[0, 0] == 0.99


def test_a_load_path_too_long_for_memory_is_refused_before_allocating():
    with pytest.raises(MemoryError,
                       match="a load path of 1000000000000 increments.*use fewer steps"):
        loading.uniaxial_stress(0.01, 10**12)


# --------------------------------------------------------------------------- materials
def test_hardening_tables_and_swift_parameters():
    with pytest.raises(ValueError, match="SwiftHardening: K = sigma_y0 / eps0"):
        SwiftHardening(eps0=0.01, n=1e6, sigma_y0=1.0)  # was a ZeroDivisionError
    with pytest.raises(ValueError, match="must be a 1-D list of numbers"):  # was flattened
        PiecewiseLinearHardening([[0.0, 0.1], [0.2, 0.3]], [[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match="hardening table eps_p = "):
        PiecewiseLinearHardening(["a", "b"], [1.0, 2.0])


# --------------------------------------------------------------------------- rve_gen
@pytest.mark.parametrize("labels", [np.full((4, 4), 1 + 1j), np.full((4, 4), "a")])
def test_microstructure_labels_must_be_real_numbers(labels):
    # complex labels lost their imaginary part silently
    with pytest.raises(ValueError, match="labels must be a real numeric array"):
        rve_gen.Microstructure(labels)


def test_microstructure_labels_beyond_int32_are_refused(monkeypatch):
    def names(nphases):  # one name per label up to 2**40 never finished (nor fitted in RAM)
        raise AssertionError(f"{nphases} phase names built before the labels were checked")

    monkeypatch.setattr("rve_gen.microstructure.default_phase_names", names)
    with pytest.raises(ValueError, match="beyond the int32 range"):
        rve_gen.Microstructure(np.array([[0, 2**40]], dtype=np.int64))


def test_microstructure_label_range_is_checked_against_memory(monkeypatch):
    class Memory:
        available = 1 << 20

    monkeypatch.setattr("psutil.virtual_memory", lambda: Memory())
    with pytest.raises(MemoryError, match="labels go up to 1000000"):
        rve_gen.Microstructure(np.array([[0, 10**6]]))


def test_read_refuses_complex_and_too_large_labels(tmp_path):
    np.save(tmp_path / "big.npy", np.full((4, 4), 2**40))  # was truncated to int32 zeros
    with pytest.raises(ValueError, match="beyond the int32 range"):
        rve_gen.read(tmp_path / "big.npy")
    np.save(tmp_path / "complex.npy", np.full((4, 4), 1 + 1j))
    with pytest.raises(ValueError, match="non-numeric values"):
        rve_gen.read(tmp_path / "complex.npy")


def test_a_threshold_outside_the_image_dtype_is_refused():
    grey = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (16, 1))  # levels 0..240
    assert rve_gen.from_image(grey, threshold=128).labels.max() == 1
    with pytest.raises(ValueError, match=r"threshold=300 lies outside .* uint8 .*0\.\.255"):
        rve_gen.from_image(grey, threshold=300)  # was one phase, silently
    # a tile holding one phase is a valid segmentation with a fixed threshold
    assert rve_gen.from_image(np.zeros((8, 8), np.uint8), threshold=128).labels.max() == 0


def test_generator_counts_and_seeds_are_named():
    with pytest.raises(ValueError, match="seed=-1 is not usable"):
        rve_gen.circles(0.3, 0.1, seed=-1)
    for steps in (-5, 2.5, NAN):  # -5 claimed jamming, 2.5 and NaN raised a TypeError
        with pytest.raises(ValueError, match=f"max_steps={steps!r} must be an integer >= 0"):
            rve_gen.circles(0.3, 0.1, seed=0, max_steps=steps)
    with pytest.raises(ValueError, match="n_grains=nan must be a positive integer"):
        rve_gen.voronoi(NAN, seed=0)


@pytest.mark.parametrize("make, name", [
    (lambda: rve_gen.circles(0.3, -0.1, seed=0), "radius"),
    (lambda: rve_gen.circles(0.95, 0.1, seed=0), "volume_fraction"),
    (lambda: rve_gen.circles(0.3, 0.1, radius_std=0.02, seed=0), "radius_std"),
    (lambda: rve_gen.voronoi(4, seed=0, phase_fractions=(0.5, 0.6)), "phase_fractions"),
    (lambda: rve_gen.fibers(0.2, 0.05, 0.5, seed=0), "aspect_ratio"),
    (lambda: rve_gen.circles(0.3, 0.1, seed=-1), "seed"),
])
def test_bad_generator_arguments_are_named(make, name):
    """A bad keyword argument is a ParameterError (a ValueError) that names it, so that a front
    end can name its own option (homog rve does)."""
    with pytest.raises(rve_gen.ParameterError) as info:
        make()
    assert info.value.name == name
    assert str(info.value) == f"{name}={info.value.value!r} {info.value.reason}"


@pytest.mark.parametrize(("make", "names", "message"), [
    (lambda names: rve_gen.circles(0.2, 0.1, seed=0, phase_names=names), ["m", "f", "x"],
     r"has 3 name\(s\) for 2 phases \(the matrix, and one inclusion phase per volume"),
    (lambda names: rve_gen.circles(0.2, 0.1, seed=0, phase_names=names), ["m"],
     r"has 1 name\(s\) for 2 phases"),
    (lambda names: rve_gen.voronoi(4, seed=0, ndim=2, phase_names=names), ["a", "b"],
     r"has 2 name\(s\) for 1 phase \(one per phase fraction\)"),
    (lambda names: rve_gen.circles(0.2, 0.1, seed=0, phase_names=names), "matrix",
     "must be a list of names"),
])
def test_generators_take_one_phase_name_per_phase(make, names, message):
    """Extra names made phantom phases of volume fraction 0."""
    with pytest.raises(ValueError, match=f"phase_names=.* {message}"):
        make(names)


def test_writing_into_a_missing_folder_names_the_target(tmp_path):
    ms = rve_gen.Microstructure(np.zeros((4, 4), dtype=int))
    target = tmp_path / "missing" / "ms.npz"
    with pytest.raises(FileNotFoundError, match="the folder .*missing does not exist"):
        ms.save(target)


# --------------------------------------------------------------------------- CLI
def test_cli_build_negative_seed_is_one_line_before_the_fft(tmp_path, capsys, monkeypatch):
    no_fft(monkeypatch)
    np.save(tmp_path / "micro.npy", two_phase())
    capsys.readouterr()
    assert main(["build", str(tmp_path / "micro.npy"), "--clusters", "0=2,1=1", "--seed", "-1",
                 "-o", str(tmp_path / "rom.npz")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    assert err.startswith("homog build: error: seed = -1 must be an integer")


# --------------------------------------------------------------------------- valid variants
def test_whole_number_floats_arrays_and_generators_stay_accepted(rom):
    """What the checks must not refuse: integral floats, numpy scalars and 0-d arrays, 1-D
    arrays for axis pairs, generators of step counts, column tables, an unseeded build."""
    path = loading.uniaxial_stress(0.01, 2)
    ref = rom.run(path, adaptivity=None).stress
    for options in ({"max_cuts": 3.0}, {"tol": np.array(1e-6)}, {"scs_tol": np.float32(1e-4)},
                    {"max_cuts": np.int64(2)}):
        np.testing.assert_allclose(rom.run(path, adaptivity=None, **options).stress, ref,
                                   rtol=1e-5, atol=1e-9)
    rom.online_solver(krylov_from=1e9, max_newton=25.0, scs_maxiter=np.array(20))
    umat = rom.umat(max_cuts=np.float64(3), chunk=1e5)
    assert umat.max_cuts == 3 and umat.chunk == 100_000
    solve_elastic(two_phase(), STIFFNESS, [0.01, 0, 0], maxiter=100.0)
    solve_elastic(two_phase(), STIFFNESS, [0.01, 0, 0], reference_medium=np.array([100.0, 50.0]))
    loading.biaxial(0.01, 0.01, 2, axes=np.array([0, 1]))
    loading.pure_shear(0.01, 2, plane=np.array([0, 1]))
    loading.strain_path([{"11": 0.01}, {"11": 0.02}], steps=(n for n in (2, 3)))
    rve_gen.circles(0.2, radius=0.1, seed=0, max_steps=np.array(1000)).voxelize((16, 16))
    rve_gen.voronoi(np.array(5), seed=0, ndim=2).voxelize((16, 16))
    column = PiecewiseLinearHardening([[0.0], [0.1]], [[1.0], [2.0]])
    assert column.sigma_y(np.array([0.05]))[0] == pytest.approx(1.5)
    build_rom(two_phase(), reference_materials(), {0: 2, 1: 1}, adaptive=None, seed=None)


def test_build_rom_checks_the_memory_of_its_probe_before_the_elastic_solves(monkeypatch):
    """The probe is a nonlinear full-field solve, larger than the elastic ones: on a grid where
    only the elastic solves fit, build_rom refuses before running them."""
    import kernels.homogenization as homogenization
    from kernels.nonlinear import estimate_memory as nonlinear_memory

    shape = (300, 300, 300)
    elastic = homogenization.estimate_memory(shape, "cg") + 36 * 8 * 300**3
    nonlinear = nonlinear_memory(shape)
    assert nonlinear > elastic
    huge = np.broadcast_to(np.zeros(1, dtype=np.int32), shape)  # no memory used
    monkeypatch.setattr("kernels.memory.available_bytes", lambda xp: (elastic + nonlinear) // 2)
    monkeypatch.setattr("homog.sca.model.elastic_homogenization",
                        lambda *a, **k: pytest.fail("the elastic solves ran"))
    with pytest.raises(MemoryError, match="nonlinear Newton-CG solve on a 300x300x300 grid"):
        build_rom(huge, reference_materials(), {0: 2}, probe=loading.uniaxial_stress(0.01, 2))
