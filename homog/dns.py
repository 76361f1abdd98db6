"""Direct numerical simulation (DNS) of an RVE: the full-field FFT reference for the ROM.

``dns(microstructure, materials, loading)`` wires the phase materials (:mod:`homog.materials`)
and a :class:`~homog.loading.LoadPath` to the Newton–CG solver of :mod:`kernels.nonlinear`
(de Geus et al., CMAME 318, 2017: Newton on the strain field with the algorithmic tangent, CG
inner solves, free macroscopic strains as unknowns for stress-controlled components) and
returns the macroscopic history as a :class:`~homog.response.Response` (3D Mandel, rows 0..nsteps).

The per-voxel law groups the voxels by phase and calls each material's vectorized ``update``
once per Newton iteration on all of its points; its state is a dict label -> that material's
state dict. 2D grids are plane strain: the solve runs on (11, 22, √2·12), the materials in 3D
with ε33 = ε13 = ε23 = 0; the response reports σ33 (and any other out-of-plane stress) as the
mean of the material stresses.

Every material's :meth:`~homog.materials.Material.initial_state` receives the voxel size
h = (Π_i L_i/N_i)^(1/d) as ``element_length`` (the crack-band length of a regularized softening
law such as :class:`~homog.materials.VonMisesDamage`; ignored by the other models).

``stop`` and ``failure`` end a run early with the semantics of
:meth:`homog.sca.ReducedOrderModel.run`: ``stop(strain, stress)`` is called after every converged
increment with the Mandel histories so far (rows 0..k, row 0 the unloaded state) and True ends
the run (``info["stopped"] = "stop"``); with ``failure="truncate"`` an increment that does not
converge after ``max_cuts`` halvings ends the run at the last converged increment
(``info["stopped"] = "diverged"``, ``info["error"]`` the message) instead of raising.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from homog.inputs import (
    check_callable,
    labels_and_lengths,
    materials_for_labels,
    stop_requested,
)
from homog.loading import LoadPath
from homog.materials import Material
from homog.nonlocal_average import GridAverage
from homog.response import Response
from kernels import ConvergenceError
from kernels.arraymodule import to_numpy
from kernels.fft import get_backend
from kernels.nonlinear import STALL_ITERATIONS, NewtonCG, check_solve_memory

#: Accepted values of ``failure``: raise the ConvergenceError, or return the converged part.
FAILURE_MODES = ("raise", "truncate")


class PhaseLaw:
    """Per-voxel constitutive law from one material per phase label, vectorized per phase.

    ``law(dstrain, state)`` with ``dstrain`` (npoints, 6) over all voxels (C order of
    ``labels``) and ``state`` a dict label -> material state returns the stresses (npoints, 6),
    tangents (npoints, 6, 6) and the new state, calling each material's ``update`` once on its
    points. ``element_length`` (the voxel size) is handed to every material's initial state.
    A non-local material (``nonlocal_length``) gets the Gaussian average over its voxels
    (:class:`homog.nonlocal_average.GridAverage`, RVE ``lengths``). The non-local part of its
    consistent tangent couples the voxels: after each call :attr:`tangent_coupling` applies it
    to a strain field (two FFTs), which Newton–GMRES adds to its operator (quadratic Newton);
    Newton–CG, which needs a symmetric operator, leaves it out and converges linearly while the
    damage grows.
    """

    def __init__(self, labels: np.ndarray, materials: Mapping[int, Material], xp: Any,
                 element_length: float | None = None,
                 lengths: Sequence[float] | None = None) -> None:
        flat = labels.reshape(-1)
        present = [int(p) for p in np.unique(flat)]
        self.xp = xp
        self.npoints = flat.size
        self.materials = {p: materials[p] for p in present}
        # index of the points of each phase; None when one phase fills the RVE
        self.index = {p: None if len(present) == 1 else xp.asarray(np.flatnonzero(flat == p))
                      for p in present}
        self.counts = {p: int(np.count_nonzero(flat == p)) for p in present}
        self.element_length = element_length
        lengths = (1.0,) * labels.ndim if lengths is None else tuple(lengths)
        self.averages = {
            p: GridAverage(xp.asarray(labels == p), lengths, m.nonlocal_length)
            for p, m in self.materials.items()
            if m.nonlocal_length is not None}
        self.couplings: dict[int, Any] = {}

    def initial_state(self) -> dict[int, Any]:
        """Virgin state of every phase."""
        return {p: m.initial_state(self.counts[p], self.xp, element_length=self.element_length)
                for p, m in self.materials.items()}

    def __call__(self, dstrain: Any, state: dict[int, Any]) -> tuple[Any, Any, dict[int, Any]]:
        xp = self.xp
        if len(self.materials) == 1:
            (p, material), = self.materials.items()
            stress, tangent, new = self._update(p, material, dstrain, state[p])
            return stress, tangent, {p: new}
        stress = xp.empty((self.npoints, 6))
        tangent = xp.empty((self.npoints, 6, 6))
        new_state = {}
        for p, material in self.materials.items():
            idx = self.index[p]
            s, t, new_state[p] = self._update(p, material, dstrain[idx], state[p])
            stress[idx] = s
            tangent[idx] = t
        return stress, tangent, new_state

    def _update(self, p: int, material: Material, dstrain: Any, state: Any) -> tuple:
        if p not in self.averages:
            return material.update(dstrain, state)
        stress, tangent, new, coupling = material.update_nonlocal(dstrain, state,
                                                                  self.averages[p])
        self.couplings[p] = coupling
        return stress, tangent, new

    @property
    def tangent_coupling(self) -> Any:
        """None, or the non-local part of the tangent of the last call: v (npoints, 6) ->
        (npoints, 6), the sum over the non-local phases of −U Σ W G·v."""
        active = {p: c for p, c in self.couplings.items() if c is not None}
        if not active:
            return None

        def apply(v: Any) -> Any:
            out = self.xp.zeros_like(v)
            for p, coupling in active.items():
                idx = self.index[p]
                if idx is None:
                    out += coupling.apply(v)
                else:
                    out[idx] += coupling.apply(v[idx])
            return out

        return apply

    def eqps(self, state: dict[int, Any]) -> Any:
        """Equivalent plastic strain per voxel (npoints,), zero in phases without one."""
        out = self.xp.zeros(self.npoints)
        for p in self.materials:
            if "eqps" in state[p]:
                if self.index[p] is None:
                    out[...] = state[p]["eqps"][:, 0]
                else:
                    out[self.index[p]] = state[p]["eqps"][:, 0]
        return out


def dns(
    microstructure: Any,
    materials: Mapping[int, Material] | Mapping[str, Any] | str | os.PathLike,
    loading: LoadPath,
    *,
    backend: Any = "auto",
    tol: float = 1e-6,
    save_fields: int | Sequence[int] | str | None = None,
    lengths: Any = None,
    discretization: str = "willot",
    max_iterations: int = 30,
    stall_iterations: int | str | None = "auto",
    max_cuts: int = 6,
    progress: Any = None,
    stop: Callable[[np.ndarray, np.ndarray], bool] | None = None,
    failure: str = "raise",
    krylov: str = "cg",
) -> Response:
    """Full-field FFT simulation of an RVE along a load path.

    Parameters
    ----------
    microstructure : integer label array (N1, N2) or (N1, N2, N3), or an object with
        ``.labels`` and ``.lengths`` (e.g. ``rve_gen.Microstructure``).
    materials : mapping label -> :class:`~homog.materials.Material`, or a TOML path / parsed
        dict with a ``phases`` table for :func:`homog.materials.from_config`.
    loading : :class:`~homog.loading.LoadPath` (2D grids: plane strain, see
        :meth:`LoadPath.for_dimension`).
    backend : FFT backend, "auto", "scipy", "pyfftw", "cupy" or a backend object.
    tol : relative equilibrium tolerance of every increment (:mod:`kernels.nonlinear`).
    save_fields : increments (0-based, negative counts from the end, or "last") whose fields
        are kept in ``Response.fields``: ``"increments"`` (k,), ``"strain"`` and ``"stress"``
        (k, 6, *grid) 3D Mandel, ``"eqps"`` (k, *grid).
    lengths : RVE lengths, only with a plain label array (a microstructure carries its own).
    discretization, max_iterations, max_cuts : see :class:`kernels.nonlinear.NewtonCG`.
    stall_iterations : Newton iterations without a new lowest residual after which a sub-step
        is cut (:class:`kernels.nonlinear.NewtonCG`); "auto" (default): 8
        (:data:`kernels.nonlinear.STALL_ITERATIONS`), or no stall test (None) when a material
        returns a secant tangent (its ``secant_tangent``, e.g. ``VonMisesDamage(...,
        tangent="secant")``), whose iteration converges linearly.
    progress : optional callable(done, total) called after every increment.
    stop : optional callable(strain, stress) -> bool, called after every converged increment k
        with the Mandel histories ``strain[:k + 1]``, ``stress[:k + 1]`` (shape (k + 1, 6), row
        0 the unloaded state); True ends the run there: the Response holds those rows and
        ``info["stopped"] = "stop"``.
    failure : "raise" (default): an increment that does not converge after ``max_cuts``
        halvings raises :class:`kernels.ConvergenceError`; "truncate": the Response ends at the
        last converged increment with ``info["stopped"] = "diverged"`` and ``info["error"]``
        the message.
    krylov : solver of the Newton corrections (:class:`kernels.nonlinear.NewtonCG`): "cg"
        (default) for symmetric positive-definite tangents, or "gmres" (restarted GMRES, Saad &
        Schultz 1986) for non-symmetric tangents such as consistent damage tangents while
        softening, where CG breaks down; GMRES stores 31 extra fields (restart 30).

    Returns a :class:`~homog.response.Response`: ``strain``, ``stress`` (nsteps + 1, 6) 3D
    Mandel (row 0 the unloaded state), ``iterations`` Newton iterations per increment,
    ``tangent`` None (the homogenized algorithmic tangent would cost ncomp extra linear solves
    per increment), ``info`` with CG iterations, cuts and timings.

    Raises ``ValueError`` on bad input, ``MemoryError`` when the grid does not fit and
    :class:`kernels.ConvergenceError` when an increment does not converge after cutting.
    """
    start = time.perf_counter()
    labels, lengths = labels_and_lengths(microstructure, lengths)
    backend = get_backend(backend)
    check_solve_memory(labels.shape, backend.xp, krylov)  # before any pass over the grid
    materials = materials_for_labels(materials, labels)
    if not isinstance(loading, LoadPath):
        raise ValueError(
            f"loading must be a homog.loading.LoadPath, got {type(loading).__name__}; build one "
            "with e.g. homog.loading.uniaxial_stress(0.05, steps=100)"
        )
    check_callable(stop, "stop", "(strain, stress) -> bool")
    check_callable(progress, "progress", "(done, total)")
    if failure not in FAILURE_MODES:
        raise ValueError(f"failure = {failure!r}: use one of {list(FAILURE_MODES)}")
    steps = loading.for_dimension(labels.ndim)
    snapshots = _snapshot_steps(save_fields, len(steps))
    law = PhaseLaw(labels, materials, backend.xp, voxel_size(labels.shape, lengths), lengths)
    if isinstance(stall_iterations, str):
        if stall_iterations != "auto":
            raise ValueError(f"stall_iterations = {stall_iterations!r}: give a positive "
                             "integer, None (no stall test) or 'auto'")
        secant = any(m.secant_tangent for m in materials.values())
        stall_iterations = None if secant else STALL_ITERATIONS
    solver = NewtonCG(labels, law, law.initial_state(), lengths=lengths, tol=tol,
                      backend=backend, discretization=discretization,
                      max_iterations=max_iterations, stall_iterations=stall_iterations,
                      max_cuts=max_cuts, krylov=krylov)
    nsteps = len(steps)
    strain = np.zeros((nsteps + 1, 6))
    stress = np.zeros((nsteps + 1, 6))
    stress[0] = to_numpy(solver.stress_points.mean(axis=0))
    iterations = np.zeros(nsteps, dtype=int)
    cg_iterations, residuals, cuts = [], [], []
    fields: dict[str, list] = {"increments": [], "strain": [], "stress": [], "eqps": []}
    sel = list(steps.components)
    done, stopped = 0, {}
    try:
        for inc in solver.run(steps.targets, steps.strain_controlled):
            done = inc.step + 1
            strain[done] = inc.macro_strain
            stress[done] = inc.macro_stress
            iterations[inc.step] = inc.iterations
            cg_iterations.append(inc.cg_iterations)
            residuals.append(inc.residual)
            cuts.append(inc.cuts)
            if progress is not None:
                progress(done, nsteps)
            if inc.step in snapshots:
                eps = np.zeros((6,) + labels.shape)
                eps[sel] = to_numpy(inc.strain)
                fields["increments"].append(inc.step)
                fields["strain"].append(eps)
                fields["stress"].append(to_numpy(inc.stress_points).T.reshape((6,) + labels.shape))
                fields["eqps"].append(to_numpy(law.eqps(inc.state)).reshape(labels.shape))
            if stop is not None and stop_requested(stop, strain[:done + 1], stress[:done + 1]):
                stopped = {"stopped": "stop"}
                break
    except ConvergenceError as exc:
        if failure == "raise":
            raise
        stopped = {"stopped": "diverged", "error": str(exc)}
    info = {
        "solver": "dns newton-cg",
        "grid": list(labels.shape),
        "tol": tol,
        "cg_iterations": cg_iterations,
        "residuals": residuals,
        "cuts": cuts,
        "wall_time_s": time.perf_counter() - start,
        **solver.info,
        **stopped,
    }
    if stopped:
        strain, stress, iterations = strain[:done + 1], stress[:done + 1], iterations[:done]
    return Response(strain, stress, iterations,
                    fields={k: np.asarray(v) for k, v in fields.items()} if snapshots else {},
                    info=info)


def voxel_size(shape: Sequence[int], lengths: Sequence[float] | None = None) -> float:
    """Voxel size h = (Π_i L_i/N_i)^(1/d): the length of a cube of the voxel's volume."""
    lengths = (1.0,) * len(shape) if lengths is None else lengths
    return float(np.prod([L / N for L, N in zip(lengths, shape)]) ** (1.0 / len(shape)))


def _snapshot_steps(save_fields: Any, nsteps: int) -> set[int]:
    if save_fields is None:
        return set()
    if isinstance(save_fields, str):
        if save_fields != "last":
            raise ValueError(f"save_fields = {save_fields!r}: use 'last' or increment indices")
        return {nsteps - 1}
    if isinstance(save_fields, int | np.integer):
        items = [save_fields]
    elif isinstance(save_fields, Iterable):
        items = list(save_fields)
    else:
        raise ValueError(f"save_fields = {save_fields!r}: use 'last', an increment index or a "
                         "list of them")
    out = set()
    for k in items:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or not -nsteps <= k < nsteps:
            raise ValueError(
                f"save_fields entry {k!r} is not an increment index: use integers in "
                f"[{-nsteps}, {nsteps - 1}] (0 is the first increment, -1 the last) or 'last'"
            )
        out.add(int(k) % nsteps)
    return out
