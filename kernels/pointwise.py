"""Drivers that run a point formula over every frequency of a spectrum.

A point formula is a plain Python function of scalars written with arithmetic only (e.g.
:func:`kernels.green.green_point_3d`). On numpy arrays it is compiled by numba into one
multi-threaded loop, so a whole operator costs one pass over memory; on cupy arrays (or when
numba is missing) the very same function is called on whole arrays, which the array module
evaluates element-wise. The formulas therefore exist once for the CPU and the GPU.

Layout: a spectrum viewed as float64 ``(ncomp, *half, 2)`` (real and imaginary parts, which
every formula here treats alike) and frequency directions ``(d, *half)``; 3D formulas take six
components and three directions, 2D (plane strain) ones three and two.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from kernels.arraymodule import array_module

try:
    import numba
except ImportError:  # the array path below serves numpy too, only slower
    numba = None


def map_inplace(point: Callable, tau: Any, directions: Any, scalars: tuple) -> None:
    """tau[:, f, r] ← point(tau[:, f, r], n[:, f], *scalars) for every frequency f, part r."""
    ncomp, d = tau.shape[0], directions.shape[0]
    if numba is not None and array_module(tau) is np:
        loop = _map_loop_3d(point) if d == 3 else _map_loop_2d(point)
        loop(tau.reshape(ncomp, -1, 2), np.ascontiguousarray(directions).reshape(d, -1),
             *scalars)
        return
    n = [directions[k][..., None] for k in range(d)]
    out = point(*[tau[k] for k in range(ncomp)], *n, *scalars)
    for k in range(ncomp):
        tau[k] = out[k]


def weighted_sum(point: Callable, tau: Any, directions: Any, last_weight: np.ndarray) -> float:
    """Σ_f,r w(f) point(tau[:, f, r], n[:, f]) with a weight per last-axis frequency index."""
    ncomp, d = tau.shape[0], directions.shape[0]
    if numba is not None and array_module(tau) is np:
        loop = _sum_loop_3d(point) if d == 3 else _sum_loop_2d(point)
        return float(loop(tau.reshape(ncomp, -1, 2),
                          np.ascontiguousarray(directions).reshape(d, -1),
                          np.ascontiguousarray(last_weight, dtype=np.float64)))
    xp = array_module(tau)
    n = [directions[k][..., None] for k in range(d)]
    density = point(*[tau[k] for k in range(ncomp)], *n)
    return float(xp.sum(density.sum(axis=-1) * xp.asarray(last_weight)))


def phase_matvec(phase_index: np.ndarray, table: np.ndarray, e: np.ndarray,
                 out: np.ndarray) -> None:
    """out[:, i] = table[phase_index[i]] @ e[:, i] for every voxel i (numpy, numba only)."""
    _phase_matvec(phase_index, table, e, out)


@functools.cache
def _map_loop_3d(point: Callable) -> Callable:
    fn = numba.njit(inline="always")(point)

    @numba.njit(parallel=True)
    def loop(tau, n, a, c):
        for f in numba.prange(tau.shape[1]):
            for r in range(2):
                o = fn(tau[0, f, r], tau[1, f, r], tau[2, f, r], tau[3, f, r], tau[4, f, r],
                       tau[5, f, r], n[0, f], n[1, f], n[2, f], a, c)
                for k in range(6):
                    tau[k, f, r] = o[k]

    return loop


@functools.cache
def _map_loop_2d(point: Callable) -> Callable:
    fn = numba.njit(inline="always")(point)

    @numba.njit(parallel=True)
    def loop(tau, n, a, c):
        for f in numba.prange(tau.shape[1]):
            for r in range(2):
                o = fn(tau[0, f, r], tau[1, f, r], tau[2, f, r], n[0, f], n[1, f], a, c)
                for k in range(3):
                    tau[k, f, r] = o[k]

    return loop


@functools.cache
def _sum_loop_3d(point: Callable) -> Callable:
    fn = numba.njit(inline="always")(point)

    @numba.njit(parallel=True)
    def loop(tau, n, w):
        nh = w.size
        total = 0.0
        for f in numba.prange(tau.shape[1]):
            for r in range(2):
                total += w[f % nh] * fn(tau[0, f, r], tau[1, f, r], tau[2, f, r], tau[3, f, r],
                                        tau[4, f, r], tau[5, f, r], n[0, f], n[1, f], n[2, f])
        return total

    return loop


@functools.cache
def _sum_loop_2d(point: Callable) -> Callable:
    fn = numba.njit(inline="always")(point)

    @numba.njit(parallel=True)
    def loop(tau, n, w):
        nh = w.size
        total = 0.0
        for f in numba.prange(tau.shape[1]):
            for r in range(2):
                total += w[f % nh] * fn(tau[0, f, r], tau[1, f, r], tau[2, f, r], n[0, f],
                                        n[1, f])
        return total

    return loop


if numba is not None:

    @numba.njit(parallel=True, fastmath=True)
    def _phase_matvec(phase_index, table, e, out):
        # blocks of voxels; innermost loop over voxels (SIMD), coefficient looked up per phase
        m, n, block = table.shape[1], e.shape[1], 2048
        for k in numba.prange((n + block - 1) // block):
            start, stop = k * block, min(n, (k + 1) * block)
            for a in range(m):
                for i in range(start, stop):
                    out[a, i] = 0.0
                for b in range(m):
                    coefficient = table[:, a, b].copy()
                    for i in range(start, stop):
                        out[a, i] += coefficient[phase_index[i]] * e[b, i]
