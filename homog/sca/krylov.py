"""Newton steps of large SCA systems by GMRES preconditioned with an earlier factorization.

The SCA Jacobian of a large reduced-order model (K·m ≥ ``krylov_from``, 300 unknowns by
default) changes at every Newton iteration, but slowly: the factorization of an earlier
Jacobian is a close preconditioner of the current one. Solving the linearized increment by
GMRES (Saad & Schultz, SIAM J. Sci. Stat. Comput. 7, 1986) on the right-preconditioned system
A M⁻¹ u = b, x = M⁻¹ u, with M the old LU factors, keeps the Newton step that of the current
Jacobian (‖b − A x‖ ≤ rtol ‖b‖, A applied with D in single precision: exact to ~1e-6, far
below rtol) while the factorization is reused over many iterations and increments; the
products with A are matrix-free (Saad, Iterative Methods for Sparse Linear Systems, 2nd ed.,
SIAM 2003, §9.3.2).

:func:`gmres` advances a batch of systems together (scipy's takes one right-hand side per
call): every system of every point has its own Arnoldi basis (modified Gram–Schmidt), Givens
rotations and stopping test, and one iteration applies the operator and the preconditioner
to all of them at once. :class:`KrylovSteps` builds the steps of
:class:`homog.sca.online.OnlineSolver` on it, with single-precision factorizations whose
solutions are refined to double precision where they must be exact (the tangent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from homog.sca.batched_linalg import lu_solve_points, vector_products
from kernels.memory import available_bytes

#: Large systems take their Newton steps by GMRES preconditioned with an earlier factorization
#: (:meth:`KrylovSteps._krylov_steps`): relative residual of the step (the forcing term of
#: the inexact Newton iteration), at most KRYLOV_MAXITER iterations (more: the point
#: refactorizes and solves again), and a point whose step took more than KRYLOV_REFRESH
#: iterations refactorizes at its next iteration.
KRYLOV_FORCING = 1e-3
KRYLOV_MAXITER = 15
KRYLOV_REFRESH = 8
#: Iterative refinement after a single-precision factorization: relative error left, and at
#: most this many steps.
REFINE_RTOL = 1e-12
REFINE_MAXITER = 4
#: One point's a D1 − c D2 in single precision (:meth:`KrylovSteps._single_medium_products`)
#: serves every medium whose a and c lie within this relative distance of its own: the
#: GMRES operator stays exact to ~1e-5, two orders below the forcing term KRYLOV_FORCING (on
#: the 315-cluster ROM of benchmarks/online.py, 49 instead of 67 combinations over 20
#: increments, the same Newton and GMRES iterations).
MEDIUM_RTOL = 1e-5


@numba.njit(cache=True)
def _arnoldi_step(V, H, cs, sn, g, wv, j, target, active, steps):  # pragma: no cover - compiled
    """Iteration j of :func:`gmres` after the product w = A M⁻¹ v_j, for every system (p, s):
    w orthogonalized against v_0 … v_j by modified Gram–Schmidt (column j of the Hessenberg
    H), v_{j+1} = w / ‖w‖, the earlier Givens rotations and a new one on column j, the
    residual norm |g_{j+1}| of the least-squares problem (Saad, Iterative Methods for Sparse
    Linear Systems, 2nd ed., SIAM 2003, alg. 6.9); an active system records j + 1 steps and
    stops once |g_{j+1}| ≤ its target (NaN: never). One compiled pass: the same steps as
    numpy operations cost ~70 µs of call overhead per iteration on one system."""
    n, r, N = wv.shape
    for p in range(n):
        for s in range(r):
            w = wv[p, s]
            for i in range(j + 1):  # modified Gram–Schmidt against this system's basis
                v = V[i, p, s]
                h = 0.0
                for k in range(N):
                    h += w[k] * v[k]
                H[p, s, i, j] = h
                for k in range(N):
                    w[k] -= h * v[k]
            hn = 0.0
            for k in range(N):
                hn += w[k] * w[k]
            hn = np.sqrt(hn)
            H[p, s, j + 1, j] = hn
            scale = hn if hn > 0 else 1.0
            for k in range(N):
                V[j + 1, p, s, k] = w[k] / scale
            for i in range(j):  # earlier rotations on the new column
                hi, hk = H[p, s, i, j], H[p, s, i + 1, j]
                H[p, s, i, j] = cs[p, s, i] * hi + sn[p, s, i] * hk
                H[p, s, i + 1, j] = -sn[p, s, i] * hi + cs[p, s, i] * hk
            hj, hk = H[p, s, j, j], H[p, s, j + 1, j]
            rho = np.hypot(hj, hk)
            if rho > 0:
                cs[p, s, j], sn[p, s, j] = hj / rho, hk / rho
            else:
                cs[p, s, j], sn[p, s, j] = 1.0, 0.0
            H[p, s, j, j], H[p, s, j + 1, j] = rho, 0.0
            g[p, s, j + 1] = -sn[p, s, j] * g[p, s, j]
            g[p, s, j] = cs[p, s, j] * g[p, s, j]
            if active[p, s]:
                steps[p, s] = j + 1
                if abs(g[p, s, j + 1]) <= target[p, s]:
                    active[p, s] = False


@numba.njit(cache=True)
def _combine(S1, S2, a, c, out):  # pragma: no cover - compiled
    """out = a S1 − c S2 elementwise (flat arrays), in one pass over the two."""
    for i in range(out.size):
        out[i] = a * S1[i] - c * S2[i]


def gmres(matvec: Callable[[np.ndarray], np.ndarray],
          precondition: Callable[[np.ndarray], np.ndarray],
          b: np.ndarray, x0: np.ndarray | None, rtol: np.ndarray,
          maxiter: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve A_p x_pj = b_pj for every point p and column j by right-preconditioned GMRES.

    ``matvec(v)`` and ``precondition(v)`` map (n, r, N) to (n, r, N): A_p and M_p⁻¹ applied
    to each of the r vectors of point p. ``b`` and ``x0`` (n, r, N; None: zero); ``rtol``
    broadcasts to (n, r): a system stops once ‖b − A x‖ ≤ rtol ‖b‖, at most ``maxiter``
    iterations, no restart (a NaN keeps it unconverged). Returns x (n, r, N), ``converged``
    (n, r) and the iterations of each system (n, r).
    """
    n, r, N = b.shape
    rtol = np.broadcast_to(np.asarray(rtol, dtype=float), (n, r))
    x = np.zeros_like(b) if x0 is None else x0.copy()
    res0 = b if x0 is None else b - matvec(x0)
    beta = np.linalg.norm(res0, axis=2)
    target = rtol * np.linalg.norm(b, axis=2)
    active = ~(beta <= target)  # systems still iterating (NaN: never converged)
    if not active.any():
        return x, np.ones((n, r), dtype=bool), np.zeros((n, r), dtype=int)
    V = np.zeros((maxiter + 1, n, r, N))
    Zs = np.zeros((maxiter, n, r, N))  # M⁻¹ V_j, kept for the update (flexible form)
    H = np.zeros((n, r, maxiter + 1, maxiter))
    cs, sn = np.zeros((n, r, maxiter)), np.zeros((n, r, maxiter))
    g = np.zeros((n, r, maxiter + 1))
    g[..., 0] = beta
    V[0] = res0 / np.where(beta > 0, beta, 1.0)[..., None]
    steps = np.zeros((n, r), dtype=int)  # Krylov dimension of each system's solution
    for j in range(maxiter):
        Zs[j] = precondition(V[j])
        wv = matvec(Zs[j])
        _arnoldi_step(V, H, cs, sn, g, np.ascontiguousarray(wv), j, target, active, steps)
        if not active.any():
            break
    k = int(steps.max())
    # y from each system's own s × s triangle: rows beyond s become identity rows with a
    # zero right-hand side, so y is 0 there
    R = H[..., :k, :k].copy()
    rhs = g[..., :k].copy()
    beyond = np.arange(k) >= steps[..., None]
    R[beyond] = 0.0
    diag = np.arange(k)
    dR = R[..., diag, diag]
    singular = ~np.all((dR != 0.0) | beyond, axis=-1)
    R[..., diag, diag] = np.where(beyond | (dR == 0.0), 1.0, dR)
    rhs[beyond] = 0.0
    y = np.linalg.solve(R, rhs[..., None])[..., 0]  # (n, r, k)
    x += np.einsum("prj,jprk->prk", y, Zs[:k])
    converged = ~active & ~singular & np.all(np.isfinite(x), axis=2)
    return x, converged, steps


