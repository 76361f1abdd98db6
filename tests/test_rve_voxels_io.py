"""Voxelization, file round-trips, image import, statistics, bad inputs and the CLI."""

from __future__ import annotations

import json
import os

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

import rve_gen
from rve_gen.statistics import (
    nearest_neighbor_distances,
    particle_count,
    radial_average,
    two_point_correlation,
)


@pytest.fixture(scope="module")
def spheres_pack():
    return rve_gen.spheres(0.4, 0.1, seed=0)


def test_voxel_fraction_converges_to_geometric(spheres_pack):
    errors = [
        abs(spheres_pack.voxelize(n).volume_fractions[1] - spheres_pack.volume_fraction)
        for n in (16, 32, 80)  # radius 1.6, 3.2 and 8 voxels
    ]
    assert errors[-1] < 0.005
    assert errors[-1] < errors[0]


def test_particles_narrower_than_two_voxels_warn(recwarn):
    """The voxel fractions of sub-voxel particles stay right (centres sample them without bias)
    while their shapes are lost: voxelize says so, and says nothing on a grid that resolves
    them."""
    packing = rve_gen.circles(0.3, 0.01, seed=0)
    with pytest.warns(UserWarning, match=r"of \d+ particles are less than 2 voxels across on "
                      r"the 48x48 grid \(the narrowest 0.96\).*finer grid \(about 101x101\)"):
        coarse = packing.voxelize(48)
    assert abs(coarse.volume_fractions[1] - 0.3) < 0.01
    rve_gen.circles(0.3, 0.1, seed=0).voxelize(48)
    rve_gen.spheres(0.2, 0.15, seed=0).voxelize(12)
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_voxelization_is_periodic_and_matches_brute_force():
    pack = rve_gen.circles(0.3, 0.08, seed=1)
    ms = pack.voxelize((50, 70))
    x = (np.arange(50) + 0.5) / 50
    y = (np.arange(70) + 0.5) / 70
    points = np.stack(np.meshgrid(x, y, indexing="ij"), -1)
    delta = points[:, :, None] - pack.centers
    delta -= np.round(delta)
    inside = ((delta**2).sum(-1) <= pack.radii**2).any(-1)
    assert np.array_equal(ms.labels > 0, inside)


def test_partial_volume_fractions(spheres_pack):
    frac = spheres_pack.phase_fractions(24, supersample=4)
    assert frac.shape == (2, 24, 24, 24)
    assert np.allclose(frac.sum(0), 1.0)
    assert frac[1].mean() == pytest.approx(spheres_pack.volume_fraction, abs=0.005)
    assert 0 < np.count_nonzero((frac[1] > 0) & (frac[1] < 1))


def test_ellipsoid_and_fiber_voxel_fractions():
    pack = rve_gen.ellipsoids(0.3, (0.12, 0.08, 0.06), seed=2)
    assert pack.voxelize(100).volume_fractions[1] == pytest.approx(0.3, abs=0.005)
    fib = rve_gen.fibers(0.2, 0.04, 4.0, orientation="aligned", seed=3)
    assert fib.voxelize(100).volume_fractions[1] == pytest.approx(0.2, abs=0.005)


FORMATS_2D = [".npz", ".tif", ".png", ".vtu", ".xdmf", ".inp"]
FORMATS_3D = [".npz", ".tif", ".vtu", ".xdmf", ".inp"]


@pytest.mark.parametrize("ext", FORMATS_2D)
def test_round_trip_2d(tmp_path, ext):
    ms = rve_gen.Microstructure(
        np.random.default_rng(0).integers(0, 3, (9, 7)), (2.0, 1.5), ("matrix", "fibre", "pore")
    )
    ms.save(tmp_path / f"rve{ext}")
    assert rve_gen.load(tmp_path / f"rve{ext}").labels.tolist() == ms.labels.tolist()
    back = rve_gen.load(tmp_path / f"rve{ext}")
    assert back.lengths == pytest.approx(ms.lengths)
    if ext != ".vtu":
        assert back.phases == ms.phases
    assert os.listdir(tmp_path) == [f"rve{ext}"]  # atomic: no temporary left behind


