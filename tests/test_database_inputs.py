"""Bad database inputs get a clear, specific error before any work, from the API and the CLI;
a run whose samples failed says so and exits non-zero; a Sobol design grows.

Each entry of the tables below is one distinct bad input (database part of issue 15).
"""

import re

import numpy as np
import pandas as pd
import pytest
from database_cases import tiny_config

from homog.cli import main
from homog.database import SampleStore, dask_client, load_config, run_database, summary_table
from homog.database.config import tomllib
from homog.database.design import sobol_points
from homog.database.explore import explore
from homog.database.learn import cross_validate, train

CONFIG = tiny_config(1)
RVE = "cannot make the RVE of sample doe-000000 .*"
# (replacements in CONFIG, expected message): configurations that used to validate and then
# fail in every sample (or never start)
BAD_CONFIGS = [
    ({"radius = 0.1": "radius = -0.1"}, f"{RVE}radius=.* must be positive"),
    ({"radius = 0.1": 'radius = "big"'}, f"{RVE}could not convert string to float: 'big'"),
    ({"radius = 0.1": "radius = 0.7"}, f"{RVE}radius too large for the RVE"),
    ({"radius = 0.1": "radius = 0.1\nmin_gap = -0.01"}, "min_gap=-0.01 must be non-negative"),
    ({"radius = 0.1": 'radius = 0.1\ndistribution = "weird"'}, "distribution='weird' is unknown"),
    ({"radius = 0.1": "radius = 0.1\nradius_std = -0.1"}, "radius_std=.* must be non-negative"),
    ({"radius = 0.1": "radius = 0.1\nlengths = [1.0, -1.0]"}, "lengths=.* is not valid"),
    ({"radius = 0.1": "radius = 0.1\nmax_steps = 0"}, f"{RVE}could not pack circles"),
    ({'"microstructure.volume_fraction" = [0.1, 0.3]': '"materials.phase1.E" = [400.0, 600.0]',
      "radius = 0.1": "radius = 0.1\nvolume_fraction = 0.95"},
     "volume_fraction=0.95 .* above what"),
    ({"matrix = 2,": "matrix = 300,"}, r"rom.clusters.matrix = 300 but phase 'matrix' holds "
     r"about \d+ of the 256 voxels of sample doe-\d+ .*lower the count"),
    ({"phase1 = 1": "phase1 = 60"}, r"rom.clusters.phase1 = 60 but phase 'phase1' holds about"),
    ({"shape = [16, 16]": "shape = [6, 6]", "phase1 = 1": "phase1 = 5"},
     r"rom.clusters.phase1 = 5 .* of the 36 voxels .*refine microstructure.shape"),
    ({"shape = [16, 16]": "shape = [100000, 100000]"}, r"10000000000 voxels, more than a "
     r"database sample takes .*coarsen the grid"),
    ({"samples = 6": "samples = 1e9"}, r"samples = 1000000000.0 must be a positive integer; "
     r"TOML reads .* as a float: write the digits"),
    ({"samples = 6": "samples = 1000000000"}, r"more than one store runs \(at most 100000"),
    ({"samples = 6": "samples = 100001"}, r"samples = 100001 is more than one store runs"),
    ({"phase1 = 1 }": "phase1 = 1 }\nadaptive = \"sometimes\""},
     r"rom.adaptive = 'sometimes'; allowed: false .*\"auto\""),
    ({"phase1 = 1 }": "phase1 = 1 }\nadaptive = { matrix = 2 }"},
     r"rom.adaptive.matrix = 2 must exceed the phase's 2 initial clusters"),
    ({"phase1 = 1 }": "phase1 = 1 }\nadaptive = { fibre = 8 }"},
     r"rom.adaptive.fibre: no phase 'fibre'"),
    ({"phase1 = 1 }": "phase1 = 1 }\nadaptive = { matrix = 8.0 }"},
     r"rom.adaptive.matrix = 8.0 must be a positive integer"),
    ({"phase1 = 1 }": "phase1 = 1 }\nadaptive = { phase1 = 4 }"},
     r"rom.adaptive names \['phase1'\], whose material has no plastic strain"),
    ({"max_strain = 0.01": "max_strain = 0.0"}, "loading.max_strain = 0 loads nothing"),
    ({"phase1 = 1 }": "phase1 = 1 }\ndiscretization = \"fourier\""},
     r"rom.discretization = 'fourier'; allowed: 'spectral'"),
]


def synthetic(spec):
    vf, E = spec["inputs"].values()
    return {"outputs": {"toughness": vf * E}, "arrays": {"stress": np.full((3, 6), E)}}


