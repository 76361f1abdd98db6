"""Orientation distributions of elongated particles.

A distribution is named or given by samples:

- ``"aligned"``: every particle has the same orientation (identity rotation: first semi-axis or
  fibre axis along x1);
- ``"random"``: uniform (isotropic) orientations: uniform angle in 2D, Haar-uniform rotations
  in 3D (Shoemake's quaternion method, via ``scipy.spatial.transform.Rotation.random``);
- ``"planar"`` (3D only): uniform rotations about x3, so the first axis lies in the x1–x2 plane;
- an array: one rotation matrix ``(dim, dim)`` (or, in 2D, one angle) for all particles, or
  ``m`` of them ``(m, dim, dim)`` (in 2D, ``(m,)`` angles) drawn uniformly with replacement.

Rotation matrices have the particle's principal axes as columns.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from rve_gen._checks import ParameterError

NAMES = ("aligned", "random", "planar")

OrientationLike = str | np.ndarray


def _rotation_2d(theta: np.ndarray) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def _about_x3(theta: np.ndarray) -> np.ndarray:
    out = np.zeros((theta.size, 3, 3))
    out[:, :2, :2] = _rotation_2d(theta)
    out[:, 2, 2] = 1.0
    return out


def _samples(orientation, ndim: int) -> np.ndarray:
    """Prescribed rotation matrices ``(m, dim, dim)``, checked to be rotations."""
    arr = np.asarray(orientation, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError("orientation contains NaN or infinity: give finite rotations.")
    if ndim == 2 and arr.ndim <= 1:
        return _rotation_2d(np.atleast_1d(arr))
    if arr.shape == (ndim, ndim):
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (ndim, ndim):
        raise ValueError(
            f"orientation of shape {arr.shape} is not understood: give one of {NAMES}, a "
            f"rotation matrix ({ndim}, {ndim}) or m of them (m, {ndim}, {ndim})"
            + (", or angles in radians" if ndim == 2 else "")
            + "."
        )
    eye = np.eye(ndim)
    if not np.allclose(np.einsum("mki,mkj->mij", arr, arr), eye, atol=1e-6) or np.any(
        np.linalg.det(arr) < 0
    ):
        raise ValueError(
            "orientation matrices must be proper rotations (orthonormal, determinant +1)."
        )
    return arr


def rotations(orientation: OrientationLike, ndim: int, n: int, rng: np.random.Generator):
    """``n`` rotation matrices, shape ``(n, dim, dim)``, drawn from ``orientation``."""
    if isinstance(orientation, str):
        if orientation not in NAMES or (orientation == "planar" and ndim == 2):
            allowed = NAMES if ndim == 3 else NAMES[:2]
            raise ParameterError(
                "orientation", orientation, f"is unknown in {ndim}D: use one of {allowed} or "
                "give rotation matrices."
            )
        if orientation == "aligned":
            return np.broadcast_to(np.eye(ndim), (n, ndim, ndim)).copy()
        if ndim == 2 or orientation == "planar":
            theta = rng.uniform(0.0, 2 * np.pi, n)
            return _rotation_2d(theta) if ndim == 2 else _about_x3(theta)
        return Rotation.random(n, rng).as_matrix().reshape(n, 3, 3)
    samples = _samples(orientation, ndim)
    return samples[rng.integers(0, len(samples), n)]
