"""The projection P = G + M_free and the Krylov solvers (CG, restarted GMRES) on its range.

G projects a symmetric field onto compatible zero-mean strain fields (Γ̂0 for C0 = I, applied
in Fourier space); M_free keeps the mean of the stress-controlled (free) Mandel components.
P is an orthogonal projection in the L2 inner product of Mandel fields, so for any symmetric
positive (semi-)definite point-wise stiffness K(x) the operator P:K:P is symmetric positive
(semi-)definite on range(P), and equilibrium with prescribed mean strains/stresses,

    P:K:δε = P:(Σ̄ − σ),   δε ∈ range(P),

is solved by conjugate gradients (Zeman et al., J. Comput. Phys. 229, 2010; de Geus et al.,
CMAME 318, 2017, for the Newton–CG form with the consistent tangent K). The same machinery
serves the linear elastic solver (K = C) and the nonlinear full-field solver (K = algorithmic
tangent). Where K(x) is not symmetric, or not positive definite (the consistent tangent of a
softening damage law), CG does not apply and :func:`gmres` solves the same system: restarted
GMRES (Saad & Schultz, SIAM J. Sci. Stat. Comput. 7, 1986) needs only that P:K:P be
non-singular on range(P).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from kernels import pointwise
from kernels.arraymodule import array_module, real_scalar, to_numpy
from kernels.green import apply_projection, equilibrium_residual

#: Loosest tolerance of an iterative solve: a relative residual above 10 % is no solution (a
#: tolerance of 1 accepts the initial guess).
MAX_TOL = 0.1


class ConvergenceError(RuntimeError):
    """A solver stopped without reaching its tolerance; carries ``iterations`` and ``residual``."""

    def __init__(self, message: str, iterations: int, residual: float) -> None:
        super().__init__(message)
        self.iterations = iterations
        self.residual = residual


def check_tolerance(value: Any, name: str = "tol", smallest: float = 0.0) -> float:
    """``value`` as a float; ValueError naming ``name`` unless it is a number in
    (0, :data:`MAX_TOL`], or in [``smallest``, MAX_TOL] when ``smallest`` > 0 (the round-off
    floor of a solver's residual)."""
    v = real_scalar(value)
    if v is not None and (v >= smallest if smallest > 0 else v > 0) and v <= MAX_TOL:
        return v
    interval = f"[{smallest:g}, {MAX_TOL:g}]" if smallest > 0 else f"(0, {MAX_TOL:g}]"
    why = ""
    if v is not None and v > MAX_TOL:
        why = ": a looser one is no solution"
    elif v is not None and 0 < v < smallest:
        why = ": round-off keeps the residual of FFT solves near 1e-13 in double precision"
    raise ValueError(f"{name} = {value!r} must be a number in {interval}, the relative "
                     f"residual accepted as converged{why}")


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


def gmres(
    apply_operator: Callable[[Any, Any], Any],
    project: Callable[[Any], Any],
    x: Any,
    r: Any,
    w: Any,
    *,
    atol: float,
    maxiter: int,
    restart: int = 30,
    basis: Any = None,
) -> tuple[int, float]:
    """Restarted GMRES(m) for P:K:δ = r0 on range(P), accumulating δ into ``x``.

    Saad & Schultz, "GMRES: a generalized minimal residual algorithm for solving nonsymmetric
    linear systems", SIAM J. Sci. Stat. Comput. 7 (1986): each cycle builds an orthonormal
    basis V of the Krylov space K_m(A, r) of A = P:K by Arnoldi and takes the correction V y
    that minimizes ||r − A V y||, through Givens rotations that reduce the (m + 1) × m
    Hessenberg matrix to triangular form (on the host: it is small); the rotated right-hand
    side gives the residual norm at every step without forming the residual. Arnoldi
    orthogonalizes by classical Gram–Schmidt applied twice (Giraud, Langou & Rozložník, Comput.
    Math. Appl. 50, 2005: "twice is enough"), two matrix–vector products over the basis instead
    of one pass per basis vector. Unlike CG, K may be non-symmetric and indefinite; P:K:P must
    only be non-singular on range(P).

    Calling convention of :func:`conjugate_gradient`: ``r`` holds the projected right-hand side
    r0 ∈ range(P) on entry and the residual r0 − A:δ on exit (recomputed with one product A:d
    per cycle from the cycle's correction d, not from the rotated estimate); ``w`` is a work
    buffer of the same shape. ``apply_operator(v, out)`` writes K:v into ``out``;
    ``project(v)`` applies P in place. ``restart`` is m, the Krylov vectors per cycle;
    ``basis`` an optional work array of shape (m + 1, *r.shape) (allocated here otherwise):
    the method stores m + 1 fields. Stops when ||r||_RMS = sqrt(r·r / N) (N the points of the
    grid, ``r.size // r.shape[0]``) is ≤ ``atol``, the criterion of :func:`conjugate_gradient`.
    ``maxiter`` counts products with A over all cycles (the extra product per cycle
    excluded). Returns (iterations, ||r||_RMS); raises :class:`ConvergenceError` when
    ``maxiter`` is reached, on non-finite values, or when A is singular on the Krylov space.
    """
    xp = array_module(x, r)
    if isinstance(restart, bool) or not isinstance(restart, int | np.integer) or restart < 1:
        raise ValueError(f"restart = {restart!r} must be an integer >= 1")
    m = int(restart)
    shape = (m + 1,) + tuple(r.shape)
    if basis is None:
        basis = xp.empty(shape, dtype=r.dtype)
    elif tuple(basis.shape) != shape:
        raise ValueError(f"basis has shape {tuple(basis.shape)}; expected {shape} (restart + 1 "
                         "fields of the residual's shape)")
    V = basis.reshape(m + 1, -1)
    wf = w.reshape(-1)
    scale = np.sqrt(r.size // r.shape[0])  # ||v||_RMS = ||v||_2 / scale
    beta = np.sqrt(pointwise.dot(r, r))
    rms = beta / scale
    if not np.isfinite(rms):
        raise ConvergenceError("GMRES got a non-finite right-hand side", 0, float(rms))
    iterations = 0
    R = np.zeros((m, m))  # the Hessenberg matrix, reduced to triangular form
    cs, sn, g = np.zeros(m), np.zeros(m), np.zeros(m + 1)
    while rms > atol and iterations < maxiter:
        V[0] = r.reshape(-1)
        V[0] /= beta
        g[:] = 0.0
        g[0] = beta
        k = 0
        for j in range(min(m, maxiter - iterations)):
            apply_operator(basis[j], w)
            project(w)
            h = _orthogonalize(V[:j + 1], wf, xp)
            h_next = np.sqrt(pointwise.dot(w, w))
            iterations += 1
            if not (np.isfinite(h_next) and np.all(np.isfinite(h))):
                raise ConvergenceError(
                    f"GMRES produced non-finite values at iteration {iterations}: the operator "
                    "holds NaN or inf", iterations, float(rms))
            for i in range(j):  # earlier rotations on the new column
                h[i], h[i + 1] = cs[i] * h[i] + sn[i] * h[i + 1], -sn[i] * h[i] + cs[i] * h[i + 1]
            diagonal = np.hypot(h[j], h_next)
            if diagonal == 0.0:
                raise ConvergenceError(
                    f"GMRES broke down at iteration {iterations}: P:K:P is singular on the "
                    f"Krylov space (residual {rms:.3e})", iterations, float(rms))
            cs[j], sn[j] = h[j] / diagonal, h_next / diagonal
            R[:j, j], R[j, j] = h[:j], diagonal
            g[j], g[j + 1] = cs[j] * g[j], -sn[j] * g[j]
            k = j + 1
            if abs(g[k]) / scale <= atol or h_next <= np.finfo(float).eps * diagonal:
                break  # converged, or A V_k = V_k H_k (the exact solution is in the space)
            V[k] = wf
            V[k] /= h_next
        # y = R⁻¹ g (upper triangular), d = V y into w, δ ← δ + d, r ← r − A d
        y = np.zeros(k)
        for i in range(k - 1, -1, -1):
            y[i] = (g[i] - R[i, i + 1:k] @ y[i + 1:]) / R[i, i]
        wf[...] = xp.asarray(y) @ V[:k]
        x += w
        apply_operator(w, basis[0])
        project(basis[0])
        r -= basis[0]
        beta = np.sqrt(pointwise.dot(r, r))
        rms = beta / scale
        if not np.isfinite(rms):
            raise ConvergenceError(
                f"GMRES produced a non-finite residual at iteration {iterations}", iterations,
                float(rms))
    if rms <= atol:
        return iterations, float(rms)
    raise ConvergenceError(
        f"GMRES({m}) did not converge: residual {rms:.3e} > {atol:.3e} after {iterations} "
        "iterations (raise maxiter or the restart length, or cut the load increment)",
        iterations, float(rms))


def _orthogonalize(V: Any, w: Any, xp: Any) -> np.ndarray:
    """w ← w − V^T h with h = V w, twice (classical Gram–Schmidt with re-orthogonalization);
    returns the host coefficients h (one per row of V)."""
    h = to_numpy(V @ w)
    w -= xp.asarray(h) @ V
    correction = to_numpy(V @ w)
    w -= xp.asarray(correction) @ V
    return h + correction
