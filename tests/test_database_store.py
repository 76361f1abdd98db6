"""The sample store: committed groups only, failures kept with their attempts, clean resume."""



from pathlib import Path

import numcodecs
import numpy as np
import pandas as pd
import pytest
import zarr
from database_cases import tiny_config

from homog.database import SampleStore, load_config, run_database, summary_table
from homog.database.config import tomllib
from homog.database.store import _ZARR3, UnsafeArrayError, _read_array
from homog.database.summary import export_table

CONFIG = tiny_config(1, "max_strain = 0.1")
calls = []


def synthetic(spec):
    """Outputs from the inputs; sample doe-000002 fails."""
    calls.append(spec["id"])
    if spec["id"] == "doe-000002":
        raise RuntimeError("the RVE could not be packed")
    vf, E = spec["inputs"].values()
    return {"outputs": {"toughness": vf * E, "peak_stress": E},
            "arrays": {"stress": np.full((3, 6), E)}}


@pytest.fixture
def config():
    calls.clear()
    return load_config(tomllib.loads(CONFIG))


def test_a_failing_sample_is_recorded_and_the_others_finish(tmp_path, config):
    report = run_database(config, tmp_path / "db.zarr", labeller=synthetic)
    assert (report.complete, report.failed) == (5, 1)
    store = SampleStore.open(tmp_path / "db.zarr")
    failed = store.sample("doe-000002")
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert "RuntimeError: the RVE could not be packed" in failed["error"]
    assert "synthetic" in failed["traceback"]
    good = store.sample("doe-000004")
    assert good["status"] == "complete" and good["attempts"] == 1
    vf, E = (good["inputs"][k] for k in ("microstructure.volume_fraction", "materials.matrix.E"))
    assert good["outputs"]["toughness"] == pytest.approx(vf * E)
    np.testing.assert_array_equal(good["arrays"]["stress"], np.full((3, 6), E))


def test_resume_skips_complete_samples_and_retries_failures_only_when_asked(tmp_path, config):
    run_database(config, tmp_path / "db.zarr", labeller=synthetic)
    calls.clear()
    report = run_database(config, tmp_path / "db.zarr", labeller=synthetic)
    assert calls == [] and report.skipped_complete == 5 and report.skipped_failed == 1
    report = run_database(config, tmp_path / "db.zarr", labeller=synthetic, max_attempts=2)
    assert calls == ["doe-000002"] and report.failed == 1
    run_database(config, tmp_path / "db.zarr", labeller=synthetic, max_attempts=2)
    assert calls == ["doe-000002"]  # failed twice: given up
    run_database(config, tmp_path / "db.zarr", labeller=synthetic, retry_failed=True)
    assert calls == ["doe-000002"] * 2
    assert SampleStore.open(tmp_path / "db.zarr").sample("doe-000002")["attempts"] == 3
    assert len(SampleStore.open(tmp_path / "db.zarr").ids()) == 6


def test_an_unfinished_group_is_never_taken_as_complete(tmp_path, config):
    run_database(config, tmp_path / "db.zarr", labeller=synthetic)
    store = SampleStore.open(tmp_path / "db.zarr", writable=True)
    del store.samples["doe-000001"]
    half = store.samples.create_group("doe-000001")   # as a crash mid-write leaves it
    half.attrs.put({"status": "writing", "attempts": 1})
    assert store.scan()["doe-000001"] == {"status": "incomplete"}
    assert summary_table(store).loc["doe-000001", "status"] == "incomplete"
    store.close()   # the lock: one writer at a time
    calls.clear()
    report = run_database(config, tmp_path / "db.zarr", labeller=synthetic)
    assert report.removed == ["doe-000001"] and calls == ["doe-000001"]
    assert SampleStore.open(tmp_path / "db.zarr").sample("doe-000001")["status"] == "complete"


def test_resuming_with_another_configuration_is_an_error(tmp_path, config):
    run_database(config, tmp_path / "db.zarr", labeller=synthetic)
    other = load_config(tomllib.loads(CONFIG.replace("[0.1, 0.3]", "[0.1, 0.4]")))
    with pytest.raises(ValueError, match=r"different configuration .*0\.3, 0\.4|0\.4"):
        run_database(other, tmp_path / "db.zarr", labeller=synthetic)
    with pytest.raises(ValueError, match="not a homog database"):
        zarr.open_group(str(tmp_path / "empty.zarr"), mode="w")  # a Zarr group, nothing else
        SampleStore.open(tmp_path / "empty.zarr")


