"""The projection P = G + M_free and a conjugate-gradient solver on its range.

G projects a symmetric field onto compatible zero-mean strain fields (Γ̂0 for C0 = I, applied
in Fourier space); M_free keeps the mean of the stress-controlled (free) Mandel components.
P is an orthogonal projection in the L2 inner product of Mandel fields, so for any symmetric
positive (semi-)definite point-wise stiffness K(x) the operator P:K:P is symmetric positive
(semi-)definite on range(P), and equilibrium with prescribed mean strains/stresses,

    P:K:δε = P:(Σ̄ − σ),   δε ∈ range(P),

is solved by conjugate gradients (Zeman et al., J. Comput. Phys. 229, 2010; de Geus et al.,
CMAME 318, 2017, for the Newton–CG form with the consistent tangent K). The same machinery
serves the linear elastic solver (K = C) and the nonlinear full-field solver (K = algorithmic
tangent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from kernels import pointwise
from kernels.arraymodule import to_numpy
from kernels.green import apply_projection, equilibrium_residual


class ConvergenceError(RuntimeError):
    """A solver stopped without reaching its tolerance; carries ``iterations`` and ``residual``."""

    def __init__(self, message: str, iterations: int, residual: float) -> None:
        super().__init__(message)
        self.iterations = iterations
        self.residual = residual


class Projection:
    """P = G + M_free on one grid, bound to a backend's FFT plan and spectrum buffer.

    ``grid`` is a :class:`~kernels.frequency.FrequencyGrid`; ``plan`` a bound FFT plan whose
    spectrum buffer is used as scratch.
    """

    def __init__(self, grid: Any, plan: Any, xp: Any) -> None:
        self.grid, self.plan, self.xp = grid, plan, xp
        self.N = grid.size
        self._zero = (slice(None),) + (0,) * grid.ndim

    def __call__(self, field: Any, free: np.ndarray) -> Any:
        """field ← P:field, in place; ``free`` (ncomp,) bool marks stress-controlled means."""
        spec = self.plan.forward(field, self.plan.spec)
        mean = spec[self._zero].copy()
        apply_projection(spec, self.grid.directions)
        spec[self._zero] = self.xp.where(self.xp.asarray(free), mean, 0.0)
        return self.plan.inverse(spec, field)

    def residual(self, sigma: Any, free: np.ndarray, target: np.ndarray) -> float:
        """||P:(Σ̄ − σ)||_RMS = sqrt(⟨|G:σ|²⟩ + |(Σ̄ − ⟨σ⟩)_free|²) of a stress field.

        ``sigma`` is left unchanged; its spectrum stays in the plan's buffer (``self.spectrum``).
        """
        spec = self.plan.forward(sigma, self.plan.spec)
        eq = equilibrium_residual(spec, self.grid.directions, self.grid.shape[-1]) / self.N
        mismatch = np.where(free, target - self.mean_of_spectrum(), 0.0)
        return float(np.sqrt(eq + mismatch @ mismatch))

    def mean_of_spectrum(self) -> np.ndarray:
        """The mean (ncomp,) of the field last transformed forward."""
        return to_numpy(self.plan.spec[self._zero]).real / self.N

    @property
    def spectrum(self) -> Any:
        return self.plan.spec


def conjugate_gradient(
    apply_stiffness: Callable[[Any, Any], Any],
    project: Callable[[Any], Any],
    x: Any,
    r: Any,
    p: Any,
    w: Any,
    *,
    atol: float,
    maxiter: int,
) -> tuple[int, float]:
    """Conjugate gradients for P:K:δ = r0 on range(P), accumulating δ into ``x``.

    ``r`` holds the projected right-hand side r0 ∈ range(P) on entry and the recursive
    residual on exit; ``p``, ``w`` are work buffers of the same shape. ``apply_stiffness(v,
    out)`` writes K:v into ``out``; ``project(v)`` applies P in place. Stops when
    ||r||_RMS ≤ ``atol``. Returns (iterations, ||r||_RMS); raises :class:`ConvergenceError`
    after ``maxiter`` iterations or on a breakdown (non-positive curvature, non-finite values).
    """
    n = r.size // r.shape[0]
    rr = pointwise.dot(r, r)
    rms = np.sqrt(rr / n)
    if rms <= atol:
        return 0, float(rms)
    p[...] = r
    for iteration in range(1, maxiter + 1):
        apply_stiffness(p, w)
        project(w)
        pw = pointwise.dot(p, w)
        if not pw > 0.0:
            raise ConvergenceError(
                f"CG broke down at iteration {iteration} (p·Kp = {pw:.3e}, residual {rms:.3e}): "
                "the stiffness or tangent is not positive definite, or holds NaN",
                iteration, float(rms))
        alpha = rr / pw
        rr_new = pointwise.cg_step(x, r, p, w, alpha)
        rms = np.sqrt(rr_new / n)
        if not np.isfinite(rms):
            raise ConvergenceError(
                f"CG produced a non-finite residual at iteration {iteration}", iteration, rms)
        if rms <= atol:
            return iteration, float(rms)
        pointwise.cg_direction(p, r, rr_new / rr)
        rr = rr_new
    raise ConvergenceError(
        f"CG did not converge: residual {rms:.3e} > {atol:.3e} after {maxiter} iterations "
        "(raise maxiter, or check the phase contrast)", maxiter, float(rms))
