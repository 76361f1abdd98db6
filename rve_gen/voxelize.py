"""Periodic voxelization of particles by bounding-box stamping.

Each particle is tested only on the voxels of its own bounding box. Particles are processed in
chunks of similar box size; within a chunk the voxel coordinates relative to each particle
centre are built per axis and broadcast, ``(m, b1, 1, 1) + (m, 1, b2, 1) + ...``, so the
shape tests cost a few array operations on ``m * b1 * b2 * b3`` numbers and no full-grid
distance is ever formed. Voxel indices are wrapped modulo the grid shape, so a particle
crossing a face of the RVE reappears on the opposite face.

A voxel belongs to a particle when its centre lies inside it. With ``supersample = s`` each
voxel is sampled at ``s**dim`` points instead, which gives partial-volume fractions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import psutil

#: ``inside(index, local) -> mask``: ``index`` (m,) particle indices, ``local`` one array per
#: axis, broadcastable to ``(m, b1, ..., bd)``, of coordinates relative to each particle
#: centre; returns the boolean mask of points inside the particles, shape ``(m, b1, ...)``.
Inside = Callable[[np.ndarray, list], np.ndarray]

#: Number of (particle, voxel) tests per chunk: bounds the temporary memory (~100 MB).
CHUNK = 2_000_000
#: Finest sub-sampling of a voxel for partial-volume fractions: 1/1024 resolution in 2D and
#: 1/32768 in 3D already, at 1024 or 32768 inside tests per voxel.
MAX_SUPERSAMPLE = 32


def grid_shape(shape: Sequence[int] | int, ndim: int) -> tuple[int, ...]:
    """Validated voxel counts per axis (one int is used for every axis)."""
    arr = np.atleast_1d(np.asarray(shape))
    if arr.size == 1:
        arr = np.repeat(arr, ndim)
    if arr.shape != (ndim,) or not np.issubdtype(arr.dtype, np.integer) or np.any(arr < 1):
        raise ValueError(
            f"shape={shape!r} is not a voxel grid for a {ndim}D RVE: give {ndim} positive "
            "integers (or one for every axis), e.g. shape=256."
        )
    return tuple(int(n) for n in arr)


def available_memory() -> int:
    """Bytes of RAM free for new allocations (psutil's ``available``: Linux's MemAvailable)."""
    return int(psutil.virtual_memory().available)


def check_grid_memory(shape: tuple[int, ...], bytes_per_voxel: float, what: str) -> None:
    """Refuse a grid whose arrays would not fit in the free RAM, before allocating them.

    ``bytes_per_voxel``: the peak memory of the operation per voxel (its output and
    temporaries); raises ``MemoryError`` with the estimate and what to do.
    """
    voxels = int(np.prod(np.asarray(shape, dtype=object)))
    needed, free = voxels * bytes_per_voxel, available_memory()
    if needed > free:
        gib = float(1 << 30)
        raise MemoryError(
            f"{what}: a {'x'.join(map(str, shape))} grid ({voxels:,} voxels) needs about "
            f"{needed / gib:.1f} GiB but only {free / gib:.1f} GiB of RAM is free: use a "
            "coarser grid (a few voxels across the smallest particle suffice for most "
            "homogenization), or a machine with more memory."
        )


def _chunks(counts: np.ndarray):
    """Slices of the particle order (sorted by box size) with at most CHUNK tests each."""
    order = np.argsort(counts.prod(axis=1), kind="stable")
    start = 0
    while start < order.size:
        stop = start + 1
        box = counts[order[start]].copy()
        while stop < order.size:
            grown = np.maximum(box, counts[order[stop]])
            if (stop + 1 - start) * int(grown.prod()) > CHUNK:
                break
            box, stop = grown, stop + 1
        yield order[start:stop], box
        start = stop


def _boxes(centers, extents, shape, spacing, margin):
    """First voxel index and voxel count of each particle's bounding box, per axis."""
    lo = np.ceil((centers - extents) / spacing - 0.5).astype(np.int64) - margin
    hi = np.floor((centers + extents) / spacing - 0.5).astype(np.int64) + margin
    counts = np.minimum(hi - lo + 1, np.asarray(shape))
    return lo, np.maximum(counts, 1)


