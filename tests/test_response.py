"""Response: CSV round trip, plot output and shape validation."""

import json

import numpy as np
import pandas as pd
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
    table = pd.read_csv(path)  # a plain table: no options needed
    assert list(table.columns[:6]) == ["strain_11", "strain_22", "strain_33", "strain_sqrt2_23",
                                       "strain_sqrt2_13", "strain_sqrt2_12"]
    assert list(table.columns[6:]) == [
        f"stress_{c}" for c in ("11", "22", "33", "sqrt2_23", "sqrt2_13", "sqrt2_12")
    ] + ["iterations"]
    # pandas 2's default parser is not correctly rounded (a few ulps off); pandas 3's is, and
    # deprecates the option that pandas 2 needs for it
    np.testing.assert_allclose(table.to_numpy()[:, 6:12], original.stress, rtol=1e-13, atol=0)
    pandas2 = int(pd.__version__.split(".")[0]) < 3
    exact = pd.read_csv(path, **({"float_precision": "round_trip"} if pandas2 else {}))
    np.testing.assert_array_equal(exact.to_numpy()[:, 6:12], original.stress)
    meta = json.loads((tmp_path / "curve.csv.json").read_text())
    assert "sqrt2*12" in meta["convention"] and meta["info"] == original.info
    loaded = Response.from_csv(path)
    np.testing.assert_array_equal(loaded.strain, original.strain)
    np.testing.assert_array_equal(loaded.stress, original.stress)
    np.testing.assert_array_equal(loaded.iterations, original.iterations)
    assert loaded.info == original.info and loaded.nsteps == 5
    # no temporary left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.csv", "curve.csv.json"]


def test_csv_of_the_earlier_version_still_reads():
    from pathlib import Path

    old = Path(__file__).resolve().parents[1] / "benchmarks/data/dns_2d_128_100.csv"
    loaded = Response.from_csv(old)
    assert loaded.nsteps == 100 and loaded.info["solver"] == "dns newton-cg"
    assert loaded.stress[-1, 0] > loaded.stress[1, 0] > 0


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
    assert len(list(tmp_path.iterdir())) == 2  # the CSV and its sidecar, no temporary


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
    response().to_csv(path)
    (tmp_path / "other.csv.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not the JSON written by Response.to_csv"):
        Response.from_csv(path)


def test_plot_legend_names_the_solver(tmp_path, monkeypatch):
    labels = []
    import matplotlib.axes

    original = matplotlib.axes.Axes.plot
    monkeypatch.setattr(matplotlib.axes.Axes, "plot",
                        lambda self, *a, **kw: labels.append(kw.get("label")) or original(
                            self, *a, **kw))
    rom, dns = response(info={"solver": "sca"}), response(info={"solver": "dns newton-cg"})
    rom.plot(tmp_path / "a.png")
    rom.plot(tmp_path / "b.png", other=dns)
    response().plot(tmp_path / "c.png")
    assert labels == ["ROM (SCA)", "ROM (SCA)", "DNS (FFT)", "response"]


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
