"""Short fibres (spherocylinders, 3D) and long aligned fibres (unidirectional composites).

Short fibres are spherocylinders: a cylinder of radius ``r`` and length ``2h`` capped by two
half-spheres, i.e. all points within ``r`` of the axis segment ``c + t u, |t| ≤ h``. The aspect
ratio is the overall length over the diameter, ``(2h + 2r) / 2r``. Two spherocylinders overlap
iff the distance between their axis segments is below ``r_i + r_j`` (exact test, closest points
of two segments as in Ericson, Real-Time Collision Detection, 2005, §5.1.9). Packing:
overlap elimination with FIRE (see :mod:`rve_gen.relaxation`), each overlapping pair pushed
apart along the line between its closest axis points; orientations stay as drawn.

Long fibres run through the whole RVE along one axis: a periodic circle packing of the cross
section (:func:`rve_gen.circles`) extruded along that axis.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rve_gen import _checks
from rve_gen.orientations import NAMES, OrientationLike, rotations
from rve_gen.packing import INFLATION, check_fits, circles, not_reached
from rve_gen.particles import ParticlePacking
from rve_gen.relaxation import relax
from rve_gen.sizes import draw_particles

#: Largest total volume fraction accepted for short fibres.
MAX_VOLUME_FRACTION = 0.45


class FiberPacking(ParticlePacking):
    """Spherocylinders: ``centers`` (n, 3), ``radii`` (n,), ``half_lengths`` (n,) of the axis
    segment (cylinder part), unit ``directions`` (n, 3), ``phases`` (n,)."""

    def __init__(
        self, centers, radii, half_lengths, directions, phases, lengths, phase_names=None
    ) -> None:
        super().__init__(centers, phases, lengths, phase_names)
        self.radii = np.asarray(radii, dtype=float)
        self.half_lengths = np.asarray(half_lengths, dtype=float)
        self.directions = np.asarray(directions, dtype=float)

    @property
    def aspect_ratios(self) -> np.ndarray:
        """Overall length over diameter, ``(h + r) / r``."""
        return (self.half_lengths + self.radii) / self.radii

    @property
    def volumes(self) -> np.ndarray:
        r, h = self.radii, self.half_lengths
        return np.pi * r**2 * 2 * h + 4.0 / 3.0 * np.pi * r**3

    @property
    def extents(self) -> np.ndarray:
        return np.abs(self.directions) * self.half_lengths[:, None] + self.radii[:, None]

    def inside(self, index: np.ndarray, local: list) -> np.ndarray:
        view = (-1,) + (1,) * self.ndim
        u = self.directions[index]
        along = sum(u[:, a].reshape(view) * local[a] for a in range(self.ndim))
        h = self.half_lengths[index].reshape(view)
        t = np.clip(along, -h, h)
        dist2 = sum(x * x for x in local) - 2 * t * along + t * t
        return dist2 <= self.radii[index].reshape(view) ** 2


class LongFiberPacking(ParticlePacking):
    """Cylinders crossing the whole RVE along ``axis``: ``centers`` (n, 3) (mid-length along
    the axis), ``radii`` (n,), ``phases`` (n,)."""

    def __init__(self, centers, radii, axis, phases, lengths, phase_names=None) -> None:
        super().__init__(centers, phases, lengths, phase_names)
        self.radii = np.asarray(radii, dtype=float)
        self.axis = int(axis)

    @property
    def volumes(self) -> np.ndarray:
        return np.pi * self.radii**2 * self.lengths[self.axis]

    @property
    def extents(self) -> np.ndarray:
        out = np.repeat(self.radii[:, None], 3, axis=1)
        out[:, self.axis] = 0.5 * self.lengths[self.axis]
        return out

    def inside(self, index: np.ndarray, local: list) -> np.ndarray:
        r2 = (self.radii[index] ** 2).reshape(-1, 1, 1, 1)
        return sum(x * x for k, x in enumerate(local) if k != self.axis) <= r2


def segment_distance(delta, u, v, h_u, h_v) -> np.ndarray:
    """Vectors between the closest points of segment pairs ``c_i + t u`` (|t| ≤ h_u) and
    ``c_j + s v`` (|s| ≤ h_v), with ``delta = c_i − c_j``; shape (p, 3)."""
    b = np.einsum("pd,pd->p", u, v)
    c = np.einsum("pd,pd->p", u, delta)
    f = np.einsum("pd,pd->p", v, delta)
    denom = 1.0 - b * b
    parallel = denom < 1e-12
    t = np.where(parallel, 0.0, (b * f - c) / np.where(parallel, 1.0, denom))
    t = np.clip(t, -h_u, h_u)
    s = np.clip(f + t * b, -h_v, h_v)
    t = np.clip(s * b - c, -h_u, h_u)
    return delta + t[:, None] * u - s[:, None] * v


def _directions(orientation: OrientationLike, n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit fibre directions (n, 3): a distribution name or direction vectors to draw from."""
    if isinstance(orientation, str):
        return rotations(orientation, 3, n, rng)[:, :, 0]
    arr = np.atleast_2d(np.asarray(orientation, dtype=float))
    norms = np.linalg.norm(arr, axis=-1, keepdims=True) if arr.size else arr
    if arr.ndim != 2 or arr.shape[1] != 3 or not np.all(np.isfinite(arr)) or np.any(norms == 0):
        raise ValueError(
            f"orientation of shape {arr.shape} is not understood: give one of {NAMES}, one "
            "non-zero direction vector (3,) or m of them (m, 3) to draw from."
        )
    return (arr / norms)[rng.integers(0, len(arr), n)]


