"""Materials from TOML tables: the documented format, round trips and clear errors."""

import numpy as np
import pytest

from homog.materials import (
    LinearElastic,
    LinearHardening,
    PiecewiseLinearHardening,
    SwiftHardening,
    VoceHardening,
    VonMises,
    from_config,
)

EXAMPLE = """
[phases.0]
model = "von_mises"
E = 100.0
nu = 0.3
hardening = { law = "piecewise_linear", eps_p = [0, 0.04, 2.0], sigma_y = [0.5, 0.7, 4.62] }
[phases.1]
model = "linear_elastic"
E = 500.0
nu = 0.19
"""


def test_documented_example_builds_the_phases(tmp_path):
    path = tmp_path / "materials.toml"
    path.write_text(EXAMPLE)
    phases = from_config(path)
    assert sorted(phases) == [0, 1]
    matrix, fibre = phases[0], phases[1]
    assert isinstance(matrix, VonMises) and isinstance(fibre, LinearElastic)
    assert matrix.hardening.sigma_y(np.array([0.04, 1.04]))[1] == pytest.approx(2.7)
    assert fibre.stiffness[0, 0] == pytest.approx(500 * 0.81 / (1.19 * 0.62))
    assert from_config(str(path))[0].E == 100.0


@pytest.mark.parametrize(
    "material",
    [
        LinearElastic(70.0, 0.33),
        LinearElastic.from_stiffness(np.diag([3.0, 2.0, 2.0, 1.0, 1.0, 1.0])),
        VonMises(70.0, 0.3, LinearHardening(0.2, 1.0), kinematic_modulus=2.0),
        VonMises(70.0, 0.3, PiecewiseLinearHardening([0, 0.1], [0.2, 0.3])),
        VonMises(70.0, 0.3, SwiftHardening(K=0.5, eps0=0.01, n=0.2)),
        VonMises(70.0, 0.3, VoceHardening(0.2, 0.1, 10.0)),
    ],
    ids=repr,
)
def test_to_config_round_trips(material):
    rebuilt = from_config({"phases": {"3": material.to_config()}})[3]
    assert type(rebuilt) is type(material)
    assert rebuilt.to_config() == material.to_config()
    np.testing.assert_array_equal(rebuilt.stiffness, material.stiffness)


def test_swift_accepts_the_initial_yield_stress():
    table = {"model": "von_mises", "E": 70.0, "nu": 0.3}
    table["hardening"] = {"law": "swift", "sigma_y0": 0.3, "eps0": 0.002, "n": 0.15}
    assert from_config({"phases": {0: table}})[0].hardening.sigma_y0 == pytest.approx(0.3)


def von_mises(**changes):
    table = {
        "model": "von_mises",
        "E": 100.0,
        "nu": 0.3,
        "hardening": {"law": "linear", "sigma_y0": 0.5, "H": 1.0},
    }
    return {"phases": {"2": table | changes}}


@pytest.mark.parametrize(
    ("config", "match"),
    [
        (von_mises(nu=0.5), r"phases\.2: .*nu=0\.5 must lie in \(-1, 0\.5\)"),
        (von_mises(E=0.0), r"phases\.2: .*E=0\.0 must be > 0"),
        (von_mises(E=float("nan")), r"phases\.2: E = nan must be finite"),
        (von_mises(E="100"), r"phases\.2: E = '100' must be a real number"),
        (
            von_mises(hardening={"law": "linear", "sigma_y0": -1.0}),
            r"phases\.2\.hardening: sigma_y0 = -1\.0 must be > 0",
        ),
        (
            von_mises(
                hardening={"law": "piecewise_linear", "eps_p": [0, 0.2, 0.1], "sigma_y": [1, 2, 3]}
            ),
            r"phases\.2\.hardening: .*strictly increasing",
        ),
        (von_mises(yield_stress=1.0), r"unknown key\(s\) \['yield_stress'\].*allowed: \['model'"),
        (
            von_mises(hardening={"law": "linear", "sigma_y0": 0.5, "h": 1.0}),
            r"phases\.2\.hardening: unknown key\(s\) \['h'\].*'H'",
        ),
        (von_mises(model="drucker_prager"), r"phases\.2\.model = 'drucker_prager'.*von_mises"),
        (von_mises(hardening={"law": "johnson_cook"}), r"'johnson_cook'.*allowed: \['linear'"),
        (von_mises(hardening={"law": "voce", "sigma_y0": 1.0}), r"voce.*takes \['sigma_y0'"),
        ({"phases": {"2": {"model": "von_mises", "E": 1.0, "nu": 0.3}}}, "hardening"),
        ({"phases": {"2": {"model": "linear_elastic", "E": 1.0}}}, r"missing key\(s\) \['nu'\]"),
        (
            {
                "phases": {
                    "2": {
                        "model": "linear_elastic",
                        "E": 1.0,
                        "nu": 0.2,
                        "stiffness": np.eye(6).tolist(),
                    }
                }
            },
            "not both",
        ),
        ({"phases": {"fibre": {"model": "linear_elastic", "E": 1.0, "nu": 0.2}}}, "label"),
        ({"materials": {}}, "'phases' table"),
    ],
)
def test_bad_tables_are_rejected_with_the_phase_and_key(config, match):
    with pytest.raises(ValueError, match=match):
        from_config(config)


def test_non_finite_toml_value_is_rejected(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(EXAMPLE.replace("E = 500.0", "E = nan"))
    with pytest.raises(ValueError, match=r"phases\.1: E = nan must be finite"):
        from_config(path)


def test_missing_or_invalid_file_is_reported(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        from_config(tmp_path / "none.toml")
    (tmp_path / "broken.toml").write_text("[phases.0\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        from_config(tmp_path / "broken.toml")
