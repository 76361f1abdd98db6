"""Periodic Voronoi and Laguerre (power) tessellations: polycrystals and grain structures.

A voxel belongs to the grain ``k`` that minimizes the periodic power distance
``|x − p_k|² − w_k`` (Voronoi when all weights ``w_k`` are 0; Laguerre otherwise, see
Aurenhammer, SIAM J. Comput. 16, 78, 1987). The power distance is turned into a Euclidean one
by lifting every seed to one extra coordinate ``sqrt(w_max − w_k)``, so a single periodic
``cKDTree`` query finds the grain of every voxel (the extra axis is made non-periodic by a box
much longer than the lift). Grains are assigned to phases so that the phases' volume fractions,
measured on the voxel grid, match the requested ones as closely as whole grains allow
(largest-deficit-first greedy assignment of the grains in random order).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree

from rve_gen import _checks
from rve_gen.microstructure import Microstructure, default_phase_names, phase_names_for
from rve_gen.sizes import MAX_PARTICLES
from rve_gen.voxelize import check_grid_memory, grid_shape

#: Voxels per axis of the grid on which grain volumes are measured for phase assignment.
REFERENCE_RESOLUTION = {2: 256, 3: 48}


class Tessellation:
    """Grains of a periodic Voronoi/Laguerre tessellation.

    ``points`` (n, dim) grain seeds, ``weights`` (n,) power weights (zeros for Voronoi),
    ``phases`` (n,) the phase label of each grain (0, 1, ...), ``lengths``.
    """

    def __init__(self, points, weights, phases, lengths, phase_names=None) -> None:
        self.points = np.asarray(points, dtype=float)
        self.weights = np.asarray(weights, dtype=float)
        self.phases = np.asarray(phases, dtype=np.int32)
        self.lengths = tuple(float(x) for x in lengths)
        self.phase_names = phase_names_for(self.phases, phase_names)

    @property
    def ndim(self) -> int:
        """Dimension of the RVE."""
        return len(self.lengths)

    @property
    def centers(self) -> np.ndarray:
        """The grain seeds, shape ``(n, dim)`` (same as ``points``)."""
        return self.points

    def __len__(self) -> int:
        return len(self.points)

    def grain_map(self, shape: Sequence[int] | int) -> np.ndarray:
        """Grain index of every voxel centre, shape ``shape``."""
        shape = grid_shape(shape, self.ndim)
        # grain index (int64), voxel-centre coordinates and their meshgrid temporaries
        check_grid_memory(shape, 8 + 16 * self.ndim, "the Voronoi grain map")
        lift = np.sqrt(self.weights.max() - self.weights)
        seeds = np.column_stack([np.mod(self.points, self.lengths), lift])
        box = list(self.lengths) + [4.0 * (float(lift.max()) + sum(self.lengths))]
        tree = cKDTree(seeds, boxsize=box)
        axes = [(np.arange(n) + 0.5) * L / n for n, L in zip(shape, self.lengths)]
        out = np.empty(int(np.prod(shape)), dtype=np.int64)
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, self.ndim)
        step = 1 << 20
        for start in range(0, len(grid), step):
            block = grid[start : start + step]
            query = np.column_stack([block, np.zeros(len(block))])
            out[start : start + step] = tree.query(query, workers=-1)[1]
        return out.reshape(shape)

    def grain_volumes(self, shape: Sequence[int] | int | None = None) -> np.ndarray:
        """Volume of each grain measured on a voxel grid (default: a reference grid)."""
        shape = REFERENCE_RESOLUTION[self.ndim] if shape is None else shape
        grains = self.grain_map(shape)
        counts = np.bincount(grains.ravel(), minlength=len(self))
        return counts / grains.size * np.prod(self.lengths)

    def voxelize(self, shape: Sequence[int] | int) -> Microstructure:
        """Phase label image of the tessellation."""
        shape = grid_shape(shape, self.ndim)
        # grain map and its temporaries, the phase image and the int32 labels
        check_grid_memory(shape, 20 + 16 * self.ndim, "voxelizing")
        return Microstructure(self.phases[self.grain_map(shape)], self.lengths, self.phase_names)


def voronoi(
    n_grains: int,
    *,
    phase_fractions: Sequence[float] | None = None,
    points: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    lengths: Sequence[float] | float | None = None,
    ndim: int = 3,
    phase_names: Sequence[str] | None = None,
    seed: _checks.SeedLike = None,
) -> Tessellation:
    """Periodic Voronoi (or Laguerre, with ``weights``) tessellation with grains in phases.

    Parameters
    ----------
    n_grains : number of grains (ignored when ``points`` is given).
    phase_fractions : target volume fraction of each phase 0, 1, ... (summing to 1); default
        one phase. Grains are labelled 0, 1, ... by phase.
    points : (n, dim) prescribed grain seeds; default uniform random.
    weights : (n,) power weights (length² units); larger weight, larger grain.
    lengths, phase_names, seed : as in :func:`rve_gen.circles`; ``ndim`` 2 or 3.
    """
    rng = _checks.rng_from(seed)
    if points is not None:
        points = _checks.finite("points", points)
        if points.ndim != 2 or points.shape[1] not in (2, 3) or len(points) < 1:
            raise ValueError("points must have shape (n, 2) or (n, 3) with n >= 1.")
        ndim = points.shape[1]
    if ndim not in (2, 3):
        raise _checks.ParameterError("ndim", ndim, "must be 2 or 3.")
    box = np.asarray(_checks.lengths_for(lengths, ndim))
    n = len(points) if points is not None else _checks.integer("n_grains", n_grains)
    if n > MAX_PARTICLES:
        raise ValueError(f"{n} grains: at most {MAX_PARTICLES} (a grain needs voxels of its own "
                         "on any grid that is voxelized); ask for fewer grains.")
    if points is None:
        points = rng.random((n, ndim)) * box
    if weights is None:
        weights = np.zeros(n)
    weights = _checks.finite("weights", weights)
    if weights.shape != (n,):
        raise ValueError(f"weights must have one value per grain, shape ({n},).")
    fractions = np.array([1.0] if phase_fractions is None else phase_fractions, dtype=float)
    fractions = _checks.finite("phase_fractions", fractions, nonnegative=True)
    if fractions.ndim != 1 or abs(fractions.sum() - 1.0) > 1e-6:
        raise _checks.ParameterError(
            "phase_fractions", phase_fractions, "must be one fraction per phase summing to 1, "
            "e.g. (0.7, 0.3)."
        )
    phase_names = _checks.phase_names(phase_names, fractions.size, "one per phase fraction")
    tess = Tessellation(points, weights, np.zeros(n), box, phase_names)
    volumes = tess.grain_volumes() / np.prod(box)
    assigned = np.zeros(fractions.size)
    phases = np.zeros(n, dtype=np.int32)
    for k in rng.permutation(n):
        phase = int(np.argmax(fractions - assigned))
        phases[k] = phase
        assigned[phase] += volumes[k]
    names = default_phase_names(fractions.size) if phase_names is None else phase_names
    return Tessellation(points, weights, phases, box, names)