class KrylovSteps:
    """The Newton steps of large systems for :class:`homog.sca.online.OnlineSolver` (a mixin:
    it uses the solver's K, m, its layout of D1, D2 ``interactions``, its factorization
    ``_factorize``, its double-precision products ``_interactions`` and its Newton work ``w``):
    GMRES on the current Jacobian, preconditioned by the last single-precision factorization,
    whose solutions are refined to double precision where they must be exact."""

    #: a D1 − c D2 in single precision for the medium ``_medium_key`` = (a, c)
    #: (:meth:`_single_medium_products`), made at first use
    _medium_D: np.ndarray | None = None
    _medium_key: tuple[float, float] | None = None

    def _jacobian_operator(self, w: Any, idx: Any, tangent_m: Any, coupling: Any,
                           a: dict, single: bool = False) -> Callable[..., Any]:
        """(v, rows) ↦ A v for the points ``idx[rows]`` (default: all of ``idx``), v (n, q, K m)
        (q vectors per point, as rows), matrix-free: A = 1 + D·(blockdiag(C_J − C0) + N),
        (N z)_I = −U_I Σ_J W_IJ G_J·z_J, D = a D1 − c D2 applied by two products with the
        shared D1, D2 (CPU). ``single``: the products with D1, D2 in single precision
        (:meth:`_single_interactions`; the operator exact to ~1e-6 relative: for GMRES steps,
        never for residuals or refinement), or, for one point, one product with its
        a D1 − c D2 (:meth:`_single_medium_products`).
        """
        K, m = self.K, self.m
        km = K * m
        delta = (tangent_m[idx] - w.C0[idx, None])[:, None]  # (n, 1, K, m, m)
        coef_a, coef_c = w.coef_a[idx, None, None], w.coef_c[idx, None, None]
        if coupling is not None:
            U, G = coupling[0][idx][:, None, :, a["comps"]], coupling[1][idx][:, None]
        if single and idx.size == 1:
            medium = (float(w.coef_a[idx[0]]), float(w.coef_c[idx[0]]))

            def interact(u: Any, rows: Any, n: int, q: int) -> Any:
                return self._single_medium_products(*medium, u).reshape(n, q, km)
        else:
            products = (self._single_products if single
                        else (lambda u: self._interactions(a, u)))

            def interact(u: Any, rows: Any, n: int, q: int) -> Any:
                p1, p2 = products(u)
                return (coef_a[rows] * p1.reshape(n, q, km)
                        - coef_c[rows] * p2.reshape(n, q, km))

        def apply(v: Any, rows: Any = slice(None)) -> Any:
            n, q = v.shape[:2]
            e = v.reshape(n, q, K, m)
            u = (delta[rows] @ e[..., None])[..., 0]
            if coupling is not None:
                u -= U[rows] * (np.sum(G[rows] * e, axis=3) @ a["W"].T)[..., None]
            return v + interact(u.reshape(n * q, km), rows, n, q)

        return apply

    def _single_interactions(self) -> tuple[np.ndarray, np.ndarray]:
        """D1, D2 in single precision, made once per :attr:`interactions` (shared by the
        solvers of a model): the stored Dᵀ blocks (K, m, K m) where the tensors are
        reciprocal (they also assemble the single-precision Jacobians), else D (K m × K m,
        C order). The GMRES products are bound by the memory traffic of the two matrices
        (945 × 945 on the 315-cluster ROM of benchmarks/RESULTS.md), which single precision
        halves; their relative error (~1e-6) is far below the forcing term
        ``KRYLOV_FORCING`` of the steps, and the residuals stay in double precision. Where
        the copies would take more than half the free memory, the double-precision matrices
        serve."""
        shared = self.interactions
        if "single" not in shared:
            km = self.K * self.m
            double = tuple(shared[name] if shared["reciprocal"] is not None
                           else shared[name].reshape(km, km).T for name in ("D1T", "D2T"))
            # 2 (K m)² × 4 bytes more (7 MB at 945 unknowns); kept to half the free memory
            fits = 8 * km * km <= available_bytes(np) // 2
            shared["single"] = (
                tuple(np.ascontiguousarray(D, dtype=np.float32) for D in double) if fits
                else double)
        return shared["single"]

    def _single_medium_products(self, coef_a: float, coef_c: float, V: Any) -> Any:
        """(a D1 − c D2) v (q, K m) for every row v of V (q, K m) and one reference medium
        (a, c), in single precision: the combination is formed once per medium (one pass over
        the single-precision copies, kept while the medium stays within ``MEDIUM_RTOL``: a
        Newton step's sensitivity directions and every GMRES iteration, and the later steps
        of an increment where the medium has settled), then one product per vector
        instead of two (on the 315-cluster ROM of benchmarks/online.py 3 % of the run). Where
        the combination would take more than half the free memory, the two products serve."""
        S1, S2 = self._single_interactions()
        if self._medium_D is None or self._medium_D.dtype != S1.dtype:
            if S1.nbytes > available_bytes(np) // 2:
                P1, P2 = self._single_products(V)
                return coef_a * P1 - coef_c * P2
            self._medium_D, self._medium_key = np.empty_like(S1), None
        key = self._medium_key
        if key is None or abs(coef_a - key[0]) > MEDIUM_RTOL * abs(key[0]) \
                or abs(coef_c - key[1]) > MEDIUM_RTOL * abs(key[1]):
            _combine(S1.reshape(-1), S2.reshape(-1), coef_a, coef_c, self._medium_D.reshape(-1))
            self._medium_key = (coef_a, coef_c)
        D = self._medium_D
        cc = self.interactions["reciprocal"]
        if cc is None:
            return vector_products(D, V.astype(D.dtype, copy=False))
        km = self.K * self.m
        return vector_products(D.reshape(km, km), (V * cc).astype(D.dtype, copy=False)) / cc

    def _single_products(self, V: Any) -> tuple[Any, Any]:
        """D1 v and D2 v (q, K m) for every row v of V (q, K m) with the single-precision
        copies (:meth:`_single_interactions`; by the reciprocity where it holds, as
        :meth:`homog.sca.online.OnlineSolver._interactions` in double)."""
        S1, S2 = self._single_interactions()
        cc = self.interactions["reciprocal"]
        if cc is None:
            V = V.astype(S1.dtype, copy=False)
            return vector_products(S1, V), vector_products(S2, V)
        km = self.K * self.m
        u = (V * cc).astype(S1.dtype, copy=False)
        return (vector_products(S1.reshape(km, km), u) / cc,
                vector_products(S2.reshape(km, km), u) / cc)

    def _refine(self, LU: Any, piv: Any, points: Any, apply: Callable[[Any, Any], Any],
                B: Any, sol: Any) -> Any:
        """Solutions of A x = B (n, K m, r) to double precision from a single-precision LU of
        A (the factors ``LU[points]``): iterative refinement, x ← x + LU⁻¹(B − A x) with the
        residual in double precision (Wilkinson; Higham, Accuracy and Stability of Numerical
        Algorithms, 2nd ed., SIAM 2002, ch. 12); ``apply(v, rows)`` is A of the points
        ``rows`` (:meth:`_jacobian_operator`). Each step contracts the error by
        ρ ≈ u_single·κ(A) (1e-7–1e-6 on the 315-cluster ROM of benchmarks/RESULTS.md): a
        point stops once its error left, estimated as ρ times its last relative correction,
        is below ``REFINE_RTOL`` (one or two steps there), or when its corrections stop
        shrinking."""
        points = np.arange(LU.shape[0]) if points is None else np.asarray(points)
        size = np.maximum(np.linalg.norm(sol, axis=1).max(axis=1), 1e-300)
        previous = np.ones(sol.shape[0])
        rows = np.arange(sol.shape[0])
        for _ in range(REFINE_MAXITER):
            res = B[rows] - apply(sol[rows].transpose(0, 2, 1), rows).transpose(0, 2, 1)
            dx = lu_solve_points(LU, piv, res, points[rows])
            sol[rows] += dx
            change = np.linalg.norm(dx, axis=1).max(axis=1) / size[rows]
            rho = change / previous[rows]
            previous[rows] = change
            # a point goes on while its error is above the target and its corrections shrink
            rows = rows[(change * rho > REFINE_RTOL) & (rho <= 0.5)]
            if rows.size == 0:
                break
        return sol

    def _krylov_steps(self, w: Any, idx: Any, tangent_m: Any, tangent: Any, coupling: Any,
                      R: Any, macro: Any, controlled: Any, S: Any, a: dict) -> None:
        """Newton steps (δε, δε⁰, δθ) of the points ``idx`` into ``w.step_de``, ``w.step_de0``,
        ``w.step_dtheta``, by GMRES on the whole linearized increment, preconditioned by its
        exact solution with the last factorization (CPU, large systems).

        The linearized system couples the cluster equations, the macroscopic conditions and,
        where the medium θ = (λ0, μ0) is solved by Newton (``w.newton``, see
        :meth:`_newton_step`), the self-consistency F = θ − fit(ΔE, ΔΣ):

            A δε − 1 ⊗ δε⁰ + S δθ = −R                         (S = ∂R/∂θ),
            Σ_J c_J δε_J[k] or Σ_J c_J (∂Δσ_J/∂Δε·δε)_J[k] = −macro_k,
            δθ − G_E δΔE − G_Σ δΔΣ = −F                       (δθ = 0 elsewhere),

        with A = 1 + D·(blockdiag(C_J − C0) + N) at the current iterate, applied matrix-free
        (per cluster (C_J − C0), the non-local coupling (N z)_I = −U_I Σ_J W_IJ G_J·z_J, then
        D = a D1 − c D2 by two products with the shared D1, D2). The preconditioner solves the
        same system with the Jacobian of the last factorization: y = A_LU⁻¹ r, Z = A_LU⁻¹ S,
        the (m + 2) system of (δε⁰, δθ) with its X = A_LU⁻¹(1 ⊗ I), δε = y + X δε⁰ − Z δθ —
        the chord step of that factorization. GMRES (:func:`homog.sca.krylov.gmres`) then
        makes it the Newton step of the current Jacobian to the relative residual
        ``KRYLOV_FORCING`` (an inexact Newton iteration, Dembo, Eisenstat & Steihaug, SIAM J.
        Numer. Anal. 19, 1982), so the factorization serves many iterations and increments
        while Newton keeps its convergence rate. A point whose GMRES does not converge in
        ``KRYLOV_MAXITER`` iterations refactorizes and solves again; one that took more than
        ``KRYLOV_REFRESH`` refactorizes at its next iteration.
        """
        if idx.size == 0:
            return
        de, de0, dth, ok, its = self._krylov_solve(w, idx, tangent_m, coupling, R, macro,
                                                   controlled, S, a)
        bad = idx[~ok]
        if bad.size:  # slow: the current Jacobian becomes the preconditioner (exact)
            self._factorize(w, bad, tangent_m, tangent, coupling, None, a)
            de[~ok], de0[~ok], dth[~ok], _, its[~ok] = self._krylov_solve(
                w, bad, tangent_m, coupling, R, macro, controlled, S, a)
        w.step_de[idx], w.step_de0[idx], w.step_dtheta[idx] = de, de0, dth
        w.refresh[idx] = its > KRYLOV_REFRESH
        w.fresh[idx] = False  # the factorization's C_hom serves the refits from now on

    def _krylov_solve(self, w: Any, idx: Any, tangent_m: Any, coupling: Any, R: Any,
                      macro: Any, controlled: Any, S: Any, a: dict) -> tuple[Any, ...]:
        """GMRES of :meth:`_krylov_steps` for the points ``idx`` (R, macro, S of every point
        of ``w``): (δε (n, K, m), δε⁰ (n, m), δθ (n, 2), converged (n,), iterations (n,))."""
        K, m = self.K, self.m
        km, n = K * m, idx.size
        apply = self._jacobian_operator(w, idx, tangent_m, coupling, a, single=True)
        modulus = (w.lam0[idx] + 2.0 * w.mu0[idx])[:, None]
        # stress rows and θ rows in strain units, so that GMRES weighs the equations alike
        scale = np.where(controlled, 1.0, 1.0 / modulus)
        # the linearized macroscopic means as rows (n, K m, m) acting on δε: strain and
        # stress, now and with the tangents of the factorized Jacobian
        now = None if coupling is None else (coupling[0][idx], coupling[1][idx])
        then = None if coupling is None else (w.lu_U[idx], w.lu_G[idx])
        mean_e, mean_s = mean_rows(a, tangent_m[idx], now)
        then_s = mean_rows(a, w.lu_tangent[idx], then)[1]
        now, then = np.where(controlled, mean_e, mean_s), np.where(controlled, mean_e, then_s)
        X = w.X[idx].transpose(0, 3, 1, 2).reshape(n, m, km)  # δε = y + δε⁰·X
        M = X @ then  # the macroscopic block of the factorized system (Xbar or CXbar rows)
        newton = (w.newton[idx] if S is not None else np.zeros(n, dtype=bool))[:, None]
        if newton.any():
            St = np.where(newton[..., None], S[idx].transpose(0, 2, 1), 0.0)  # (n, 2, K m)
            GE, GS = w.G_E[idx], w.G_S[idx]
            # rows of G_E δΔE + G_Σ δΔΣ (n, K m, 2), now and with the factorized tangents
            fit_now = mean_e @ GE.transpose(0, 2, 1) + mean_s @ GS.transpose(0, 2, 1)
            fit_then = mean_e @ GE.transpose(0, 2, 1) + then_s @ GS.transpose(0, 2, 1)
            Zt = lu_solve_points(w.LU, w.piv, St.transpose(0, 2, 1), idx).transpose(0, 2, 1)
            # [δε⁰, δθ]·J = right-hand side, rows of the unknowns, columns of the equations
            J = np.zeros((n, m + 2, m + 2))
            J[:, :m, :m], J[:, :m, m:] = M, -X @ fit_then
            J[:, m:, :m], J[:, m:, m:] = -Zt @ then, np.eye(2) + Zt @ fit_then
            F = np.where(newton, w.F[idx], 0.0)
        else:
            J, St, F = M, None, None
        J = J.transpose(0, 2, 1)[:, None]
        Jinv = np.linalg.inv(J)  # (m + 2)² per point, applied at every GMRES iteration

        def matvec(z: np.ndarray) -> np.ndarray:  # (n, q, K m + m [+ 2])
            e, out = z[..., :km], np.empty(z.shape)
            top = out[..., :km]
            top[:] = apply(e)
            top.reshape(*z.shape[:2], K, m)[:] -= z[..., None, km:km + m]
            out[..., km:km + m] = scale[:, None] * (e @ now)
            if St is not None:
                th = z[..., km + m:]
                top += th @ St
                out[..., km + m:] = (th - e @ fit_now) / modulus[:, None]
            return out

        def precondition(r: np.ndarray) -> np.ndarray:
            out = np.empty(r.shape)
            e, small = out[..., :km], out[..., km:]
            e[:] = lu_solve_points(w.LU, w.piv, r[..., :km].transpose(0, 2, 1),
                                   idx).transpose(0, 2, 1)
            small[..., :m] = r[..., km:km + m] / scale[:, None] - e @ then
            if St is not None:
                small[..., m:] = r[..., km + m:] * modulus[:, None] + e @ fit_then
            small[:] = (Jinv @ small[..., None])[..., 0]
            e += small[..., :m] @ X
            if St is not None:
                e -= small[..., m:] @ Zt
            return out

        parts = [-R[idx].reshape(n, 1, km), -(scale * macro[idx])[:, None]]
        if St is not None:
            parts.append(-(F / modulus)[:, None])
        b = np.concatenate(parts, axis=2)
        z, ok, its = gmres(matvec, precondition, b, None, KRYLOV_FORCING, KRYLOV_MAXITER)
        dth = z[:, 0, km + m:] if St is not None else np.zeros((n, 2))
        return (z[:, 0, :km].reshape(n, K, m), z[:, 0, km:km + m], dth, ok[:, 0], its[:, 0])