def test_the_summary_table_matches_the_groups_and_exports(tmp_path, config):
    run_database(config, tmp_path / "db.zarr", labeller=synthetic)
    store = SampleStore.open(tmp_path / "db.zarr")
    table = summary_table(store)
    assert list(table.index) == store.ids() == [f"doe-{k:06d}" for k in range(6)]
    for name in store.ids():
        attrs = store.sample(name)
        row = table.loc[name]
        assert row["status"] == attrs["status"] and row["attempts"] == attrs["attempts"]
        for path, value in attrs["inputs"].items():
            assert row[path] == pytest.approx(value)
        for key, value in attrs.get("outputs", {}).items():
            assert row[key] == pytest.approx(value)
    assert np.isnan(table.loc["doe-000002", "toughness"])
    assert table.loc["doe-000002", "error"].startswith("RuntimeError")
    export_table(table, tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv", index_col="id")
    np.testing.assert_allclose(back["toughness"], table["toughness"])
    pytest.importorskip("pyarrow")
    export_table(table, tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), table)
    with pytest.raises(ValueError, match=".csv or .parquet"):
        export_table(table, tmp_path / "t.xlsx")


def test_a_dns_labelled_store_checks_the_rom_labels_on_the_same_rves(tmp_path):
    from homog.database.design import design_points
    from homog.database.sample import simulate
    from homog.dns import dns
    from homog.loading import uniaxial_stress
    from homog.materials import from_config
    from rve_gen import circles

    rom_text = tiny_config(2, "max_strain = 0.002\nsteps = 2").replace("samples = 6", "samples = 2")
    dns_text = rom_text.replace("[rom]\n", '[rom]\nlabeller = "dns"\n')
    rom_config, dns_config = (load_config(tomllib.loads(t)) for t in (rom_text, dns_text))
    assert rom_config.fingerprint != dns_config.fingerprint  # two stores, never one mixed
    spec = dns_config.sample_spec(design_points(dns_config)[0], "doe", 0)
    out = simulate(spec)
    assert out["info"]["clusters"] == 0
    # the labels are those of the full-field solver on the sample's own RVE and materials
    ms = circles(**{k: v for k, v in spec["microstructure"].items()
                    if k not in ("generator", "shape")}, seed=spec["seed"]).voxelize((16, 16))
    ref = dns(ms, from_config({"phases": spec["materials"]}), uniaxial_stress(0.002, 2))
    np.testing.assert_allclose(out["arrays"]["stress"], ref.stress, rtol=1e-9, atol=1e-12)
    rom = simulate(rom_config.sample_spec(design_points(rom_config)[0], "doe", 0))
    assert rom["info"]["clusters"] == 3
    assert out["outputs"]["initial_stiffness"] == pytest.approx(
        rom["outputs"]["initial_stiffness"], rel=0.05)
    run_database(rom_config, tmp_path / "db.zarr")
    with pytest.raises(ValueError, match="labeller"):
        run_database(dns_config, tmp_path / "db.zarr")
    with pytest.raises(ValueError, match="rom.labeller"):
        load_config(tomllib.loads(rom_text.replace("[rom]\n", '[rom]\nlabeller = "fem"\n')))


def test_replicates_average_the_outputs_of_several_rve_realizations():
    from homog.database.config import replicate_seed
    from homog.database.design import design_points
    from homog.database.sample import simulate

    text = tiny_config(4, "max_strain = 0.002\nsteps = 2").replace("samples = 6", "samples = 2")
    single = load_config(tomllib.loads(text))
    assert "replicates" not in single.data  # absent: older stores keep their fingerprint
    triple = load_config(tomllib.loads("replicates = 3\n" + text))
    assert triple.fingerprint != single.fingerprint
    point = design_points(triple)[1]
    spec = triple.sample_spec(point, "doe", 1)
    out = simulate(spec)
    seeds = [spec["seed"], replicate_seed(spec["seed"], 1), replicate_seed(spec["seed"], 2)]
    assert out["info"]["seeds"] == seeds and len(set(seeds)) == 3
    each = []
    for seed in seeds:  # each realization alone: a one-replicate spec with that seed
        one = {**single.sample_spec(point, "doe", 1), "seed": seed}
        each.append(simulate(one)["outputs"])
    for name in ("initial_stiffness", "rve_volume_fraction", "peak_stress"):
        values = [e[name] for e in each]
        assert out["outputs"][name] == pytest.approx(np.mean(values), rel=1e-12)
        assert out["outputs"][f"{name}_sd"] == pytest.approx(np.std(values, ddof=1), rel=1e-9)
    assert np.std([e["rve_volume_fraction"] for e in each]) > 0  # three different RVEs
    assert {"strain_1", "stress_2"} <= set(out["arrays"])
    for bad in ("replicates = 0\n", "replicates = 2.0\n"):
        with pytest.raises(ValueError, match="replicates"):
            load_config(tomllib.loads(bad + text))


def test_a_dns_label_that_diverges_before_its_peak_is_run_again_with_gmres(monkeypatch):
    import homog.failure as failure
    from homog.database.design import design_points
    from homog.database.sample import simulate

    text = tiny_config(2, "max_strain = 0.002\nsteps = 2").replace("samples = 6", "samples = 2")
    config = load_config(tomllib.loads(text.replace("[rom]\n", '[rom]\nlabeller = "dns"\n')))
    spec = config.sample_spec(design_points(config)[0], "doe", 0)
    real, calls = failure.run_to_failure, []

    def cg_stalls(model, loading, **options):
        calls.append(options.get("krylov", "cg"))
        response = real(model, loading, **options)
        if options.get("krylov", "cg") == "cg":
            raise failure.PrePeakDivergence("Newton-CG stalled", response)
        return response

    monkeypatch.setattr(failure, "run_to_failure", cg_stalls)
    out = simulate(spec)
    assert calls == ["cg", "gmres"] and out["info"]["krylov"] == "gmres"
    assert "krylov_switch" not in out["info"]
    assert out["outputs"]["initial_stiffness"] > 0


