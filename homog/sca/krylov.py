"""Right-preconditioned GMRES over a batch of linear systems that share their operator per point.

The SCA Jacobian of a large reduced-order model (K·m ≳ 300 unknowns) changes at every Newton
iteration, but slowly: the factorization of an earlier Jacobian is a close preconditioner of
the current one. Solving A x = b by GMRES (Saad & Schultz, SIAM J. Sci. Stat. Comput. 7,
1986) on the right-preconditioned system A M⁻¹ u = b, x = M⁻¹ u, with M the old LU factors,
keeps Newton exact (the residual is the true one, ‖b − A x‖ ≤ rtol ‖b‖) while the
factorization is reused over many iterations and increments; the products with A are
matrix-free (Saad, Iterative Methods for Sparse Linear Systems, 2nd ed., SIAM 2003, §9.3.2).

scipy's ``gmres`` takes one right-hand side per call; here every system of a point — the
Newton step and the m tangent columns, for every point of a batch — advances together, so one
iteration costs one product of A with an (n, r, N) block (two GEMMs with the shared
interaction matrices) and one triangular solve with r right-hand sides per point, instead of
r products with single vectors. Each system has its own Arnoldi basis (modified
Gram–Schmidt), Givens rotations and stopping test.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


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
        for i in range(j + 1):  # modified Gram–Schmidt against each system's own basis
            h = np.einsum("prk,prk->pr", wv, V[i])
            H[..., i, j] = h
            wv -= h[..., None] * V[i]
        hn = np.linalg.norm(wv, axis=2)
        H[..., j + 1, j] = hn
        V[j + 1] = wv / np.where(hn > 0, hn, 1.0)[..., None]
        for i in range(j):  # earlier rotations on the new column
            hi, hk = H[..., i, j], H[..., i + 1, j]
            H[..., i, j], H[..., i + 1, j] = cs[..., i] * hi + sn[..., i] * hk, \
                -sn[..., i] * hi + cs[..., i] * hk
        hj, hk = H[..., j, j], H[..., j + 1, j]
        rho = np.hypot(hj, hk)
        safe = np.where(rho > 0, rho, 1.0)
        cs[..., j] = np.where(rho > 0, hj / safe, 1.0)
        sn[..., j] = np.where(rho > 0, hk / safe, 0.0)
        H[..., j, j], H[..., j + 1, j] = rho, 0.0
        g[..., j + 1] = -sn[..., j] * g[..., j]
        g[..., j] = cs[..., j] * g[..., j]
        steps = np.where(active, j + 1, steps)
        active &= ~(np.abs(g[..., j + 1]) <= target)  # NaN keeps a system unconverged
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
