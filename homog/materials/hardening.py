"""Isotropic hardening laws σ_y(ε̄p) of von Mises plasticity.

Each law gives the current yield stress ``sigma_y(eps_p)`` and its slope
``slope(eps_p) = dσ_y/dε̄p`` (the isotropic hardening modulus, de Souza Neto, Perić & Owen 2008,
§6.3.3), vectorized over the accumulated equivalent plastic strain ε̄p (numpy or cupy, output
on the module of the input). Slopes are non-negative everywhere: softening belongs to damage
models, and the return mapping of :class:`~homog.materials.VonMises` relies on it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from homog.materials._validation import non_negative, positive
from kernels.arraymodule import array_module


class HardeningLaw(ABC):
    """σ_y(ε̄p) and dσ_y/dε̄p, vectorized; ``law`` is the name used in configuration files."""

    law: str = ""

    @property
    def sigma_y0(self) -> float:
        """Initial yield stress σ_y(0)."""
        return float(self.sigma_y(np.zeros(1))[0])

    @abstractmethod
    def sigma_y(self, eps_p: Any) -> Any:
        """Yield stress at equivalent plastic strain ``eps_p`` (any shape)."""

    @abstractmethod
    def slope(self, eps_p: Any) -> Any:
        """Hardening modulus dσ_y/dε̄p at ``eps_p`` (any shape)."""

    @abstractmethod
    def to_config(self) -> dict[str, Any]:
        """Parameters as a TOML-able dict including ``law``."""

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.to_config().items() if k != "law")
        return f"{type(self).__name__}({params})"


class LinearHardening(HardeningLaw):
    """σ_y = σ_y0 + H·ε̄p (H = 0: perfect plasticity)."""

    law = "linear"

    def __init__(self, sigma_y0: float, H: float = 0.0):
        self._sigma_y0 = positive(sigma_y0, "sigma_y0", " (initial yield stress)")
        self.H = non_negative(H, "H", " (softening is not supported; use H >= 0)")

    def sigma_y(self, eps_p: Any) -> Any:
        return self._sigma_y0 + self.H * eps_p

    def slope(self, eps_p: Any) -> Any:
        return array_module(eps_p).full_like(eps_p, self.H)

    def to_config(self) -> dict[str, Any]:
        return {"law": self.law, "sigma_y0": self._sigma_y0, "H": self.H}


def _table(values: Any, name: str) -> np.ndarray:
    """A 1-D float column of a hardening table; ValueError naming ``name`` otherwise."""
    try:
        table = np.array(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"hardening table {name} = {values!r} must be a list of numbers") from None
    if sum(n > 1 for n in table.shape) > 1:  # a row or a column is a list; a matrix is not
        raise ValueError(f"hardening table {name} must be a 1-D list of numbers, got shape "
                         f"{table.shape}")
    return table.ravel()


class PiecewiseLinearHardening(HardeningLaw):
    """Tabulated σ_y(ε̄p), linear between the points ``(eps_p[k], sigma_y[k])``.

    The table starts at ε̄p = 0, is strictly increasing in ε̄p and non-decreasing in σ_y.
    Beyond the last point the curve continues with the slope of the last segment (linear
    extrapolation). At a table point the slope is that of the segment to its right.
    """

    law = "piecewise_linear"

    def __init__(self, eps_p: Any, sigma_y: Any):
        eps, sig = _table(eps_p, "eps_p"), _table(sigma_y, "sigma_y")
        if eps.size < 2 or eps.size != sig.size:
            raise ValueError(
                f"hardening table needs eps_p and sigma_y of equal length >= 2, got {eps.size} "
                f"and {sig.size} points; use LinearHardening for a single yield stress"
            )
        if not (np.all(np.isfinite(eps)) and np.all(np.isfinite(sig))):
            raise ValueError("hardening table eps_p / sigma_y contains NaN or inf")
        if eps[0] != 0.0:
            raise ValueError(
                f"hardening table must start at eps_p = 0 (got {eps[0]}); add the initial "
                "yield stress as the first point"
            )
        if np.any(np.diff(eps) <= 0.0):
            raise ValueError(f"hardening table eps_p = {eps.tolist()} must be strictly increasing")
        if sig[0] <= 0.0:
            raise ValueError(f"hardening table sigma_y[0] = {sig[0]} (yield stress) must be > 0")
        if np.any(np.diff(sig) < 0.0):
            raise ValueError(
                f"hardening table sigma_y = {sig.tolist()} must be non-decreasing; softening is "
                "not supported by von Mises plasticity"
            )
        self.eps_p_table = eps
        self.sigma_y_table = sig
        self._slopes = np.diff(sig) / np.diff(eps)

    def _segment(self, eps_p: Any) -> tuple[Any, Any]:
        """Segment index k in [0, n − 2] of every ε̄p (the last one extends past the table)
        and the array module: the count of interior table points ≤ ε̄p."""
        xp = array_module(eps_p)
        return xp.searchsorted(xp.asarray(self.eps_p_table[1:-1]), eps_p, side="right"), xp

    def sigma_y(self, eps_p: Any) -> Any:
        k, xp = self._segment(eps_p)
        eps, sig = xp.asarray(self.eps_p_table), xp.asarray(self.sigma_y_table)
        return sig[k] + xp.asarray(self._slopes)[k] * (eps_p - eps[k])

    def slope(self, eps_p: Any) -> Any:
        k, xp = self._segment(eps_p)
        return xp.asarray(self._slopes)[k]

    def to_config(self) -> dict[str, Any]:
        return {
            "law": self.law,
            "eps_p": self.eps_p_table.tolist(),
            "sigma_y": self.sigma_y_table.tolist(),
        }


class SwiftHardening(HardeningLaw):
    """Swift (power-law) hardening σ_y = K (ε0 + ε̄p)^n, so σ_y0 = K ε0^n.

    Give either the strength coefficient ``K`` or the initial yield stress ``sigma_y0``.
    """

    law = "swift"

    def __init__(
        self,
        *,
        eps0: float,
        n: float,
        K: float | None = None,
        sigma_y0: float | None = None,
    ):
        self.eps0 = positive(eps0, "eps0", " (pre-strain; it keeps the initial slope finite)")
        self.n = non_negative(n, "n", " (hardening exponent)")
        if (K is None) == (sigma_y0 is None):
            raise ValueError("SwiftHardening needs exactly one of K or sigma_y0 (= K eps0^n)")
        if K is None:
            sigma_y0 = positive(sigma_y0, "sigma_y0", " (initial yield stress)")
            try:
                scale = self.eps0**self.n
            except OverflowError:
                scale = math.inf
            if not 0.0 < scale < math.inf or not math.isfinite(sigma_y0 / scale):
                raise ValueError(
                    f"SwiftHardening: K = sigma_y0 / eps0^n = {sigma_y0} / {self.eps0}^{self.n} "
                    "is not a finite number; use a smaller hardening exponent n or give K"
                )
            K = sigma_y0 / scale
        self.K = positive(K, "K", " (strength coefficient)")

    def sigma_y(self, eps_p: Any) -> Any:
        return self.K * (self.eps0 + eps_p) ** self.n

    def slope(self, eps_p: Any) -> Any:
        return self.K * self.n * (self.eps0 + eps_p) ** (self.n - 1.0)

    def to_config(self) -> dict[str, Any]:
        return {"law": self.law, "K": self.K, "eps0": self.eps0, "n": self.n}


class VoceHardening(HardeningLaw):
    """Voce (saturation) hardening σ_y = σ_y0 + Q (1 − exp(−b ε̄p))."""

    law = "voce"

    def __init__(self, sigma_y0: float, Q: float, b: float):
        self._sigma_y0 = positive(sigma_y0, "sigma_y0", " (initial yield stress)")
        self.Q = non_negative(Q, "Q", " (saturation stress increase; softening not supported)")
        self.b = non_negative(b, "b", " (saturation rate)")

    def sigma_y(self, eps_p: Any) -> Any:
        xp = array_module(eps_p)
        return self._sigma_y0 + self.Q * (1.0 - xp.exp(-self.b * eps_p))

    def slope(self, eps_p: Any) -> Any:
        xp = array_module(eps_p)
        return self.Q * self.b * xp.exp(-self.b * eps_p)

    def to_config(self) -> dict[str, Any]:
        return {"law": self.law, "sigma_y0": self._sigma_y0, "Q": self.Q, "b": self.b}


#: Hardening laws by configuration name.
HARDENING_LAWS: dict[str, type[HardeningLaw]] = {
    cls.law: cls
    for cls in (LinearHardening, PiecewiseLinearHardening, SwiftHardening, VoceHardening)
}

__all__ = [
    "HARDENING_LAWS",
    "HardeningLaw",
    "LinearHardening",
    "PiecewiseLinearHardening",
    "SwiftHardening",
    "VoceHardening",
]
