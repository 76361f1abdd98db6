"""The interface shared by every constitutive model.

A model maps a total strain increment from the last converged state to the new stress, the
algorithmic (consistent) tangent and the new state, vectorized over material points::

    stress, tangent, new_state = model.update(dstrain, state)

with ``dstrain`` of shape ``(npoints, 6)`` (Mandel), ``stress`` ``(npoints, 6)`` and ``tangent``
``(npoints, 6, 6)``, all on the array module (numpy or cupy) of the input. ``state`` is a dict
name -> array ``(npoints, size)`` in the order of :attr:`Material.state_variables`; it always
holds the total ``"strain"`` and the ``"stress"`` of the converged state. ``update`` never
mutates ``state``, so a Newton solver calls it repeatedly with trial increments from the same
converged state; ``new_state`` may share the arrays that did not change with ``state``, so treat
states as immutable.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import ModuleType
from typing import Any

import numpy as np

from kernels.arraymodule import array_module

State = dict[str, Any]


class Material(ABC):
    """Base class of the point-wise constitutive models (3D, small strain, Mandel notation)."""

    #: Model name used in configuration files (``model = "..."``).
    name: str = ""
    #: Internal length ℓ of a non-local model, whose ``update_nonlocal(dstrain, state,
    #: average)`` the solvers call with the average over its points; None for local models.
    nonlocal_length: float | None = None

    @property
    @abstractmethod
    def state_variables(self) -> tuple[tuple[str, int], ...]:
        """``(name, size)`` of each state variable, in packing order."""

    @property
    @abstractmethod
    def stiffness(self) -> np.ndarray:
        """Elastic stiffness, a 6×6 Mandel numpy array (elastic predictor, reference medium)."""

    @abstractmethod
    def update(self, dstrain: Any, state: State) -> tuple[Any, Any, State]:
        """Stress ``(npoints, 6)``, tangent ``(npoints, 6, 6)`` and new state after ``dstrain``."""

    @abstractmethod
    def to_config(self) -> dict[str, Any]:
        """Parameters as a TOML-able dict, read back by :func:`homog.materials.from_config`."""

    @property
    def can_soften(self) -> bool:
        """True when the material can soften (its stress fall under a growing strain, e.g.
        damage); False for a stable one in Drucker's sense, whose updates satisfy
        Δσ:Δε > 0 (elastic, von Mises with non-negative hardening), as does any
        composite of such phases (Hill, J. Mech. Phys. Solids 15, 1967): the online solver
        of a ROM of stable phases refuses the increments that jump to a spurious root
        (:meth:`homog.sca.online.OnlineSolver._unstable`)."""
        return False

    @property
    def secant_tangent(self) -> bool:
        """True when :meth:`update` returns a secant stiffness instead of the consistent
        tangent: Newton on it converges linearly, and the DNS keeps its stall test off
        (:func:`homog.dns.dns`). Of the built-in models, only
        :class:`~homog.materials.VonMisesDamage` with ``tangent="secant"``."""
        return False

    @property
    def nstate(self) -> int:
        """Number of columns of the packed state (sum of the state variable sizes)."""
        return sum(size for _, size in self.state_variables)

    def initial_state(
        self,
        npoints: int,
        xp: ModuleType = np,
        dtype: Any = np.float64,
        *,
        element_length: Any = None,
    ) -> State:
        """The virgin state: zeros of shape ``(npoints, size)`` for every state variable.

        ``element_length`` (a scalar or ``(npoints,)`` array) is the size h of the volume each
        point stands for: the voxel size in the DNS, the characteristic length of the cluster
        in the ROM. Models whose softening is regularized with it (crack band,
        :class:`~homog.materials.VonMisesDamage`) store it in their state; the others ignore it.
        """
        if isinstance(npoints, bool) or not isinstance(npoints, int | np.integer) or npoints < 0:
            raise ValueError(f"npoints = {npoints!r} must be a non-negative integer")
        return {name: xp.zeros((npoints, size), dtype=dtype) for name, size in self.state_variables}

    def pack_state(self, state: State) -> Any:
        """The state as one array ``(npoints, nstate)``, columns in declared order (UMAT STATEV)."""
        self._check_state(state)
        xp = array_module(*state.values())
        return xp.concatenate([state[name] for name, _ in self.state_variables], axis=1)

    def unpack_state(self, flat: Any) -> State:
        """Inverse of :meth:`pack_state`; the returned arrays are views into ``flat``."""
        if flat.ndim != 2 or flat.shape[1] != self.nstate:
            raise ValueError(
                f"packed state has shape {flat.shape}; {self.name} expects (npoints, "
                f"{self.nstate}) with columns {self._layout()}"
            )
        state, start = {}, 0
        for name, size in self.state_variables:
            state[name] = flat[:, start : start + size]
            start += size
        return state

    def _layout(self) -> str:
        return ", ".join(f"{name}[{size}]" for name, size in self.state_variables)

    def _check_state(self, state: State) -> int:
        """Number of points of ``state``; ValueError if a variable is missing or misshapen."""
        missing = [name for name, _ in self.state_variables if name not in state]
        if missing:
            raise ValueError(
                f"{self.name} state lacks {missing}; it needs {self._layout()} "
                "(build it with initial_state(npoints))"
            )
        npoints = state["strain"].shape[0]
        for name, size in self.state_variables:
            if state[name].shape != (npoints, size):
                raise ValueError(
                    f"{self.name} state variable {name!r} has shape {state[name].shape}, "
                    f"expected ({npoints}, {size})"
                )
        return npoints

    def _check_increment(self, dstrain: Any, state: State) -> ModuleType:
        """Array module of the update; ValueError for a misshapen or non-finite increment."""
        npoints = self._check_state(state)
        if dstrain.shape != (npoints, 6):
            raise ValueError(
                f"dstrain has shape {dstrain.shape}; expected ({npoints}, 6) Mandel increments "
                "matching the state"
            )
        xp = array_module(dstrain, state["strain"])
        if not bool(xp.all(xp.isfinite(dstrain))):
            raise ValueError(
                "dstrain contains NaN or inf; the caller's strain increment diverged "
                "(cut the load step or check the solver)"
            )
        return xp

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.to_config().items() if k != "model")
        return f"{type(self).__name__}({params})"
