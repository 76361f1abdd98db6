"""Particle packings: volume fraction reached, no overlaps, periodic, seeded, size laws."""

from __future__ import annotations

import numpy as np
import pytest

import rve_gen
from rve_gen.ellipsoids import contact_function, pair_frames
from rve_gen.fibers import segment_distance


def min_image(delta, lengths):
    lengths = np.asarray(lengths)
    return delta - lengths * np.round(delta / lengths)


def sphere_clearance(pack) -> float:
    """Smallest surface distance over all pairs, with periodic images (brute force)."""
    delta = min_image(pack.centers[:, None] - pack.centers[None], pack.lengths)
    dist = np.sqrt((delta**2).sum(-1))
    np.fill_diagonal(dist, np.inf)
    return float((dist - pack.radii[:, None] - pack.radii[None]).min())


@pytest.mark.parametrize(
    "generator, fraction, radius",
    [(rve_gen.circles, 0.65, 0.03), (rve_gen.circles, 0.80, 0.035),
     (rve_gen.spheres, 0.55, 0.06), (rve_gen.spheres, 0.60, 0.07)],
)  # fmt: skip
def test_dense_packings_reach_fraction_without_overlap(generator, fraction, radius):
    pack = generator(fraction, radius, seed=1)
    assert pack.volume_fraction == pytest.approx(fraction, abs=1e-9)
    assert sphere_clearance(pack) > 0


def test_min_gap_is_respected():
    pack = rve_gen.circles(0.5, 0.03, min_gap=0.01, seed=2)
    assert sphere_clearance(pack) >= 0.01


def test_polydisperse_multiphase_circles():
    pack = rve_gen.circles(
        (0.3, 0.2), (0.03, 0.015), radius_std=(0.006, 0.003), distribution="lognormal", seed=3
    )
    assert pack.volume_fractions[1:] == pytest.approx([0.3, 0.2], abs=1e-9)
    assert set(np.unique(pack.phases)) == {1, 2}
    big = pack.radii[pack.phases == 1]
    assert big.mean() == pytest.approx(0.03, rel=0.05)
    assert big.std() == pytest.approx(0.006, rel=0.3)
    assert sphere_clearance(pack) > 0


def test_normal_distribution_is_truncated_positive():
    pack = rve_gen.spheres(0.3, 0.05, radius_std=0.02, distribution="normal", seed=4)
    assert pack.radii.min() > 0
    assert pack.radii.std() > 0.01


@pytest.mark.parametrize("generator", [rve_gen.circles, rve_gen.spheres])
def test_same_seed_same_packing(generator):
    a = generator(0.4, 0.06, seed=5)
    b = generator(0.4, 0.06, seed=np.random.default_rng(5))
    c = generator(0.4, 0.06, seed=6)
    assert np.array_equal(a.centers, b.centers) and np.array_equal(a.radii, b.radii)
    assert not np.array_equal(a.centers, c.centers)


def test_periodicity_rolled_image_has_same_particles():
    pack = rve_gen.circles(0.4, 0.05, min_gap=0.02, seed=7)
    crossing = np.any(
        (pack.centers < pack.radii[:, None]) | (pack.centers > 1 - pack.radii[:, None])
    )
    assert crossing, "test needs a particle crossing a face"
    ms = pack.voxelize(200)
    sizes = rve_gen.statistics.particle_sizes(ms)
    assert sizes.size == len(pack)
    rolled = np.roll(ms.labels, (37, 91), axis=(0, 1))
    assert np.array_equal(rve_gen.statistics.particle_sizes(rolled), sizes)


def test_perram_wertheim_matches_spheres_and_scaling():
    # spheres: F = (d / (r_a + r_b))^2
    d = np.array([[0.3, 0.0, 0.0]])
    m_a = np.eye(3)[None] * 0.1
    sigma_b = np.eye(3)[None] * 0.15**2
    f, _ = contact_function(d, pair_frames(m_a, sigma_b))
    assert f[0] == pytest.approx((0.3 / 0.25) ** 2, rel=1e-10)
    # crossed ellipses, a = (0.2, 0.05) along x1 and b = (0.05, 0.2): tip of a touches the
    # side of b at centre distance 0.25 along x1; F scales with the distance squared
    m_a = np.diag([0.2, 0.05])[None]
    sigma_b = np.diag([0.05**2, 0.2**2])[None]
    for distance in (0.25, 0.125, 0.5):
        f, _ = contact_function(np.array([[distance, 0.0]]), pair_frames(m_a, sigma_b))
        assert f[0] == pytest.approx((distance / 0.25) ** 2, rel=1e-9)


