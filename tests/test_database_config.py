"""Database configurations: a valid one normalizes; a bad one fails before any work starts."""

import copy

import numpy as np
import pytest

from homog.cli import main
from homog.database import load_config
from homog.database.config import tomllib
from homog.database.design import design_points

CONFIG = """
samples = 8
seed = 2
[variables]
"microstructure.volume_fraction" = [0.15, 0.3]
"materials.matrix.hardening.sigma_y0" = { low = 0.3, high = 0.9, scale = "log" }
"loading.axis" = { choices = [0, 1] }
[microstructure]
generator = "circles"
radius = 0.12
shape = [32, 32]
[materials.matrix]
model = "von_mises"
E = 100.0
nu = 0.3
hardening = { law = "linear", sigma_y0 = 0.5, H = 1.0 }
[materials.1]
model = "linear_elastic"
E = 500.0
nu = 0.19
[rom]
clusters = { matrix = 2, phase1 = 1 }
[loading]
max_strain = 0.1
steps = 10
"""


def base() -> dict:
    return tomllib.loads(CONFIG)


def test_a_valid_configuration_resolves_every_input_of_a_sample():
    config = load_config(base())
    assert config.names == ["microstructure.volume_fraction",
                            "materials.matrix.hardening.sigma_y0", "loading.axis"]
    spec = config.sample_spec([0.0, 1.0, 0.9], "doe", 3)
    assert spec["id"] == "doe-000003"
    assert spec["microstructure"]["volume_fraction"] == pytest.approx(0.15)
    assert spec["materials"]["0"]["hardening"]["sigma_y0"] == pytest.approx(0.9)
    assert spec["materials"]["1"]["E"] == 500.0          # label key and name key both work
    assert spec["rom"]["clusters"] == {"0": 2, "1": 1}
    assert spec["loading"]["axis"] == 1
    assert config.sample_spec([0.5] * 3, "doe", 3)["seed"] == spec["seed"]  # seed: identity
    assert config.sample_spec([0.5] * 3, "doe", 4)["seed"] != spec["seed"]


def test_log_scale_and_choices_map_the_unit_box():
    config = load_config(base())
    log, choice = config.variables[1], config.variables[2]
    assert log.from_unit(0.5) == pytest.approx(np.sqrt(0.3 * 0.9))
    assert log.to_unit(log.from_unit(0.3)) == pytest.approx(0.3)
    assert [choice.from_unit(u) for u in (0.0, 0.49, 0.5, 1.0)] == [0, 0, 1, 1]
    assert choice.to_unit(1) == 0.75


@pytest.mark.parametrize("method", ["sobol", "lhs"])
def test_designs_are_seeded_and_fill_the_box(method):
    raw = base() | {"design": {"method": method}}
    a, b = design_points(load_config(raw)), design_points(load_config(raw))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (8, 3) and a.min() >= 0 and a.max() <= 1
    # one point per eighth of every axis (Sobol with 8 = 2^3 points balances too)
    np.testing.assert_array_equal(np.sort(np.floor(a * 8), axis=0),
                                  np.tile(np.arange(8.0)[:, None], (1, 3)))
    other = design_points(load_config(raw | {"seed": 3}))
    assert not np.allclose(a, other)


def test_table_design_reads_a_csv_next_to_the_config(tmp_path):
    (tmp_path / "points.csv").write_text(
        "microstructure.volume_fraction,materials.matrix.hardening.sigma_y0,loading.axis\n"
        "0.2,0.5,1\n0.25,0.3,0\n")
    (tmp_path / "db.toml").write_text(CONFIG.replace("samples = 8\n", "")
                                      + '[design]\nmethod = "table"\ntable = "points.csv"\n')
    config = load_config(tmp_path / "db.toml")
    assert config.samples == 2
    spec = config.sample_spec(design_points(config)[0], "doe", 0)
    assert spec["inputs"] == pytest.approx({"microstructure.volume_fraction": 0.2,
                                            "materials.matrix.hardening.sigma_y0": 0.5,
                                            "loading.axis": 1})
    (tmp_path / "points.csv").write_text("microstructure.volume_fraction,loading.axis\n0.2,1\n")
    with pytest.raises(ValueError, match="missing .*sigma_y0"):
        load_config(tmp_path / "db.toml")
    (tmp_path / "points.csv").write_text(
        "microstructure.volume_fraction,materials.matrix.hardening.sigma_y0,loading.axis\n"
        "0.5,0.5,1\n")
    with pytest.raises(ValueError, match="row 1: .*outside its range"):
        load_config(tmp_path / "db.toml")


def _set(raw, path, value):
    node = raw
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value


