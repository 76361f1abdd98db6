"""Response: CSV round trip, plot output and shape validation."""

import numpy as np
import pytest

from homog.response import Response


def response(nsteps=5, seed=0, **extra):
    rng = np.random.default_rng(seed)
    strain = np.vstack([np.zeros(6), rng.standard_normal((nsteps, 6))])
    stress = np.vstack([np.zeros(6), rng.standard_normal((nsteps, 6))])
    return Response(strain, stress, rng.integers(1, 9, nsteps), **extra)


def test_csv_round_trip_is_exact(tmp_path):
    original = response(info={"solver": "fft-cg", "seconds": 1.25})
    path = tmp_path / "curve.csv"
    original.to_csv(path)
    lines = path.read_text().splitlines()
    assert "Mandel" in lines[0] and "sqrt2*12" in lines[0]
    assert lines[2].startswith("strain_11,strain_22,strain_33,strain_23,strain_13,strain_12")
    assert lines[2].split(",")[6:12] == [
        f"stress_{c}" for c in ("11", "22", "33", "23", "13", "12")
    ]
    loaded = Response.from_csv(path)
    np.testing.assert_array_equal(loaded.strain, original.strain)
    np.testing.assert_array_equal(loaded.stress, original.stress)
    np.testing.assert_array_equal(loaded.iterations, original.iterations)
    assert loaded.info == original.info and loaded.nsteps == 5
    assert [p.name for p in tmp_path.iterdir()] == ["curve.csv"]  # no temporary left behind


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "curve.csv"
    response().to_csv(path)
    before = path.read_text()

    def disk_full(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savetxt", disk_full)
    with pytest.raises(OSError, match="disk full"):
        response(seed=1).to_csv(path)
    assert path.read_text() == before
    assert len(list(tmp_path.iterdir())) == 1


def test_plot_writes_a_png_with_an_overlay(tmp_path):
    path = tmp_path / "curve.png"
    response().plot(path, component=5, other=response(seed=1), label="DNS", other_label="ROM")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="component"):
        response().plot(path, component=6)


def test_foreign_csv_is_rejected(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a homog Response"):
        Response.from_csv(path)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"strain": np.zeros((3, 6)), "stress": np.zeros((3, 5)), "iterations": [1, 1]}, "stress"),
        ({"strain": np.zeros((3, 6)), "stress": np.zeros((3, 6)), "iterations": [1]}, "(2,)"),
        (
            {
                "strain": np.zeros((3, 6)),
                "stress": np.zeros((3, 6)),
                "iterations": [1, 1],
                "tangent": np.zeros((2, 6, 6)),
            },
            "tangent",
        ),
    ],
)
def test_inconsistent_shapes_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Response(**kwargs)
