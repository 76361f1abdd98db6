"""Voxel meshes through meshio (``.vtu``, Abaqus ``.inp``).

Each voxel becomes one quad (2D) or hexahedron (3D) on the regular grid of the RVE. The phase
label is the cell data ``"phase"`` (``.vtu``) or, for Abaqus, one element set
``PHASE<k>_<name>`` per phase. Reading rebuilds the label image from the cell centroids, the
lengths from the node bounding box.
"""

from __future__ import annotations

import re
from pathlib import Path

import meshio
import numpy as np

from rve_gen.microstructure import Microstructure


def to_mesh(ms: Microstructure) -> meshio.Mesh:
    """Quad (2D) or hexahedral (3D) meshio mesh of the voxels, phase as cell data."""
    shape, ndim = ms.shape, ms.ndim
    axes = [np.linspace(0.0, L, n + 1) for L, n in zip(ms.lengths, shape)]
    points = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, ndim)
    nodes = np.arange(points.shape[0]).reshape(tuple(n + 1 for n in shape))
    if ndim == 2:
        corners = [(0, 0), (1, 0), (1, 1), (0, 1)]
        kind = "quad"
    else:
        corners = [(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0),
                   (0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 1, 1)]  # fmt: skip
        kind = "hexahedron"
    cells = np.stack(
        [nodes[tuple(slice(o, o + n) for o, n in zip(c, shape))].ravel() for c in corners], -1
    )
    phase = ms.labels.ravel().astype(np.int32)
    sets = {
        f"PHASE{k}_{re.sub(r'[^A-Za-z0-9_]', '_', name)}": [np.flatnonzero(phase == k)]
        for k, name in enumerate(ms.phases)
    }
    return meshio.Mesh(points, [(kind, cells)], cell_data={"phase": [phase]}, cell_sets=sets)


def write(path: Path, ms: Microstructure, cell_data: dict | None = None) -> None:
    """Write the voxel mesh; the meshio format follows the extension.

    ``cell_data``: extra fields (name -> array of the grid's shape) added to the phase label.
    """
    mesh = to_mesh(ms)
    for name, values in (cell_data or {}).items():
        values = np.asarray(values)
        if values.shape != ms.shape:
            raise ValueError(f"cell data {name!r} has shape {values.shape}; the grid is {ms.shape}")
        mesh.cell_data[name] = [values.ravel()]
    if path.suffix.lower() == ".inp":
        mesh.cell_data = {}
        meshio.write(path, mesh, file_format="abaqus")
    else:
        mesh.cell_sets = {}
        if ms.ndim == 2:  # VTK points are 3D
            mesh.points = np.column_stack([mesh.points, np.zeros(len(mesh.points))])
        meshio.write(path, mesh)


def read(path: Path) -> Microstructure:
    """Rebuild the label image of a regular voxel mesh written by :func:`write`."""
    # the format's own reader: meshio.read prints and calls sys.exit on a damaged file
    reader = meshio.abaqus.read if path.suffix.lower() == ".inp" else meshio.vtu.read
    mesh = reader(str(path))
    blocks = [b for b in mesh.cells if b.type in ("quad", "hexahedron")]
    if len(blocks) != 1:
        raise ValueError(f"{path} is not a voxel mesh (one block of quads or hexahedra).")
    cells, ndim = blocks[0].data, 2 if blocks[0].type == "quad" else 3
    phase = np.zeros(len(cells), dtype=np.int32)
    names: dict[int, str] = {}
    if "phase" in mesh.cell_data:
        phase = np.asarray(mesh.cell_data["phase"][0]).astype(np.int32).ravel()
    else:
        for key, members in mesh.cell_sets.items():
            match = re.fullmatch(r"PHASE(\d+)_(.*)", key, flags=re.IGNORECASE)
            if match:
                phase[np.concatenate([np.asarray(m) for m in members])] = int(match[1])
                names[int(match[1])] = match[2].lower() if match[2].isupper() else match[2]
    nphases = int(phase.max(initial=0)) + 1
    phases = [names[k] for k in range(nphases)] if set(names) >= set(range(nphases)) else None
    return from_cells(mesh.points[:, :ndim], cells, phase, phases)


def from_cells(points: np.ndarray, cells: np.ndarray, phase: np.ndarray, phases=None):
    """Label image of a regular voxel mesh: ``points`` (p, dim), ``cells`` (n, corners),
    ``phase`` (n,) the label of each cell."""
    ndim = points.shape[1]
    origin, top = points.min(axis=0), points.max(axis=0)
    shape = tuple(int(np.unique(np.round(points[:, d], 12)).size) - 1 for d in range(ndim))
    spacing = (top - origin) / np.asarray(shape)
    centroid = points[cells].mean(axis=1)
    index = np.floor((centroid - origin) / spacing).astype(np.int64)
    labels = np.zeros(shape, dtype=np.int32)
    labels[tuple(index.T)] = phase
    return Microstructure(labels, tuple(top - origin), phases)