def config(text=CONFIG):
    return load_config(tomllib.loads(text))


def _replaced(replacements):
    text = CONFIG
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new, 1)
    return text


@pytest.mark.parametrize(("replacements", "message"), BAD_CONFIGS,
                         ids=[str(k) for k in range(len(BAD_CONFIGS))])
def test_a_configuration_that_would_fail_in_every_sample_is_refused(replacements, message):
    with pytest.raises(ValueError, match=message):
        config(_replaced(replacements))


def test_the_rom_model_is_the_configurations_static_unless_adaptive_is_asked():
    assert "adaptive" not in config().data["rom"]   # absent: static, and older stores resume
    plastic = CONFIG.replace('model = "linear_elastic"\nE = 100.0\nnu = 0.3',
                             'model = "von_mises"\nE = 100.0\nnu = 0.3\n'
                             'hardening = { law = "linear", sigma_y0 = 0.5, H = 1.0 }', 1)
    assert plastic != CONFIG
    for value, resolved in (('"auto"', "auto"), ("{ matrix = 16 }", {"0": 16}), ("false", False)):
        cfg = config(plastic.replace("phase1 = 1 }", f"phase1 = 1 }}\nadaptive = {value}"))
        assert cfg.sample_spec([0.5, 0.5], "doe", 0)["rom"]["adaptive"] == resolved


def test_the_first_samples_rve_is_packed_and_counted_when_fractions_say_nothing(monkeypatch):
    import homog.database.config as module

    monkeypatch.setattr(module, "_expected_fractions", lambda micro: {})
    with pytest.raises(ValueError, match=r"rom.clusters.phase1 = 40 but phase 'phase1' \(label "
                       r"1\) has \d+ voxels in the RVE of sample doe-000000 .*refine"):
        config(CONFIG.replace("phase1 = 1", "phase1 = 40"))


@pytest.mark.parametrize(("options", "message"), [
    (["--threads-per-sample", "0"], "--threads-per-sample 0: give 1 or more"),
    (["--max-attempts", "0"], "--max-attempts 0: give 1 or more"),
    (["--workers", "-1"], "--workers -1: give 0"),
    (["--scheduler", "tcp://127.0.0.1:1", "--scheduler-timeout", "0"],
     "--scheduler-timeout 0.0: give a positive number"),
    (["--scheduler", "tcp://127.0.0.1:1", "--scheduler-timeout", "1"],
     r"cannot reach the Dask scheduler at 'tcp://127.0.0.1:1' within 1 s .*dask scheduler"),
    (["--scheduler", "no-such-protocol://x", "--scheduler-timeout", "1"],
     "cannot reach the Dask scheduler at 'no-such-protocol://x'"),
])
def test_bad_execution_options_are_one_line_errors_before_any_work(tmp_path, capsys, options,
                                                                   message):
    (tmp_path / "db.toml").write_text(CONFIG)
    store = tmp_path / "db.zarr"
    code = main(["database", "run", str(tmp_path / "db.toml"), "--store", str(store),
                 "--workers", "0", *options])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("homog database: error: ")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert re.search(message, err), err
    assert not store.exists() or SampleStore.open(store).ids() == []   # nothing labelled


@pytest.mark.parametrize(("replace", "message"), [
    (("matrix = 2,", "matrix = 300,"), "rom.clusters.matrix = 300"),
    (("samples = 6", "samples = 1000000000"), "more than one store runs"),
    (("radius = 0.1", "radius = 0.1\nmin_gap = -0.01"), "min_gap=-0.01"),
])
def test_the_cli_refuses_such_configurations_before_creating_the_store(tmp_path, capsys,
                                                                       replace, message):
    (tmp_path / "db.toml").write_text(CONFIG.replace(*replace))
    code = main(["database", "run", str(tmp_path / "db.toml"), "--store",
                 str(tmp_path / "db.zarr"), "--workers", "0"])
    err = capsys.readouterr().err
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "db.zarr").exists()


def test_api_arguments_are_checked_before_the_store_is_touched(tmp_path):
    cfg = config()
    for kwargs, message in [({"threads": 0}, "threads per sample = 0 must be an integer >= 1"),
                            ({"threads": 1.5}, "threads per sample = 1.5"),
                            ({"max_attempts": 0}, "max_attempts = 0 must be an integer >= 1")]:
        with pytest.raises(ValueError, match=message):
            run_database(cfg, tmp_path / "db.zarr", labeller=synthetic, **kwargs)
    assert not (tmp_path / "db.zarr").exists()
    with pytest.raises(FileNotFoundError, match="folder .*nowhere does not exist"):
        run_database(cfg, tmp_path / "nowhere" / "db.zarr", labeller=synthetic)
    with pytest.raises(ValueError, match="timeout = 0 must be a positive number"):
        with dask_client(scheduler="tcp://127.0.0.1:1", timeout=0):
            pass


