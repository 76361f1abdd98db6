"""Load paths: targets, control flags, reversal points, the 2D view and validation."""

import numpy as np
import pytest

from homog.loading import (
    LoadPath,
    Segment,
    biaxial,
    cyclic,
    pure_shear,
    strain_path,
    uniaxial_strain,
    uniaxial_stress,
)
from kernels.tensors import SQRT2

STRESS_FREE_BUT_11 = [True, False, False, False, False, False]


def test_uniaxial_stress_ramps_one_strain_with_other_stresses_zero():
    path = uniaxial_stress(strain=0.05, steps=200, axis=0)
    assert path.nsteps == 200 and path.targets.shape == (200, 6)
    np.testing.assert_allclose(path.targets[:, 0], 0.05 * np.arange(1, 201) / 200)
    np.testing.assert_array_equal(path.targets[:, 1:], 0.0)
    np.testing.assert_array_equal(path.strain_controlled, [STRESS_FREE_BUT_11] * 200)
    flags = uniaxial_stress(0.01, 3, axis=2).strain_controlled[0]
    np.testing.assert_array_equal(flags, [False, False, True, False, False, False])


def test_uniaxial_strain_holds_every_other_strain():
    path = uniaxial_strain(strain=-0.02, steps=4, axis=1)
    assert path.strain_controlled.all()
    np.testing.assert_allclose(path.targets[-1], [0, -0.02, 0, 0, 0, 0])


def test_shear_targets_are_stored_in_mandel_form():
    path = pure_shear(strain=0.01, steps=2, plane=(2, 0))
    np.testing.assert_allclose(path.targets[-1], [0, 0, 0, 0, SQRT2 * 0.01, 0])
    np.testing.assert_array_equal(path.strain_controlled[0], [0, 0, 0, 0, 1, 0])
    mixed = LoadPath.from_components(strain={"21": 0.01}, stress={"11": 3.0}, steps=1)
    np.testing.assert_allclose(mixed.targets[0], [3.0, 0, 0, 0, 0, SQRT2 * 0.01])


def test_biaxial_prescribes_two_normal_strains():
    path = biaxial(0.02, -0.01, steps=10)
    np.testing.assert_allclose(path.targets[4], [0.01, -0.005, 0, 0, 0, 0])
    np.testing.assert_array_equal(path.strain_controlled[0], [1, 1, 0, 0, 0, 0])


def test_cyclic_path_reverses_at_the_amplitudes():
    path = cyclic(0.01, cycles=2, steps=5)
    ends = path.segment_ends
    np.testing.assert_array_equal(ends, [4, 14, 24, 34, 39])
    np.testing.assert_allclose(path.targets[ends, 0], [0.01, -0.01, 0.01, -0.01, 0.0])
    increments = np.diff(np.r_[0.0, path.targets[:, 0]])
    np.testing.assert_allclose(np.abs(increments), 0.002)  # same step size everywhere
    np.testing.assert_array_equal(path.strain_controlled[0], STRESS_FREE_BUT_11)
    pulsating = cyclic(0.01, cycles=1, steps=5, ratio=0.0, lateral="strain")
    np.testing.assert_allclose(pulsating.targets[pulsating.segment_ends, 0], [0.01, 0.0])
    assert pulsating.strain_controlled.all()


def test_non_proportional_strain_path_holds_earlier_components():
    path = strain_path([{"11": 0.02}, {"12": 0.01}, {"11": 0.0}], steps=[2, 2, 1])
    np.testing.assert_allclose(
        path.targets,
        [
            [0.01, 0, 0, 0, 0, 0],
            [0.02, 0, 0, 0, 0, 0],
            [0.02, 0, 0, 0, 0, SQRT2 * 0.005],
            [0.02, 0, 0, 0, 0, SQRT2 * 0.01],
            [0.0, 0, 0, 0, 0, SQRT2 * 0.01],
        ],
    )
    np.testing.assert_array_equal(path.strain_controlled[0], [1, 0, 0, 0, 0, 1])


def test_paths_concatenate_with_absolute_targets():
    path = uniaxial_stress(0.02, steps=2) + uniaxial_stress(0.0, steps=2)
    np.testing.assert_allclose(path.targets[:, 0], [0.01, 0.02, 0.01, 0.0])


def test_pure_stress_control_is_allowed():
    path = LoadPath.from_components(stress={"11": 2.0}, steps=4)
    assert not path.strain_controlled.any()
    np.testing.assert_allclose(path.targets[:, 0], [0.5, 1.0, 1.5, 2.0])


def test_plane_strain_view_keeps_the_in_plane_components():
    view = pure_shear(0.01, steps=3).for_dimension(2)
    assert view.components == (0, 1, 5) and len(view) == 3
    np.testing.assert_allclose(view.targets[-1], [0, 0, SQRT2 * 0.01])
    np.testing.assert_array_equal(view.strain_controlled[0], [False, False, True])
    rows = list(uniaxial_stress(0.01, steps=2).for_dimension(3))
    assert len(rows) == 2 and rows[1][0][0] == 0.01 and rows[1][1][0]


@pytest.mark.parametrize(
    "path",
    [
        uniaxial_stress(0.01, steps=2, axis=2),
        pure_shear(0.01, steps=2, plane=(1, 2)),
        LoadPath.from_components(strain={"11": 0.01}, stress={"33": 1.0}),
    ],
)
def test_plane_strain_view_rejects_out_of_plane_targets(path):
    with pytest.raises(ValueError, match="out-of-plane"):
        path.for_dimension(2)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: uniaxial_stress(0.01, steps=0), "steps = 0"),
        (lambda: uniaxial_stress(0.01, steps=2.5), "steps = 2.5"),
        (lambda: uniaxial_stress(float("nan")), "finite"),
        (lambda: uniaxial_stress(0.01, axis=3), "axis"),
        (lambda: pure_shear(0.01, plane=(1, 1)), "plane"),
        (lambda: biaxial(0.01, 0.02, axes=(0, 0)), "different"),
        (lambda: cyclic(0.0), "amplitude"),
        (lambda: cyclic(0.01, ratio=1.5), "ratio"),
        (lambda: cyclic(0.01, lateral="free"), "lateral"),
        (lambda: LoadPath.from_components(strain={"14": 0.01}), "not a tensor component"),
        (lambda: LoadPath.from_components(strain={"12": 0.01}, stress={"21": 0.0}), "twice"),
        (lambda: LoadPath([]), "at least one"),
        (lambda: Segment(np.zeros(5), np.ones(6, bool), 1), "6 finite"),
        (lambda: Segment(np.zeros(6), np.ones(6), 1), "booleans"),
        (lambda: uniaxial_stress(0.01) + uniaxial_strain(0.0), "control type"),
        (lambda: strain_path([{"11": 0.01}], steps=[1, 2]), "2 entries"),
        (lambda: uniaxial_stress(0.01).for_dimension(1), "ndim"),
    ],
)
def test_bad_paths_are_rejected(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_path_arrays_are_read_only():
    path = uniaxial_stress(0.01, steps=2)
    with pytest.raises(ValueError):
        path.targets[0, 0] = 1.0