@pytest.mark.parametrize("ext", FORMATS_3D)
def test_round_trip_3d(tmp_path, ext):
    ms = rve_gen.Microstructure(
        np.random.default_rng(1).integers(0, 4, (5, 6, 4)), (1.0, 2.0, 3.0)
    )
    ms.save(tmp_path / f"rve{ext}")
    back = rve_gen.load(tmp_path / f"rve{ext}")
    assert np.array_equal(back.labels, ms.labels)
    assert back.lengths == pytest.approx(ms.lengths)


def test_npy_keeps_labels_and_warns_about_lengths(tmp_path):
    ms = rve_gen.Microstructure(np.eye(4, dtype=int), lengths=(2.0, 2.0))
    with pytest.warns(UserWarning, match="npz"):
        ms.save(tmp_path / "a.npy")
    assert np.array_equal(rve_gen.load(tmp_path / "a.npy").labels, ms.labels)
    plain = rve_gen.Microstructure(np.eye(4, dtype=int))
    plain.save(tmp_path / "b.npy")
    assert rve_gen.load(tmp_path / "b.npy") == plain


def test_npz_stores_names_as_json_not_pickle(tmp_path):
    ms = rve_gen.Microstructure(np.eye(3, dtype=int), phases=("m", "f"))
    ms.save(tmp_path / "a.npz")
    with np.load(tmp_path / "a.npz", allow_pickle=False) as data:
        assert json.loads(str(data["phases"])) == ["m", "f"]
    np.savez(tmp_path / "evil.npz", labels=np.array([object()], dtype=object))
    with pytest.raises(ValueError):
        rve_gen.load(tmp_path / "evil.npz")


def test_failed_save_leaves_old_file(tmp_path):
    good = rve_gen.Microstructure(np.eye(3, dtype=int))
    good.save(tmp_path / "a.png")
    with pytest.raises(ValueError, match="2D"):
        rve_gen.Microstructure(np.zeros((2, 2, 2), dtype=int)).save(tmp_path / "a.png")
    assert rve_gen.load(tmp_path / "a.png") == good
    assert os.listdir(tmp_path) == ["a.png"]


def test_from_image_png_grey_levels_and_colours(tmp_path):
    labels = np.random.default_rng(2).integers(0, 3, (20, 30))
    iio.imwrite(tmp_path / "g.png", (labels * 100).astype(np.uint8))
    grey = rve_gen.from_image(tmp_path / "g.png")  # grey levels are the labels, as everywhere
    assert np.array_equal(grey.labels, labels * 100)
    assert grey == rve_gen.load(tmp_path / "g.png")
    mapped = rve_gen.from_image(tmp_path / "g.png", phases={0: 2, 100: 0, 200: 1})
    assert np.array_equal(mapped.labels, (labels + 2) % 3)
    colours = np.array([[255, 255, 255], [200, 0, 0], [0, 0, 255]], dtype=np.uint8)
    iio.imwrite(tmp_path / "c.png", colours[labels])
    ms = rve_gen.from_image(tmp_path / "c.png", phases=[(255, 255, 255), (200, 0, 0), (0, 0, 255)])
    assert np.array_equal(ms.labels, labels)


def test_from_image_tiff_stack_and_threshold(tmp_path):
    volume = np.random.default_rng(3).random((6, 8, 10))
    tifffile.imwrite(tmp_path / "scan.tif", (volume * 255).astype(np.uint8))
    with pytest.raises(ValueError, match="threshold"):
        rve_gen.from_image(tmp_path / "scan.tif")
    ms = rve_gen.from_image(tmp_path / "scan.tif", threshold=128, lengths=(0.6, 0.8, 1.0))
    assert ms.shape == (6, 8, 10) and ms.lengths == (0.6, 0.8, 1.0)
    assert np.array_equal(ms.labels, ((volume * 255).astype(np.uint8) >= 128).astype(int))