def test_a_read_only_store_cannot_be_written(tmp_path):
    cfg = config()
    run_database(cfg, tmp_path / "db.zarr", labeller=synthetic)
    store = SampleStore.open(tmp_path / "db.zarr")
    with pytest.raises(ValueError, match="open read-only; open it with SampleStore.open"):
        run_database(cfg, store, labeller=synthetic)
    with pytest.raises(ValueError, match="open read-only"):
        store.write({"id": "doe-000000"}, {}, 1)


def test_a_run_with_failed_samples_exits_1_with_a_one_line_summary(tmp_path, capsys):
    text = CONFIG.replace("samples = 6\n", "").replace(
        '"microstructure.volume_fraction" = [0.1, 0.3]', '"microstructure.radius" = [0.05, 0.6]')
    (tmp_path / "db.toml").write_text(
        text.replace("radius = 0.1", "volume_fraction = 0.2")
        + '[design]\nmethod = "table"\nrows = [{ "microstructure.radius" = 0.1, '
          '"materials.matrix.E" = 80.0 }, { "microstructure.radius" = 0.6, '
          '"materials.matrix.E" = 90.0 }]\n')
    command = ["database", "run", str(tmp_path / "db.toml"), "--store",
               str(tmp_path / "db.zarr"), "--workers", "0"]
    assert main(command) == 1
    out, err = capsys.readouterr()
    assert "1 complete, 1 failed this run" in out
    progress, last = err.strip().splitlines()[:-1], err.strip().splitlines()[-1]
    assert progress[-1] == "samples: 100% 2/2" + progress[-1].split("2/2")[1]   # log lines
    assert "(1 failed)" in progress[-1]
    assert last.startswith("homog database run: 1 of 2 samples failed; first this run: "
                           "doe-000001: ValueError: radius too large")
    assert main(command) == 1   # resumed, still failed: still says so
    assert "1 of 2 samples failed; see" in capsys.readouterr().err


def test_train_on_two_samples_says_two(tmp_path, capsys):
    run_database(config(CONFIG.replace("samples = 6", "samples = 2")), tmp_path / "db.zarr",
                 labeller=synthetic)
    with pytest.raises(ValueError, match=r"training needs at least 3 complete samples with a "
                       r"finite 'toughness' .*db.zarr has 2: label more samples"):
        train(tmp_path / "db.zarr", "toughness")
    assert main(["database", "train", str(tmp_path / "db.zarr")]) == 1
    err = capsys.readouterr().err
    assert "has 2: label more samples" in err and "got 1" not in err
    with pytest.raises(ValueError, match=r"2-fold cross-validation of 3 samples fits each "
                       r"Gaussian process on 1 of them; .*at least 4 samples for 2 folds"):
        cross_validate(np.random.default_rng(0).random((3, 2)), np.arange(3.0), folds=2)


def test_a_sobol_design_grows_with_the_same_points(tmp_path):
    run_database(config(), tmp_path / "db.zarr", labeller=synthetic)
    before = summary_table(tmp_path / "db.zarr")
    grown = config(CONFIG.replace("samples = 6", "samples = 10"))
    report = run_database(grown, tmp_path / "db.zarr", labeller=synthetic)
    assert report.notes == [f"{tmp_path / 'db.zarr'}: the Sobol design grows from 6 to 10 "
                            "samples"]
    assert (report.skipped_complete, report.complete) == (6, 4)
    store = SampleStore.open(tmp_path / "db.zarr")
    assert store.config.samples == 10 and store.ids() == [f"doe-{k:06d}" for k in range(10)]
    points = np.array([store.sample(name)["point"] for name in store.ids()])
    np.testing.assert_array_equal(points, sobol_points(2, 10, 1))
    after = summary_table(store)
    pd.testing.assert_frame_equal(after.loc[before.index], before)   # not run again
    run_database(grown, tmp_path / "fresh.zarr", labeller=synthetic)   # the same as from scratch
    fresh = summary_table(tmp_path / "fresh.zarr")
    assert fresh.drop(columns=["elapsed_s", "worker"]).equals(
        after.drop(columns=["elapsed_s", "worker"]))