def test_ellipses_no_overlap_by_sampling():
    pack = rve_gen.ellipses(0.5, (0.05, 0.02), orientation="random", seed=8)
    assert pack.volume_fraction == pytest.approx(0.5, abs=1e-9)
    ms = pack.voxelize(400)
    # overlapping ellipses would share voxels: count covered voxels of each ellipse separately
    covered = sum(
        rve_gen.EllipsoidPacking(
            pack.centers[k : k + 1], pack.semi_axes[k : k + 1], pack.orientations[k : k + 1],
            pack.phases[k : k + 1], pack.lengths,
        ).voxelize(400).labels.sum()
        for k in range(len(pack))
    )  # fmt: skip
    assert covered == ms.labels.sum()


def test_ellipsoids_pairwise_contact_function_at_least_one():
    pack = rve_gen.ellipsoids(0.35, (0.09, 0.05, 0.04), orientation="random", seed=9)
    n = len(pack)
    i, j = np.triu_indices(n, 1)
    delta = min_image(pack.centers[i] - pack.centers[j], pack.lengths)
    factor = pack.orientations * pack.semi_axes[:, None, :]
    f, _ = contact_function(delta, pair_frames(factor[i], pack.shape_matrices[j]))
    assert f.min() >= 1.0
    assert pack.volume_fraction == pytest.approx(0.35, abs=1e-9)


def test_aligned_ellipses_keep_orientation():
    pack = rve_gen.ellipses(0.4, (0.05, 0.02), orientation="aligned", seed=10)
    assert np.allclose(pack.orientations, np.eye(2))


def test_fibers_segments_apart():
    pack = rve_gen.fibers(0.25, 0.025, 6.0, orientation="random", seed=11)
    i, j = np.triu_indices(len(pack), 1)
    delta = min_image(pack.centers[i] - pack.centers[j], pack.lengths)
    w = segment_distance(
        delta, pack.directions[i], pack.directions[j], pack.half_lengths[i], pack.half_lengths[j]
    )
    clearance = np.linalg.norm(w, axis=1) - pack.radii[i] - pack.radii[j]
    assert clearance.min() > 0
    assert pack.aspect_ratios == pytest.approx(6.0)
    assert pack.volume_fraction == pytest.approx(0.25, abs=1e-9)


def test_segment_distance_against_sampling():
    rng = np.random.default_rng(0)
    for _ in range(20):
        u, v = rng.normal(size=(2, 3))
        u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
        delta = rng.normal(size=3) * 0.5
        t = np.linspace(-0.4, 0.4, 801)
        pts_a = delta + t[:, None] * u
        pts_b = t[:, None] * v
        brute = np.min(np.linalg.norm(pts_a[:, None] - pts_b[None], axis=-1))
        w = segment_distance(delta[None], u[None], v[None], np.array([0.4]), np.array([0.4]))
        assert np.linalg.norm(w) == pytest.approx(brute, abs=2e-3)
        assert np.linalg.norm(w) <= brute + 1e-12


def test_long_fibers_extruded():
    pack = rve_gen.long_fibers(0.6, 0.05, axis=2, seed=12)
    ms = pack.voxelize(64)
    assert np.all(ms.labels == ms.labels[:, :, :1])
    assert ms.volume_fractions[1] == pytest.approx(0.6, abs=0.01)


def test_voronoi_phase_fractions_and_periodicity():
    tess = rve_gen.voronoi(60, phase_fractions=(0.6, 0.4), ndim=2, seed=13)
    ms = tess.voxelize(256)
    assert ms.volume_fractions == pytest.approx([0.6, 0.4], abs=0.05)
    grains = tess.grain_map(256)
    # every grain is one periodic connected region
    assert rve_gen.statistics.particle_count(grains + 1, None) == len(tess)
    # shifting the seeds by a whole period changes nothing
    shifted = rve_gen.Tessellation(tess.points + 1.0, tess.weights, tess.phases, tess.lengths)
    assert np.array_equal(shifted.grain_map(256), grains)


def test_laguerre_weights_grow_grains():
    rng = np.random.default_rng(14)
    points = rng.random((30, 3))
    weights = np.zeros(30)
    weights[0] = 0.02
    plain = rve_gen.voronoi(0, points=points, seed=0).grain_volumes(32)
    weighted = rve_gen.voronoi(0, points=points, weights=weights, seed=0).grain_volumes(32)
    assert weighted[0] > plain[0]
    assert weighted.sum() == pytest.approx(1.0)
