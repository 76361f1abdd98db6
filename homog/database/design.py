"""Designs of experiments in the unit box ``[0, 1]^d`` (scipy.stats.qmc).

- ``"sobol"``: scrambled Sobol sequence (Owen scrambling seeded by the master seed). The first
  n points of the sequence do not depend on how many are drawn, so a design extends by
  continuing the sequence (what :func:`sobol_points` with ``start`` does).
- ``"lhs"``: Latin hypercube, one point per slice of every axis, seeded.
- ``"table"``: the rows of a user's CSV (already in the configuration).

Bessa et al., CMAME 320 (2017) 633–667, §2.1 use Sobol sequences for the design of
experiments of their data-driven framework.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import qmc

from homog.database.config import DatabaseConfig


def sobol_points(d: int, n: int, seed: int, start: int = 0) -> np.ndarray:
    """Points ``start .. start + n − 1`` of the scrambled Sobol sequence, shape ``(n, d)``."""
    engine = qmc.Sobol(d, scramble=True, seed=seed)
    with warnings.catch_warnings():  # balance needs powers of 2; extensions are arbitrary
        warnings.simplefilter("ignore", UserWarning)
        if start:
            engine.fast_forward(start)
        return engine.random(n)


def uniform_points(d: int, n: int, seed: int | np.random.SeedSequence,
                   start: int = 0) -> np.ndarray:
    """Points ``start .. start + n − 1`` of an i.i.d. uniform sequence, shape ``(n, d)``."""
    return np.random.default_rng(seed).random((start + n, d))[start:]


def design_points(config: DatabaseConfig) -> np.ndarray:
    """Unit coordinates ``(samples, d)`` of the base design of ``config``."""
    d, n = len(config.variables), config.samples
    if config.method == "sobol":
        return sobol_points(d, n, config.seed)
    if config.method == "lhs":
        return qmc.LatinHypercube(d, seed=config.seed).random(n)
    return config.table_points()