def test_from_image_arrays_and_errors(tmp_path):
    np.save(tmp_path / "a.npy", np.array([[0.0, 5.0], [5.0, 0.0]]))
    assert rve_gen.from_image(tmp_path / "a.npy").labels.tolist() == [[0, 5], [5, 0]]
    np.save(tmp_path / "b.npy", np.array([[0.0, 0.5], [0.5, 0.0]]))
    with pytest.raises(ValueError, match="non-integer"):
        rve_gen.from_image(tmp_path / "b.npy")
    segmented = rve_gen.from_image(tmp_path / "b.npy", threshold=0.25)
    assert segmented.labels.tolist() == [[0, 1], [1, 0]]
    with pytest.raises(ValueError, match="NaN"):
        rve_gen.from_image(np.array([[0.0, np.nan], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="does not list pixel value"):
        rve_gen.from_image(np.array([[0, 1], [2, 0]]), phases=[0, 1])
    with pytest.raises(ValueError, match="unknown file type"):
        rve_gen.from_image(tmp_path / "a.xyz")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: rve_gen.circles(0.95, 0.02), "above what"),
        (lambda: rve_gen.spheres(0.7, 0.05), "above what"),
        (lambda: rve_gen.circles(0.3, -0.05), "positive"),
        (lambda: rve_gen.circles(0.3, 0.6), "too large"),
        (lambda: rve_gen.spheres(0.3, np.nan), "NaN"),
        (lambda: rve_gen.circles(np.inf, 0.05), "NaN or infinity"),
        (lambda: rve_gen.circles(0.3, 0.05, distribution="weibull"), "unknown"),
        (lambda: rve_gen.circles(0.3, 1e-4), "too small"),
        (lambda: rve_gen.circles(0.3, 0.05, seed="x"), "seed"),
        (lambda: rve_gen.ellipses(0.3, (0.05, 0.02), orientation="planar"), "unknown"),
        (lambda: rve_gen.fibers(0.3, 0.02, 0.5), "aspect_ratio"),
        (lambda: rve_gen.circles(0.3, 0.05).voxelize((10, 0)), "positive integers"),
        (lambda: rve_gen.load("rve.xyz"), "unknown file type"),
        (lambda: rve_gen.Microstructure(np.zeros(5, dtype=int)), "2D or 3D"),
        (lambda: rve_gen.Microstructure(np.array([[0, -1]])), "negative"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_statistics():
    pack = rve_gen.circles(0.3, 0.05, min_gap=0.02, seed=4)
    ms = pack.voxelize(256)
    assert particle_count(ms) == len(pack)
    nn = nearest_neighbor_distances(pack.centers, pack.lengths)
    assert nn.min() >= 2 * 0.05 + 0.02
    s2 = two_point_correlation(ms, phase=1)
    phi = ms.volume_fractions[1]
    assert s2.flat[0] == pytest.approx(phi)
    r, radial = radial_average(s2, ms.lengths)
    assert radial[-1] == pytest.approx(phi**2, abs=0.03)  # uncorrelated at long range
    assert radial[0] > radial[-1]


def test_preview_writes_png(tmp_path):
    rve_gen.spheres(0.2, 0.1, seed=5).voxelize(24).preview(tmp_path / "p.png")
    assert iio.imread(tmp_path / "p.png").ndim == 3


def test_cli_generate_and_info(tmp_path, capsys):
    from homog.cli import main

    out = tmp_path / "c.npz"
    code = main(["rve", "circles", "--volume-fraction", "0.4", "--radius", "0.06", "--shape",
                 "64", "--seed", "1", "-o", str(out)])  # fmt: skip
    assert code == 0
    assert rve_gen.load(out) == rve_gen.circles(0.4, 0.06, seed=1).voxelize(64)
    assert main(["rve", "info", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["phases"][1]["volume_fraction"] == pytest.approx(0.4, abs=0.02)
    assert main(["rve", "spheres", "--volume-fraction", "0.9", "--radius", "0.05",
                 "-o", str(tmp_path / "x.npz")]) == 1  # fmt: skip
    assert "above what" in capsys.readouterr().err
