"""The reduced-order model as a UMAT-like constitutive model, for one point or a batch.

Abaqus conventions at the boundary (Abaqus User Subroutines Reference, UMAT): Voigt order
(11, 22, 33, 12, 13, 23), engineering shear strains γ_ij = 2ε_ij, plain shear stresses;
NTENS = 6 for a 3D ROM and 4 (11, 22, 33, 12) for a 2D ROM, which is a plane-strain model
(ε33 = 0: STRAN(3) and DSTRAN(3) must be zero). ::

    umat = rom.umat()
    statev = umat.initial_statev()
    stress, statev, ddsdde = umat(stress, statev, stran, dstran)

One call advances the SCA online stage (:mod:`homog.sca.online`) from the state in STATEV to the
total strain STRAN + DSTRAN — the increment is measured from the clusters' own mean strain,
so the model never drifts from the caller's strain — with increment cutting on failure
(``max_cuts``), and returns the Cauchy stress, the new STATEV and DDSDDE = ∂Δσ/∂Δε, the
consistent homogenized algorithmic tangent C_hom = (Σ c_J C_J X_J)(Σ c_J X_J)⁻¹ of the
converged increment (Liu, Bessa & Liu, CMAME 306, 2016, eq. 33). There is no hidden state:
the same arguments give the same results, and a run restarted from a saved STATEV continues
identically.

STATEV (``nstatv`` floats, names in ``statev_names``): for each phase in increasing label and
each of its clusters in increasing id, the material state variables of the cluster in the
material's order (:attr:`homog.materials.Material.state_variables`, Mandel notation: shear
components carry √2) — they include the cluster's total strain and stress; then ``lam0``,
``mu0`` (the self-consistent reference medium); then ``last_dstrain``, each cluster's strain
increment of the last converged call (K·m, the Newton guess of the next call; zero after a
cut increment).

For a 2D ROM, DDSDDE(3, 3) = λ0 + 2μ0 of the self-consistent reference medium and column 3
is the transpose of row 3: the plane-strain ROM cannot vary ε33, and plane-strain elements
do not use that column. The stress argument is the stress at the start of the increment as
Abaqus passes it; the ROM's stress comes from STATEV, so the argument is only checked.
``dtime`` is accepted and checked; the materials are rate-independent.

``batch`` advances (npoints, …) arrays together, numpy or cupy, with batched linear solves and
one constitutive call per material group; each point has its own convergence flag — a point
that fails keeps its start stress and STATEV and gets the elastic tangent, so the caller can
cut its step (as Abaqus's PNEWDT < 1 asks) without losing the others.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from homog.inputs import check_int
from kernels import ConvergenceError
from kernels.arraymodule import array_module, real_scalar
from kernels.tensors import (
    MANDEL_NAMES,
    mandel_to_voigt_stiffness,
    mandel_to_voigt_stress,
    voigt_to_mandel_strain,
)

#: Working-set budget of one batched solve on the CPU / on a GPU (bytes).
_CPU_BUDGET, _GPU_BUDGET = 256 * 2**20, 4 * 2**30


class Umat:
    """UMAT-like interface of a :class:`homog.sca.model.ReducedOrderModel` (see the module docs).

    Options: ``tol``, ``scs``, ``scs_tol``, ``max_newton`` of the online stage
    (:meth:`homog.sca.model.ReducedOrderModel.online_solver`); ``max_cuts``: halvings of a failing
    increment before the point is reported as not converged; ``chunk``: most points per
    batched solve (default: from a memory budget of 256 MiB on the CPU, 4 GiB on a GPU).
    """

    def __init__(self, rom: Any, *, tol: float = 1e-8, scs: str = "regression",
                 scs_tol: float = 1e-8, max_newton: int = 25, max_cuts: int = 6,
                 chunk: int | None = None) -> None:
        self.rom = rom
        self.solver = rom.online_solver(tol=tol, scs=scs, scs_tol=scs_tol,
                                        max_newton=max_newton, scs_tangent=True)
        self.max_cuts = check_int(max_cuts, "max_cuts", 0)
        self.chunk = None if chunk is None else check_int(chunk, "chunk (points per batch)", 1)
        self.plane_strain = rom.ndim == 2
        self.ntens = 4 if self.plane_strain else 6
        K, m = self.solver.K, self.solver.m
        self._blocks, names, offset = [], [], 0
        for mat, idx in self.solver.groups:
            size = mat.nstate * idx.size
            self._blocks.append((mat, idx, offset, size))
            names += [f"cluster{I}.{var}{_suffix(k, n)}" for I in idx
                      for var, n in mat.state_variables for k in range(n)]
            offset += size
        self._reference = offset
        names += ["lam0", "mu0"]
        comp_names = [MANDEL_NAMES[i] for i in self.solver.comps]
        names += [f"cluster{I}.last_dstrain[{comp_names[a]}]" for I in range(K) for a in range(m)]
        self.statev_names: tuple[str, ...] = tuple(names)
        self.nstatv = len(names)

    # ------------------------------------------------------------------ STATEV <-> state
    def initial_statev(self, npoints: int | None = None, xp: Any = np) -> Any:
        """The virgin STATEV: shape (nstatv,), or (npoints, nstatv) for a batch."""
        n = 1 if npoints is None else npoints
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise ValueError(f"npoints = {npoints!r} must be a non-negative integer")
        if n == 0:
            return xp.zeros((0, self.nstatv))
        state = self.solver.initial_state(*self.rom.reference_medium, npoints=int(n), xp=xp)
        statev = self._pack(state, xp.zeros_like(state.strain))
        return statev[0] if npoints is None else statev

    def _pack(self, state: Any, last: Any) -> Any:
        xp = array_module(state.strain)
        P = state.npoints
        columns = [mat.pack_state(st).reshape(P, -1)
                   for (mat, _, _, _), st in zip(self._blocks, state.material_states)]
        columns += [state.lam0[:, None], state.mu0[:, None], last.reshape(P, -1)]
        return xp.concatenate(columns, axis=1)

    def _unpack(self, statev: Any) -> tuple[Any, Any]:
        """The :class:`homog.sca.OnlineState` and the Newton guess held by ``statev``."""
        from homog.sca.online import OnlineState

        xp = array_module(statev)
        P, K, m = statev.shape[0], self.solver.K, self.solver.m
        comps = self.solver.comps
        strain, stress, states = xp.empty((P, K, m)), xp.empty((P, K, 6)), []
        for mat, idx, offset, size in self._blocks:
            flat = xp.ascontiguousarray(statev[:, offset:offset + size])
            st = mat.unpack_state(flat.reshape(P * idx.size, mat.nstate))
            strain[:, idx] = st["strain"].reshape(P, idx.size, 6)[:, :, comps]
            stress[:, idx] = st["stress"].reshape(P, idx.size, 6)
            states.append(st)
        lam0, mu0 = statev[:, self._reference], statev[:, self._reference + 1]
        bad = ~((mu0 > 0) & (lam0 + 2.0 * mu0 > 0))
        if bool(bad.any()):
            raise ValueError(
                f"statev of points {_first(bad)} holds no admissible reference medium "
                f"(lam0, mu0 at columns {self._reference}, {self._reference + 1}); start from "
                "umat.initial_statev() and pass back the statev each call returns")
        guess = statev[:, self._reference + 2:].reshape(P, K, m)
        return OnlineState(strain, stress, states, xp.array(lam0), xp.array(mu0)), guess

    # ------------------------------------------------------------------ conversions
    def _to_mandel_strain(self, voigt: Any) -> Any:
        """Voigt (P, ntens) -> the ROM's m Mandel components (P, m)."""
        xp = array_module(voigt)
        full = xp.zeros((voigt.shape[0], 6))
        full[:, :self.ntens] = voigt  # plane strain: 13, 23 are zero
        return voigt_to_mandel_strain(full)[:, self.solver.comps]

    def _stress_voigt(self, mandel: Any) -> Any:
        return mandel_to_voigt_stress(mandel)[:, :self.ntens]

    def _ddsdde(self, tangent: Any, lam0: Any, mu0: Any) -> Any:
        """(P, 6, m) ∂Σ/∂E -> Voigt DDSDDE (P, ntens, ntens)."""
        xp = array_module(tangent)
        comps = self.solver.comps
        C = xp.zeros((tangent.shape[0], 6, 6))
        C[:, :, comps] = tangent
        if self.plane_strain:
            C[:, comps, 2] = tangent[:, 2, :]
            C[:, 2, 2] = lam0 + 2.0 * mu0
        return mandel_to_voigt_stiffness(C)[:, :self.ntens, :self.ntens]

    def elastic_ddsdde(self, statev: Any) -> Any:
        """DDSDDE of the elastic ROM (C_eff, Voigt) for each point of ``statev`` (P, nstatv)."""
        xp = array_module(statev)
        comps = self.solver.comps
        C = xp.asarray(self.rom.C_eff)
        full = xp.zeros((statev.shape[0], 6, len(comps)))
        full[:, comps] = C
        if self.plane_strain:  # σ33 = λ_eff (ε11 + ε22): the isotropic fit's λ for the row
            lam, _ = self.rom.reference_medium
            full[:, 2, :2] = lam
        return self._ddsdde(full, statev[:, self._reference], statev[:, self._reference + 1])

    # ------------------------------------------------------------------ calls
    def __call__(self, stress: Any, statev: Any, stran: Any, dstran: Any,
                 dtime: float = 0.0) -> tuple[Any, Any, Any]:
        """One material point: (STRESS, STATEV, DDSDDE) at the end of the increment.

        Arguments are 1-D: stress, stran, dstran (ntens,), statev (nstatv,). Raises
        :class:`kernels.ConvergenceError` when the increment fails after ``max_cuts`` cuts.
        """
        args = [_as_float(a, name) for a, name in
                ((stress, "stress"), (statev, "statev"), (stran, "stran"), (dstran, "dstran"))]
        for a, name, size in zip(args, ("stress", "statev", "stran", "dstran"),
                                 (self.ntens, self.nstatv, self.ntens, self.ntens)):
            if a.shape != (size,):
                raise ValueError(f"{name} has shape {a.shape}; this UMAT expects ({size},)"
                                 + _hint(name, self))
        s, sv, dd, ok, info = self._advance(*(a[None] for a in args), dtime)
        if not bool(ok[0]):
            raise ConvergenceError(
                f"UMAT increment did not converge after {self.max_cuts} cuts (residual "
                f"{float(info.residual[0]):.3e}); cut the time increment (PNEWDT < 1)",
                int(info.newton_iterations[0]), float(info.residual[0]))
        return s[0], sv[0], dd[0]

    def batch(self, stress: Any, statev: Any, stran: Any, dstran: Any,
              dtime: float = 0.0) -> tuple[Any, Any, Any, Any]:
        """Advance npoints points together: (STRESS, STATEV, DDSDDE, converged).

        Arrays (npoints, ntens) and (npoints, nstatv), numpy or cupy (all on one module);
        returns (npoints, ntens), (npoints, nstatv), (npoints, ntens, ntens) and a bool
        (npoints,) array. A point whose increment fails after ``max_cuts`` cuts has
        ``converged`` False, its start stress and STATEV and the elastic DDSDDE.
        """
        args = [_as_float(a, name) for a, name in
                ((stress, "stress"), (statev, "statev"), (stran, "stran"), (dstran, "dstran"))]
        n = args[1].shape[0] if args[1].ndim == 2 else -1
        for a, name, size in zip(args, ("stress", "statev", "stran", "dstran"),
                                 (self.ntens, self.nstatv, self.ntens, self.ntens)):
            if a.ndim != 2 or a.shape != (n, size):
                raise ValueError(f"{name} has shape {a.shape}; batch expects (npoints, {size})"
                                 " with the same npoints for every argument"
                                 + _hint(name, self))
        if len({array_module(a).__name__ for a in args}) > 1:
            raise ValueError("batch arguments mix numpy and cupy arrays; put them on one device")
        out = [[], [], [], []]
        step = self._chunk(array_module(args[0]))
        for start in range(0, n, step):
            part = self._advance(*(a[start:start + step] for a in args), dtime)
            for lst, value in zip(out, part):
                lst.append(value)
        xp = array_module(args[0])
        if n == 0:
            return (xp.zeros((0, self.ntens)), xp.zeros((0, self.nstatv)),
                    xp.zeros((0, self.ntens, self.ntens)), xp.zeros(0, dtype=bool))
        return tuple(xp.concatenate(lst) for lst in out)

    def _chunk(self, xp: Any) -> int:
        if self.chunk is not None:
            return self.chunk
        km = self.solver.K * self.solver.m
        per_point = 8 * (6 * km * km + 40 * km)  # Dᵀ, Jacobian and solver copies, vectors
        budget = _CPU_BUDGET if xp is np else _GPU_BUDGET
        return max(1, budget // per_point)

    def _advance(self, stress: Any, statev: Any, stran: Any, dstran: Any, dtime: float):
        xp = array_module(statev)
        for a, name in ((stress, "stress"), (statev, "statev"), (stran, "stran"),
                        (dstran, "dstran")):
            bad = ~xp.all(xp.isfinite(a), axis=1)
            if bool(bad.any()):
                raise ValueError(f"{name} has NaN or inf at points {_first(bad)}")
        step = real_scalar(dtime)
        if step is None or not (np.isfinite(step) and step >= 0):
            raise ValueError(f"dtime = {dtime!r} must be finite and non-negative")
        if self.plane_strain:
            bad = (stran[:, 2] != 0) | (dstran[:, 2] != 0)
            if bool(bad.any()):
                raise ValueError(f"the 2D ROM is plane strain: STRAN(3) and DSTRAN(3) (ε33) "
                                 f"must be 0, got nonzero values at points {_first(bad)}")
        state, guess = self._unpack(statev)
        solver = self.solver
        controlled = np.ones(solver.m, dtype=bool)
        with solver.blas_threads():
            target = self._to_mandel_strain(stran + dstran) - solver.macro(state, controlled)
            res = solver.advance(state, target, controlled, guess, self.max_cuts)
        new = res.state
        ok = res.converged
        last = xp.where((res.substeps == 1)[:, None, None], new.strain - state.strain, 0.0)
        statev_new = xp.where(ok[:, None], self._pack(new, last), statev)
        c = xp.asarray(solver.c)
        stress_new = xp.where(ok[:, None], self._stress_voigt(c @ new.stress), stress)
        ddsdde = self._ddsdde(xp.where(ok[:, None, None], res.tangent, 0.0), new.lam0, new.mu0)
        if not bool(ok.all()):
            ddsdde[~ok] = self.elastic_ddsdde(statev[~ok])
        return stress_new, statev_new, ddsdde, ok, res


def _suffix(k: int, size: int) -> str:
    if size == 1:
        return ""
    return f"[{MANDEL_NAMES[k]}]" if size == 6 else f"[{k}]"


def _as_float(a: Any, name: str) -> Any:
    xp = array_module(a)
    arr = xp.asarray(a)
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be a real array, got dtype {arr.dtype}")
    return arr.astype(xp.float64, copy=False)


def _first(mask: Any, count: int = 8) -> list[int]:
    idx = [int(i) for i in array_module(mask).flatnonzero(mask)[:count + 1]]
    return idx[:count] + (["..."] if len(idx) > count else [])


def _hint(name: str, umat: Umat) -> str:
    if name == "statev":
        return (f" (nstatv = {umat.nstatv}; build it with umat.initial_statev() and "
                "see umat.statev_names)")
    return (f" (NTENS = {umat.ntens}: Voigt "
            f"{'11, 22, 33, 12' if umat.plane_strain else '11, 22, 33, 12, 13, 23'})")
