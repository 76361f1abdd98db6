"""The command line's conveniences: version, defaults in --help, progress in logs, DNS fields
and Krylov choice, segmentation options, file permissions of written RVEs."""

import io
import json
import os
import re

import meshio
import numpy as np
import pytest
from oracles import disc_labels

import rve_gen
from homog.cli import main
from homog.cli._options import Progress
from homog.response import Response
from homog.sca.adaptive import Adaptivity


def test_version_and_defaults_in_help(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"homog {version('homog')}"
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 0.05)" in text and "(default: 200)" in text
    assert "(default: None)" not in text  # nothing shown where there is no default
    with pytest.raises(SystemExit):
        main(["rve", "voronoi", "--help"])
    assert "(default: 0)" in " ".join(capsys.readouterr().out.split())  # --seed


def test_progress_logs_whole_lines_at_a_bounded_rate_off_a_terminal():
    clock = [0.0]
    stream = io.StringIO()
    progress = Progress("DNS", stream, clock=lambda: clock[0])
    assert not progress.interactive
    for done in range(1, 1001):
        clock[0] = 0.05 * done  # 50 s in all
        progress(done, 1000)
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert 5 <= len(lines) <= 12  # one per tenth, not a thousand
    assert lines[0].startswith("DNS: 0% 1/1000") and lines[-1].startswith("DNS: 100% 1000/1000")
    slow = io.StringIO()
    progress = Progress("ROM", slow, clock=lambda: clock[0])
    for done in range(1, 5):
        clock[0] += 40.0  # under a tenth per update would be silent: the time bound logs it
        progress(done, 100)
    assert len(slow.getvalue().splitlines()) == 4


def test_progress_draws_a_bar_on_a_terminal():
    stream = io.StringIO()
    progress = Progress("ROM", stream, interactive=True)
    progress(1, 2)
    progress(2, 2)
    assert stream.getvalue().count("\r") == 2 and stream.getvalue().endswith("\n")


def test_dns_writes_fields_and_takes_the_krylov_solver(tmp_path, capsys):
    np.save(tmp_path / "m.npy", disc_labels(12, 0.3))
    assert main(["dns", str(tmp_path / "m.npy"), "--strain", "0.01", "--steps", "2",
                 "--krylov", "gmres", "--fields", str(tmp_path / "f.vtu"),
                 "-o", str(tmp_path / "d.csv")]) == 0
    mesh = meshio.read(tmp_path / "f.vtu")
    assert {"phase", "eqps", "strain_11", "stress_sqrt2_12"} <= set(mesh.cell_data)
    strain = mesh.cell_data["strain_11"][0]
    assert strain.shape == (144,) and strain.mean() == pytest.approx(0.01, rel=1e-6)
    from homog.response import Response

    assert Response.from_csv(tmp_path / "d.csv").info["krylov"] == "gmres"
    capsys.readouterr()
    assert main(["dns", str(tmp_path / "m.npy"), "--fields", str(tmp_path / "f.png")]) == 1
    assert "give a name ending in .vtu" in capsys.readouterr().err


def test_segmentation_options_of_the_cli(tmp_path, capsys):
    import imageio.v3 as iio

    labels = disc_labels(16, 0.3)
    iio.imwrite(tmp_path / "g.png", (255 * labels).astype(np.uint8))
    assert main(["homogenize", str(tmp_path / "g.png"), "--phases", "0=0", "--phases", "255=1",
                 "--phase", "0=100,0.3", "--phase", "1=500,0.19", "--json"]) == 0
    fractions = json.loads(capsys.readouterr().out)["volume_fractions"]
    assert fractions == {"0": 1 - labels.mean(), "1": labels.mean()}
    assert main(["build", str(tmp_path / "g.png"), "--threshold", "128", "--clusters",
                 "0=2,1=1", "-o", str(tmp_path / "rom.npz")]) == 0
    from homog.sca.model import load_rom

    rom = load_rom(tmp_path / "rom.npz")
    assert sorted(set(rom.cluster_phases.tolist())) == [0, 1]


