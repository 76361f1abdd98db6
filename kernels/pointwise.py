"""CPU loops compiled with numba, and the switch between them and plain array code.

A point formula is a plain Python function of scalars written with arithmetic only (e.g.
:func:`kernels.green.green_point_3d`). On numpy arrays the modules that own a formula run it
through a numba loop (one multi-threaded pass over memory, compiled once and cached on disk);
on cupy arrays, or where numba is missing, the very same function is called on whole arrays,
which the array module evaluates element-wise. The formulas therefore exist once for the CPU
and the GPU. :func:`compiled` tells which path applies.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kernels.arraymodule import array_module

try:
    import numba
except ImportError:  # the array path below serves numpy too, only slower
    numba = None


def compiled(*arrays: Any) -> bool:
    """True when the numba loops serve these arrays (numpy arrays and numba importable)."""
    return numba is not None and array_module(*arrays) is np


def cg_step(x: Any, r: Any, p: Any, w: Any, alpha: float) -> float:
    """x ← x + α p, r ← r − α w, and return r·r: one pass on the CPU (CG update)."""
    if compiled(x):
        return float(_cg_step(x.reshape(-1), r.reshape(-1), p.reshape(-1), w.reshape(-1),
                              alpha))
    xp = array_module(x)
    x += alpha * p
    r -= alpha * w
    return float(xp.dot(r.reshape(-1), r.reshape(-1)))


def cg_direction(p: Any, r: Any, beta: float) -> None:
    """p ← r + β p (CG search direction)."""
    if compiled(p):
        _cg_direction(p.reshape(-1), r.reshape(-1), beta)
        return
    p *= beta
    p += r


def dot(a: Any, b: Any) -> float:
    """Σ a·b over all entries."""
    if compiled(a):
        return float(_dot(a.reshape(-1), b.reshape(-1)))
    xp = array_module(a)
    return float(xp.dot(a.reshape(-1), b.reshape(-1)))


def phase_matvec(phase_index: np.ndarray, table: np.ndarray, e: np.ndarray,
                 out: np.ndarray) -> None:
    """out[:, i] = table[phase_index[i]] @ e[:, i] for every voxel i (numpy, numba only)."""
    _phase_matvec(phase_index, table, e, out)


if numba is not None:

    @numba.njit(parallel=True, fastmath=True, cache=True)
    def _phase_matvec(phase_index, table, e, out):
        # blocks of voxels that stay in cache; the innermost loop runs over contiguous 1D
        # slices (SIMD), the coefficient of each voxel looked up by its phase. Couplings that
        # are zero in every phase (24 of 36 for isotropic phases in 3D) are skipped.
        m, n, block = table.shape[1], e.shape[1], 16384
        coupled = np.zeros((m, m), dtype=np.bool_)
        for a in range(m):
            for b in range(m):
                for q in range(table.shape[0]):
                    if table[q, a, b] != 0.0:
                        coupled[a, b] = True
        for k in numba.prange((n + block - 1) // block):
            start, stop = k * block, min(n, (k + 1) * block)
            phase = phase_index[start:stop]
            for a in range(m):
                row = out[a, start:stop]
                row[:] = 0.0
                for b in range(m):
                    if not coupled[a, b]:
                        continue
                    coefficient = table[:, a, b].copy()
                    column = e[b, start:stop]
                    for i in range(stop - start):
                        row[i] += coefficient[phase[i]] * column[i]

    @numba.njit(parallel=True, fastmath=True, cache=True)
    def _cg_step(x, r, p, w, alpha):
        total = 0.0
        for i in numba.prange(x.size):
            x[i] += alpha * p[i]
            ri = r[i] - alpha * w[i]
            r[i] = ri
            total += ri * ri
        return total

    @numba.njit(parallel=True, fastmath=True, cache=True)
    def _cg_direction(p, r, beta):
        for i in numba.prange(p.size):
            p[i] = r[i] + beta * p[i]

    @numba.njit(parallel=True, fastmath=True, cache=True)
    def _dot(a, b):
        total = 0.0
        for i in numba.prange(a.size):
            total += a[i] * b[i]
        return total
