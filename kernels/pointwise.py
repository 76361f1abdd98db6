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


def phase_matvec(phase_index: np.ndarray, table: np.ndarray, e: np.ndarray,
                 out: np.ndarray) -> None:
    """out[:, i] = table[phase_index[i]] @ e[:, i] for every voxel i (numpy, numba only)."""
    _phase_matvec(phase_index, table, e, out)


if numba is not None:

    @numba.njit(parallel=True, fastmath=True, cache=True)
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
