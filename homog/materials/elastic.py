"""Linear elasticity, isotropic or anisotropic: σ = C : ε (Mandel, σ = C @ ε)."""

from __future__ import annotations

from typing import Any

import numpy as np

from homog.materials._validation import finite_number
from homog.materials.base import Material, State
from kernels.tensors import check_stiffness, isotropic_stiffness


class LinearElastic(Material):
    """Linear elastic material with a constant 6×6 Mandel stiffness ``C``.

    ``LinearElastic(E, nu)`` is isotropic, C = 3K·I_vol + 2μ·I_dev; any anisotropy (e.g. a
    transversely isotropic fibre) is built with :meth:`from_stiffness`. The update is
    σ_{n+1} = C : (ε_n + Δε) and the tangent is C. State: ``strain`` (6), ``stress`` (6).
    """

    name = "linear_elastic"

    def __init__(self, E: float, nu: float):
        E = finite_number(E, "E")
        nu = finite_number(nu, "nu")
        self._stiffness = isotropic_stiffness(E, nu)
        self._isotropic = (E, nu)

    @classmethod
    def from_stiffness(cls, C: Any) -> LinearElastic:
        """Anisotropic elasticity from a symmetric positive-definite 6×6 Mandel stiffness."""
        material = cls.__new__(cls)
        material._stiffness = check_stiffness(C, "stiffness").copy()
        material._isotropic = None
        return material

    @property
    def stiffness(self) -> np.ndarray:
        return self._stiffness

    @property
    def state_variables(self) -> tuple[tuple[str, int], ...]:
        return (("strain", 6), ("stress", 6))

    def update(self, dstrain: Any, state: State) -> tuple[Any, Any, State]:
        """σ = C : (ε_n + Δε), tangent C, for every point."""
        xp = self._check_increment(dstrain, state)
        C = xp.asarray(self._stiffness, dtype=dstrain.dtype)
        strain = state["strain"] + dstrain
        stress = xp.einsum("ij,nj->ni", C, strain)
        tangent = xp.empty((strain.shape[0], 6, 6), dtype=stress.dtype)
        tangent[...] = C
        return stress, tangent, {"strain": strain, "stress": stress}

    def to_config(self) -> dict[str, Any]:
        if self._isotropic is not None:
            E, nu = self._isotropic
            return {"model": self.name, "E": E, "nu": nu}
        return {"model": self.name, "stiffness": self._stiffness.tolist()}

    @property
    def is_isotropic(self) -> bool:
        """True when built from (E, ν)."""
        return self._isotropic is not None
