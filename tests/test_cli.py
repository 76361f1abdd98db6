"""The command line: each sub-command runs end to end and reports bad input clearly."""

import json

import numpy as np
import pytest
from oracles import disc_labels

from homog.cli import main
from homog.response import Response


def test_homogenize_image_json_matches_the_python_api(tmp_path, capsys):
    from kernels import elastic_homogenization
    from kernels.tensors import isotropic_stiffness

    labels = disc_labels(24, 0.3)
    np.save(tmp_path / "micro.npy", labels)
    assert main(["homogenize", str(tmp_path / "micro.npy"), "--phase", "0=100,0.3",
                 "--phase", "1=500,0.19", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ref = elastic_homogenization(labels, {0: isotropic_stiffness(100, 0.3),
                                          1: isotropic_stiffness(500, 0.19)})
    np.testing.assert_allclose(out["C_eff"], ref.C_eff, rtol=1e-10)
    assert out["constants"]["E1"] > 100


def test_homogenize_example_prints_constants(capsys):
    assert main(["homogenize", "--example", "fibres"]) == 0
    text = capsys.readouterr().out
    assert "C_eff" in text and "G12" in text


def test_homogenize_bad_input(tmp_path, capsys):
    labels = disc_labels(8, 0.3)
    np.save(tmp_path / "micro.npy", labels)
    assert main(["homogenize", str(tmp_path / "micro.npy"), "--phase", "0=100,0.3"]) == 1
    assert "have no material" in capsys.readouterr().err
    assert main(["homogenize", str(tmp_path / "micro.npy"), "--phase", "0=100"]) == 1
    assert "LABEL=E,NU" in capsys.readouterr().err
    assert main(["homogenize", str(tmp_path / "micro.npy"), "--phase", "0=100,0.5",
                 "--phase", "1=500,0.19"]) == 1
    assert "0.5" in capsys.readouterr().err


def test_build_then_run_then_dns(tmp_path, capsys):
    np.save(tmp_path / "micro.npy", disc_labels(16, 0.3))
    rom = tmp_path / "rom.npz"
    assert main(["build", str(tmp_path / "micro.npy"), "--clusters", "0=4,1=2",
                 "-o", str(rom)]) == 0
    assert main(["run", str(rom), "--strain", "0.02", "--steps", "4",
                 "-o", str(tmp_path / "rom.csv"), "--plot", str(tmp_path / "rom.png")]) == 0
    assert main(["dns", str(tmp_path / "micro.npy"), "--strain", "0.02", "--steps", "4",
                 "-o", str(tmp_path / "dns.csv")]) == 0
    r = Response.from_csv(tmp_path / "rom.csv")
    d = Response.from_csv(tmp_path / "dns.csv")
    assert r.stress.shape == d.stress.shape == (5, 6)
    assert abs(r.stress[-1, 0] / d.stress[-1, 0] - 1) < 0.2  # 6 clusters on 16²: plumbing only
    assert (tmp_path / "rom.png").stat().st_size > 0
    assert main(["build", str(tmp_path / "micro.npy"), "--clusters", "0=4",
                 "-o", str(rom)]) == 1
    assert "no cluster count" in capsys.readouterr().err


def test_build_keeps_a_hierarchy_for_the_plastic_matrix_unless_static(tmp_path, capsys):
    from homog.sca import load_rom

    np.save(tmp_path / "micro.npy", disc_labels(16, 0.3))
    for extra, name in (([], "adaptive.npz"), (["--static"], "static.npz")):
        assert main(["build", str(tmp_path / "micro.npy"), "--clusters", "0=4,1=2",
                     "-o", str(tmp_path / name), *extra]) == 0
    assert "18 fine clusters" in capsys.readouterr().out  # 4 x 4 in the matrix, 2 fibres
    assert load_rom(tmp_path / "adaptive.npz").hierarchy.n_fine == 4 * 4 + 2
    assert load_rom(tmp_path / "static.npz").hierarchy is None


def test_build_with_a_plastic_probe(tmp_path, capsys):
    from homog.loading import uniaxial_strain
    from homog.materials import reference_materials_path
    from homog.sca import build_rom, load_rom

    np.save(tmp_path / "micro.npy", disc_labels(16, 0.3))
    args = ["build", str(tmp_path / "micro.npy"), "--clusters", "0=4,1=2", "--static",
            "--probe-strain", "0.01", "--probe-steps", "2", "--probe-load", "uniaxial-strain",
            "--probe-axis", "1", "-o", str(tmp_path / "probed.npz")]
    assert main(args) == 0
    assert "plastic probe" in capsys.readouterr().out
    rom = load_rom(tmp_path / "probed.npz")
    assert rom.info["probe"]["increments"] == 2
    # the model of build_rom with the same probe path (uniaxial strain along axis 1)
    ref = build_rom(disc_labels(16, 0.3), reference_materials_path(), {0: 4, 1: 2},
                    adaptive=None, probe=uniaxial_strain(0.01, 2, 1))
    assert np.array_equal(rom.cluster_labels, ref.cluster_labels)
    for other in (None, uniaxial_strain(0.01, 2, 0)):  # the probe, and its axis, count
        plain = build_rom(disc_labels(16, 0.3), reference_materials_path(), {0: 4, 1: 2},
                          adaptive=None, probe=other)
        assert not np.array_equal(rom.cluster_labels, plain.cluster_labels)
    with pytest.raises(SystemExit):  # argparse: a cyclic probe is not a choice
        main(args[:-2] + ["--probe-load", "cyclic", "-o", str(tmp_path / "x.npz")])


def test_demo_writes_every_output(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "--size", "32", "--steps", "4",
                 "--clusters", "0=4,1=2"]) == 0
    text = capsys.readouterr().out
    assert "speed-up" in text and "final-stress error" in text
    for name in ("rve.npz", "rom.npz", "rom.csv", "dns.csv", "curves.png", "clusters.png",
                 "rve.vtu", "materials.toml"):
        assert (out / name).stat().st_size > 0, name


@pytest.mark.parametrize("argv", [["run", "missing.npz"],
                                  ["build", "missing.png", "--clusters", "0=2", "-o", "r.npz"]])
def test_missing_files_are_reported(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    assert "error" in capsys.readouterr().err