def _local_and_flat(index, lo, box, centers, spacing, shape, offset):
    """Per-axis local coordinates and the wrapped flat voxel index of a chunk."""
    m, ndim = index.size, len(shape)
    strides = np.cumprod((1,) + shape[::-1])[:-1][::-1]
    local, flat = [], 0
    for d in range(ndim):
        view = [m] + [1] * ndim
        view[d + 1] = box[d]
        ids = lo[index, d][:, None] + np.arange(box[d])[None, :]
        local.append(((ids + offset[d]) * spacing[d] - centers[index, d][:, None]).reshape(view))
        flat = flat + (np.mod(ids, shape[d]) * strides[d]).reshape(view)
    return local, flat


def label_image(
    shape: tuple[int, ...],
    lengths: Sequence[float],
    centers: np.ndarray,
    extents: np.ndarray,
    inside: Inside,
    values: np.ndarray,
) -> np.ndarray:
    """Integer image of ``shape`` with ``values[k]`` on the voxels whose centre is inside
    particle ``k`` and 0 elsewhere.

    ``centers``, ``extents`` (n, dim): particle centres and bounding-box half-widths.
    """
    spacing = np.asarray(lengths, dtype=float) / np.asarray(shape)
    out = np.zeros(int(np.prod(shape)), dtype=np.int32)
    if len(centers) == 0:
        return out.reshape(shape)
    lo, counts = _boxes(centers, extents, shape, spacing, 0)
    half = (0.5,) * len(shape)
    for index, box in _chunks(counts):
        local, flat = _local_and_flat(index, lo, box, centers, spacing, shape, half)
        mask = np.broadcast_to(inside(index, local), (index.size,) + tuple(box))
        phase = np.broadcast_to(values[index].reshape((-1,) + (1,) * len(shape)), mask.shape)
        out[np.broadcast_to(flat, mask.shape)[mask]] = phase[mask]
    return out.reshape(shape)


def fraction_image(
    shape: tuple[int, ...],
    lengths: Sequence[float],
    centers: np.ndarray,
    extents: np.ndarray,
    inside: Inside,
    values: np.ndarray,
    nphases: int,
    supersample: int,
) -> np.ndarray:
    """Partial-volume fractions, shape ``(nphases, *shape)``: the fraction of the
    ``supersample**dim`` sample points of each voxel that fall in each phase (phase 0, the
    matrix, takes the rest)."""
    if int(supersample) != supersample or not 1 <= supersample <= MAX_SUPERSAMPLE:
        raise ValueError(f"supersample={supersample!r} must be an integer from 1 to "
                         f"{MAX_SUPERSAMPLE}, e.g. 4 (fractions resolved to 1/supersample**dim; "
                         f"the cost grows as supersample**dim).")
    s, ndim = int(supersample), len(shape)
    spacing = np.asarray(lengths, dtype=float) / np.asarray(shape)
    size = int(np.prod(shape))
    frac = np.zeros(nphases * size)
    if len(centers):
        lo, counts = _boxes(centers, extents, shape, spacing, 1)
        sub = (np.arange(s) + 0.5) / s
        for index, box in _chunks(counts):
            hits = np.zeros((index.size,) + tuple(box))
            for offset in np.stack(np.meshgrid(*([sub] * ndim), indexing="ij"), -1).reshape(
                -1, ndim
            ):
                local, flat = _local_and_flat(index, lo, box, centers, spacing, shape, offset)
                hits += inside(index, local)
            target = values[index].reshape((-1,) + (1,) * ndim) * size + flat
            np.add.at(frac, target[hits > 0], hits[hits > 0] / s**ndim)
    frac = frac.reshape((nphases,) + tuple(shape))
    frac[0] = 1.0 - frac[1:].sum(axis=0)
    return frac
