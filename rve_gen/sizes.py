"""Particle size distributions: fixed, normal (truncated) and lognormal.

A generator asks for enough particles to fill a target volume. Sizes are drawn until the
cumulative particle volume passes the target; the count closest to the target is kept and all
sizes are scaled by one common factor (within ``1/n`` of 1) so the geometric volume fraction is
exactly the requested one.
"""

from __future__ import annotations

import numpy as np

from rve_gen._checks import ParameterError

DISTRIBUTIONS = ("fixed", "normal", "lognormal")

#: Largest particle count a generator accepts before asking for bigger particles.
MAX_PARTICLES = 100_000


def draw(rng: np.random.Generator, mean: float, std: float, distribution: str, n: int):
    """``n`` positive sizes with the given mean and standard deviation.

    ``normal`` is truncated to ``mean ± 3 std`` and to positive values (redrawn, not clipped);
    ``lognormal`` has ``sigma² = ln(1 + (std/mean)²)`` and ``mu = ln(mean) − sigma²/2`` so its
    mean and standard deviation are the requested ones.
    """
    if distribution == "fixed" or std == 0:
        return np.full(n, mean)
    if distribution == "lognormal":
        sigma2 = np.log1p((std / mean) ** 2)
        return rng.lognormal(np.log(mean) - sigma2 / 2, np.sqrt(sigma2), n)
    low, high = max(mean - 3 * std, 1e-3 * mean), mean + 3 * std
    out = rng.normal(mean, std, n)
    bad = (out < low) | (out > high)
    while np.any(bad):
        out[bad] = rng.normal(mean, std, int(bad.sum()))
        bad = (out < low) | (out > high)
    return out


def check(name: str, mean: float, std: float, distribution: str,
          std_name: str | None = None) -> None:
    """Validate one size distribution (mean > 0, std >= 0, known distribution name, no std
    under "fixed"); ``std_name``: the caller's name of the std (``{name}_std`` by default)."""
    std_name = std_name or f"{name}_std"
    if distribution not in DISTRIBUTIONS:
        raise ParameterError("distribution", distribution,
                             f"is unknown: use one of {DISTRIBUTIONS}.")
    if not (np.isfinite(mean) and mean > 0):
        raise ParameterError(name, mean, "must be a positive finite size (> 0).")
    if not (np.isfinite(std) and std >= 0):
        raise ParameterError(std_name, float(std), "must be a finite standard deviation >= 0.")
    if distribution == "fixed" and std > 0:
        raise ParameterError(std_name, float(std), "asks for a spread of sizes, but "
                             "distribution='fixed' gives every particle the same size: pass "
                             "distribution='normal' or 'lognormal' (or leave the std at 0).")


def scales_for_volume(
    rng: np.random.Generator,
    mean: float,
    std: float,
    distribution: str,
    target_volume: float,
    unit_volume: float,
    ndim: int,
) -> np.ndarray:
    """Sizes ``s`` (particle volume ``unit_volume * s**ndim``) whose volumes add up to
    ``target_volume`` exactly.

    Returns shape ``(n,)``; ``n >= 1``.
    """
    expected = target_volume / (unit_volume * mean**ndim)
    if expected > MAX_PARTICLES:
        raise ValueError(
            f"the particles are too small for the RVE: about {expected:.0f} would be needed "
            f"(at most {MAX_PARTICLES}); give a larger size or a smaller volume fraction."
        )
    batch = max(16, int(1.5 * expected) + 16)
    sizes = draw(rng, mean, std, distribution, batch)
    cumulative = np.cumsum(unit_volume * sizes**ndim)
    while cumulative[-1] < target_volume:
        more = draw(rng, mean, std, distribution, batch)
        sizes = np.concatenate([sizes, more])
        cumulative = np.cumsum(unit_volume * sizes**ndim)
    n = int(np.searchsorted(cumulative, target_volume)) + 1
    if n > 1 and abs(cumulative[n - 2] - target_volume) < abs(cumulative[n - 1] - target_volume):
        n -= 1
    sizes = sizes[:n]
    return sizes * (target_volume / cumulative[n - 1]) ** (1.0 / ndim)


def draw_particles(
    rng: np.random.Generator,
    fractions: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    distribution: str,
    unit_volume: np.ndarray,
    ndim: int,
    box_volume: float,
    std_name: str = "size_std",
) -> tuple[np.ndarray, np.ndarray]:
    """Sizes and phase labels (1, 2, ...) of all particles, phase by phase.

    ``fractions``, ``mean``, ``std``, ``unit_volume``: one entry per inclusion phase;
    ``std_name``: the caller's name of ``std``, for messages. Returns ``(sizes, phases)``,
    both shape ``(n,)``.
    """
    sizes, phases = [], []
    for k, fraction in enumerate(fractions):
        check("size", mean[k], std[k], distribution, std_name)
        s = scales_for_volume(
            rng, mean[k], std[k], distribution, fraction * box_volume, unit_volume[k], ndim
        )
        sizes.append(s)
        phases.append(np.full(s.size, k + 1, dtype=np.int32))
    return np.concatenate(sizes), np.concatenate(phases)