def test_a_dns_label_records_where_its_newton_cg_gave_way_to_gmres(monkeypatch):
    import homog.failure as failure
    from homog.database.design import design_points
    from homog.database.sample import simulate

    text = tiny_config(2, "max_strain = 0.002\nsteps = 2").replace("samples = 6", "samples = 2")
    config = load_config(tomllib.loads(text.replace("[rom]\n", '[rom]\nlabeller = "dns"\n')))
    spec = config.sample_spec(design_points(config)[0], "doe", 0)
    real = failure.run_to_failure

    def switched(model, loading, **options):  # as kernels.nonlinear.NewtonCG reports it
        response = real(model, loading, **options)
        response.info.update(krylov="gmres", krylov_switch=2)
        return response

    assert "krylov" not in simulate(spec)["info"]  # CG all the way
    monkeypatch.setattr(failure, "run_to_failure", switched)
    out = simulate(spec)
    assert (out["info"]["krylov"], out["info"]["krylov_switch"]) == ("gmres", 2)
    assert out["outputs"]["initial_stiffness"] > 0


def test_the_store_keeps_the_order_of_the_design_variables(tmp_path, config):
    """Zarr 2 writes attributes with sorted keys: the recorded variable order restores the
    configuration's columns (here "microstructure.volume_fraction" before "materials...")."""
    run_database(config, tmp_path / "db.zarr", labeller=synthetic)
    root = zarr.open_group(str(tmp_path / "db.zarr"), mode="a")
    recorded = dict(root.attrs["config"])
    recorded["variables"] = dict(sorted(recorded["variables"].items()))  # as Zarr 2 reads it
    root.attrs["config"] = recorded
    assert list(recorded["variables"]) != config.names
    assert SampleStore.open(tmp_path / "db.zarr").config.names == config.names
    root.attrs["variable_order"] = config.names[:1]
    with pytest.raises(ValueError, match="variable order"):
        _ = SampleStore.open(tmp_path / "db.zarr").config


class _Stored:
    """A stand-in for a Zarr array: its dtype and codecs, and a read that must not happen."""

    def __init__(self, dtype, filters=(), compressors=()):
        self.dtype, self.filters = np.dtype(dtype), list(filters)
        self.compressors, self.compressor = tuple(compressors), None

    def __getitem__(self, key):
        raise AssertionError("the array was read")


@pytest.mark.parametrize("array", [_Stored(object), _Stored("f8", filters=[numcodecs.Pickle()])])
def test_arrays_that_could_unpickle_are_not_read(array):
    with pytest.raises(UnsafeArrayError, match="could run code"):
        _read_array({"stress": array}, "stress", "db.zarr/samples/doe-000000")


@pytest.mark.skipif(_ZARR3,
                    reason="zarr 3 has no pickle codec for the format-3 arrays of a store")
def test_a_crafted_pickle_array_is_refused_unread(tmp_path, config):
    """Zarr 2 decodes a chunk through a Pickle filter with pickle.loads (numcodecs < 0.15;
    later versions refuse by default): a crafted sample must be refused before its chunk is
    decoded, whatever numcodecs does (run by hand with zarr 2.18.3, 2026-12-01)."""
    import pickle

    run_database(config, tmp_path / "db.zarr", labeller=synthetic)
    group = zarr.open_group(str(tmp_path / "db.zarr" / "samples" / "doe-000001"), mode="a")
    group.create_dataset("evil", shape=(3,), dtype="f8", compressor=None,
                         filters=[numcodecs.Pickle()])
    marker = tmp_path / "ran"
    (tmp_path / "db.zarr" / "samples" / "doe-000001" / "evil" / "0").write_bytes(
        pickle.dumps(_Touch(marker)))
    with pytest.raises(UnsafeArrayError, match="could run code"):
        SampleStore.open(tmp_path / "db.zarr").sample("doe-000001")
    assert not marker.exists()


class _Touch:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_resuming_with_the_variables_in_another_order_is_an_error(tmp_path, config):
    """The fingerprint ignores key order, but the Sobol columns follow it: a resume with the
    [variables] lines swapped would give the remaining samples other points."""
    run_database(config, tmp_path / "db.zarr", labeller=synthetic)
    lines = CONFIG.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith('"microstructure.'))
    lines[i], lines[i + 1] = lines[i + 1], lines[i]
    swapped = load_config(tomllib.loads("\n".join(lines)))
    assert swapped.names == config.names[::-1] and swapped.fingerprint == config.fingerprint
    with pytest.raises(ValueError, match="in the order"):
        run_database(swapped, tmp_path / "db.zarr", labeller=synthetic)
