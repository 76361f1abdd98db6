"""Checks shared by the material constructors: one place for the error messages."""

from __future__ import annotations

import math
from numbers import Real


def finite_number(value: object, name: str) -> float:
    """``value`` as a float; ValueError unless it is a finite real number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} = {value!r} must be a real number")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} = {value} must be finite (NaN and inf are not allowed)")
    return value


def positive(value: object, name: str, hint: str = "") -> float:
    """A finite number > 0."""
    value = finite_number(value, name)
    if value <= 0.0:
        raise ValueError(f"{name} = {value} must be > 0{hint}")
    return value


def non_negative(value: object, name: str, hint: str = "") -> float:
    """A finite number >= 0."""
    value = finite_number(value, name)
    if value < 0.0:
        raise ValueError(f"{name} = {value} must be >= 0{hint}")
    return value
