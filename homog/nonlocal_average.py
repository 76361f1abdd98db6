"""Non-local averaging of a damage driving variable, on the voxel grid and on the clusters.

Integral non-local continuum (Pijaudier-Cabot & Bažant, J. Eng. Mech. 113, 1987; Jirásek,
Int. J. Solids Struct. 35, 1998): the damage at x is driven by the weighted average of a local
variable κ (here the equivalent plastic strain) over the material Ω_m that softens,

    κ̄(x) = ∫_Ωm α(x − y) κ(y) dy / ∫_Ωm α(x − y) dy,      α(r) = exp(−|r|² / (2ℓ²)),

with the internal length ℓ a material constant. The band in which damage localizes is then
some ℓ wide whatever the discretization, so the dissipated energy, and the toughness of a
softening RVE, converge under refinement (voxels or clusters) instead of vanishing with the
element size. The kernel is periodic like the RVE: its Fourier coefficients are those of the
Gaussian, exp(−2π² ℓ² |ξ|²) at the grid frequencies ξ_i = k_i / L_i (they equal the sampled
periodic Gaussian's up to aliasing of order exp(−π² ℓ²/(2h²)), 1e-13 at ℓ = 2.5 h; a length
below about two voxels is not resolved anyway).

On the clusters of a reduced-order model (κ constant per cluster, κ̄ averaged over each
cluster) the operator becomes the matrix

    W_IJ = (1/|I|) ∫_I (α ∗ χ_J)(x) / (α ∗ χ_m)(x) dx,      κ̄_I = Σ_J W_IJ κ_J,

the Galerkin projection of the grid operator on cluster-wise constant fields (χ_J the indicator
of cluster J, χ_m that of the material's clusters). Its rows sum to one and, with one voxel
per cluster, it is the grid operator itself, so the ROM converges to the non-local full-field
solution as the clusters are refined.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kernels.arraymodule import array_module


def gaussian_multiplier(shape: Sequence[int], lengths: Sequence[float], length: float,
                        xp: Any = np) -> Any:
    """Fourier coefficients exp(−2π² ℓ² |ξ|²) of the periodic Gaussian, on the rfftn grid."""
    if not (np.isfinite(length) and length > 0):
        raise ValueError(f"nonlocal_length = {length!r} must be finite and > 0")
    exponent = xp.zeros(tuple(shape[:-1]) + (shape[-1] // 2 + 1,))
    for axis, (n, L) in enumerate(zip(shape, lengths)):
        k = np.fft.rfftfreq(n, d=1.0 / n) if axis == len(shape) - 1 else np.fft.fftfreq(n, 1 / n)
        view = [1] * len(shape)
        view[axis] = k.size
        exponent = exponent + xp.asarray((k / L) ** 2).reshape(view)
    return xp.exp(-2.0 * np.pi**2 * length**2 * exponent)


class GridAverage:
    """κ̄ at the voxels of one material: ``average(kappa)`` with ``kappa`` (n,) on ``mask``.

    ``mask``: boolean grid of the material's voxels (the points a material's ``update`` sees,
    in C order); ``lengths``: the RVE edge lengths; ``length``: ℓ. Two FFTs per call.
    """

    def __init__(self, mask: Any, lengths: Sequence[float], length: float) -> None:
        xp = array_module(mask)
        self.shape, self.xp = mask.shape, xp
        self.index = xp.flatnonzero(mask.reshape(-1))
        self.multiplier = gaussian_multiplier(mask.shape, lengths, length, xp)
        self.normalization = self._convolve(mask.astype(float))[mask]

    def _convolve(self, field: Any) -> Any:
        xp = self.xp
        axes = tuple(range(len(self.shape)))
        return xp.fft.irfftn(xp.fft.rfftn(field, axes=axes) * self.multiplier, s=self.shape,
                             axes=axes)

    def __call__(self, kappa: Any) -> Any:
        field = self.xp.zeros(int(np.prod(self.shape)))
        field[self.index] = kappa
        smoothed = self._convolve(field.reshape(self.shape)).reshape(-1)
        return smoothed[self.index] / self.normalization


class ClusterAverage:
    """κ̄ of the n clusters of one material, for P points at once: κ (P·n,) point-major.

    ``matrix`` W (n, n) from :func:`cluster_weights`; ``average(kappa)`` = W κ per point.
    """

    def __init__(self, matrix: Any) -> None:
        self.matrix = matrix

    def __call__(self, kappa: Any) -> Any:
        n = self.matrix.shape[0]
        return (kappa.reshape(-1, n) @ self.matrix.T).reshape(-1)


def cluster_weights(cluster_labels: np.ndarray, clusters: np.ndarray,
                    lengths: Sequence[float], length: float) -> np.ndarray:
    """W (n, n) of the clusters ``clusters`` (ids in ``cluster_labels``), module docstring:
    column J is the cluster means of the :class:`GridAverage` of the indicator of cluster J.

    One pair of FFTs of the grid per cluster.
    """
    labels = np.asarray(cluster_labels)
    clusters = np.asarray(clusters)
    n = clusters.size
    position = np.full(int(labels.max()) + 1, -1)
    position[clusters] = np.arange(n)
    local = position[labels]  # cluster position within the material, −1 elsewhere
    mask = local >= 0
    average = GridAverage(mask, lengths, length)
    owner = local[mask]
    sizes = np.bincount(owner, minlength=n)
    W = np.empty((n, n))
    for j in range(n):
        W[:, j] = np.bincount(owner, weights=average((owner == j).astype(float)),
                              minlength=n) / sizes
    return W