def mean_rows(a: dict, tangent_m: Any, coupling: Any) -> tuple[Any, Any]:
    """δΔE and δΔΣ = Σ_J c_J ∂Δσ_J/∂Δε·δε as matrices (n, K m, m) acting on δε (rows): c_J δ_kb
    on (J, b), and Σ_J c_J C_J[k, b] with the non-local coupling −(Σ_I c_I U_I[k] W_IJ) G_J[b]
    (the matrix of :func:`homog.sca.online._mean_response`, the product form that is cheaper
    on a few fields); ``coupling`` (U (n, K, 6), G (n, K, m)) or None."""
    c, comps = a["c"], a["comps"]
    n, K, m, _ = tangent_m.shape
    stress = (c[None, :, None, None] * tangent_m).transpose(0, 2, 1, 3).reshape(n, m, K * m)
    if coupling is not None:
        U, G = coupling[0][:, :, comps], coupling[1]
        q = (c[:, None] * U).transpose(0, 2, 1) @ a["W"]  # (n, m, K): Σ_I c_I U_I[k] W_IJ
        stress = stress - (q[..., None] * G[:, None]).reshape(n, m, K * m)
    strain = (c[:, None, None] * np.eye(m)).transpose(1, 0, 2).reshape(m, K * m)
    return np.broadcast_to(strain.T, (n, K * m, m)), stress.transpose(0, 2, 1)
