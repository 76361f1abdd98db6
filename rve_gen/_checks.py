"""Validation of user input at the public boundary of ``rve_gen``.

Every check raises :class:`ValueError` with a message that says what was wrong, what is
allowed and what to do about it; a bad argument raises :class:`ParameterError`, which names it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class ParameterError(ValueError):
    """A bad value of the keyword argument ``name``: the message is ``"name=value!r reason"``.

    ``name``, ``value`` and ``reason`` are kept, so that a front end (the command line) can
    name its own option and the value as its user typed it.
    """

    def __init__(self, name: str, value: Any, reason: str) -> None:
        super().__init__(f"{name}={value!r} {reason}")
        self.name, self.value, self.reason = name, value, reason

SeedLike = int | np.random.Generator | None
#: Where the phases of a particle packing come from (for :func:`phase_names`).
INCLUSIONS = "the matrix, and one inclusion phase per volume fraction"


def rng_from(seed: SeedLike) -> np.random.Generator:
    """A numpy Generator from an int seed, an existing Generator, or ``None`` (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        if seed is not None and seed < 0:
            raise ParameterError("seed", seed, "is not usable: pass a non-negative int, a "
                                 "numpy.random.Generator or None.")
        return np.random.default_rng(seed)
    raise ParameterError("seed", seed,
                         "is not usable: pass an int, a numpy.random.Generator or None.")


def integer(name: str, value, low: int = 1) -> int:
    """``value`` as an int after checking it is a whole number >= ``low`` (not a bool, NaN or
    2.5)."""
    try:
        ok = (not isinstance(value, (bool, np.bool_, str, bytes)) and np.ndim(value) == 0
              and np.isfinite(float(value)) and float(value).is_integer()
              and float(value) >= low)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        kind = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ParameterError(name, value, f"must be {kind}.")
    return int(float(value))


def lengths_for(lengths: Sequence[float] | float | None, ndim: int) -> tuple[float, ...]:
    """RVE side lengths as a tuple of ``ndim`` positive finite floats (default 1 per axis)."""
    if lengths is None:
        return (1.0,) * ndim
    arr = np.atleast_1d(np.asarray(lengths, dtype=float))
    if arr.size == 1:
        arr = np.repeat(arr, ndim)
    if arr.shape != (ndim,) or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ParameterError(
            "lengths", lengths, f"is not valid: give {ndim} positive finite RVE side lengths "
            "(or one number for a cube), e.g. lengths=1.0."
        )
    return tuple(float(x) for x in arr)


def finite(name: str, value, *, positive: bool = False, nonnegative: bool = False) -> np.ndarray:
    """``value`` as a float array after checking it is finite (and positive / non-negative)."""
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ParameterError(name, value, "contains NaN or infinity: give finite numbers.")
    if positive and np.any(arr <= 0):
        raise ParameterError(name, value, "must be positive (> 0): give sizes greater than 0.")
    if nonnegative and np.any(arr < 0):
        raise ParameterError(name, value, "must be non-negative (>= 0).")
    return arr


def per_phase(name: str, value, nphase: int, *, width: int | None = None) -> np.ndarray:
    """Broadcast a scalar (or a ``width``-vector) parameter to one entry per inclusion phase.

    Returns shape ``(nphase,)`` or ``(nphase, width)``.
    """
    arr = np.asarray(value, dtype=float)
    target = (nphase,) if width is None else (nphase, width)
    try:
        return np.broadcast_to(arr, target).astype(float)
    except ValueError:
        per = "one number" if width is None else f"{width} numbers"
        raise ParameterError(
            name, value, f"does not match {nphase} inclusion phase(s): give {per} for all "
            f"phases or one entry per phase (shape {target})."
        ) from None


def volume_fractions(value, limit: float, algorithm: str) -> np.ndarray:
    """Target volume fraction(s) per inclusion phase, checked against the reachable limit."""
    fractions = np.atleast_1d(finite("volume_fraction", value))
    if fractions.ndim != 1 or fractions.size == 0 or np.any(fractions <= 0):
        raise ParameterError(
            "volume_fraction", value, "is not valid: give one positive fraction per inclusion "
            "phase, e.g. 0.3 or (0.2, 0.1)."
        )
    total = float(fractions.sum())
    if total > limit:
        raise ParameterError(
            "volume_fraction", value, f"(total {total:.3f}) is above what {algorithm} reaches "
            f"reliably ({limit:.2f}); lower the volume fraction (or use polydisperse sizes and a "
            "smaller min_gap=...)."
        )
    return fractions


def min_gap(value: float) -> float:
    """The minimum surface-to-surface gap between particles (>= 0)."""
    return float(finite("min_gap", value, nonnegative=True))


def phase_names(value, nphases: int, counted_by: str) -> tuple[str, ...] | None:
    """The names of the ``nphases`` phases a generator makes, as a tuple (None for the defaults),
    after checking there is one per phase; ``counted_by`` says where the phases come from."""
    if value is None:
        return None
    phases = f"{nphases} phase{'' if nphases == 1 else 's'} ({counted_by})"
    if isinstance(value, (str, bytes)) or np.ndim(value) != 1:
        raise ParameterError("phase_names", value, "must be a list of names, one for each of "
                             f"the {phases}, the matrix first.")
    names = tuple(str(name) for name in value)
    if len(names) != nphases:
        raise ParameterError("phase_names", value, f"has {len(names)} name(s) for {phases}: give "
                             "one name per phase, the matrix first.")
    return names