BAD = [
    (("variables", "microstructure.colour"), [0, 1], "unknown variable 'microstructure.colour'"),
    (("variables", "geometry.size"), [0, 1], "unknown variable 'geometry.size'"),
    (("variables", "materials.fibre.E"), [1, 2], r"no \[materials.fibre\] table"),
    (("variables", "materials.matrix.colour"), [1, 2], r"unknown key\(s\) \['colour'\]"),
    (("variables", "microstructure.volume_fraction"), [0.3, 0.3], "empty range"),
    (("variables", "microstructure.volume_fraction"), [0.3, 0.1], "inverted bounds"),
    (("variables", "microstructure.volume_fraction"), [0.3, 1.2], r"inside \(0, 1\)"),
    (("variables", "materials.matrix.E"), {"low": -1.0, "high": 5.0, "scale": "log"},
     "log-scale range needs low > 0"),
    (("variables", "loading.axis"), {"choices": [0]}, "one choice is an empty range"),
    (("materials", "1"), None, r"materials: missing for phase\(s\) \['phase1'\]"),
    (("rom", "clusters", "phase1"), None, r"rom.clusters: missing for phase\(s\) \['phase1'\]"),
    (("rom", "clusters", "matrix"), 0, "must be a positive integer"),
    (("design",), {"method": "halton"}, "design.method = 'halton' is not a design"),
    (("samples",), 0, "samples = 0 must be a positive integer"),
    (("samples",), None, "samples = None must be a positive integer"),
    (("microstructure", "generator"), "hexagons", "generator = 'hexagons'"),
    (("microstructure", "shape"), [32, 32, 32], "must be 2 integers"),
    (("microstructure", "radius_mean"), 0.1, r"unknown key\(s\) \['radius_mean'\]"),
    (("loading", "type"), "torsion", "loading.type = 'torsion'"),
    (("loading", "max_strain"), None, "needs max_strain"),
    (("failure",), {"drop": 1.5}, r"failure.drop = 1.5 must lie in \(0, 1\)"),
    (("colour",), 1, r"unknown key\(s\) \['colour'\]"),
    (("materials", "matrix", "nu"), 0.6, "phase 0"),
    (("rom", "probe"), {"strain": 0.01}, "rom.probe needs strain and steps"),
    (("rom", "probe"), {"strain": -0.01, "steps": 3}, r"rom.probe.strain = -0.01 must be"),
    (("rom", "probe"), {"strain": 0.2, "steps": 3}, "must be below loading.max_strain = 0.1"),
    (("rom", "probe"), {"strain": 0.01, "steps": 0}, "rom.probe.steps = 0 must be a positive"),
    (("rom", "probe"), {"strain": 0.01, "steps": 3, "axis": 1},
     r"rom.probe: unknown key\(s\) \['axis'\]"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD,
                         ids=[f"{'.'.join(p)}={v!r}" for p, v, _ in BAD])
def test_bad_configurations_are_rejected_with_a_clear_message(path, value, message):
    raw = copy.deepcopy(base())
    _set(raw, path, value)
    with pytest.raises(ValueError, match=message):
        load_config(raw)


def test_the_cli_rejects_a_bad_configuration_before_starting_any_work(tmp_path, capsys):
    (tmp_path / "bad.toml").write_text(CONFIG.replace("[0.15, 0.3]", "[0.3, 0.15]"))
    store = tmp_path / "db.zarr"
    assert main(["database", "run", str(tmp_path / "bad.toml"), "--store", str(store),
                 "--workers", "2"]) == 1
    assert "inverted bounds" in capsys.readouterr().err
    assert not store.exists()


def test_the_shipped_example_is_the_examples_file_and_validates(tmp_path, capsys):
    from pathlib import Path

    from homog.database import example_config

    source = Path(__file__).resolve().parents[1] / "examples" / "database" / "fibres.toml"
    assert example_config("fibres") == source.read_text()
    assert main(["database", "example", "fibres", "-o", str(tmp_path / "f.toml")]) == 0
    assert load_config(tmp_path / "f.toml").samples == 64
    assert main(["database", "example", "nope"]) == 1
    assert main(["database", "example", "-o", str(tmp_path / "no" / "f.toml")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == ["homog database: error: no example database configuration 'nope'; examples: "
                   "['fibres']", f"homog database: error: -o {tmp_path / 'no' / 'f.toml'}: "
                   f"folder {tmp_path / 'no'} does not exist"]


def test_a_plastic_probe_is_the_start_of_the_samples_own_path():
    """``[rom] probe`` builds each sample's model with ``build_rom(..., probe=...)`` along the
    first ``strain`` of the sample's [loading] path: the stored curve is that of the model
    built by hand with the same probe; absent, the configuration keeps its fingerprint."""
    from homog.database.config import generator_arguments, loading_path
    from homog.database.sample import simulate
    from homog.failure import run_to_failure
    from homog.loading import uniaxial_stress
    from homog.materials import from_config
    from homog.sca.model import build_rom

    plain = load_config(tomllib.loads(CONFIG))
    assert "probe" not in plain.data["rom"]
    probed = load_config(tomllib.loads(
        CONFIG.replace("[rom]\n", "[rom]\nprobe = { strain = 0.01, steps = 2 }\n")))
    assert probed.fingerprint != plain.fingerprint
    spec = probed.sample_spec(design_points(probed)[0], "doe", 0)
    spec["loading"]["max_strain"], spec["loading"]["steps"] = 0.02, 4
    out = simulate(spec)
    generator, arguments = generator_arguments(spec["microstructure"])
    ms = generator(**arguments, seed=spec["seed"]).voxelize(tuple(spec["microstructure"]["shape"]))
    rom = build_rom(ms, from_config({"phases": spec["materials"]}), {0: 2, 1: 1},
                    seed=spec["seed"], adaptive=None, discretization="willot",
                    probe=uniaxial_stress(0.01, 2, spec["loading"].get("axis", 0)))
    assert rom.info["probe"]["increments"] == 2
    ref = run_to_failure(rom, loading_path(spec["loading"]), drop=spec["failure"]["drop"])
    np.testing.assert_allclose(out["arrays"]["stress"], ref.stress, rtol=1e-9, atol=1e-12)
