"""Geometric description shared by all particle packings (centres, phases, RVE lengths)."""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from rve_gen.microstructure import Microstructure, phase_names_for
from rve_gen.voxelize import check_grid_memory, fraction_image, grid_shape, label_image

#: Particles narrower than this many voxels (bounding box) lose their shape on the grid.
MIN_VOXELS_ACROSS = 2.0


class ParticlePacking(ABC):
    """Non-overlapping particles in a periodic box ``[0, L1) x [0, L2) (x [0, L3))``.

    Attributes
    ----------
    centers : (n, dim) particle centres, in RVE length units, wrapped into the box.
    phases : (n,) inclusion phase label of each particle (1, 2, ...; 0 is the matrix).
    lengths : RVE side lengths.
    phase_names : names of the labels 0 .. nphases - 1.
    """

    def __init__(
        self,
        centers: np.ndarray,
        phases: np.ndarray,
        lengths: Sequence[float],
        phase_names: Sequence[str] | None = None,
    ) -> None:
        self.centers = np.asarray(centers, dtype=float)
        self.phases = np.asarray(phases, dtype=np.int32)
        self.lengths = tuple(float(x) for x in lengths)
        self.phase_names = phase_names_for(self.phases, phase_names)

    @property
    @abstractmethod
    def volumes(self) -> np.ndarray:
        """Volume (area in 2D) of each particle, shape ``(n,)``."""

    @property
    @abstractmethod
    def extents(self) -> np.ndarray:
        """Half-widths of each particle's axis-aligned bounding box, shape ``(n, dim)``."""

    @abstractmethod
    def inside(self, index: np.ndarray, local: list) -> np.ndarray:
        """Mask of points inside particles ``index`` (see :data:`rve_gen.voxelize.Inside`)."""

    @property
    def ndim(self) -> int:
        """Dimension of the RVE (2 or 3)."""
        return len(self.lengths)

    @property
    def nphases(self) -> int:
        """Number of phases, matrix included."""
        return len(self.phase_names)

    def __len__(self) -> int:
        return len(self.centers)

    @property
    def volume_fraction(self) -> float:
        """Geometric volume fraction of all inclusions together."""
        return float(self.volumes.sum() / np.prod(self.lengths))

    @property
    def volume_fractions(self) -> np.ndarray:
        """Geometric volume fraction of each phase (matrix first), shape ``(nphases,)``."""
        out = np.bincount(self.phases, weights=self.volumes, minlength=self.nphases)
        out = out / np.prod(self.lengths)
        out[0] = 1.0 - out[1:].sum()
        return out

    def voxelize(self, shape: Sequence[int] | int) -> Microstructure:
        """Label image on a ``shape`` grid: a voxel takes the phase of the particle that
        contains its centre (periodically), 0 elsewhere."""
        shape = grid_shape(shape, self.ndim)
        check_grid_memory(shape, 4, "voxelizing")  # the int32 label image
        self._check_resolution(shape)
        labels = label_image(
            shape, self.lengths, self.centers, self.extents, self.inside, self.phases
        )
        return Microstructure(labels, self.lengths, self.phase_names)

    def _check_resolution(self, shape: tuple[int, ...]) -> None:
        """Warn when particles are narrower than :data:`MIN_VOXELS_ACROSS` voxels on ``shape``
        (bounding-box widths): they become single voxels or vanish from the image, whose
        phase fractions stay right (voxel centres sample the particles without bias) while
        their shapes are lost."""
        if len(self) == 0:
            return
        voxel = np.asarray(self.lengths) / np.asarray(shape)
        across = (2.0 * self.extents / voxel).min(axis=1)
        narrow = int(np.count_nonzero(across < MIN_VOXELS_ACROSS))
        if narrow:
            finer = tuple(int(np.ceil(n * MIN_VOXELS_ACROSS / across.min())) for n in shape)
            warnings.warn(
                f"{narrow} of {len(self)} particles are less than {MIN_VOXELS_ACROSS:g} voxels "
                f"across on the {'x'.join(map(str, shape))} grid (the narrowest "
                f"{across.min():.2g}): they become single voxels or vanish, and the image no "
                f"longer has their shape; voxelize on a finer grid (about "
                f"{'x'.join(map(str, finer))}) or use larger particles",
                UserWarning, stacklevel=3)

    def phase_fractions(self, shape: Sequence[int] | int, supersample: int = 4) -> np.ndarray:
        """Partial-volume fraction of each phase in each voxel, shape ``(nphases, *shape)``,
        from ``supersample**dim`` sample points per voxel."""
        shape = grid_shape(shape, self.ndim)
        check_grid_memory(shape, 8 * (self.nphases + 1), "phase fractions")
        return fraction_image(
            shape,
            self.lengths,
            self.centers,
            self.extents,
            self.inside,
            self.phases,
            self.nphases,
            supersample,
        )
