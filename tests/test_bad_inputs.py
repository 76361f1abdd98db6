"""Bad input gets a clear, specific error (what was wrong, what to do), never a traceback, and
never after the expensive part of the work; the same file means the same labels everywhere."""

import json
import os
import re

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from oracles import disc_labels

import rve_gen
from homog.cli import main
from homog.sca.model import build_rom, load_rom
from kernels import ConvergenceError


def cli_error(capsys, *argv: str) -> str:
    """Run the CLI, expect exit code 1 and a one-line error without traceback; return it."""
    capsys.readouterr()
    assert main([str(a) for a in argv]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith(f"homog {argv[0]}: error: ")
    return err


@pytest.fixture
def micro(tmp_path):
    """A two-phase 16² label array on disk."""
    path = tmp_path / "micro.npy"
    np.save(path, disc_labels(16, 0.3))
    return path


@pytest.fixture(scope="module")
def rom_file(tmp_path_factory):
    """A small valid ROM file and its arrays, to damage."""
    path = tmp_path_factory.mktemp("rom") / "rom.npz"
    build_rom(disc_labels(12, 0.3), rve_gen_reference(), {0: 2, 1: 1}).save(path)
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return path, arrays


def rve_gen_reference():
    from homog.materials import reference_materials

    return reference_materials()


def damaged_rom(tmp_path, arrays, **changes):
    path = tmp_path / "bad_rom.npz"
    np.savez(path, **{**arrays, **changes})
    return path


def no_fft(monkeypatch):
    """Make any elastic FFT solve fail the test: checks must come first."""
    def fail(*args, **kwargs):
        raise AssertionError("the FFT solves started before the input was checked")

    monkeypatch.setattr("homog.sca.model.elastic_homogenization", fail)
    monkeypatch.setattr("homog.cli.homogenize.elastic_homogenization", fail)


# --------------------------------------------------------------------------- damaged files

def _png(tmp_path, array, name="img.png"):
    iio.imwrite(tmp_path / name, np.asarray(array, dtype=np.uint8))
    return tmp_path / name


FILES = {
    "empty png": ("e.png", b"", "not a readable PNG"),
    "text as png": ("t.png", b"hello, world\n", "not a readable PNG"),
    "empty npy": ("e.npy", b"", "not a readable NumPy .npy"),
    "garbage npz": ("g.npz", b"PK\x03\x04garbage", "not a readable NumPy .npz"),
    "empty tif": ("e.tif", b"", "not a readable TIFF"),
    "broken xdmf": ("b.xdmf", b"<Xdmf><Domain><Grid", "not a readable XDMF"),
    "broken vtu": ("b.vtu", b"<VTKFile type='UnstructuredGrid'>", "not a readable VTK"),
    "empty bmp": ("e.bmp", b"", "not a readable BMP"),
}


@pytest.mark.parametrize("case", sorted(FILES))
def test_damaged_files_name_the_file_and_format(tmp_path, case):
    name, content, message = FILES[case]
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ValueError, match=message):
        rve_gen.load(tmp_path / name)


def test_truncated_png_and_tiff(tmp_path):
    good = _png(tmp_path, disc_labels(32, 0.3) * 255)
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="not a readable PNG.*truncated"):
        rve_gen.from_image(tmp_path / "cut.png")
    tifffile.imwrite(tmp_path / "s.tif", np.zeros((4, 32, 32), np.uint8), photometric="minisblack")
    data = (tmp_path / "s.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match="not a readable TIFF"):
        rve_gen.load(tmp_path / "cut.tif")


def test_pickled_npy_is_refused_not_loaded(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="not a readable NumPy .npy.*Object arrays cannot"):
        rve_gen.load(tmp_path / "obj.npy")


def test_npz_without_labels(tmp_path):
    np.savez(tmp_path / "two.npz", a=np.zeros((2, 2), int), b=np.ones((2, 2), int))
    with pytest.raises(ValueError, match="no 'labels'"):
        rve_gen.load(tmp_path / "two.npz")


def test_directory_and_missing_file(tmp_path):
    (tmp_path / "d.npy").mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        rve_gen.load(tmp_path / "d.npy")
    with pytest.raises(FileNotFoundError, match="no such file"):
        rve_gen.from_image(tmp_path / "missing.png")


# --------------------------------------------------------------------------- label rule

@pytest.mark.parametrize(
    "array, message",
    [
        (np.array([[0.0, 0.5], [0.5, 0.0]]), "non-integer.*threshold"),
        (np.array([[0, -1], [1, 0]]), "negative"),
        (np.arange(4), "not a 2D image or a 3D stack"),
        (np.zeros((2, 2, 2, 2), int), "not a 2D image or a 3D stack"),
        (np.array([[0.0, np.inf], [1.0, 0.0]]), "NaN, infinity"),
    ],
    ids=["fractional", "negative", "1D", "4D", "infinite"],
)
def test_arrays_that_are_not_label_images(tmp_path, array, message):
    np.save(tmp_path / "a.npy", array)
    with pytest.raises(ValueError, match=message):
        rve_gen.load(tmp_path / "a.npy")


def test_unsegmented_images_are_refused_with_a_threshold_hint(tmp_path):
    ramp = np.tile(np.arange(200, dtype=np.uint8), (20, 1))
    with pytest.raises(ValueError, match="200 distinct grey levels.*--threshold"):
        rve_gen.load(_png(tmp_path, ramp))
    colours = np.random.default_rng(0).integers(0, 255, (20, 20, 3))
    with pytest.raises(ValueError, match="distinct colours"):
        rve_gen.from_image(_png(tmp_path, colours, "c.png"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"phases": {0: 0}, "threshold": 1}, "either phases or threshold"),
        ({"threshold": [128, 64]}, "strictly increasing"),
        ({"threshold": []}, "strictly increasing"),
        ({"phases": {0: 0}}, "phases=.* does not list pixel value 255.*0, 255"),
        ({"phases": {0: 0, 255: -1}}, "labels are integers"),
    ],
    ids=["both", "decreasing", "empty", "missing value", "negative label"],
)
def test_bad_segmentations(tmp_path, kwargs, message):
    path = _png(tmp_path, disc_labels(16, 0.3) * 255)
    with pytest.raises(ValueError, match=message):
        rve_gen.from_image(path, **kwargs)


