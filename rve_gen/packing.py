"""Dense random packings of circles (2D) and spheres (3D).

Algorithm: overlap elimination (see :mod:`rve_gen.relaxation`). All particles are dropped at
uniformly random positions with their final radii, which makes them overlap heavily; the
harmonic overlap energy ``Σ ½ δ_ij²``, ``δ_ij = (r_i + r_j + gap)(1 + ε) − d_ij``, is then
minimized with FIRE until no pair overlaps (O'Hern et al. 2003; Bitzek et al. 2006). Unlike
random sequential addition, which jams at 0.547 (2D) and 0.384 (3D), this reaches any density
below the random jamming point (about 0.84 for disks and 0.64 for spheres); the generator
accepts up to 0.82 (2D) and 0.62 (3D), where relaxation still converges in about a second.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rve_gen import _checks
from rve_gen.particles import ParticlePacking
from rve_gen.relaxation import relax
from rve_gen.sizes import draw_particles

#: Largest total volume fraction accepted, per dimension.
MAX_VOLUME_FRACTION = {2: 0.82, 3: 0.62}

#: Relative inflation of contact distances during relaxation (final clearance margin).
INFLATION = 1e-3


class SpherePacking(ParticlePacking):
    """Circles (2D) or spheres (3D): ``centers`` (n, dim), ``radii`` (n,), ``phases`` (n,)."""

    def __init__(self, centers, radii, phases, lengths, phase_names=None) -> None:
        super().__init__(centers, phases, lengths, phase_names)
        self.radii = np.asarray(radii, dtype=float)

    @property
    def volumes(self) -> np.ndarray:
        if self.ndim == 2:
            return np.pi * self.radii**2
        return 4.0 / 3.0 * np.pi * self.radii**3

    @property
    def extents(self) -> np.ndarray:
        return np.repeat(self.radii[:, None], self.ndim, axis=1)

    def inside(self, index: np.ndarray, local: list) -> np.ndarray:
        r2 = (self.radii[index] ** 2).reshape((-1,) + (1,) * self.ndim)
        return sum(x * x for x in local) <= r2


def check_fits(name: str, largest: float, gap: float, lengths: Sequence[float]) -> None:
    """Refuse particles whose size plus gap exceeds half the smallest RVE side (a particle
    would then touch its own periodic image or more than one image of a neighbour)."""
    if largest + gap > 0.5 * min(lengths):
        raise ValueError(
            f"{name} too large for the RVE: the largest particle spans {largest:.4g} (+ gap "
            f"{gap:.4g}) but at most half the smallest RVE side ({0.5 * min(lengths):.4g}) is "
            "allowed; use smaller particles or a larger RVE (lengths=...)."
        )


def not_reached(volume_fraction: float, what: str) -> ValueError:
    """The error raised when relaxation leaves overlaps."""
    return ValueError(
        f"could not pack {what} at volume fraction {volume_fraction:.3f}: overlaps remained "
        "after relaxation (the packing is close to jamming); lower the volume fraction, the "
        "min_gap, or use a size distribution, or try another seed."
    )


def pack_spheres(
    ndim: int,
    volume_fraction: float | Sequence[float],
    radius: float | Sequence[float],
    radius_std: float | Sequence[float],
    distribution: str,
    min_gap: float,
    lengths: Sequence[float] | float | None,
    phase_names: Sequence[str] | None,
    seed: _checks.SeedLike,
    max_steps: int,
) -> SpherePacking:
    """Circles (``ndim = 2``) or spheres (``ndim = 3``); see :func:`circles`."""
    rng = _checks.rng_from(seed)
    max_steps = _checks.integer("max_steps", max_steps, 0)
    box = np.asarray(_checks.lengths_for(lengths, ndim))
    fractions = _checks.volume_fractions(
        volume_fraction, MAX_VOLUME_FRACTION[ndim], "overlap elimination"
    )
    nphase = fractions.size
    phase_names = _checks.phase_names(phase_names, nphase + 1, _checks.INCLUSIONS)
    mean = _checks.finite("radius", _checks.per_phase("radius", radius, nphase), positive=True)
    std = _checks.finite(
        "radius_std", _checks.per_phase("radius_std", radius_std, nphase), nonnegative=True
    )
    gap = _checks.min_gap(min_gap)
    check_fits("radius", 2 * float((mean + 3 * std).max()), gap, box)
    unit = np.full(nphase, np.pi if ndim == 2 else 4.0 / 3.0 * np.pi)
    radii, phases = draw_particles(
        rng, fractions, mean, std, distribution, unit, ndim, float(np.prod(box)), "radius_std"
    )
    check_fits("radius", 2 * float(radii.max()), gap, box)
    centers = rng.random((radii.size, ndim)) * box

    def pair_push(i, j, delta):
        contact = radii[i] + radii[j] + gap
        d = np.sqrt(np.einsum("pd,pd->p", delta, delta))
        excess = np.maximum(contact * (1 + INFLATION) - d, 0.0)
        push = (0.5 * excess / np.maximum(d, 1e-300))[:, None] * delta
        return push, contact - d

    reach = (radii + 0.5 * gap) * (1 + INFLATION)
    centers, ok = relax(centers, box, reach, pair_push, max_steps=max_steps)
    what = "circles" if ndim == 2 else "spheres"
    if not ok:
        raise not_reached(float(fractions.sum()), what)
    return SpherePacking(centers, radii, phases, box, phase_names)


def circles(
    volume_fraction: float | Sequence[float],
    radius: float | Sequence[float],
    *,
    radius_std: float | Sequence[float] = 0.0,
    distribution: str = "fixed",
    min_gap: float = 0.0,
    lengths: Sequence[float] | float | None = None,
    phase_names: Sequence[str] | None = None,
    seed: _checks.SeedLike = None,
    max_steps: int = 30_000,
) -> SpherePacking:
    """Periodic random packing of non-overlapping circles (2D) by overlap elimination.

    Parameters
    ----------
    volume_fraction : area fraction of the inclusions, or one per inclusion phase (phases
        1, 2, ... in that order); the total may reach 0.82.
    radius, radius_std : mean and standard deviation of the radius (per phase or for all),
        in RVE length units.
    distribution : ``"fixed"``, ``"normal"`` (truncated at ±3 std) or ``"lognormal"``.
    min_gap : smallest surface-to-surface distance between two circles.
    lengths : RVE side lengths (default 1 x 1).
    phase_names : names of all phases, matrix first.
    seed : int or numpy Generator; the same seed gives the same packing.
    max_steps : FIRE steps allowed before giving up.

    Returns a :class:`SpherePacking`; ``.voxelize(shape)`` gives the label image. Relaxation
    follows O'Hern et al., Phys. Rev. E 68, 011306 (2003) with the FIRE minimizer of Bitzek
    et al., Phys. Rev. Lett. 97, 170201 (2006).
    """
    return pack_spheres(
        2,
        volume_fraction,
        radius,
        radius_std,
        distribution,
        min_gap,
        lengths,
        phase_names,
        seed,
        max_steps,
    )


def spheres(
    volume_fraction: float | Sequence[float],
    radius: float | Sequence[float],
    *,
    radius_std: float | Sequence[float] = 0.0,
    distribution: str = "fixed",
    min_gap: float = 0.0,
    lengths: Sequence[float] | float | None = None,
    phase_names: Sequence[str] | None = None,
    seed: _checks.SeedLike = None,
    max_steps: int = 30_000,
) -> SpherePacking:
    """Periodic random packing of non-overlapping spheres (3D) by overlap elimination.

    Same parameters as :func:`circles`; the total volume fraction may reach 0.62.
    """
    return pack_spheres(
        3,
        volume_fraction,
        radius,
        radius_std,
        distribution,
        min_gap,
        lengths,
        phase_names,
        seed,
        max_steps,
    )
