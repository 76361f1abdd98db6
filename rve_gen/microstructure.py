"""The voxel microstructure handed to the solvers: an integer phase-label image."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from rve_gen._checks import lengths_for
from rve_gen.voxelize import available_memory


def default_phase_names(nphases: int) -> tuple[str, ...]:
    """``("matrix", "phase1", "phase2", ...)`` for ``nphases`` labels."""
    return ("matrix",) + tuple(f"phase{k}" for k in range(1, nphases))


def phase_names_for(phases: np.ndarray, phase_names=None) -> tuple[str, ...]:
    """The given ``phase_names`` as a tuple, or the defaults for labels 0..max(phases)."""
    if phase_names is not None:
        return tuple(phase_names)
    return default_phase_names(int(np.max(phases, initial=0)) + 1)


#: Memory per phase label of a microstructure (its default name and volume-fraction count).
_BYTES_PER_LABEL = 128


def _check_label_memory(nphases: int) -> None:
    """Refuse, before allocating, labels so large that one name per label does not fit."""
    needed, free = nphases * _BYTES_PER_LABEL, available_memory()
    if needed > free:
        raise MemoryError(
            f"labels go up to {nphases - 1}: one phase per label 0..{nphases - 1} needs about "
            f"{needed / 2**30:.1f} GiB but only {free / 2**30:.1f} GiB of RAM is free; number "
            "the phases 0, 1, 2, ... (e.g. np.unique(labels, return_inverse=True)[1])."
        )


class Microstructure:
    """A periodic RVE as a label image.

    Parameters
    ----------
    labels : int array, shape ``(n1, n2)`` or ``(n1, n2, n3)``
        Phase label of each voxel; axis 0 runs along x1. Label 0 is the matrix, inclusion
        phases are 1, 2, ... by default.
    lengths : RVE side lengths (default 1 per axis); voxel ``i`` along axis ``d`` has its
        centre at ``(i + 0.5) * lengths[d] / n_d``.
    phases : names of the phases, one per label ``0 .. labels.max()`` (default ``"matrix"``,
        ``"phase1"``, ...).
    """

    def __init__(
        self,
        labels: np.ndarray,
        lengths: Sequence[float] | float | None = None,
        phases: Sequence[str] | None = None,
    ) -> None:
        arr = np.asarray(labels)
        if arr.ndim not in (2, 3) or arr.size == 0:
            raise ValueError(
                f"labels has shape {arr.shape}: a microstructure is a non-empty 2D or 3D "
                "label image."
            )
        if arr.dtype.kind not in "biuf":
            raise ValueError(
                f"labels must be a real numeric array (integer phase labels 0, 1, 2, ...), got "
                f"dtype {arr.dtype}."
            )
        if not np.issubdtype(arr.dtype, np.integer):
            if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                raise ValueError(
                    "labels must be integers (phase labels 0, 1, 2, ...); for a grey-level "
                    "image use rve_gen.from_image(image, threshold=...)."
                )
        if arr.min() < 0:
            raise ValueError(
                f"labels contain negative values ({arr.min()}): phase labels are 0, 1, 2, ..."
            )
        if arr.max() > np.iinfo(np.int32).max:
            raise ValueError(
                f"labels go up to {arr.max()}, beyond the int32 range of phase labels: number "
                "the phases 0, 1, 2, ... (e.g. np.unique(labels, return_inverse=True)[1])."
            )
        nphases = int(arr.max()) + 1
        _check_label_memory(nphases)
        self.labels = np.ascontiguousarray(arr, dtype=np.int32)
        self.lengths = lengths_for(lengths, arr.ndim)
        if phases is None:
            names = default_phase_names(nphases)
        else:
            names = tuple(str(p) for p in phases)
            if len(names) < nphases:
                raise ValueError(
                    f"phases has {len(names)} name(s) but the labels go up to {nphases - 1}: "
                    f"give one name per label 0..{nphases - 1}."
                )
        self.phases = names

    @property
    def ndim(self) -> int:
        """2 or 3."""
        return self.labels.ndim

    @property
    def shape(self) -> tuple[int, ...]:
        """Voxel counts per axis."""
        return self.labels.shape

    @property
    def nphases(self) -> int:
        """Number of phases (named labels)."""
        return len(self.phases)

    @property
    def voxel_size(self) -> tuple[float, ...]:
        """Edge length of a voxel along each axis."""
        return tuple(L / n for L, n in zip(self.lengths, self.shape))

    @property
    def volume_fractions(self) -> np.ndarray:
        """Volume fraction of each phase, shape ``(nphases,)``, indexed by label."""
        counts = np.bincount(self.labels.ravel(), minlength=self.nphases)
        return counts / self.labels.size

    def save(self, path: str | os.PathLike) -> None:
        """Write to ``path``; the format follows the extension (see :mod:`rve_gen.io`).

        The file is written to a temporary file in the same folder and moved into place with
        ``os.replace``, so a reader never sees a half-written file.
        """
        from rve_gen.io import write

        write(path, self)

    def preview(self, path: str | os.PathLike) -> None:
        """Write a PNG picture: the image in 2D, the three mid-slices in 3D."""
        from rve_gen.preview import preview

        preview(self, path)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Microstructure):
            return NotImplemented
        return (
            self.shape == other.shape
            and np.array_equal(self.labels, other.labels)
            and np.allclose(self.lengths, other.lengths, rtol=1e-12, atol=0)
            and self.phases == other.phases
        )

    __hash__ = None

    def __repr__(self) -> str:
        present = np.flatnonzero(self.volume_fractions)  # not the empty labels between them
        fractions = ", ".join(f"{self.phases[k]}={self.volume_fractions[k]:.4f}" for k in present)
        return f"Microstructure(shape={self.shape}, lengths={self.lengths}, {fractions})"