def test_meshes_cannot_be_segmented_and_pictures_not_written(tmp_path):
    ms = rve_gen.Microstructure(disc_labels(8, 0.3))
    ms.save(tmp_path / "m.vtu")
    with pytest.raises(ValueError, match="is a mesh"):
        rve_gen.from_image(tmp_path / "m.vtu", threshold=0.5)
    with pytest.raises(ValueError, match="read-only"):
        ms.save(tmp_path / "m.jpg")


@pytest.mark.parametrize(
    "call",
    [
        lambda: rve_gen.spheres(0.2, 0.1, seed=0).voxelize(100_000),
        lambda: rve_gen.voronoi(4, seed=0).voxelize(100_000),
        lambda: rve_gen.circles(0.2, 0.1, seed=0).phase_fractions(10_000_000),
    ],
    ids=["spheres", "voronoi", "fractions"],
)
def test_voxelize_estimates_memory_before_allocating(call):
    with pytest.raises(MemoryError, match=r"needs about .* GiB .*coarser grid"):
        call()


# --------------------------------------------------------------------------- ROM inputs

@pytest.mark.parametrize(
    "counts, message",
    [
        ({0: 2, 1: 1, 2: 3}, r"label\(s\) \[2\], which the microstructure does not contain"),
        ({0: 2}, r"label\(s\) \[1\] of the microstructure have no cluster count"),
        ({0: 2, 1: 10_000}, "exceeds the .* voxels of phase 1"),
    ],
    ids=["absent phase", "missing phase", "too many"],
)
def test_build_rom_checks_counts_before_the_fft_solves(monkeypatch, counts, message):
    no_fft(monkeypatch)
    with pytest.raises(ValueError, match=message):
        build_rom(disc_labels(12, 0.3), rve_gen_reference(), counts)


def test_rom_loader_refuses_inconsistent_files(tmp_path, rom_file):
    path, arrays = rom_file
    assert load_rom(path).K == 3
    meta = json.loads(str(arrays["metadata"]))
    cases = {
        "not an object": ({"metadata": np.asarray(json.dumps([1, 2]))}, "not an object"),
        "labels out of range": ({"cluster_labels": arrays["cluster_labels"] + 5}, "range over"),
        "negative label": ({"cluster_labels": arrays["cluster_labels"] - 1}, "range over"),
        "NaN": ({"D1": arrays["D1"] * np.nan}, "'D1' holds NaN"),
        "inf C_eff": ({"C_eff": arrays["C_eff"] * np.inf}, "'C_eff' holds NaN or infinite"),
        "D2 shape": ({"D2": arrays["D2"][:2]}, r"D2 has shape \(2, 3, 3, 3\), expected"),
        "float labels": ({"cluster_labels": arrays["cluster_labels"] * 1.0}, "not integers"),
        "lengths": ({"lengths": -arrays["lengths"]}, "must be positive"),
        "phase without material": (
            {"metadata": np.asarray(json.dumps({**meta, "materials": {"0": meta["materials"]["0"]}}
                                               ))},
            r"phase\(s\) \[1\] have no material",
        ),
        "materials not a table": (
            {"metadata": np.asarray(json.dumps({**meta, "materials": [1]}))}, "'materials' must map"
        ),
        "version as text": (
            {"metadata": np.asarray(json.dumps({**meta, "version": "1"}))},
            "has ROM schema version '1'; this homog reads version 1$",
        ),
    }
    for name, (changes, message) in cases.items():
        with pytest.raises(ValueError, match=message) as info:
            load_rom(damaged_rom(tmp_path, arrays, **changes))
        assert "bad_rom.npz" in str(info.value), name


def test_rom_loader_refuses_other_files(tmp_path, rom_file):
    _, arrays = rom_file
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="not an .npz archive"):
        load_rom(tmp_path / "text.npz")
    partial = {k: v for k, v in arrays.items() if k != "D2"}
    np.savez(tmp_path / "partial.npz", **partial)
    with pytest.raises(ValueError, match=r"missing \['D2'\]"):
        load_rom(tmp_path / "partial.npz")


