"""Effective elastic stiffness and strain-concentration tensors of a voxel RVE.

With ε(x) = A(x):E for every macroscopic strain E (Hill 1963), the columns of the strain
concentration A are the strain fields of the unit Mandel loads E = e_j, and

    C_eff = ⟨C(x):A(x)⟩,   i.e.  C_eff[:, j] = ⟨σ⟩ under E = e_j.

ncomp solves (6 in 3D, 3 in 2D plane strain) on one set-up solver (buffers and FFT plans are
reused). In 2D, C_eff is the in-plane block (11, 22, √2·12) of the plane-strain stiffness.

C_eff has major symmetry (it derives from the energy ⟨ε:C:ε⟩), but the columns of iterative
solves carry errors of the order of the tolerance. The returned C_eff is the symmetric part
½(C + Cᵀ) of the computed columns, the error-minimal symmetric estimate; the relative
asymmetry that was removed, max|C − Cᵀ| / max|C|, is kept in ``info["asymmetry"]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kernels.fft import get_backend
from kernels.lippmann_schwinger import LippmannSchwinger, estimate_memory
from kernels.memory import check_memory
from kernels.stiffness_field import validate_labels


@dataclass
class HomogenizationResult:
    """Result of :func:`elastic_homogenization`.

    C_eff : (ncomp, ncomp) Mandel effective stiffness (numpy), symmetric (module docstring).
    strain_concentration : (ncomp, ncomp, *grid) A(x) on the backend's device, or None.
    iterations, residuals : per unit load case.
    """

    C_eff: np.ndarray
    strain_concentration: Any
    iterations: list[int]
    residuals: list[float]
    info: dict = field(default_factory=dict)


def elastic_homogenization(
    labels: Any,
    stiffness: Mapping[int, Any],
    *,
    lengths: Any = None,
    solver: str = "cg",
    tol: float = 1e-6,
    maxiter: int | None = None,
    backend: Any = "auto",
    discretization: str = "willot",
    reference_medium: tuple[float, float] | None = None,
    return_concentration: bool = False,
) -> HomogenizationResult:
    """Effective stiffness (and optionally A(x)) from ncomp unit-strain FFT solves.

    Parameters are those of :func:`kernels.solve_elastic`. With ``return_concentration`` the
    strain concentration tensor field A (ncomp, ncomp, *grid), A[:, j] = ε under E = e_j, is
    returned as well (it needs ncomp² · 8 bytes per voxel more).
    """
    labels = validate_labels(labels)
    backend = get_backend(backend)
    check_homogenization_memory(labels.shape, backend.xp, solver, return_concentration)
    problem = LippmannSchwinger(labels, stiffness, lengths=lengths, solver=solver, tol=tol,
                                maxiter=maxiter, backend=backend, discretization=discretization,
                                reference_medium=reference_medium)
    n, xp = problem.ncomp, problem.xp
    concentration = None
    if return_concentration:
        concentration = xp.empty((n, n) + problem.shape, dtype=xp.float64)
    C_eff = np.empty((n, n))
    iterations, residuals = [], []
    for j in range(n):
        unit = np.zeros(n)
        unit[j] = 1.0
        sol = problem.solve(macro_strain=unit)
        C_eff[:, j] = sol.macro_stress
        iterations.append(sol.iterations)
        residuals.append(sol.residual)
        if concentration is not None:
            concentration[:, j] = sol.strain
    scale = float(np.max(np.abs(C_eff)))
    asymmetry = float(np.max(np.abs(C_eff - C_eff.T))) / scale if scale > 0 else 0.0
    C_eff = 0.5 * (C_eff + C_eff.T)
    return HomogenizationResult(C_eff, concentration, iterations, residuals,
                                {"backend": problem.backend.name, "solver": solver,
                                 "discretization": discretization, "asymmetry": asymmetry})


def check_homogenization_memory(shape: tuple[int, ...], xp: Any, solver: str = "cg",
                                return_concentration: bool = False) -> None:
    """Refuse with a ``MemoryError``, before anything is allocated, an
    :func:`elastic_homogenization` on a grid of ``shape`` that does not fit the memory of
    ``xp``'s device: the solver's fields (:func:`kernels.estimate_memory`) and, with
    ``return_concentration``, the strain concentration field (ncomp² · 8 bytes per voxel)."""
    ncomp = 6 if len(shape) == 3 else 3
    needed = estimate_memory(tuple(shape), solver)
    what = f"elastic homogenization on a {'x'.join(map(str, shape))} grid"
    if return_concentration:
        needed += ncomp * ncomp * 8 * int(np.prod(shape))
        what += " with its strain concentration field"
    check_memory(needed, xp, what)