def fibers(
    volume_fraction: float | Sequence[float],
    radius: float | Sequence[float],
    aspect_ratio: float | Sequence[float],
    *,
    radius_std: float | Sequence[float] = 0.0,
    distribution: str = "fixed",
    orientation: OrientationLike = "random",
    min_gap: float = 0.0,
    lengths: Sequence[float] | float | None = None,
    phase_names: Sequence[str] | None = None,
    seed: _checks.SeedLike = None,
    max_steps: int = 30_000,
) -> FiberPacking:
    """Periodic random packing of non-overlapping short fibres (spherocylinders, 3D).

    Parameters
    ----------
    volume_fraction : fibre volume fraction, or one per inclusion phase; total up to 0.45
        (less is reachable at high aspect ratio with random orientations).
    radius, radius_std, distribution : fibre radius distribution (``"fixed"``, ``"normal"``,
        ``"lognormal"``), per phase or for all.
    aspect_ratio : overall length over diameter (>= 1; 1 is a sphere), per phase or for all.
    orientation : ``"aligned"`` (along x1), ``"random"`` (isotropic), ``"planar"`` (random in
        the x1–x2 plane), or direction vectors (3,) / (m, 3) to draw from.
    min_gap, lengths, phase_names, seed, max_steps : as in :func:`rve_gen.circles`.
    """
    rng = _checks.rng_from(seed)
    max_steps = _checks.integer("max_steps", max_steps, 0)
    box = np.asarray(_checks.lengths_for(lengths, 3))
    fractions = _checks.volume_fractions(
        volume_fraction, MAX_VOLUME_FRACTION, "fibre overlap elimination"
    )
    nphase = fractions.size
    phase_names = _checks.phase_names(phase_names, nphase + 1, _checks.INCLUSIONS)
    mean = _checks.finite("radius", _checks.per_phase("radius", radius, nphase), positive=True)
    std = _checks.finite(
        "radius_std", _checks.per_phase("radius_std", radius_std, nphase), nonnegative=True
    )
    ratio = _checks.finite("aspect_ratio", _checks.per_phase("aspect_ratio", aspect_ratio, nphase))
    if np.any(ratio < 1):
        raise _checks.ParameterError(
            "aspect_ratio", aspect_ratio, "must be >= 1 (overall length over diameter)."
        )
    gap = _checks.min_gap(min_gap)
    check_fits("fibre", float((2 * (mean + 3 * std) * ratio).max()), gap, box)
    unit = np.pi * 2 * (ratio - 1) + 4.0 / 3.0 * np.pi
    radii, phases = draw_particles(
        rng, fractions, mean, std, distribution, unit, 3, float(np.prod(box)), "radius_std"
    )
    half = radii * (ratio[phases - 1] - 1)
    check_fits("fibre", float(2 * (radii + half).max()), gap, box)
    u = _directions(orientation, radii.size, rng)
    centers = rng.random((radii.size, 3)) * box

    def pair_push(i, j, delta):
        w = segment_distance(delta, u[i], u[j], half[i], half[j])
        d = np.sqrt(np.einsum("pd,pd->p", w, w))
        contact = radii[i] + radii[j] + gap
        excess = np.maximum(contact * (1 + INFLATION) - d, 0.0)
        degenerate = d < 1e-12 * contact
        w[degenerate] = delta[degenerate]
        norm = np.maximum(np.sqrt(np.einsum("pd,pd->p", w, w)), 1e-300)
        return (0.5 * excess / norm)[:, None] * w, contact - d

    reach = (radii + half + 0.5 * gap) * (1 + INFLATION)
    centers, ok = relax(centers, box, reach, pair_push, max_steps=max_steps)
    if not ok:
        raise not_reached(float(fractions.sum()), "fibres")
    return FiberPacking(centers, radii, half, u, phases, box, phase_names)


def long_fibers(
    volume_fraction: float | Sequence[float],
    radius: float | Sequence[float],
    *,
    axis: int = 2,
    radius_std: float | Sequence[float] = 0.0,
    distribution: str = "fixed",
    min_gap: float = 0.0,
    lengths: Sequence[float] | float | None = None,
    phase_names: Sequence[str] | None = None,
    seed: _checks.SeedLike = None,
    max_steps: int = 30_000,
) -> LongFiberPacking:
    """Unidirectional composite: long fibres along ``axis`` (0, 1 or 2) through the 3D RVE.

    The cross section is a :func:`rve_gen.circles` packing (same parameters, volume fraction up
    to 0.82), extruded along ``axis``.
    """
    if axis not in (0, 1, 2):
        raise _checks.ParameterError("axis", axis,
                                     "must be 0, 1 or 2 (the fibre direction x1, x2, x3).")
    box = _checks.lengths_for(lengths, 3)
    plane = [k for k in range(3) if k != axis]
    section = circles(
        volume_fraction,
        radius,
        radius_std=radius_std,
        distribution=distribution,
        min_gap=min_gap,
        lengths=[box[k] for k in plane],
        phase_names=phase_names,
        seed=seed,
        max_steps=max_steps,
    )
    centers = np.full((len(section), 3), 0.5 * box[axis])
    centers[:, plane] = section.centers
    return LongFiberPacking(centers, section.radii, axis, section.phases, box, section.phase_names)
