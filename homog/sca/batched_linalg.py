"""Dense linear algebra of the SCA online stage over a batch of material points (CPU).

The Jacobian of the discrete Lippmann–Schwinger system of one point (Liu, Bessa & Liu,
CMAME 306, 2016, eq. 33; :mod:`homog.sca.online`) is

    A = 1 + D·blockdiag(C_J − C0),     D = a(λ0, μ0) D1 − c(λ0, μ0) D2,

with D1, D2 shared by every point and (a, c, C_J, C0) its own. :func:`assemble_jacobians`
writes Aᵀ of every point in C order — A in Fortran order, as LAPACK's getrf takes it without
a copy — in one compiled pass over the points: block row J of Aᵀ is (C_J − C0)ᵀ·(a D1ᵀ_J −
c D2ᵀ_J), accumulated row by row from the shared blocks (which stay in cache) with no
per-point temporaries. Measured on the 2-core developer VM (16 clusters, 96 unknowns, 300
points): 2.2× faster than the same products as numpy batched matmuls, whose (P, K, m, K m)
temporaries cost more than the products themselves.

The factorization stays LAPACK's (getrf, one call per point, :func:`lu_factor_points`, in
double or single precision): measured there, a numba LU with partial pivoting took 123 µs for
a 96 × 96 system against 41 µs for dgetrf (blocked, its call overhead a few µs), so per-point
LAPACK is kept (benchmarks/RESULTS.md, umat section). :func:`lu_solve_points` and
:func:`vector_products` take a few right-hand sides of a large system one by one, which
OpenBLAS does faster than as a block.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg.lapack

from kernels.arraymodule import array_module

try:
    import numba
except ImportError:  # pragma: no cover - numba is a dependency; keep the numpy formula usable
    numba = None


def assemble_jacobians(delta_t: np.ndarray, d1t: np.ndarray, d2t: np.ndarray,
                       coef_a: np.ndarray, coef_c: np.ndarray,
                       dtype: type = np.float64) -> np.ndarray:
    """Aᵀ (P, K m, K m), C order, of A_p = 1 + (a_p D1 − c_p D2)·blockdiag(Δ_pJ).

    ``delta_t`` (P, K, m, m): Δ_pJᵀ = (C_J − C0)ᵀ of each point; ``d1t``, ``d2t`` (K, m, K m):
    the shared interaction parts laid out as Dᵀ blocks, [J, b, (I a)] = D_IJ[a, b];
    ``coef_a``, ``coef_c`` (P,): the coefficients of each point's reference medium
    (:func:`kernels.green_coefficients`). Block row J of Aᵀ: Σ_e Δᵀ_J[b, e] (a D1ᵀ − c D2ᵀ)[J, e].
    ``dtype``: of the result (float32 for a preconditioner: the sums are formed in float64).
    """
    P, K, m, _ = delta_t.shape
    out = np.empty((P, K * m, K * m), dtype=dtype)
    if numba is None:  # pragma: no cover
        DT = coef_a[:, None, None, None] * d1t - coef_c[:, None, None, None] * d2t
        out[:] = (delta_t @ DT).reshape(P, K * m, K * m)
        out[:, np.arange(K * m), np.arange(K * m)] += 1.0
        return out
    _assemble(np.ascontiguousarray(delta_t), np.ascontiguousarray(d1t),
              np.ascontiguousarray(d2t), np.ascontiguousarray(coef_a, dtype=float),
              np.ascontiguousarray(coef_c, dtype=float), out)
    return out


if numba is not None:

    @numba.njit(fastmath=True, cache=True)
    def _assemble(delta_t, d1t, d2t, coef_a, coef_c, out):  # pragma: no cover - compiled
        P, K, m = delta_t.shape[0], delta_t.shape[1], delta_t.shape[2]
        km = K * m
        for p in range(P):
            a, c = coef_a[p], coef_c[p]
            for J in range(K):
                for b in range(m):
                    row = out[p, J * m + b]
                    for k in range(km):
                        row[k] = 0.0
                    for e in range(m):
                        s1 = a * delta_t[p, J, b, e]
                        s2 = c * delta_t[p, J, b, e]
                        u, v = d1t[J, e], d2t[J, e]
                        for k in range(km):
                            row[k] += s1 * u[k] - s2 * v[k]
                    row[J * m + b] += 1.0


_GETRF = {np.dtype(np.float64): scipy.linalg.lapack.dgetrf,
          np.dtype(np.float32): scipy.linalg.lapack.sgetrf}
_GETRS = {np.dtype(np.float64): scipy.linalg.lapack.dgetrs,
          np.dtype(np.float32): scipy.linalg.lapack.sgetrs}


#: Below this many vectors, a product with a large matrix or a triangular solve goes vector
#: by vector: measured on a 945 × 945 system (2-core VM), BLAS and LAPACK take 2–3× longer
#: for 2–4 right-hand sides at once than for each on its own (GEMV, one-column getrs).
FEW_VECTORS = 4
#: ... where the system has at least this many unknowns (smaller ones: call overhead rules).
LARGE_SYSTEM = 300


def lu_factor_points(At: np.ndarray) -> np.ndarray:
    """LU-factorize A_p in place for every p, A_p held transposed in ``At`` (C order).

    ``At[p].T`` is A_p in Fortran order, factorized by LAPACK's getrf of its precision
    (double or single) without a copy (called
    directly: scipy's wrappers cost more than the factorization of a small system); returns
    the pivots (P, n). A singular or non-finite A_p leaves NaN or inf in its factors (and so
    in its solutions), not an error.
    """
    piv = np.empty(At.shape[:2], dtype=np.int32)
    getrf = _GETRF[At.dtype]
    for p in range(At.shape[0]):
        _, piv[p], _ = getrf(At[p].T, overwrite_a=1)
    return piv


def lu_solve_points(LU: np.ndarray, piv: np.ndarray, B: np.ndarray,
                    points: Any = None) -> np.ndarray:
    """Solutions (n, N, r), in double precision, of A_p X = B from the factors of
    :func:`lu_factor_points`, for the points ``points`` (n,) of the factors (default: all,
    n = P) and their right-hand sides B (solved in the precision of the factors)."""
    points = range(LU.shape[0]) if points is None else points
    X = np.empty(B.shape)
    getrs = _GETRS[LU.dtype]
    B = B.astype(LU.dtype, copy=False)
    columns = B.shape[2] <= FEW_VECTORS and B.shape[1] >= LARGE_SYSTEM
    with np.errstate(all="ignore"):
        for q, p in enumerate(points):
            if columns:
                for j in range(B.shape[2]):
                    X[q, :, j], _ = getrs(LU[p].T, piv[p], B[q, :, j])
            else:
                X[q], _ = getrs(LU[p].T, piv[p], B[q])
    return X


def vector_products(A: Any, V: Any) -> Any:
    """A v for every row v of V (q, N): (q, N)."""
    if V.shape[0] == 1:
        return (A @ V[0])[None]
    if V.shape[0] <= FEW_VECTORS:
        return array_module(V).stack([A @ v for v in V])
    return (A @ V.T).T