def test_material_files_that_are_not_toml(tmp_path):
    from homog.materials import from_config

    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        from_config(tmp_path / "dir.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ValueError, match=r"not a text \(UTF-8\) TOML"):
        from_config(tmp_path / "bin.toml")


def test_divergence_hint_names_the_regularization_in_use():
    from homog.failure import _softening_hint
    from homog.materials import LinearHardening, VonMisesDamage

    def damage(**kw):
        return VonMisesDamage(100.0, 0.3, LinearHardening(0.5, 1.0), onset=0.01, **kw)

    assert _softening_hint({0: damage(softening_strain=0.05)}) == "a larger softening strain"
    assert _softening_hint({0: damage(fracture_energy=0.01)}) == "a larger fracture energy"
    assert _softening_hint(rve_gen_reference()) == "a more ductile softening law"


# --------------------------------------------------------------------------- CLI

def test_cli_homogenize_phase_errors(capsys, micro, monkeypatch):
    no_fft(monkeypatch)
    err = cli_error(capsys, "homogenize", micro, "--phase", "0=100,0.3", "--phase", "1=500,0.19",
                    "--phase", "2=50,0.3")
    assert "label(s) [2], which the image does not contain; its labels are [0, 1]" in err
    err = cli_error(capsys, "homogenize", micro, "--phase", "0=100,0.3", "--phase", "0=90,0.3",
                    "--phase", "1=500,0.19")
    assert "given twice" in err
    err = cli_error(capsys, "homogenize", micro, "--phase", "0=-100,0.3", "--phase", "1=5,0.2")
    assert "--phase 0=-100,0.3: Young's modulus" in err
    err = cli_error(capsys, "homogenize", micro, "--phase", "0=100,0.3", "--phase", "1=0,0.2")
    assert "a void is --phase 1=void" in err
    err = cli_error(capsys, "homogenize", micro, "--phase", "0=1e155,0.3", "--phase", "1=5,0.2")
    assert "express the moduli in other units" in err
    assert "not both" in cli_error(capsys, "homogenize", micro, "--example", "fibres")
    assert "give an IMAGE" in cli_error(capsys, "homogenize", "--phase", "0=1,0.3")
    assert "IMAGE file only" in cli_error(capsys, "homogenize", "--example", "fibres",
                                          "--threshold", "128")
    assert "is a file" in cli_error(capsys, "demo", "-o", micro)
    err = cli_error(capsys, "homogenize", micro, "--phases", "255:1", "--phase", "0=1,0.3")
    assert "expected VALUE=LABEL" in err


def test_cli_png_grey_levels_are_labels_everywhere(tmp_path, capsys, monkeypatch):
    labels = disc_labels(16, 0.3)
    path = _png(tmp_path, labels * 255, "micro.png")
    err = cli_error(capsys, "homogenize", path, "--phase", "0=100,0.3", "--phase", "1=500,0.19")
    assert "its labels are [0, 255]" in err and "--threshold" in err
    assert main(["rve", "info", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [p["label"] for p in summary["phases"]] == [0, 255]  # not 256 phases
    assert main(["rve", "info", str(path), "--threshold", "128", "--json"]) == 0
    segmented = json.loads(capsys.readouterr().out)["phases"]
    assert [(p["label"], p["volume_fraction"]) for p in segmented] == [
        (0, 1 - labels.mean()), (1, labels.mean())]
    assert main(["homogenize", str(path), "--phase", "0=100,0.3", "--phase", "255=500,0.19",
                 "--json"]) == 0
    by_grey = json.loads(capsys.readouterr().out)
    assert by_grey["volume_fractions"] == {"0": 1 - labels.mean(), "255": labels.mean()}
    assert main(["homogenize", str(path), "--threshold", "128", "--phase", "0=100,0.3",
                 "--phase", "1=500,0.19", "--json"]) == 0
    by_threshold = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(by_threshold["C_eff"], by_grey["C_eff"], rtol=1e-12)


def test_cli_labels_are_kept_by_every_command(tmp_path, capsys):
    """Labels {1, 2}: homogenize (like build, dns and info) keeps them; the material of label 2
    is the stiff one, so E1 is the stiff-inclusion value, not a renumbered one."""
    shifted = disc_labels(16, 0.3) + 1
    np.save(tmp_path / "s.npy", shifted)
    np.save(tmp_path / "z.npy", shifted - 1)
    results = []
    for name, soft, stiff in (("s.npy", 1, 2), ("z.npy", 0, 1)):
        assert main(["homogenize", str(tmp_path / name), "--phase", f"{soft}=100,0.3",
                     "--phase", f"{stiff}=500,0.19", "--json"]) == 0
        results.append(json.loads(capsys.readouterr().out))
    np.testing.assert_allclose(results[0]["C_eff"], results[1]["C_eff"], rtol=1e-12)
    assert main(["rve", "info", str(tmp_path / "s.npy"), "--json"]) == 0
    assert [p["label"] for p in json.loads(capsys.readouterr().out)["phases"]] == [1, 2]


def test_cli_3d_homogenize_works(tmp_path, capsys):
    rve_gen.spheres(0.2, 0.2, seed=0).voxelize(12).save(tmp_path / "s.npz")
    assert main(["homogenize", str(tmp_path / "s.npz"), "--phase", "0=100,0.3",
                 "--phase", "1=500,0.19", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    C = np.asarray(out["C_eff"])
    np.testing.assert_array_equal(C, C.T)
    assert 100 < out["constants"]["E1"] < 500


def test_cli_build_checks_before_the_fft(tmp_path, capsys, micro, monkeypatch):
    no_fft(monkeypatch)
    rom = tmp_path / "rom.npz"
    err = cli_error(capsys, "build", micro, "--clusters", "0=4,1=2,3=2", "-o", rom)
    assert "label(s) [3], which the microstructure does not contain" in err
    assert "expected LABEL=COUNT" in cli_error(capsys, "build", micro, "--clusters", "0:4",
                                               "-o", rom)
    err = cli_error(capsys, "build", micro, "--clusters", "0=4,1=2,0=3", "-o", rom)
    assert "--clusters '0=4,1=2,0=3': label 0 is given twice" in err
    (tmp_path / "out").mkdir()
    err = cli_error(capsys, "build", micro, "--clusters", "0=4,1=2", "-o", tmp_path / "out")
    assert "is a directory" in err
    (tmp_path / "file").write_text("x")
    err = cli_error(capsys, "build", micro, "--clusters", "0=4,1=2", "-o",
                    tmp_path / "file" / "rom.npz")
    assert "which is a file, not a folder" in err
    (tmp_path / "m.toml").write_text("<materials><phase/></materials>")
    err = cli_error(capsys, "build", micro, "--materials", tmp_path / "m.toml",
                    "--clusters", "0=4,1=2", "-o", rom)
    assert "is not valid TOML" in err
    (tmp_path / "one.toml").write_text('[phases.0]\nmodel = "linear_elastic"\nE = 1.0\nnu = 0.3')
    err = cli_error(capsys, "build", micro, "--materials", tmp_path / "one.toml",
                    "--clusters", "0=4,1=2", "-o", rom)
    assert "occur in the microstructure but have no material" in err


def test_cli_build_refuses_materials_of_phases_the_image_lacks(tmp_path, capsys, micro,
                                                                monkeypatch):
    """An extra [phases.N] table was accepted silently (the wrong file, or a lost phase)."""
    no_fft(monkeypatch)
    monkeypatch.setattr("homog.cli.dns.dns", lambda *a, **k: pytest.fail("the DNS ran"))
    tables = "".join(f'[phases.{k}]\nmodel = "linear_elastic"\nE = 1.0\nnu = 0.3\n'
                     for k in (0, 1, 2))
    (tmp_path / "three.toml").write_text(tables)
    for command in (["build", micro, "--clusters", "0=4,1=2", "-o", tmp_path / "rom.npz"],
                    ["dns", micro]):
        err = cli_error(capsys, *command, "--materials", tmp_path / "three.toml")
        assert "has [phases.2] but the microstructure" in err
        assert "has no phase 2; its labels are [0, 1]" in err


@pytest.mark.parametrize("options, message", [
    (["--probe-strain", "0"], "--probe-strain 0 loads nothing"),
    (["--probe-strain", "2"], "--probe-strain = 2 is a strain of 200 %"),
    (["--probe-strain", "0.01", "--probe-load", "shear", "--probe-axis", "1"],
     "--probe-axis is for the uniaxial and cyclic loads: --probe-load shear is ε12"),
])
def test_cli_build_names_the_probe_options(tmp_path, capsys, micro, monkeypatch, options,
                                           message):
    """The probe's load goes through the run's loading checks, which name its options."""
    no_fft(monkeypatch)
    err = cli_error(capsys, "build", micro, "--clusters", "0=4,1=2", *options,
                    "-o", tmp_path / "rom.npz")
    assert message in err


@pytest.mark.parametrize("option", [["--probe-steps", "3"], ["--probe-axis", "1"],
                                    ["--probe-load", "shear"]])
def test_cli_build_refuses_probe_options_without_a_probe(tmp_path, capsys, micro, monkeypatch,
                                                         option):
    no_fft(monkeypatch)
    err = cli_error(capsys, "build", micro, "--clusters", "0=4,1=2", *option,
                    "-o", tmp_path / "rom.npz")
    assert f"{option[0]} is an option of the plastic probe, which --probe-strain turns on" in err


@pytest.mark.parametrize("names", [["matrix", "fibre", "extra"], ["matrix"]])
def test_cli_rve_takes_one_phase_name_per_phase(tmp_path, capsys, names):
    """Extra --phase-names made a phantom phase of volume fraction 0."""
    err = cli_error(capsys, "rve", "circles", "--volume-fraction", "0.2", "--radius", "0.1",
                    "--shape", "16", "-o", tmp_path / "c.npz", "--phase-names", *names)
    assert f"--phase-names {' '.join(names)} has {len(names)} name(s) for 2 phases" in err
    assert not (tmp_path / "c.npz").exists()


@pytest.mark.parametrize("options, message", [
    (["--volume-fraction", "0.9", "--radius", "0.1"],
     "--volume-fraction 0.9 (total 0.900) is above what overlap elimination reaches reliably "
     "(0.82); lower the volume fraction (or use polydisperse sizes and a smaller --min-gap ...)"),
    (["--volume-fraction", "0.3", "--radius", "-0.1"], "--radius -0.1 must be positive (> 0)"),
    (["--volume-fraction", "0.3", "--radius", "0.1", "--radius-std", "0.02"],
     "--radius-std 0.02 asks for a spread of sizes, but --distribution 'fixed' gives every "
     "particle the same size: pass --distribution 'normal'"),
    (["--volume-fraction", "0.3", "--radius", "0.1", "--lengths", "1", "-1"],
     "--lengths 1 -1 is not valid: give 2 positive finite RVE side lengths (or one number for "
     "a cube), e.g. --lengths 1.0."),
])
def test_cli_rve_errors_name_options_as_typed(tmp_path, capsys, options, message):
    """rve_gen's ParameterError names its keyword (volume_fraction=[0.9],
    radius=array([-0.1])): the command line names the option and the value as typed."""
    err = cli_error(capsys, "rve", "circles", *options, "--shape", "16", "-o", tmp_path / "c.npz")
    assert message in err
    assert "=" not in err.split(": error: ", 1)[1].split(" e.g.")[0]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_cli_build_refuses_an_output_folder_where_no_file_can_be_made(tmp_path, capsys, micro,
                                                                      monkeypatch):
    """/proc allows root everything by its permissions but no new file: the build ran to the
    end before the save failed."""
    no_fft(monkeypatch)
    err = cli_error(capsys, "build", micro, "--clusters", "0=4,1=2", "-o", "/proc/rom.npz")
    assert "-o/--output '/proc/rom.npz': cannot write in '/proc'" in err


def test_cli_damaged_inputs(tmp_path, capsys):
    (tmp_path / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    err = cli_error(capsys, "homogenize", tmp_path / "cut.png", "--phase", "0=1,0.3")
    assert "not a readable PNG" in err
    (tmp_path / "b.xdmf").write_text("<Xdmf><Domain>")
    assert "not a readable XDMF" in cli_error(capsys, "rve", "info", tmp_path / "b.xdmf")
    (tmp_path / "d.npz").mkdir()
    assert "is a directory" in cli_error(capsys, "rve", "info", tmp_path / "d.npz")
    (tmp_path / "x.npz").write_text("text")
    assert "not an .npz archive" in cli_error(capsys, "run", tmp_path / "x.npz")
    ms = rve_gen.Microstructure(disc_labels(8, 0.3))
    ms.save(tmp_path / "m.vtu")
    err = cli_error(capsys, "dns", tmp_path / "m.vtu", "--threshold", "1", "--steps", "2")
    assert "is a mesh" in err


def test_cli_outputs_checked_before_the_work(tmp_path, capsys, micro, rom_file, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("computed before checking the output path")

    monkeypatch.setattr("homog.cli.dns.dns", never)
    monkeypatch.setattr("homog.sca.model.ReducedOrderModel.run", never)
    (tmp_path / "out").mkdir()
    (tmp_path / "file").write_text("x")
    assert "is a directory" in cli_error(capsys, "dns", micro, "-o", tmp_path / "out")
    assert "--plot" in cli_error(capsys, "run", rom_file[0], "--plot", tmp_path / "file" / "p.png")
    assert "is a directory" in cli_error(capsys, "run", rom_file[0], "-o", tmp_path / "out")
    assert "cannot tell the plot format" in cli_error(capsys, "run", rom_file[0], "--plot",
                                                      tmp_path / "p.xyz")
    assert "is a directory" in cli_error(capsys, "rve", "circles", "--volume-fraction", "0.2",
                                         "--radius", "0.1", "-o", tmp_path / "out")
    assert "read-only" in cli_error(capsys, "rve", "circles", "--volume-fraction", "0.2",
                                    "--radius", "0.1", "-o", tmp_path / "rve.jpg")
    monkeypatch.setattr("rve_gen.spheres", never)
    monkeypatch.setattr("rve_gen.circles", never)
    assert "PNG holds 2D images" in cli_error(capsys, "rve", "spheres", "--volume-fraction",
                                              "0.2", "--radius", "0.1", "-o", tmp_path / "s.png")
    err = cli_error(capsys, "rve", "circles", "--volume-fraction", "0.2", "--radius", "0.1",
                    "-o", tmp_path / "c.npz", "--preview", tmp_path / "p.npz")
    assert "--preview" in err and "ending in .png" in err
    no_fft(monkeypatch)
    assert "ending in .npz" in cli_error(capsys, "build", micro, "--clusters", "0=2,1=1",
                                         "-o", tmp_path / "rom.txt")


@pytest.mark.parametrize("command, hint", [("run", "--steps"), ("dns", "--krylov gmres"),
                                           ("homogenize", "--solver cg")])
def test_cli_convergence_errors_are_reported_not_raised(tmp_path, capsys, micro, rom_file,
                                                        monkeypatch, command, hint):
    def diverge(*args, **kwargs):
        raise ConvergenceError("increment 3 did not converge after 6 cuts", 41, 2.5e-3)

    monkeypatch.setattr("homog.cli.dns.dns", diverge)
    monkeypatch.setattr("homog.sca.model.ReducedOrderModel.run", diverge)
    monkeypatch.setattr("homog.cli.homogenize.elastic_homogenization", diverge)
    args = {"run": [rom_file[0], "--steps", "4"], "dns": [micro, "--steps", "4"],
            "homogenize": [micro, "--phase", "0=1,0.3", "--phase", "1=2,0.3"]}[command]
    err = cli_error(capsys, command, *args)
    assert re.search(r"did not converge .*increment 3.*41 iterations, residual 2\.500e-03", err)
    assert hint in err


# ------------------------------------------------------------- files, histories, material states
def _history(**changes):
    from homog.response import Response

    strain, stress = np.zeros((4, 6)), np.zeros((4, 6))
    strain[:, 0], stress[:, 0] = [0.0, 0.01, 0.02, 0.03], [0.0, 1.0, 1.5, 0.2]
    for name, (row, value) in changes.items():
        {"strain": strain, "stress": stress}[name][row, 0] = value
    return Response(strain, stress, np.ones(3, dtype=int))


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_response_refuses_non_finite_states(value):
    with pytest.raises(ValueError, match=r"stress holds NaN or inf at rows \[2\]"):
        _history(stress=(2, value))


def test_failure_metrics_take_the_stiffness_of_the_first_strained_state():
    from homog.failure import failure_metrics

    held = _history(strain=(1, 0.0))  # a first increment that does not strain the measure
    assert failure_metrics(held).initial_stiffness == pytest.approx(1.5 / 0.02)
    flat = _history(strain=(1, 0.0))
    flat.strain[:, 0] = 0.0
    with pytest.raises(ValueError, match="strain measure never leaves zero"):
        failure_metrics(flat, measure=0)


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF"),
                                           (".svg", b"<?xml")])
def test_plots_are_written_in_the_format_of_their_extension(tmp_path, suffix, magic):
    path = tmp_path / f"curve{suffix}"
    _history().plot(path)
    assert path.read_bytes().startswith(magic)


@pytest.mark.parametrize("name, error, message", [
    ("curve.xyz", ValueError, "cannot tell the plot format"),
    ("curve", ValueError, "cannot tell the plot format"),
    (".", ValueError, "names a folder, not a file"),
    ("missing/curve.png", FileNotFoundError, "folder .*missing does not exist"),
])
def test_bad_plot_paths_are_refused_before_plotting(tmp_path, name, error, message):
    with pytest.raises(error, match=message):
        _history().plot(tmp_path / name if name != "." else tmp_path)
    with pytest.raises(ValueError, match="other must be a homog.response.Response"):
        _history().plot(tmp_path / "c.png", other=5)


def test_bad_csv_paths_name_the_csv(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cannot write .*missing/out\.csv:"):
        _history().to_csv(tmp_path / "missing" / "out.csv")
    with pytest.raises(ValueError, match="must be a file name"):
        _history().to_csv(5)
    with pytest.raises(ValueError, match="names a folder"):
        _history().to_csv(tmp_path)


def test_a_truncated_response_csv_is_named(tmp_path):
    from homog.response import Response

    path = tmp_path / "r.csv"
    _history().to_csv(path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1] + [lines[-1][:-6]]) + "\n")
    with pytest.raises(ValueError, match=r"r\.csv is damaged \(truncated or edited\)"):
        Response.from_csv(path)


def test_rom_files_name_the_npz_that_save_wrote(tmp_path, rom_file):
    _, arrays = rom_file
    rom = load_rom(rom_file[0])
    written = rom.save(tmp_path / "model.txt")
    assert written == tmp_path / "model.txt.npz" and written.is_file()
    with pytest.raises(FileNotFoundError, match=r"model\.txt\.npz exists"):
        load_rom(tmp_path / "model.txt")
    with pytest.raises(ValueError, match="names a folder"):
        rom.save(tmp_path)
    pickled = damaged_rom(tmp_path, arrays, C_eff=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"bad_rom\.npz is not a readable homog ROM file"):
        load_rom(pickled)


def test_material_states_with_nan_or_negative_eqps_are_refused():
    from homog.materials import LinearHardening, VonMises, VonMisesDamage
    from homog.materials.von_mises import ReturnMappingError

    law = VonMises(100, 0.3, LinearHardening(0.5, 1.0))
    for value in (np.nan, -1e-3):
        state = law.initial_state(2)
        state["eqps"][:] = value
        with pytest.raises(ValueError, match="NaN, inf or negative eqps"):
            law.update(np.full((2, 6), 0.01), state)
    state = law.initial_state(2)
    state["plastic_strain"][0] = np.nan
    with pytest.raises(ReturnMappingError, match="trial stress is not finite"):
        law.update(np.full((2, 6), 0.01), state)
    damage = VonMisesDamage(100, 0.3, LinearHardening(0.5, 0.5), onset=0.01,
                            softening_strain=0.02, nonlocal_length=0.08)
    state = damage.initial_state(2)
    state["nonlocal_eqps"][:] = np.nan
    with pytest.raises(ValueError, match="NaN or inf in nonlocal_eqps"):
        damage.update(np.full((2, 6), 0.01), state)


def test_generators_refuse_ignored_or_runaway_options():
    with pytest.raises(ValueError, match="radius_std=0.03 asks for a spread of sizes"):
        rve_gen.circles(0.3, 0.1, radius_std=0.03, seed=0)
    assert rve_gen.circles(0.3, 0.1, radius_std=0.03, distribution="normal",
                           seed=0).radii.std() > 0
    with pytest.raises(ValueError, match="at most 100000"):
        rve_gen.voronoi(10**7, seed=0)
    with pytest.raises(ValueError, match="supersample=1000 must be an integer from 1 to 32"):
        rve_gen.circles(0.3, 0.1, seed=0).phase_fractions(16, supersample=1000)


def test_bad_lengths_and_poisson_ratios_are_named(recwarn):
    from homog.dns import dns
    from homog.loading import uniaxial_stress
    from homog.materials import LinearElastic

    with pytest.raises(ValueError, match="RVE lengths must be finite and > 0"):
        dns(disc_labels(8, 0.3), rve_gen_reference(), uniaxial_stress(0.01, 1), lengths=(-1, 1))
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    with pytest.raises(ValueError, match="-1 and below make the shear or bulk modulus"):
        LinearElastic(100, -1.5)
    with pytest.raises(ValueError, match="0.5 is incompressible"):
        LinearElastic(100, 0.5)


def test_negative_cluster_ids_are_named():
    with pytest.raises(ValueError, match=r"got a negative id \(-1\)"):
        build_rom(disc_labels(12, 0.3), rve_gen_reference(), {0: 2, 1: 1},
                  cluster_labels=-np.ones((12, 12), dtype=int), adaptive=None)


def test_cli_outputs_go_into_new_folders(tmp_path, rom_file):
    """check_output accepts missing folders; the writers then make them (after the run)."""
    out, plot = tmp_path / "new" / "curve.csv", tmp_path / "plots" / "curve.pdf"
    assert main(["run", str(rom_file[0]), "--load", "uniaxial", "--strain", "0.005", "--steps",
                 "2", "-o", str(out), "--plot", str(plot)]) == 0
    assert out.is_file() and plot.read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("solver", ["dns", "rom"])
def test_a_stop_callable_must_answer_true_or_false(solver):
    from homog.dns import dns
    from homog.loading import uniaxial_stress

    labels, path = disc_labels(8, 0.3), uniaxial_stress(0.004, 3)
    run = (lambda **kw: dns(labels, rve_gen_reference(), path, **kw)) if solver == "dns" else (
        lambda **kw: build_rom(labels, rve_gen_reference(), {0: 2, 1: 1}).run(path, **kw))
    with pytest.raises(ValueError, match="must return True or False, got 'no'"):
        run(stop=lambda strain, stress: "no")
    assert run(stop=lambda strain, stress: np.bool_(strain.shape[0] > 2)).nsteps == 2


@pytest.mark.parametrize("options, message", [
    (["--size", "4"], "--size 4: give at least 16"),
    (["--steps", "0"], "--steps 0: give at least 1"),
    (["--seed", "-1"], "--seed -1: give an integer >= 0"),
    (["--clusters", "0=abc"], "--clusters '0=abc': expected LABEL=COUNT"),
    (["--clusters", "0=4"], "give the counts of the matrix (0) and the fibres (1)"),
    (["--strain", "0"], "--strain 0.0: give the final ε11, finite and non-zero"),
])
def test_demo_checks_its_options_before_writing_anything(tmp_path, capsys, options, message):
    out = tmp_path / "demo"
    assert message in cli_error(capsys, "demo", "-o", out, "--no-dns", *options)
    assert not out.exists()


@pytest.mark.parametrize("options, message", [
    (["--strain", "0"], "--strain 0 loads nothing"),
    (["--cycles", "3"], "--cycles 3 is for --load cyclic"),
    (["--load", "shear", "--axis", "1"], "--axis is for the uniaxial and cyclic loads"),
    (["--drop", "0.3"], "--drop 0.3 sets the failure point of --to-failure"),
])
def test_run_refuses_options_that_would_do_nothing(capsys, rom_file, options, message):
    assert message in cli_error(capsys, "run", rom_file[0], *options)


def test_cli_homogenize_takes_voids_and_any_length_unit(tmp_path, capsys):
    """LABEL=void is a zero stiffness (the CLI had no way to give one); lengths of 1e200 gave
    the Voigt bound after 0 iterations (the frequencies' squares underflowed)."""
    import json as _json

    path = tmp_path / "micro.npy"
    np.save(path, disc_labels(16, 0.3))
    results = []
    for extra in ([], ["--lengths", "1e200", "1e200"], ["--lengths", "1e-200", "1e-200"]):
        capsys.readouterr()
        assert main(["homogenize", str(path), "--phase", "0=100,0.3", "--phase", "1=void",
                     "--json", *extra]) == 0
        results.append(_json.loads(capsys.readouterr().out))
    assert all(r["iterations"][0] > 0 for r in results)
    np.testing.assert_allclose(results[1]["C_eff"], results[0]["C_eff"], rtol=1e-10)
    np.testing.assert_allclose(results[2]["C_eff"], results[0]["C_eff"], rtol=1e-10)
    assert results[0]["C_eff"][0][0] < 100  # softer than the matrix alone


@pytest.mark.parametrize("command", ["run", "dns", "demo"])
def test_cli_refuses_strains_beyond_small_strain(tmp_path, capsys, micro, rom_file, command):
    """--strain 1e6 was run silently by models that are small-strain."""
    first = {"run": [rom_file[0]], "dns": [micro], "demo": ["-o", tmp_path / "demo", "--no-dns"]}
    err = cli_error(capsys, command, *first[command], "--strain", "1e6")
    assert "--strain = 1e+06 is a strain of 1e+08 %, but the models are small-strain" in err


@pytest.mark.parametrize("tol", ["0.99", "1", "0.5"])
def test_cli_dns_refuses_a_tolerance_that_accepts_anything(capsys, micro, monkeypatch, tol):
    monkeypatch.setattr("homog.cli.dns.dns", lambda *a, **k: pytest.fail("the DNS ran"))
    err = cli_error(capsys, "dns", micro, "--tol", tol)
    assert f"--tol = {float(tol)!r} must be a number in (0, 0.1]" in err
    assert "a looser one is no solution" in err


def test_cli_homogenize_refuses_a_tolerance_below_round_off(capsys, micro):
    err = cli_error(capsys, "homogenize", micro, "--phase", "0=100,0.3", "--phase", "1=5,0.2",
                    "--tol", "1e-17")
    assert "--tol = 1e-17 must be a number in [1e-14, 0.1]" in err


def test_cli_phases_refuse_a_value_given_twice_and_name_the_threshold_option(tmp_path, capsys):
    path = _png(tmp_path, disc_labels(16, 0.3) * 255)
    err = cli_error(capsys, "rve", "info", path, "--phases", "255=1", "--phases", "255=0",
                    "--phases", "0=0")
    assert "--phases '255=0': value 255 is given twice" in err
    err = cli_error(capsys, "rve", "info", path, "--phases", "255=1")
    assert "--phases 255=1 does not list pixel value 0;" in err and err.rstrip().endswith(
        "(or use --threshold ...).")
    assert "threshold=" not in err


@pytest.fixture
def store(tmp_path):
    """A small labelled database store (synthetic outputs, no simulation)."""
    from database_cases import tiny_config

    from homog.database import load_config, run_database
    from homog.database.config import tomllib

    def synthetic(spec):
        vf, E = spec["inputs"].values()
        return {"outputs": {"toughness": vf * E}, "arrays": {"stress": np.full((3, 6), E)}}

    path = tmp_path / "db.zarr"
    run_database(load_config(tomllib.loads(tiny_config(1))), path, labeller=synthetic)
    return path


def test_cli_summary_checks_its_output_before_printing(tmp_path, capsys, store):
    (tmp_path / "folder").mkdir()
    for output, message in ((tmp_path / "out.txt", "is written as .csv or .parquet"),
                            (tmp_path / "folder", "is a directory")):
        assert message in cli_error(capsys, "database", "summary", store, "-o", output)
        assert capsys.readouterr().out == ""  # the error came before the table
    assert not (tmp_path / "out.txt").exists()
    out = tmp_path / "new" / "table.csv"
    assert main(["database", "summary", str(store), "-o", str(out)]) == 0
    assert f"table written to {out}" in capsys.readouterr().out and out.is_file()


def test_cli_train_names_the_origins_of_the_store(capsys, store):
    err = cli_error(capsys, "database", "train", store, "--origin", "nosuch")
    assert "no complete sample with a finite 'toughness' has origin 'nosuch'; those samples " \
           "have origin 'doe'" in err


def test_cli_train_refuses_any_unknown_origin(capsys, store):
    """An unknown origin beside a known one was ignored silently."""
    err = cli_error(capsys, "database", "train", store, "--origin", "doe", "--origin", "nosuch")
    assert "no complete sample with a finite 'toughness' has origin 'nosuch'; those samples " \
           "have origin 'doe'" in err


def test_database_counts_of_one_are_singular(tmp_path, capsys):
    from database_cases import TINY_CONFIG

    from homog.database import load_config, run_database
    from homog.database.config import tomllib
    from homog.database.learn import cross_validate

    def synthetic(spec):
        return {"outputs": {"toughness": 1.0}, "arrays": {}}

    config = TINY_CONFIG.replace("samples = 6", "samples = 1").format(seed=1, loading=(
        "max_strain = 0.01\nsteps = 2"))
    run_database(load_config(tomllib.loads(config)), tmp_path / "one.zarr", labeller=synthetic)
    capsys.readouterr()
    assert main(["database", "summary", str(tmp_path / "one.zarr")]) == 0
    assert f"{tmp_path / 'one.zarr'}: 1 sample (1 complete)" in capsys.readouterr().out
    with pytest.raises(ValueError, match="2-fold cross-validation of 3 samples"):
        cross_validate(np.zeros((3, 1)), np.arange(3.0), folds=2)  # the plural stays


def test_cli_counts_of_one_are_singular(tmp_path, capsys, rom_file):
    assert main(["run", str(rom_file[0]), "--strain", "0.005", "--steps", "1"]) == 0
    assert ", 1 increment, " in capsys.readouterr().out
    labels = np.zeros((16, 16), dtype=int)
    labels[4:8, 4:8] = 1
    np.save(tmp_path / "one.npy", labels)
    assert main(["rve", "info", str(tmp_path / "one.npy")]) == 0
    out = capsys.readouterr().out
    assert "volume fraction 0.0625, 1 particle (periodic connected regions" in out
