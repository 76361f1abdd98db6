"""Descriptors of microstructures and packings: volume fractions, particle counts and sizes
(periodic connected components), nearest-neighbour distances and the two-point correlation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from rve_gen.microstructure import Microstructure


def _labels(image) -> np.ndarray:
    return image.labels if isinstance(image, Microstructure) else np.asarray(image)


def volume_fractions(image) -> np.ndarray:
    """Fraction of voxels of each label, shape ``(labels.max() + 1,)``."""
    labels = _labels(image)
    return np.bincount(labels.ravel()) / labels.size


def periodic_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Connected components (face neighbours) of a boolean image on the periodic torus.

    Returns the component index of every voxel (0 outside ``mask``, 1..n inside) and ``n``.
    Components are found with ``scipy.ndimage.label`` and merged across opposite faces.
    """
    local, n = ndimage.label(mask)
    if n == 0:
        return local, 0
    first, second = [], []
    for axis in range(mask.ndim):
        a = np.take(local, 0, axis=axis).ravel()
        b = np.take(local, -1, axis=axis).ravel()
        both = (a > 0) & (b > 0)
        first.append(a[both])
        second.append(b[both])
    i, j = np.concatenate(first), np.concatenate(second)
    graph = coo_matrix((np.ones(i.size), (i, j)), shape=(n + 1, n + 1))
    _, component = connected_components(graph, directed=False)
    kept = np.unique(component[1:])
    relabel = np.zeros(n + 1, dtype=np.int64)
    relabel[1:] = np.searchsorted(kept, component[1:]) + 1
    return relabel[local], kept.size


def particle_sizes(image, phase: int | None = None) -> np.ndarray:
    """Voxel count of every particle (periodic connected component) of ``phase`` (default: all
    non-zero labels, each label separately), sorted."""
    labels = _labels(image)
    phases = np.unique(labels[labels > 0]) if phase is None else [phase]
    sizes = []
    for p in phases:
        component, n = periodic_components(labels == p)
        sizes.append(np.bincount(component.ravel(), minlength=n + 1)[1:])
    return np.sort(np.concatenate(sizes)) if sizes else np.zeros(0, dtype=np.int64)


def particle_count(image, phase: int | None = None) -> int:
    """Number of particles (periodic connected components) of ``phase`` (default: all)."""
    return int(particle_sizes(image, phase).size)


def nearest_neighbor_distances(centers: np.ndarray, lengths: Sequence[float]) -> np.ndarray:
    """Periodic centre-to-centre distance of each particle to its nearest neighbour, (n,)."""
    centers = np.mod(np.asarray(centers, dtype=float), lengths)
    distance, _ = cKDTree(centers, boxsize=lengths).query(centers, k=2)
    return distance[:, 1]


def two_point_correlation(image, phase: int = 1) -> np.ndarray:
    """Periodic two-point probability ``S2(r) = <χ(x) χ(x + r)>`` of ``phase`` for every lattice
    vector ``r``, by FFT: ``S2 = IFFT(|FFT χ|²) / N`` (shape of the image; ``S2[0] = φ``)."""
    chi = (_labels(image) == phase).astype(float)
    spectrum = np.fft.rfftn(chi)
    axes = tuple(range(chi.ndim))
    return np.fft.irfftn(spectrum * np.conj(spectrum), s=chi.shape, axes=axes) / chi.size


def radial_average(field: np.ndarray, lengths: Sequence[float], bins: int | None = None):
    """Average of a periodic lag field (e.g. :func:`two_point_correlation`) over shells of
    equal ``|r|`` up to half the smallest side. Returns ``(r, values)`` (bin centres)."""
    axes = [np.fft.fftfreq(n, 1.0 / n) * L / n for n, L in zip(field.shape, lengths)]
    radius = np.sqrt(sum(a**2 for a in np.meshgrid(*axes, indexing="ij", sparse=True)))
    r_max = 0.5 * min(lengths)
    bins = bins or min(field.shape) // 2
    edges = np.linspace(0.0, r_max, bins + 1)
    which = np.digitize(radius.ravel(), edges) - 1
    keep = (which >= 0) & (which < bins)
    total = np.bincount(which[keep], field.ravel()[keep], minlength=bins)
    count = np.bincount(which[keep], minlength=bins)
    return 0.5 * (edges[1:] + edges[:-1]), total / np.maximum(count, 1)


def describe(ms: Microstructure) -> dict:
    """Summary of a microstructure: shape, lengths, and per label present in the image the
    name, volume fraction and particle count (labels without voxels are not listed: a 0/255
    image has two phases, not 256)."""
    fractions = ms.volume_fractions
    present = np.flatnonzero(fractions)
    return {
        "shape": ms.shape,
        "lengths": ms.lengths,
        "phases": [
            {
                "label": int(k),
                "name": ms.phases[k],
                "volume_fraction": float(fractions[k]),
                "particles": particle_count(ms, int(k)) if k > 0 else None,
            }
            for k in present
        ],
    }