def test_written_rves_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        rve_gen.Microstructure(disc_labels(8, 0.3)).save(tmp_path / "r.npz")
    finally:
        os.umask(old)
    assert (tmp_path / "r.npz").stat().st_mode & 0o777 == 0o640


def test_run_to_failure_prints_the_failure_metrics(tmp_path, capsys):
    import rve_gen
    from homog.materials import LinearElastic, LinearHardening, VonMisesDamage
    from homog.sca import build_rom

    ms = rve_gen.circles(volume_fraction=0.3, radius=0.12, seed=3).voxelize((24, 24))
    matrix = VonMisesDamage(100.0, 0.3, LinearHardening(0.5, 0.5), onset=0.01,
                            softening_strain=0.02, nonlocal_length=0.1)
    build_rom(ms, {0: matrix, 1: LinearElastic(500.0, 0.19)}, {0: 4, 1: 2},
              adaptive=None).save(tmp_path / "rom.npz")
    assert main(["run", str(tmp_path / "rom.npz"), "--strain", "0.04", "--steps", "80",
                 "--to-failure"]) == 0
    out = capsys.readouterr().out
    assert "failed at strain" in out and "toughness" in out and "peak stress" in out
    assert main(["run", str(tmp_path / "rom.npz"), "--strain", "0.004", "--steps", "4",
                 "--to-failure"]) == 0
    assert "did not fail by the end of the path" in capsys.readouterr().out
    assert main(["run", str(tmp_path / "rom.npz"), "--to-failure", "--drop", "1.5"]) == 1
    assert "drop = 1.5 must be a number in (0, 1)" in capsys.readouterr().err


def test_run_rewinds_an_adaptive_model_and_says_so(tmp_path, capsys):
    """``homog run --rewind N`` runs the path again on the refined clusters (the same curve as
    ``Adaptivity(rewind=N)`` in Python); a static model, which never splits, is refused."""
    from homog.loading import cyclic
    from homog.sca import load_rom

    np.save(tmp_path / "micro.npy", disc_labels(16, 0.3))
    for extra, name in (([], "adaptive.npz"), (["--static"], "static.npz")):
        assert main(["build", str(tmp_path / "micro.npy"), "--clusters", "0=4,1=2",
                     "-o", str(tmp_path / name), *extra]) == 0
    capsys.readouterr()
    assert main(["run", str(tmp_path / "adaptive.npz"), "--load", "cyclic", "--strain", "0.02",
                 "--steps", "10", "--rewind", "1", "-o", str(tmp_path / "r.csv")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"for 6 clusters, refined to 18, started again at increment \d+", out), out
    rewound = load_rom(tmp_path / "adaptive.npz").run(cyclic(0.02, steps=10),
                                                      adaptivity=Adaptivity(rewind=1))
    np.testing.assert_allclose(Response.from_csv(tmp_path / "r.csv").stress, rewound.stress,
                               rtol=1e-9, atol=1e-12)
    assert main(["run", str(tmp_path / "static.npz"), "--rewind", "1"]) == 1
    assert "has static clusters" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "adaptive.npz"), "--rewind", "-1"]) == 1
    assert "--rewind -1" in capsys.readouterr().err


def test_cli_prints_warnings_as_its_own_lines(tmp_path, capsys):
    """A warning reaches the command-line user as 'homog COMMAND: warning: ...', without the
    library's file and source line."""
    assert main(["rve", "circles", "--volume-fraction", "0.3", "--radius", "0.02", "--shape",
                 "32", "-o", str(tmp_path / "c.npz")]) == 0
    err = capsys.readouterr().err
    assert err.startswith("homog rve: warning: ") and "less than 2 voxels across" in err
    assert ".py:" not in err and "UserWarning" not in err
