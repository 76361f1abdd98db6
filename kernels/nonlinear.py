"""Nonlinear full-field FFT solver: Newton on the strain field, Krylov (CG or GMRES) inner solves.

Small-strain form of de Geus et al., "Finite strain FFT-based non-linear solvers made simple",
CMAME 318 (2017), §3-4, with mixed macroscopic conditions as in Zeman et al., J. Comput. Phys.
229 (2010). Unknown: the strain field ε(x), shape (ncomp, *grid), ncomp = 6 in 3D and 3 in 2D
plane strain (11, 22, √2·12). Per component k the load prescribes either the mean strain
⟨ε_k⟩ = E_k (strain control) or the mean stress ⟨σ_k⟩ = Σ̄_k (stress control, ``free``).

With P = G + M_free (:mod:`kernels.projection`), equilibrium with the macroscopic conditions
reads P:(Σ̄ − σ(ε)) = 0 over ε ∈ E + range(P). Linearizing around the current iterate with the
per-voxel algorithmic tangent K(x) = ∂σ/∂ε gives the Newton correction

    P:K:δε = P:(Σ̄ − σ(ε)),    δε ∈ range(P),            (de Geus et al. 2017, eq. 34)

a symmetric positive-definite system on range(P) solved by CG when K is; range(P) contains the
free (stress-controlled) mean components, so they are unknowns of the same system. A
non-symmetric or indefinite K (the consistent tangent of a softening damage law) makes CG break
down: ``krylov="gmres"`` solves the same corrections with restarted GMRES (Saad & Schultz, SIAM
J. Sci. Stat. Comput. 7, 1986; :func:`kernels.projection.gmres`), at the memory cost of its
restart + 1 basis fields. An increment starts with the tangent predictor: ε ← ε_n + ΔE
(strain-controlled components), then one solve of P:K_n:δε = P:(Σ̄ − σ_n − K_n:ΔE) with the
tangent K_n of the last converged state, which also predicts the free mean strains.

Convergence: r = ||P:(Σ̄ − σ)||_RMS / s ≤ ``tol`` (the residual of
:mod:`kernels.lippmann_schwinger`, s = max(||⟨σ⟩||, ||Σ̄_free||, ||⟨σ⟩ − ⟨σ_n⟩||)) and a small
last correction ||δε||_RMS / ||ε||_RMS ≤ ``correction_tol`` (default √tol: under quadratic
convergence a correction of √tol leaves an error of order tol). Inexact Newton (Eisenstat &
Walker, SIAM J. Sci. Comput. 17, 1996): each Krylov solve stops at ||r_K|| ≤ η ||r||, with
η = min(0.1, r) for the first correction and Eisenstat & Walker's choice 2 after it
(:func:`_forcing`: η from the last residual ratio), but never below half the final tolerance.

Increment cutting: when Newton does not converge in ``max_iterations``, or stalls (its
equilibrium residual, still above ``tol``, has not reached a new lowest value for
``stall_iterations`` iterations), the Krylov solve fails
(CG breakdown, no convergence in ``cg_maxiter``, or ``gmres_maxiter`` for GMRES) or the
constitutive law raises
``RuntimeError``/``ValueError`` (e.g. a failed return mapping), the solver returns to the last
converged state and halves the sub-step, down to 2**-``max_cuts`` of the increment. A
Newton-CG solve that fails there switches to GMRES for the rest of the run and tries the
increment again (``info["krylov_switch"]``); otherwise it raises
:class:`~kernels.projection.ConvergenceError` naming the increment, the iterations and the
residual.

The constitutive law is a callable ``law(dstrain, state) -> (stress, tangent, new_state)`` on
point-first arrays (npoints, 6), (npoints, 6), (npoints, 6, 6) in 3D Mandel notation, with
``dstrain`` the total strain increment from the last converged ``state``; ``state`` is opaque
here (whatever the law returns), kept at convergence and handed back. A non-local law (whose
stress at a voxel depends on the strain elsewhere) may expose ``law.tangent_coupling``: None
or a callable v (npoints, 6) -> (npoints, 6), the non-local part of its tangent at its last
evaluation, which Newton–GMRES adds to the per-voxel tangent (CG needs a symmetric operator
and leaves it out). In 2D the in-plane strains
are embedded with ε33 = ε13 = ε23 = 0, the in-plane block of the tangent is used, and σ33 is
reported. Voxels are ordered as ``labels.reshape(-1)`` (C order).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from kernels import pointwise
from kernels import threads as thread_policy
from kernels.arraymodule import holds_device_arrays, to_numpy, whole_number
from kernels.fft import get_backend, spectrum_shape
from kernels.frequency import frequency_grid
from kernels.memory import check_memory
from kernels.projection import (
    ConvergenceError,
    Projection,
    check_tolerance,
    conjugate_gradient,
    gmres,
)
from kernels.stiffness_field import validate_labels
from kernels.tensors import PLANE_INDICES

#: law(dstrain (npoints, 6), state) -> (stress (npoints, 6), tangent (npoints, 6, 6), new_state)
Law = Callable[[Any, Any], tuple[Any, Any, Any]]

#: Largest forcing term η of the inexact Newton iteration (Krylov tolerance η ||r||).
MAX_FORCING = 0.1
#: γ and α of Eisenstat & Walker's second forcing term, η_k = γ (||r_k|| / ||r_k−1||)^α.
FORCING_GAMMA, FORCING_ALPHA = 0.9, 2.0
#: GMRES iterations per linear solve. On the example database's DNS labels that switch to
#: GMRES (docs/dns.md) no solve of a converging Newton attempt took more than 544 of them,
#: while failing attempts ran solves of 700–2 000 before the cut; stopping those at 600 gave
#: the same labels, bit for bit, in less time.
GMRES_MAXITER = 600

#: The Krylov solver never solves below CG_TOL_FLOOR · tol (relative): the Newton test is tol.
CG_TOL_FLOOR = 0.5
#: Newton iterations without a new lowest residual after which a (sub-)step is cut: a stall.
#: Past a softening peak a step too large for Newton makes the residual wander above its
#: lowest value until ``max_iterations``, while the Krylov solves grow longer (up to 600 CG
#: iterations each). Measured on four 200² samples of the example database run to failure
#: (consistent tangents), the converging steps reached a new lowest residual at least every 5
#: iterations and none of the 30 steps that failed would have converged after a gap of 8:
#: cutting them there gives the same curves with 24-54 % of the Krylov iterations
#: (docs/dns.md). The test presumes Newton's convergence: with a secant tangent the iteration
#: converges linearly and can wander for 20 iterations before it converges (measured), so
#: :func:`homog.dns.dns` turns it off for such laws.
STALL_ITERATIONS = 8
#: Krylov solvers of the Newton corrections: CG (symmetric positive-definite tangents) or
#: restarted GMRES (any non-singular tangent).
KRYLOV_SOLVERS = ("cg", "gmres")


@dataclass
class Increment:
    """Converged state at the end of one load increment, yielded by :meth:`NewtonCG.run`.

    macro_strain, macro_stress : ⟨ε⟩, ⟨σ⟩ as 3D Mandel numpy vectors (6,); in 2D ε33 = ε13 =
        ε23 = 0 and the out-of-plane stresses are the means of the law's stresses.
    iterations, cg_iterations : Newton and Krylov (CG or GMRES) iterations of the increment,
        failed attempts and sub-steps included.
    residual : final relative equilibrium residual; cuts : number of halvings of the increment.
    strain, stress : fields (ncomp, *grid); stress_points : the law's (npoints, 6) stresses;
    state : the law's converged state. These are the solver's live buffers: copy them to keep
    them past the next increment.
    """

    step: int
    macro_strain: np.ndarray
    macro_stress: np.ndarray
    iterations: int
    cg_iterations: int
    residual: float
    cuts: int
    strain: Any
    stress: Any
    stress_points: Any
    state: Any


class NewtonCG:
    """A periodic nonlinear RVE set up once (grid, buffers, FFT plans), loaded incrementally.

    Parameters
    ----------
    labels : integer array (N1, N2) or (N1, N2, N3); only its shape is used here (the law
        knows which voxel is which phase; voxels are ordered as ``labels.reshape(-1)``).
    law : constitutive callable, see the module docstring.
    state : the law's initial state (e.g. zeros), for all voxels.
    lengths : RVE lengths per axis (default 1).
    tol : tolerance on the relative equilibrium residual, in (0, 1).
    backend : "auto", "scipy", "pyfftw", "cupy" or a backend from :func:`kernels.get_backend`.
        "auto" takes the GPU (CuPy) only when ``state`` holds cupy arrays, so a law written
        for numpy keeps running on the CPU of a machine with a GPU.
    discretization : Green operator discretization, "willot" (default) or "spectral".
    max_iterations : Newton iterations per (sub-)step before the step is cut.
    stall_iterations : Newton iterations without a new lowest equilibrium residual (above
        ``tol``) after which the (sub-)step is cut before ``max_iterations``; at least 1, or
        None: no stall test (a law whose tangent is not its consistent one).
    max_cuts : halvings of one increment before giving up.
    cg_maxiter : CG iterations per linear solve (and the most ``gmres_maxiter`` can be).
    gmres_maxiter : GMRES iterations per linear solve, at most ``cg_maxiter``. A solve that
        reaches it fails its Newton attempt, which is cut. Default :data:`GMRES_MAXITER`.
    correction_tol : tolerance on ||δε||_RMS / ||ε||_RMS (default √tol).
    krylov : solver of the Newton corrections: "cg" (default; needs a symmetric
        positive-definite tangent) or "gmres", restarted GMRES (Saad & Schultz 1986) for
        non-symmetric or indefinite tangents such as consistent damage tangents while softening.
    gmres_restart : Krylov vectors per GMRES cycle; the basis holds gmres_restart + 1 fields.

    The solves run on :attr:`threads` threads in every pool, chosen from the grid size by the
    library's thread policy (:mod:`kernels.threads`) unless the backend fixes a count.

    The law is evaluated once here with a zero increment (initial stress and tangent); the
    solver starts from ε = 0. ``run`` continues from the last converged state, so several
    load paths can be applied one after the other.
    """

    def __init__(
        self,
        labels: Any,
        law: Law,
        state: Any,
        *,
        lengths: Any = None,
        tol: float = 1e-6,
        backend: Any = "auto",
        discretization: str = "willot",
        max_iterations: int = 30,
        stall_iterations: int | None = STALL_ITERATIONS,
        max_cuts: int = 6,
        cg_maxiter: int = 2000,
        gmres_maxiter: int = GMRES_MAXITER,
        correction_tol: float | None = None,
        krylov: str = "cg",
        gmres_restart: int = 30,
    ) -> None:
        labels = validate_labels(labels)
        if not callable(law):
            raise ValueError(
                "law must be a callable (dstrain, state) -> (stress, tangent, new_state) on "
                f"(npoints, 6) arrays, got {type(law).__name__}"
            )
        tol = check_tolerance(tol)
        correction_tol = np.sqrt(tol) if correction_tol is None else correction_tol
        if not (np.isfinite(correction_tol) and correction_tol > 0):
            raise ValueError(f"correction_tol must be a positive number, got {correction_tol}")
        if krylov not in KRYLOV_SOLVERS:
            raise ValueError(
                f"krylov = {krylov!r}: use 'cg' (symmetric positive-definite tangents) or 'gmres' "
                "(non-symmetric or indefinite tangents, e.g. consistent damage tangents)")
        counts = [("max_iterations", max_iterations, 1), ("max_cuts", max_cuts, 0),
                  ("cg_maxiter", cg_maxiter, 1), ("gmres_maxiter", gmres_maxiter, 1),
                  ("gmres_restart", gmres_restart, 1)]
        if stall_iterations is not None:
            counts.append(("stall_iterations", stall_iterations, 1))
        whole = {}
        for name, value, low in counts:
            whole[name] = whole_number(value, low)
            if whole[name] is None:
                raise ValueError(f"{name} = {value!r} must be an integer >= {low}")
        self.law = law
        self.tol, self.correction_tol = float(tol), float(correction_tol)
        self.max_iterations, self.max_cuts, self.cg_maxiter = (
            whole["max_iterations"], whole["max_cuts"], whole["cg_maxiter"])
        self.stall_iterations = whole.get("stall_iterations")
        self.krylov, self.gmres_restart = krylov, whole["gmres_restart"]
        self.gmres_maxiter = min(whole["gmres_maxiter"], self.cg_maxiter)
        # "auto" runs on the GPU only for a state held there: a law written for numpy arrays
        # (a numpy state) keeps the CPU on a machine with a GPU
        self.backend = get_backend(backend, gpu=holds_device_arrays(state))
        xp = self.xp = self.backend.xp
        self.shape = tuple(int(s) for s in labels.shape)
        self.ndim = len(self.shape)
        self.ncomp = 6 if self.ndim == 3 else 3
        self.N = int(np.prod(self.shape))
        check_solve_memory(self.shape, xp, krylov, self.gmres_restart)
        self.grid = frequency_grid(self.shape, lengths, discretization, xp)
        n = self.ncomp
        real_shape = (n,) + self.shape
        (self._eps, self._eps_n, self._sigma, self._sigma_n, self._delta, self._r,
         self._w) = (self.backend.empty_real(real_shape) for _ in range(7))
        self._krylov_buffers()
        self._K = xp.empty((n, n, self.N))  # K_ij(x), component-first
        self._spec = self.backend.empty_spectrum(real_shape)
        self.threads = self.backend.threads_for(n * self.N)
        self._plan = self.backend.plan(self._w, self._spec)
        self.projection = Projection(self.grid, self._plan, xp)
        self._sel = np.asarray(PLANE_INDICES) if self.ndim == 2 else np.arange(6)
        self._plane = xp.asarray(PLANE_INDICES)

        self._eps_n[...] = 0.0
        self._eps[...] = 0.0
        self.state = state
        with thread_policy.limit(self.threads):
            stress_points, _ = self._evaluate(self._eps)
        self._sigma_n[...] = self._sigma
        self.stress_points = stress_points
        self._krylov_total = 0  # Krylov iterations since construction, failed solves included
        self.info = {"backend": self.backend.name, "discretization": discretization,
                     "krylov": krylov, "law_time_s": 0.0, "cg_time_s": 0.0}

    # ---------------------------------------------------------------- field <-> points
    def _evaluate(self, dstrain_field: Any) -> tuple[Any, Any]:
        """Call the law on the increment field (ncomp, *grid) from the converged state.

        Writes σ into ``self._sigma`` and the tangent into ``self._K``; returns the law's
        (npoints, 6) stresses and its new state.
        """
        xp, n, N = self.xp, self.ncomp, self.N
        if n == 6:
            dstrain = xp.ascontiguousarray(dstrain_field.reshape(n, N).T)
        else:  # plane strain: ε33 = ε13 = ε23 = 0
            dstrain = xp.zeros((N, 6))
            dstrain[:, self._plane] = dstrain_field.reshape(n, N).T
        stress, tangent, new_state = self.law(dstrain, self.state)
        # a non-local law's coupling between voxels: non-symmetric, so only for GMRES
        self._coupling = (getattr(self.law, "tangent_coupling", None)
                          if self.krylov == "gmres" else None)
        if getattr(stress, "shape", None) != (N, 6) or getattr(tangent, "shape", None) != (N, 6, 6):
            raise ValueError(
                f"the constitutive law returned stress {getattr(stress, 'shape', None)} and "
                f"tangent {getattr(tangent, 'shape', None)}; expected ({N}, 6) and ({N}, 6, 6) "
                "(3D Mandel, one row per voxel)"
            )
        if n == 6:
            self._sigma.reshape(n, N)[...] = stress.T
            self._K[...] = tangent.transpose(1, 2, 0)
        else:
            plane = self._plane
            self._sigma.reshape(n, N)[...] = stress[:, plane].T
            self._K[...] = tangent[:, plane][:, :, plane].transpose(1, 2, 0)
        return stress, new_state

    def apply_tangent(self, v: Any, out: Any) -> Any:
        """out_i(x) = Σ_j K_ij(x) v_j(x) for fields (ncomp, *grid): one einsum pass.

        Measured on the 2-core developer VM, one thread: einsum "ijn,jn->in" runs at 6-16 ns
        per voxel in 2D and 50-90 ns in 3D, 1.1-7x faster than one numexpr pass per row,
        a sum of ncomp broadcast products, or a point-first batched matmul.
        """
        n, xp = self.ncomp, self.xp
        vv, oo = v.reshape(n, -1), out.reshape(n, -1)
        if xp is np:
            np.einsum("ijn,jn->in", self._K, vv, out=oo)
        else:  # cupy.einsum has no ``out``
            oo[...] = xp.einsum("ijn,jn->in", self._K, vv)
        if self._coupling is not None:
            if n == 6:
                oo += self._coupling(xp.ascontiguousarray(vv.T)).T
            else:
                points = xp.zeros((self.N, 6))
                points[:, self._plane] = vv.T
                oo += self._coupling(points)[:, self._plane].T
        return out

    def _mean(self, field: Any) -> np.ndarray:
        return to_numpy(field.reshape(self.ncomp, -1).mean(axis=1))

    def _rms(self, field: Any) -> float:
        return float(np.sqrt(pointwise.dot(field, field) / self.N))

    # ---------------------------------------------------------------- one (sub-)step
    def _newton(self, target: np.ndarray, fixed: np.ndarray) -> tuple[int, int, float, Any, Any]:
        """Newton–Krylov from the converged state to ``target``; ``fixed`` marks strain control.

        Returns (iterations, Krylov iterations, residual, law stresses, law state); raises
        :class:`ConvergenceError` (with iterations and residual) on any failure.
        """
        xp = self.xp
        col = (-1,) + (1,) * self.ndim
        free = ~fixed
        eps, eps_n, sigma, r, delta, w = (self._eps, self._eps_n, self._sigma, self._r,
                                          self._delta, self._w)
        sigma_n_mean = self._mean(self._sigma_n)
        dE = np.where(fixed, target - self._mean(eps_n), 0.0)
        S = np.where(free, target, 0.0)
        S_col = xp.asarray(S).reshape(col)
        project = self._projector(free)

        # tangent predictor: P:K_n:δ = P:(Σ̄ − σ_n − K_n:ΔE), ε = ε_n + ΔE + δ
        w[...] = xp.asarray(dE).reshape(col)
        self.apply_tangent(w, r)
        r += self._sigma_n
        predicted = self._mean(r)
        scale = max(np.linalg.norm(predicted), np.linalg.norm(S),
                    np.linalg.norm(predicted - sigma_n_mean))
        xp.subtract(S_col, r, out=r)
        project(r)
        eps[...] = eps_n + w
        rnorm = self._rms(r)
        residual, correction = rnorm / max(scale, 1e-300), np.inf
        iterations = cg_iterations = 0
        # the stall test follows the residual's norm, not its ratio to a moving stress scale
        lowest, lowest_at = rnorm, 0
        eta, rnorm_previous = min(MAX_FORCING, residual), rnorm  # the forcing term, ||r_k−1||
        stress_points = state = None
        while True:
            if iterations > 0:
                if not np.isfinite(residual):
                    raise ConvergenceError(
                        f"non-finite equilibrium residual at Newton iteration {iterations} (the "
                        "law returned NaN or inf stresses)", iterations, residual)
                if residual <= self.tol and correction <= self.correction_tol:
                    return iterations, cg_iterations, residual, stress_points, state
                if iterations == self.max_iterations:
                    raise ConvergenceError(
                        f"Newton did not converge in {iterations} iterations (relative residual "
                        f"{residual:.3e}, tol {self.tol:.1e}; last correction {correction:.3e})",
                        iterations, residual)
                if rnorm < lowest:
                    lowest, lowest_at = rnorm, iterations
                elif (self.stall_iterations is not None and residual > self.tol
                      and iterations - lowest_at >= self.stall_iterations):
                    raise ConvergenceError(
                        f"Newton stalled: relative residual {residual:.3e} after {iterations} "
                        f"iterations, and {self.stall_iterations} iterations since its lowest "
                        f"(at iteration {lowest_at}; tol {self.tol:.1e})", iterations, residual)
                eta = _forcing(rnorm / max(rnorm_previous, 1e-300))
                rnorm_previous = rnorm
            atol = max(eta * rnorm, CG_TOL_FLOOR * self.tol * scale)
            delta[...] = 0.0
            start = time.perf_counter()
            try:
                its = self._solve_correction(project, atol)
            except ConvergenceError as exc:
                raise ConvergenceError(
                    f"{self.krylov.upper()} solve of Newton iteration {iterations + 1}: {exc}",
                    iterations, residual) from exc
            finally:
                self.info["cg_time_s"] += time.perf_counter() - start
            cg_iterations += its
            eps += delta
            iterations += 1
            eps_norm = self._rms(eps)
            correction = self._rms(delta) / eps_norm if eps_norm > 0 else 0.0

            xp.subtract(eps, eps_n, out=w)
            start = time.perf_counter()
            try:
                stress_points, state = self._evaluate(w)
            except (RuntimeError, ValueError) as exc:
                raise ConvergenceError(
                    f"the constitutive law failed at Newton iteration {iterations}: "
                    f"{type(exc).__name__}: {exc}", iterations, residual) from exc
            finally:
                self.info["law_time_s"] += time.perf_counter() - start
            mean = self._mean(sigma)
            scale = max(np.linalg.norm(mean), np.linalg.norm(S),
                        np.linalg.norm(mean - sigma_n_mean))
            xp.subtract(S_col, sigma, out=r)
            project(r)
            scale = scale or self._rms(sigma)  # no mean stress anywhere: local stresses
            rnorm = self._rms(r)
            residual = rnorm / scale if scale > 0 else rnorm

    def _solve_correction(self, project: Callable[[Any], Any], atol: float) -> int:
        """P:K:δ = r into ``self._delta`` (zero on entry) with the chosen Krylov solver;
        returns its iterations, which also go to ``self._krylov_total`` (failed solves too)."""
        try:
            if self.krylov == "cg":
                its, _ = conjugate_gradient(self.apply_tangent, project, self._delta, self._r,
                                            self._p, self._w, atol=atol, maxiter=self.cg_maxiter)
            else:
                its, _ = gmres(self.apply_tangent, project, self._delta, self._r, self._w,
                               atol=atol, maxiter=self.gmres_maxiter, restart=self.gmres_restart,
                               basis=self._basis)
        except ConvergenceError as exc:
            self._krylov_total += exc.iterations
            raise
        self._krylov_total += its
        return its

    def _projector(self, free: np.ndarray) -> Callable[[Any], Any]:
        projection = self.projection

        def project(v: Any) -> Any:
            return projection(v, free)

        return project

    def _krylov_buffers(self) -> None:
        """The Krylov solver's own fields: CG's search direction, or the GMRES basis."""
        real_shape = (self.ncomp,) + self.shape
        if self.krylov == "cg":
            self._p, self._basis = self.backend.empty_real(real_shape), None
        else:
            self._p = None
            self._basis = self.xp.empty((self.gmres_restart + 1,) + real_shape)

    def _switch_to_gmres(self, step: int) -> bool:
        """After an increment that Newton-CG could not complete with every cut: GMRES for the
        corrections from here on (``info["krylov"] = "gmres"``, ``info["krylov_switch"]`` the
        increment, 1-based), if the restart basis fits in memory. A softening tangent is not
        symmetric, and CG can stall on it where GMRES converges (measured on two of 64 DNS
        labels of the example database, docs/database.md). False when already on GMRES or
        when the basis does not fit (the caller then raises the increment's error)."""
        if self.krylov != "cg":
            return False
        extra = (estimate_memory(self.shape, "gmres", self.gmres_restart)
                 - estimate_memory(self.shape, "cg"))
        try:
            check_memory(extra, self.xp, "the GMRES basis after a stalled Newton-CG")
        except MemoryError:
            return False
        self.krylov = "gmres"
        self._krylov_buffers()
        self.info.update(krylov="gmres", krylov_switch=step + 1)
        self._restore()  # the tangent again, now with a non-local law's coupling
        return True

    def _restore(self) -> None:
        """Back to the last converged state; the tangent there, from a zero increment."""
        self._eps[...] = self._eps_n
        self._w[...] = 0.0
        self._evaluate(self._w)

    # ---------------------------------------------------------------- load path
    def run(self, targets: Any, strain_controlled: Any) -> Iterator[Increment]:
        """Apply a load path increment by increment, yielding each converged :class:`Increment`.

        targets : (nsteps, ncomp) cumulative macroscopic targets in the solve's components
            (6 in 3D; 11, 22, √2·12 in 2D): the mean strain where ``strain_controlled``, the
            mean stress elsewhere, reached at the end of each increment.
        strain_controlled : (nsteps, ncomp) bool.

        Each increment goes linearly from the converged means (strain or stress by component)
        to its target; cut sub-steps follow the same line.
        """
        targets, controls = self._check_path(targets, strain_controlled)
        nsteps = targets.shape[0]
        for step in range(nsteps):
            target, fixed = targets[step], controls[step]
            start = np.where(fixed, self._mean(self._eps_n), self._mean(self._sigma_n))
            done, fraction, cuts = 0.0, 1.0, 0
            iterations, krylov_start = 0, self._krylov_total
            with thread_policy.limit(self.threads):  # not around the yield
                while done < 1.0:
                    end = min(done + fraction, 1.0)
                    sub_target = target if end == 1.0 else start + end * (target - start)
                    try:
                        its, _, residual, stress_points, state = self._newton(sub_target, fixed)
                    except ConvergenceError as exc:
                        iterations += exc.iterations
                        self._restore()
                        if fraction <= 2.0 ** -self.max_cuts and self._switch_to_gmres(step):
                            fraction, cuts = 1.0, 0  # the rest of the increment, by GMRES
                            continue
                        if fraction <= 2.0 ** -self.max_cuts:
                            raise ConvergenceError(
                                f"load increment {step + 1} of {nsteps} did not converge after "
                                f"{cuts} cuts (sub-step {fraction:.3g} of the increment): {exc}; "
                                "use more increments, a looser tol, or larger max_iterations / "
                                "max_cuts", exc.iterations, exc.residual) from exc
                        fraction *= 0.5
                        cuts += 1
                        continue
                    iterations += its
                    done = end
                    self._eps_n[...] = self._eps
                    self._sigma_n[...] = self._sigma
                    self.state, self.stress_points = state, stress_points
            macro_strain = np.zeros(6)
            macro_strain[self._sel] = self._mean(self._eps_n)
            macro_stress = to_numpy(self.stress_points.mean(axis=0))
            yield Increment(step, macro_strain, macro_stress, iterations,
                            self._krylov_total - krylov_start,
                            float(residual), cuts, self._eps_n, self._sigma_n, self.stress_points,
                            self.state)

    def _check_path(self, targets: Any, strain_controlled: Any) -> tuple[np.ndarray, np.ndarray]:
        targets = np.asarray(to_numpy(targets), dtype=float)
        controls = np.asarray(to_numpy(strain_controlled))
        n = self.ncomp
        if targets.ndim != 2 or targets.shape[1] != n or targets.shape[0] < 1:
            raise ValueError(
                f"targets has shape {targets.shape}; expected (nsteps, {n}) for a {self.ndim}D "
                f"grid ({'all six Mandel components' if n == 6 else 'components 11, 22, √2·12'})"
            )
        if controls.shape != targets.shape or controls.dtype != bool:
            raise ValueError(
                f"strain_controlled must be a bool array of shape {targets.shape}, got "
                f"{controls.dtype} {controls.shape}"
            )
        if not np.all(np.isfinite(targets)):
            raise ValueError("targets must be finite numbers")
        return targets, controls


def _forcing(ratio: float) -> float:
    """The forcing term η_k of Newton iteration k ≥ 1 from the residual ratio
    ||r_k|| / ||r_k−1||: Eisenstat & Walker's "choice 2" (SIAM J. Sci. Comput. 17, 1996),
    η_k = γ ratio^α, at most :data:`MAX_FORCING` (below that cap their safeguard,
    η_k ≥ γ η_k−1^α where that exceeds 0.1, never acts). It follows the convergence Newton
    shows: where Newton–CG leaves a non-local law's coupling out of the tangent it converges
    linearly (ratio about 0.4) and η stays at 0.1, where min(0.1, r) asked each solve for far
    more than the next iterate can use; with the exact tangent (quadratic convergence) η
    falls as fast as r."""
    return min(FORCING_GAMMA * ratio ** FORCING_ALPHA, MAX_FORCING)


def solve_nonlinear(
    labels: Any,
    law: Law,
    state: Any,
    targets: Any,
    strain_controlled: Any,
    **options: Any,
) -> list[Increment]:
    """Run a whole load path with :class:`NewtonCG` (``options`` are its keyword arguments).

    Returns the list of :class:`Increment` with fields and states dropped (the macroscopic
    history only); use :meth:`NewtonCG.run` to keep fields along the way.
    """
    solver = NewtonCG(labels, law, state, **options)
    history = []
    for inc in solver.run(targets, strain_controlled):
        history.append(Increment(inc.step, inc.macro_strain, inc.macro_stress, inc.iterations,
                                 inc.cg_iterations, inc.residual, inc.cuts, None, None, None,
                                 None))
    return history


def estimate_memory(shape: tuple[int, ...], krylov: str = "cg", restart: int = 30) -> int:
    """Bytes a nonlinear solve allocates: the real fields (8 with CG; with GMRES 7, its
    restart + 1 basis fields and one temporary of the Gram–Schmidt update), the per-voxel
    tangent K_ij(x), the half spectrum, the frequency data and the law's point arrays
    (increment, stress and tangent; its state comes on top)."""
    ncomp = 6 if len(shape) == 3 else 3
    n = int(np.prod(shape))
    nh = int(np.prod(spectrum_shape(tuple(shape))))
    real_fields = 8 if krylov == "cg" else 7 + restart + 2
    return (real_fields * ncomp * 8 * n + ncomp * ncomp * 8 * n + ncomp * 16 * nh
            + len(shape) * 16 * nh + (6 + 6 + 36) * 8 * n)


def check_solve_memory(shape: tuple[int, ...], xp: Any, krylov: str = "cg",
                       restart: int = 30) -> None:
    """Refuse with a ``MemoryError``, before anything is allocated, a nonlinear solve on a grid
    of ``shape`` whose fields (:func:`estimate_memory`) do not fit the memory of ``xp``'s
    device."""
    check_memory(estimate_memory(shape, krylov, restart), xp,
                 f"a nonlinear Newton-{krylov.upper()} solve on a "
                 f"{'x'.join(map(str, shape))} grid")
