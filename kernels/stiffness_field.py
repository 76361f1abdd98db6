"""Piecewise-constant stiffness of a voxel RVE, applied as σ(x) = C(x):ε(x).

On the CPU (numba) one multi-threaded pass applies each voxel's phase matrix, looked up in a
small table by a compact phase index. On a GPU (or without numba) the phase with the most voxels
is the reference: σ = C_ref·ε over the whole grid as one (ncomp × ncomp) @ (ncomp × N) product,
then σ += (C_p − C_ref)·ε on the voxels of every other phase. In 2D (plane strain) the
in-plane block C[(11,22,12),(11,22,12)] acts on the in-plane strains and
σ33 = C[33,(11,22,12)]·ε is available for reporting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from kernels import pointwise
from kernels.tensors import PLANE_INDICES, check_stiffness, lame_projection


def validate_labels(labels: Any) -> Any:
    """Check that ``labels`` is a 2D or 3D integer array; return it unchanged."""
    dtype = getattr(labels, "dtype", None)
    if dtype is None or getattr(labels, "ndim", 0) not in (2, 3):
        shape = getattr(labels, "shape", None)
        raise ValueError(
            f"labels must be a 2D or 3D integer array (one phase label per voxel), got "
            f"{type(labels).__name__} with shape {shape}"
        )
    if dtype.kind not in "iu":
        raise ValueError(
            f"labels must have an integer dtype, got {dtype}; convert a phase map with "
            "labels.astype(int) after checking that its values are whole numbers"
        )
    if labels.size == 0:
        raise ValueError(f"labels is empty (shape {labels.shape}): give at least one voxel per "
                         "axis")
    return labels


class StiffnessField:
    """Stiffness of every voxel, from integer ``labels`` and a mapping label -> 6×6 Mandel."""

    def __init__(self, labels: Any, stiffness: Mapping[int, Any], xp: Any = np,
                 *, allow_void: bool = True) -> None:
        self.ndim = labels.ndim
        self.ncomp = 6 if self.ndim == 3 else 3
        host = np.asarray(labels.get() if hasattr(labels, "get") else labels)
        present, counts = np.unique(host, return_counts=True)
        missing = [int(p) for p in present if int(p) not in stiffness]
        if missing:
            raise ValueError(
                f"labels {missing} have no stiffness; the stiffness mapping defines "
                f"{sorted(int(k) for k in stiffness)}: give a 6x6 Mandel stiffness for every label"
            )
        self.labels_present = [int(p) for p in present]
        self.full = {p: check_stiffness(stiffness[p], f"stiffness of label {p}",
                                        allow_zero=allow_void) for p in self.labels_present}
        if all(not np.any(c) for c in self.full.values()):
            raise ValueError("every phase has zero stiffness: nothing carries load")
        sel = np.asarray(PLANE_INDICES) if self.ndim == 2 else np.arange(6)
        self.matrices = {p: c[np.ix_(sel, sel)] for p, c in self.full.items()}
        self.fractions = {p: c / host.size for p, c in zip(self.labels_present, counts)}
        self.reference_label = self.labels_present[int(np.argmax(counts))]
        self.xp = xp
        self._c_ref = xp.asarray(self.matrices[self.reference_label])
        flat = host.reshape(-1)
        self._compiled = pointwise.numba is not None and xp is np
        if self._compiled:
            self._table = np.stack([self.matrices[p] for p in self.labels_present])
            dtype = np.uint8 if len(self.labels_present) < 256 else np.int32
            self._phase_index = np.searchsorted(self.labels_present, flat).astype(dtype)
        others = [p for p in self.labels_present if p != self.reference_label]
        index = {p: xp.asarray(np.flatnonzero(flat == p)) for p in others}
        c_ref = self.matrices[self.reference_label]
        self._corrections = [(index[p], xp.asarray(self.matrices[p] - c_ref)) for p in others]
        self._out_of_plane = None
        if self.ndim == 2:
            row_ref = self.full[self.reference_label][2, sel]
            self._out_of_plane = (
                xp.asarray(row_ref),
                [(index[p], xp.asarray(self.full[p][2, sel] - row_ref)) for p in others],
            )

    @property
    def has_void(self) -> bool:
        """True when some phase has zero stiffness."""
        return any(not np.any(c) for c in self.full.values())

    @property
    def contrast(self) -> float:
        """Largest over smallest eigenvalue of the phases' (in-plane in 2D) stiffness matrices,
        voids left out: the stiffness contrast that slows the iterative solvers and, in double
        precision, can stop them (inf when a phase is singular without being a void)."""
        eigenvalues = np.concatenate([np.linalg.eigvalsh(c) for c in self.matrices.values()
                                      if np.any(c)])
        smallest = float(eigenvalues.min())
        return float(eigenvalues.max()) / smallest if smallest > 0 else float("inf")

    def voigt_average(self) -> np.ndarray:
        """⟨C⟩ (ncomp × ncomp): the Voigt bound, used for initial macroscopic guesses."""
        return sum(self.fractions[p] * self.matrices[p] for p in self.labels_present)

    def lame_extremes(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """((λ_min, λ_max), (μ_min, μ_max)) of the phases' isotropic projections."""
        lm = [lame_projection(self.full[p]) for p in self.labels_present]
        lams, mus = zip(*lm)
        return (min(lams), max(lams)), (min(mus), max(mus))

    def apply(self, strain: Any, out: Any) -> Any:
        """σ = C(x):ε(x) for fields (ncomp, *grid) into ``out`` (must not alias ``strain``)."""
        e = strain.reshape(self.ncomp, -1)
        s = out.reshape(self.ncomp, -1)
        if self._compiled:
            pointwise.phase_matvec(self._phase_index, self._table, e, s)
            return out
        self.xp.matmul(self._c_ref, e, out=s)
        for idx, dc in self._corrections:
            s[:, idx] += dc @ e[:, idx]
        return out

    def out_of_plane_stress(self, strain: Any) -> Any:
        """σ33(x) of a 2D plane-strain strain field (3, *grid)."""
        if self._out_of_plane is None:
            raise ValueError("σ33 is only defined for 2D (plane strain) fields")
        row, corr = self._out_of_plane
        e = strain.reshape(3, -1)
        s33 = row @ e
        for idx, drow in corr:
            s33[idx] += drow @ e[:, idx]
        return s33.reshape(strain.shape[1:])


def stiffness_map(stiffness: Mapping[int, Any] | Any) -> dict[int, np.ndarray]:
    """Normalise the user's stiffness mapping (keys to int, values to float arrays)."""
    if not isinstance(stiffness, Mapping):
        raise ValueError(
            "stiffness must be a mapping label -> 6x6 Mandel matrix, e.g. "
            "{0: isotropic_stiffness(100, 0.3), 1: isotropic_stiffness(500, 0.19)}"
        )
    out = {}
    for key, value in stiffness.items():
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
            raise ValueError(f"stiffness keys must be integer labels, got {key!r}")
        try:
            out[int(key)] = np.asarray(value.get() if hasattr(value, "get") else value,
                                       dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"stiffness of label {key} must be a 6x6 Mandel matrix of numbers, "
                             f"got {value!r}") from None
    return out
