"""Dense random packings of ellipses (2D) and ellipsoids (3D) with prescribed orientations.

Overlap test: the Perram–Wertheim contact function (Perram & Wertheim, J. Comput. Phys. 58,
409, 1985). For ellipsoids ``A`` and ``B`` with shape matrices ``Σ_A = R_A diag(a²) R_Aᵀ``
(so ``x ∈ A ⇔ xᵀ Σ_A⁻¹ x ≤ 1``) and centre difference ``r``,

    F(λ) = λ (1 − λ) rᵀ [(1 − λ) Σ_A + λ Σ_B]⁻¹ r,    F_AB = max_{0 ≤ λ ≤ 1} F(λ),

is the square of the factor by which both ellipsoids must be scaled about their centres to
touch: they overlap iff ``F_AB < 1``. ``F`` is concave in ``λ``; with ``Σ_A = M Mᵀ`` and the
eigen-decomposition ``M⁻¹ Σ_B M⁻ᵀ = Q diag(μ) Qᵀ`` it reads
``F(λ) = λ(1 − λ) Σ_k s_k² / (1 − λ + λ μ_k)`` with ``s = Qᵀ M⁻¹ r``, maximized here by
safeguarded Newton steps on ``F′(λ) = 0``. The test is exact, not a bounding-sphere
approximation. A minimum gap ``g`` is enforced conservatively by testing ellipsoids scaled by
``1 + g / (2 a_min)``, which contain the parallel body at distance ``g/2``.

Packing: overlap elimination with FIRE (see :mod:`rve_gen.relaxation`); orientations stay as
drawn, only centres move, so the orientation distribution is exactly the requested one. Each
overlapping pair is pushed apart along the contact normal ``∇_r F ∝ [(1 − λ)Σ_A + λΣ_B]⁻¹ r``
by ``½ |r| (1/√F − 1)``, the separation that brings it to contact.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rve_gen import _checks
from rve_gen.orientations import OrientationLike, rotations
from rve_gen.packing import INFLATION, check_fits, not_reached
from rve_gen.particles import ParticlePacking
from rve_gen.relaxation import relax
from rve_gen.sizes import draw_particles

#: Largest total volume fraction accepted, per dimension.
MAX_VOLUME_FRACTION = {2: 0.70, 3: 0.50}


class EllipsoidPacking(ParticlePacking):
    """Ellipses (2D) or ellipsoids (3D).

    ``centers`` (n, dim), ``semi_axes`` (n, dim), ``orientations`` (n, dim, dim) rotation
    matrices whose columns are the principal axes, ``phases`` (n,).
    """

    def __init__(self, centers, semi_axes, orientations, phases, lengths, phase_names=None) -> None:
        super().__init__(centers, phases, lengths, phase_names)
        self.semi_axes = np.asarray(semi_axes, dtype=float)
        self.orientations = np.asarray(orientations, dtype=float)

    @property
    def volumes(self) -> np.ndarray:
        unit = np.pi if self.ndim == 2 else 4.0 / 3.0 * np.pi
        return unit * np.prod(self.semi_axes, axis=1)

    @property
    def extents(self) -> np.ndarray:
        return np.sqrt(np.einsum("nik,nk->ni", self.orientations**2, self.semi_axes**2))

    @property
    def shape_matrices(self) -> np.ndarray:
        """``Σ = R diag(a²) Rᵀ`` of each particle, shape ``(n, dim, dim)``."""
        return np.einsum("nik,nk,njk->nij", self.orientations, self.semi_axes**2, self.orientations)

    def inside(self, index: np.ndarray, local: list) -> np.ndarray:
        q = np.einsum(
            "nik,nk,njk->nij",
            self.orientations[index],
            self.semi_axes[index] ** -2,
            self.orientations[index],
        )
        view = (-1,) + (1,) * self.ndim
        form = 0
        for a in range(self.ndim):
            for b in range(a, self.ndim):
                weight = q[:, a, b] if a == b else 2 * q[:, a, b]
                form = form + weight.reshape(view) * local[a] * local[b]
        return form <= 1.0


def pair_frames(m_a: np.ndarray, sigma_b: np.ndarray) -> tuple[np.ndarray, ...]:
    """Orientation-only part of the contact function of pairs of ellipsoids.

    ``m_a`` (p, dim, dim): a factor ``M`` of ``Σ_A = M Mᵀ`` (``R_A diag(a_A)``); ``sigma_b``
    (p, dim, dim): ``Σ_B``. Returns ``(M⁻¹, Q, μ)`` with ``M⁻¹ Σ_B M⁻ᵀ = Q diag(μ) Qᵀ``.
    """
    m_inv = np.linalg.inv(m_a)
    mu, q = np.linalg.eigh(np.einsum("pik,pkl,pjl->pij", m_inv, sigma_b, m_inv))
    return m_inv, q, mu


def contact_function(
    delta: np.ndarray, frames: tuple[np.ndarray, ...], iterations: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """Perram–Wertheim contact function of pairs of ellipsoids.

    ``delta`` (p, dim): centre of A minus centre of B (F is even in it); ``frames`` from
    :func:`pair_frames`. Returns ``F`` (p,) (overlap iff F < 1) and the contact normal
    ``[(1 − λ*)Σ_A + λ*Σ_B]⁻¹ delta`` (p, dim), not normalized.
    """
    m_inv, q, mu = frames
    s = np.einsum("pki,pk->pi", q, np.einsum("pij,pj->pi", m_inv, delta))
    s2, dmu = s * s, mu - 1.0
    lo, hi = np.zeros(len(delta)), np.ones(len(delta))
    lam = np.full(len(delta), 0.5)
    for _ in range(iterations):
        den = 1.0 + lam[:, None] * dmu
        h = np.sum(s2 / den, axis=1)
        h1 = -np.sum(s2 * dmu / den**2, axis=1)
        h2 = 2.0 * np.sum(s2 * dmu**2 / den**3, axis=1)
        f1 = (1 - 2 * lam) * h + lam * (1 - lam) * h1
        f2 = -2 * h + 2 * (1 - 2 * lam) * h1 + lam * (1 - lam) * h2
        lo = np.where(f1 > 0, lam, lo)
        hi = np.where(f1 > 0, hi, lam)
        step = lam - f1 / np.where(f2 < 0, f2, -1.0)
        lam = np.where((step >= lo) & (step <= hi), step, 0.5 * (lo + hi))
    den = 1.0 + lam[:, None] * dmu
    f = lam * (1 - lam) * np.sum(s2 / den, axis=1)
    normal = np.einsum("pji,pj->pi", m_inv, np.einsum("pij,pj->pi", q, s / den))
    return f, normal


def pack_ellipsoids(
    ndim: int,
    volume_fraction,
    semi_axes,
    size_std,
    distribution: str,
    orientation: OrientationLike,
    min_gap: float,
    lengths,
    phase_names,
    seed: _checks.SeedLike,
    max_steps: int,
) -> EllipsoidPacking:
    """Ellipses (``ndim = 2``) or ellipsoids (``ndim = 3``); see :func:`ellipsoids`."""
    rng = _checks.rng_from(seed)
    max_steps = _checks.integer("max_steps", max_steps, 0)
    box = np.asarray(_checks.lengths_for(lengths, ndim))
    fractions = _checks.volume_fractions(
        volume_fraction, MAX_VOLUME_FRACTION[ndim], "ellipsoid overlap elimination"
    )
    nphase = fractions.size
    phase_names = _checks.phase_names(phase_names, nphase + 1, _checks.INCLUSIONS)
    axes = _checks.finite(
        "semi_axes", _checks.per_phase("semi_axes", semi_axes, nphase, width=ndim), positive=True
    )
    cv = _checks.finite(
        "size_std", _checks.per_phase("size_std", size_std, nphase), nonnegative=True
    )
    gap = _checks.min_gap(min_gap)
    check_fits("semi_axes", 2 * float((axes.max(axis=1) * (1 + 3 * cv)).max()), gap, box)
    unit = (np.pi if ndim == 2 else 4.0 / 3.0 * np.pi) * np.prod(axes, axis=1)
    scale, phases = draw_particles(
        rng, fractions, np.ones(nphase), cv, distribution, unit, ndim, float(np.prod(box))
    )
    semi = axes[phases - 1] * scale[:, None]
    check_fits("semi_axes", 2 * float(semi.max()), gap, box)
    rot = rotations(orientation, ndim, scale.size, rng)
    grown = semi * (1 + 0.5 * gap / semi.min(axis=1))[:, None]
    factor = rot * grown[:, None, :]
    sigma = np.einsum("nik,njk->nij", factor, factor)
    centers = rng.random((scale.size, ndim)) * box

    reach = grown.max(axis=1) * (1 + INFLATION)
    frames: dict = {}

    def pair_push(i, j, delta):
        if frames.get("i") is not i:  # new neighbour list: orientation-only work, once
            frames.update(i=i, value=pair_frames(factor[i], sigma[j]))
        distance = np.sqrt(np.einsum("pd,pd->p", delta, delta))
        near = np.flatnonzero(distance < reach[i] + reach[j])
        push, overlap = np.zeros_like(delta), np.full(len(delta), -1.0)
        f, normal = contact_function(delta[near], [a[near] for a in frames["value"]])
        root = np.sqrt(np.maximum(f, 1e-300))
        excess = np.maximum((1 + INFLATION) / root - 1.0, 0.0) * distance[near]
        unit_normal = normal / np.maximum(np.linalg.norm(normal, axis=1), 1e-300)[:, None]
        push[near] = (0.5 * excess)[:, None] * unit_normal
        overlap[near] = 1.0 - root
        return push, overlap

    centers, ok = relax(centers, box, reach, pair_push, max_steps=max_steps)
    if not ok:
        raise not_reached(float(fractions.sum()), "ellipses" if ndim == 2 else "ellipsoids")
    return EllipsoidPacking(centers, semi, rot, phases, box, phase_names)


def ellipses(
    volume_fraction: float | Sequence[float],
    semi_axes: Sequence[float],
    *,
    size_std: float | Sequence[float] = 0.0,
    distribution: str = "fixed",
    orientation: OrientationLike = "random",
    min_gap: float = 0.0,
    lengths: Sequence[float] | float | None = None,
    phase_names: Sequence[str] | None = None,
    seed: _checks.SeedLike = None,
    max_steps: int = 30_000,
) -> EllipsoidPacking:
    """Periodic random packing of non-overlapping ellipses (2D).

    Parameters
    ----------
    volume_fraction : area fraction, or one per inclusion phase; total up to 0.70.
    semi_axes : ``(a, b)`` mean semi-axes (or one pair per phase), in RVE length units.
    size_std : relative standard deviation of a size factor applied to both semi-axes.
    distribution : ``"fixed"``, ``"normal"`` or ``"lognormal"`` for that size factor.
    orientation : ``"aligned"`` (a along x1), ``"random"``, an angle (radians) or angles to draw
        from, or rotation matrices (see :mod:`rve_gen.orientations`).
    min_gap, lengths, phase_names, seed, max_steps : as in :func:`rve_gen.circles`.

    Overlaps are tested with the Perram–Wertheim contact function (J. Comput. Phys. 58, 409,
    1985) and removed by FIRE relaxation of the centres.
    """
    return pack_ellipsoids(
        2,
        volume_fraction,
        semi_axes,
        size_std,
        distribution,
        orientation,
        min_gap,
        lengths,
        phase_names,
        seed,
        max_steps,
    )


def ellipsoids(
    volume_fraction: float | Sequence[float],
    semi_axes: Sequence[float],
    *,
    size_std: float | Sequence[float] = 0.0,
    distribution: str = "fixed",
    orientation: OrientationLike = "random",
    min_gap: float = 0.0,
    lengths: Sequence[float] | float | None = None,
    phase_names: Sequence[str] | None = None,
    seed: _checks.SeedLike = None,
    max_steps: int = 30_000,
) -> EllipsoidPacking:
    """Periodic random packing of non-overlapping ellipsoids (3D).

    As :func:`ellipses` with ``semi_axes = (a, b, c)``, orientation also ``"planar"`` (random
    about x3), and a total volume fraction up to 0.50.
    """
    return pack_ellipsoids(
        3,
        volume_fraction,
        semi_axes,
        size_std,
        distribution,
        orientation,
        min_gap,
        lengths,
        phase_names,
        seed,
        max_steps,
    )
