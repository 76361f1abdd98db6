"""Reading and writing microstructures: one module per format, chosen by file extension.

==========================  ======================================================
extension                   module, content
==========================  ======================================================
``.npy``                    :mod:`.npy`: the label array only (lengths are not kept)
``.npz``                    :mod:`.npz`: labels, lengths, phase names (JSON string)
``.tif``, ``.tiff``         :mod:`.tiff`: label image or 3D stack, JSON metadata
``.png``                    :mod:`.png`: 2D label image, JSON metadata in a text chunk
``.vtu``, ``.inp``          :mod:`.mesh`: meshio quads/hexahedra, phase per cell
``.xdmf``                   :mod:`.xdmf`: XDMF 3 voxel mesh, inline XML (no HDF5)
==========================  ======================================================

No reader ever unpickles: ``.npy``/``.npz`` are loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import ModuleType

import numpy as np

from rve_gen.io import mesh, npy, npz, png, tiff, xdmf
from rve_gen.microstructure import Microstructure

FORMATS: dict[str, ModuleType] = {
    ".npy": npy,
    ".npz": npz,
    ".tif": tiff,
    ".tiff": tiff,
    ".png": png,
    ".vtu": mesh,
    ".xdmf": xdmf,
    ".inp": mesh,
}


def format_for(path: str | os.PathLike) -> ModuleType:
    """The format module for the extension of ``path``."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise ValueError(
            f"unknown file type {ext or '(no extension)'!r} for {os.fspath(path)!r}: use one of "
            f"{', '.join(FORMATS)}."
        )
    return FORMATS[ext]


def read(path: str | os.PathLike) -> Microstructure:
    """Read a microstructure; the format follows the extension."""
    module = format_for(path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such file: {os.fspath(path)!r}")
    return module.read(Path(path))


def write(path: str | os.PathLike, microstructure: Microstructure,
          cell_data: dict[str, np.ndarray] | None = None) -> None:
    """Write ``microstructure`` atomically: to a temporary file in the same folder, then
    ``os.replace`` onto ``path``.

    ``cell_data``: extra per-voxel fields (name -> array of the grid's shape) for the ``.vtu``
    format, e.g. cluster maps or plastic strain to inspect in ParaView.
    """
    module = format_for(path)
    path = Path(path)
    extra = {}
    if cell_data:
        if Path(path).suffix.lower() != ".vtu":
            raise ValueError(f"extra cell data is written to .vtu files only, not {path.name}")
        extra = {"cell_data": cell_data}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        module.write(Path(tmp), microstructure, **extra)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: str | os.PathLike) -> Microstructure:
    """Read a microstructure saved with :meth:`Microstructure.save` (any supported format)."""
    return read(path)
