"""Learning from databases: a GP fits smooth functions; uncertainty sampling beats random."""

import warnings

import numpy as np
import pytest
from database_cases import tiny_config

from homog.cli import main
from homog.database import SampleStore, load_config, run_database, summary_table
from homog.database.design import sobol_points, uniform_points
from homog.database.explore import explore, select_batch
from homog.database.learn import GaussianProcessSurrogate, cross_validate, errors, train

CONFIG = {
    "samples": 8, "seed": 3,
    "variables": {"microstructure.volume_fraction": [0.1, 0.4],
                  "microstructure.radius": [0.05, 0.1],
                  "materials.matrix.E": {"low": 50.0, "high": 150.0, "scale": "log"},
                  "loading.max_strain": [0.05, 0.2]},
    "microstructure": {"generator": "circles", "radius": 0.1, "shape": [16, 16]},
    "materials": {"matrix": {"model": "linear_elastic", "E": 100.0, "nu": 0.3},
                  "phase1": {"model": "linear_elastic", "E": 500.0, "nu": 0.2}},
    "rom": {"clusters": {"matrix": 2, "phase1": 1}},
    "loading": {"max_strain": 0.1, "steps": 5},
}


def smooth(u):
    """A smooth function of the first two of four unit coordinates."""
    u = np.atleast_2d(u)
    return np.sin(3.0 * u[:, 0]) + 0.5 * u[:, 1] ** 2


def bumpy(u):
    """Relevant along u0 (a sine) and u1 (a narrow bump); u2, u3 do not matter."""
    u = np.atleast_2d(u)
    return np.sin(5.0 * u[:, 0]) + 2.0 * np.exp(-30.0 * (u[:, 1] - 0.8) ** 2)


def synthetic(spec):
    return {"outputs": {"toughness": float(bumpy(spec["point"])[0])}}


def test_the_gp_fits_a_smooth_function_and_knows_its_error():
    x = sobol_points(4, 32, seed=0)
    cv = cross_validate(x, smooth(x), folds=4, restarts=0)
    assert cv.r2 > 0.99 and cv.nrmse < 0.05
    assert cv.coverage >= 0.8
    gp = GaussianProcessSurrogate(restarts=0).fit(x, smooth(x))
    test = uniform_points(4, 200, seed=1)
    mean, std = gp.predict(test)
    e = errors(smooth(test), mean, std)
    assert e["nrmse"] < 0.05 and e["coverage"] >= 0.9
    scales = gp.length_scales
    assert scales[2] > 3 * scales[0] and scales[3] > 3 * scales[0]  # irrelevant inputs
    # a function the GP was not given is not fitted
    assert errors(-smooth(test), mean)["r2"] < 0


def test_a_batch_holds_no_near_duplicates():
    x = sobol_points(2, 8, seed=0)
    gp = GaussianProcessSurrogate(restarts=0).fit(x, smooth(np.c_[x, x])[:8])
    candidates = sobol_points(2, 256, seed=1)
    picks = candidates[select_batch(gp, candidates, 6)]
    gaps = np.linalg.norm(picks[:, None] - picks[None], axis=-1) + np.eye(6)
    assert gaps.min() > 0.1
    _, std = gp.predict(candidates)
    assert np.isclose(gp.predict(picks[:1])[1][0], std.max())  # the first pick: most uncertain


def test_train_reads_the_store_and_the_cli_writes_plots(tmp_path, capsys):
    config = load_config(CONFIG | {"samples": 16})
    run_database(config, tmp_path / "db.zarr", labeller=synthetic)
    result = train(tmp_path / "db.zarr", "toughness", folds=4)
    assert result.y.size == 16 and result.cv.r2 > 0.5
    assert result.names == config.names
    assert main(["database", "train", str(tmp_path / "db.zarr"), "--target", "toughness",
                 "--folds", "4", "--plots", str(tmp_path / "gp")]) == 0
    out = capsys.readouterr().out
    assert "4-fold cross-validation" in out and "coverage" in out
    assert (tmp_path / "gp_cv.png").stat().st_size > 0
    assert (tmp_path / "gp_inputs.png").stat().st_size > 0
    (tmp_path / "plots").mkdir()  # a folder as the prefix: the plots go inside it
    assert main(["database", "train", str(tmp_path / "db.zarr"), "--folds", "4", "--plots",
                 str(tmp_path / "plots")]) == 0
    assert (tmp_path / "plots" / "toughness_cv.png").stat().st_size > 0
    assert main(["database", "train", str(tmp_path / "db.zarr"), "--target", "colour"]) == 1
    assert "not an output" in capsys.readouterr().err