@pytest.mark.parametrize(("change", "message"), [
    ({"samples = 6": "samples = 4"}, r"holds a Sobol design of 6 samples; samples = 4 would "
     r"drop some: a design only grows, give samples >= 6"),
    ({"samples = 6": "samples = 8", "seed = 1": "seed = 2"},
     r"different configuration \(samples: 6 -> 8; seed: 1 -> 2\)"),
    ({"samples = 6": "samples = 8", "steps = 2": "steps = 2\n[design]\nmethod = 'lhs'"},
     r"different configuration \(design.method: 'sobol' -> 'lhs'; samples: 6 -> 8\)"),
])
def test_a_changed_design_is_refused(tmp_path, change, message):
    run_database(config(), tmp_path / "db.zarr", labeller=synthetic)
    with pytest.raises(ValueError, match=message):
        run_database(config(_replaced(change)), tmp_path / "db.zarr", labeller=synthetic)


def test_an_lhs_or_explored_design_does_not_grow(tmp_path, capsys):
    lhs = CONFIG + "[design]\nmethod = 'lhs'\n"
    run_database(config(lhs), tmp_path / "lhs.zarr", labeller=synthetic)
    (tmp_path / "more.toml").write_text(lhs.replace("samples = 6", "samples = 8"))
    assert main(["database", "run", str(tmp_path / "more.toml"), "--store",
                 str(tmp_path / "lhs.zarr"), "--workers", "0"]) == 1
    err = capsys.readouterr().err
    assert "holds a 'lhs' design of 6 samples and the configuration asks for 8: only a " \
           "'sobol' design can grow" in err and len(err.strip().splitlines()) == 1
    explore(config(), tmp_path / "x.zarr", rounds=1, batch=2, labeller=synthetic, pool=8,
            test=4, baseline=None, restarts=0)
    with pytest.raises(ValueError, match="was explored beyond its base design of 6 samples"):
        run_database(config(CONFIG.replace("samples = 6", "samples = 8")), tmp_path / "x.zarr",
                     labeller=synthetic)


def test_a_store_that_cannot_be_locked_is_a_clear_error(tmp_path, capsys):
    run_database(config(), tmp_path / "db.zarr", labeller=synthetic)
    lock = tmp_path / "db.zarr" / ".homog-driver.lock"
    lock.unlink()
    lock.mkdir()   # as unwritable as a read-only mount, even for root
    with pytest.raises(ValueError, match=r"cannot lock the store .*db.zarr for writing \(Is a "
                       r"directory\): a run needs write access"):
        run_database(config(), tmp_path / "db.zarr", labeller=synthetic)
    assert len(summary_table(tmp_path / "db.zarr")) == 6   # reading needs no lock
    (tmp_path / "db.toml").write_text(CONFIG)
    (tmp_path / "file.zarr").write_text("not a store")
    assert main(["database", "run", str(tmp_path / "db.toml"), "--store",
                 str(tmp_path / "file.zarr"), "--workers", "0"]) == 1
    assert "file.zarr is not a readable Zarr store" in capsys.readouterr().err



def test_train_refuses_a_constant_target(tmp_path):
    """A target with one value (a flag where every sample behaved alike) printed R² 1.0 and
    'nan% of the std' (found on `homog database train --target failed`)."""
    def constant(spec):
        return {"outputs": {"toughness": 0.5}, "arrays": {"stress": np.zeros((3, 6))}}

    run_database(config(), tmp_path / "db.zarr", labeller=constant)
    with pytest.raises(ValueError, match="'toughness' takes one value .*nothing to learn"):
        train(tmp_path / "db.zarr", "toughness")


@pytest.mark.parametrize("options, message", [
    (["--batch", "0"], "batch = 0 must be an integer >= 1"),
    (["--pool", "1"], "pool = 1 must be an integer >= 2"),
    (["--target", "nosuch"], "--target 'nosuch' is not an output of the samples"),
])
def test_explore_checks_its_options_before_creating_the_store(tmp_path, capsys, options,
                                                               message):
    path = tmp_path / "base.toml"
    path.write_text(CONFIG)
    store = tmp_path / "e.zarr"
    assert main(["database", "explore", str(path), "--store", str(store), "--workers", "0",
                 "--rounds", "1", "--batch", "2", "--test", "2", *options]) == 1
    assert message in capsys.readouterr().err
    assert not store.exists()


def test_the_outputs_simulate_labels_are_the_documented_ones():
    from homog.database.sample import OUTPUTS, simulate

    spec = config().sample_spec([0.5, 0.5], "doe", 0)
    assert sorted(simulate(spec)["outputs"]) == sorted(OUTPUTS)