def test_uncertainty_sampling_reduces_the_error_faster_than_random(tmp_path):
    config = load_config(CONFIG)
    curve = explore(config, tmp_path / "db.zarr", rounds=5, batch=4, labeller=synthetic,
                    pool=512, test=64, baseline="random", restarts=0)
    assert list(curve["labelled_explore"]) == [8, 12, 16, 20, 24, 28]
    assert list(curve["labelled_random"]) == [8, 12, 16, 20, 24, 28]
    late = curve.loc[3:]
    assert (late["nrmse_explore"] < late["nrmse_random"]).all()
    assert curve["nrmse_explore"].iloc[-1] < 0.6 * curve["nrmse_random"].iloc[-1]
    assert curve["nrmse_explore"].iloc[-1] < 0.2 * curve["nrmse_explore"].iloc[0]
    store = SampleStore.open(tmp_path / "db.zarr", writable=True)
    ids = store.ids()
    assert sum(i.startswith("explore-") for i in ids) == 20
    assert sum(i.startswith("test-") for i in ids) == 64
    # resuming the same exploration labels nothing new and gives the same curve
    again = explore(config, store, rounds=5, batch=4, labeller=lambda spec: pytest.fail(),
                    pool=512, test=64, baseline="random", restarts=0)
    np.testing.assert_allclose(again["nrmse_explore"], curve["nrmse_explore"])
    with pytest.raises(ValueError, match="explored with"):
        explore(config, store, rounds=5, batch=3, labeller=synthetic, pool=512, test=64,
                baseline="random", restarts=0)


def flaky(spec):
    """The bumpy toughness, except that two samples raise."""
    if spec["id"] in ("doe-000003", "explore-000001"):
        raise RuntimeError(f"{spec['id']} diverged")
    return synthetic(spec)


def test_explore_reports_failed_samples_and_the_cli_exits_1(tmp_path, monkeypatch, capsys):
    """Failed samples are left out of the curve, counted in the report, and make
    `homog database explore` exit with 1 and name them (it returned 0 before)."""
    import homog.database.explore as module
    from homog.database.runner import RunReport

    config = load_config(CONFIG)
    report = RunReport()
    curve = explore(config, tmp_path / "a.zarr", rounds=2, batch=3, labeller=flaky, pool=64,
                    test=4, baseline=None, restarts=0, report=report)
    assert report.failed == report.unfinished == 2 and report.complete == 8 + 4 + 6 - 2
    assert report.first_error.startswith("doe-000003: ")
    assert list(curve["labelled_explore"]) == [7, 9, 12]  # the failed ones are left out

    real = module.explore
    monkeypatch.setattr(module, "explore", lambda *a, **k: real(*a, **k, labeller=flaky,
                                                                restarts=0))
    (tmp_path / "db.toml").write_text(tiny_config(3))
    args = ["database", "explore", str(tmp_path / "db.toml"), "--store",
            str(tmp_path / "b.zarr"), "--rounds", "2", "--batch", "3", "--pool", "64",
            "--test", "4", "--baseline", "none", "--workers", "0"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "homog database explore: 2 of 16 samples failed" in err and "doe-000003" in err


def unfailed_every_third(spec):
    """Toughness of the bumpy function; every third sample 'did not fail' (toughness ×10)."""
    value = float(bumpy(spec["point"])[0])
    failed = int(spec["id"][-6:]) % 3 != 0
    return {"outputs": {"toughness": value if failed else 10 * value,
                        "failed": 1.0 if failed else 0.0}}


def unpeaked_every_fourth(spec):
    """A bumpy peak stress; every fourth sample's stress was 'still rising' (peak ×5)."""
    value = float(bumpy(spec["point"])[0]) + 3.0
    peaked = int(spec["id"][-6:]) % 4 != 0
    return {"outputs": {"peak_stress": value if peaked else 5 * value, "failed": 0.0,
                        "peaked": 1.0 if peaked else 0.0}}


def test_a_peak_stress_still_rising_at_the_end_is_not_trained_on(tmp_path, capsys):
    """A sample whose stress had not peaked (a reduced model that locked and kept hardening)
    bounds the peak from below: left out of a peak-stress target, as the unfailed samples are
    out of toughness; a store without the `peaked` output keeps every sample."""
    config = load_config(CONFIG | {"samples": 16})
    run_database(config, tmp_path / "db.zarr", labeller=unpeaked_every_fourth)
    result = train(tmp_path / "db.zarr", "peak_stress", folds=4)
    assert result.y.size == 12 and len(result.censored) == 4
    assert result.y.max() < 6.0  # none of the ×5 values
    assert main(["database", "train", str(tmp_path / "db.zarr"), "--target", "peak_stress",
                 "--folds", "4"]) == 0
    assert "left out 4 samples whose stress was still rising" in capsys.readouterr().out
    run_database(config, tmp_path / "old.zarr", labeller=lambda spec: {
        "outputs": {"peak_stress": float(bumpy(spec["point"])[0])}})
    assert train(tmp_path / "old.zarr", "peak_stress", folds=4).y.size == 16


def test_samples_that_did_not_fail_are_not_trained_on_for_toughness(tmp_path, capsys):
    config = load_config(CONFIG | {"samples": 18})
    run_database(config, tmp_path / "db.zarr", labeller=unfailed_every_third)
    result = train(tmp_path / "db.zarr", "toughness", folds=4)
    assert result.y.size == 12 and len(result.censored) == 6
    assert not set(result.censored) & set(result.ids)
    table = summary_table(SampleStore.open(tmp_path / "db.zarr"))
    assert (table.loc[result.ids, "failed"] == 1.0).all()
    assert (table.loc[result.censored, "failed"] == 0.0).all()
    assert main(["database", "train", str(tmp_path / "db.zarr"), "--folds", "4"]) == 0
    assert "left out 6 samples that did not fail" in capsys.readouterr().out


def failing(spec):
    """Every sample fails: toughness, failure strain and peak stress of the bumpy function."""
    value = float(bumpy(spec["point"])[0])
    return {"outputs": {"toughness": value, "failure_strain": 1 + value,
                        "peak_stress": 2 + value, "failed": 1.0, "peaked": 1.0}}


def test_rom_toughness_of_a_softening_material_is_learned_with_a_warning(tmp_path):
    """Toughness labels of a softening material from the reduced model (the default labeller)
    are measured far off the DNS (docs/database.md): train and explore say so; DNS labels,
    the peak stress and hardening materials get no warning."""
    damage = {"model": "von_mises_damage", "E": 100.0, "nu": 0.3,
              "hardening": {"law": "linear", "sigma_y0": 0.5, "H": 2.0}, "onset": 0.02,
              "softening_strain": 0.04, "nonlocal_length": 0.05}
    softening = CONFIG | {"materials": CONFIG["materials"] | {"matrix": damage}}
    stores = {}
    for name, config in (("rom", softening),
                         ("dns", softening | {"rom": CONFIG["rom"] | {"labeller": "dns"}}),
                         ("elastic", CONFIG)):
        stores[name] = tmp_path / f"{name}.zarr"
        run_database(load_config(config), stores[name], labeller=failing)
    for target in ("toughness", "failure_strain"):
        with pytest.warns(UserWarning, match=rf"{target} labelled by the reduced-order model of "
                          r"a softening material \(matrix\).*labeller = \"dns\""):
            train(stores["rom"], target, folds=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for store, target in ((stores["dns"], "toughness"), (stores["elastic"], "toughness"),
                              (stores["rom"], "peak_stress")):
            train(store, target, folds=4)
    with pytest.warns(UserWarning, match="toughness labelled by the reduced-order model"):
        explore(load_config(softening), tmp_path / "explored.zarr", rounds=1, batch=2, test=4,
                pool=16, labeller=failing, baseline=None)
