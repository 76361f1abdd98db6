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
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from rve_gen.io import mesh, npy, npz, png, raster, tiff, xdmf
from rve_gen.io._pixels import LabelError, Pixels, microstructure
from rve_gen.io.atomic import atomic_path
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
    ".jpg": raster,
    ".jpeg": raster,
    ".bmp": raster,
    ".gif": raster,
}

#: Names of the formats in error messages.
_KIND = {".npy": "NumPy .npy", ".npz": "NumPy .npz", ".tif": "TIFF", ".tiff": "TIFF",
         ".png": "PNG", ".vtu": "VTK .vtu", ".xdmf": "XDMF", ".inp": "Abaqus .inp",
         ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".gif": "GIF"}


def format_for(path: str | os.PathLike) -> ModuleType:
    """The format module for the extension of ``path``."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise ValueError(
            f"unknown file type {ext or '(no extension)'!r} for {os.fspath(path)!r}: use one of "
            f"{', '.join(FORMATS)}."
        )
    return FORMATS[ext]


def writer_for(path: str | os.PathLike) -> ModuleType:
    """The format module that writes ``path`` (checked before any work: the read-only picture
    formats are refused)."""
    module = format_for(path)
    if module is raster:
        raise ValueError(
            f"{Path(path).suffix} is read-only here (lossy or limited to 256 colours): save a "
            "microstructure as .npz, .npy, .tif, .png, .vtu, .xdmf or .inp."
        )
    return module


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{os.fspath(path)!r} is a directory: give the microstructure file.")
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {os.fspath(path)!r}")
    return path


def _unreadable(path: Path, exc: BaseException) -> ValueError:
    kind = _KIND[path.suffix.lower()]
    return ValueError(
        f"{os.fspath(path)!r} is not a readable {kind} file ({type(exc).__name__}: {exc}); "
        "it may be empty, truncated or another format under this extension: re-export it."
    )


def pixels(path: str | os.PathLike) -> Pixels:
    """The raw pixel values of an image or array file (``.npy``, ``.npz``, ``.png``,
    ``.tif``/``.tiff``, ``.jpg``, ``.bmp``, ``.gif``), for segmentation by
    :func:`rve_gen.from_image`."""
    module = format_for(path)
    if not hasattr(module, "pixels"):
        raise ValueError(
            f"{os.fspath(path)!r} is a mesh, not an image: phases and thresholds apply to "
            "images and arrays; read it with rve_gen.load."
        )
    return _parsed(_existing(path), module.pixels)


def read(path: str | os.PathLike) -> Microstructure:
    """Read a microstructure; the format follows the extension, labels follow the one rule
    of :mod:`rve_gen.io._pixels`."""
    module = format_for(path)
    if hasattr(module, "pixels"):
        return microstructure(pixels(path), os.fspath(path))
    return _parsed(_existing(path), module.read)


def _parsed(path: Path, parse: Any) -> Any:
    """``parse(path)``; any parser failure of a damaged file names the file and its format
    (label errors and memory estimates pass through as they are)."""
    try:
        return parse(path)
    except (LabelError, MemoryError):
        raise
    except Exception as exc:
        raise _unreadable(path, exc) from None


def write(path: str | os.PathLike, microstructure: Microstructure,
          cell_data: dict[str, np.ndarray] | None = None) -> None:
    """Write ``microstructure`` atomically (:func:`rve_gen.io.atomic.atomic_path`: a temporary
    file in the same folder, flushed to the disk, the user's umask's permissions, renamed).

    ``cell_data``: extra per-voxel fields (name -> array of the grid's shape) for the ``.vtu``
    format, e.g. cluster maps or plastic strain to inspect in ParaView.
    """
    module = writer_for(path)
    path = Path(path)
    extra = {}
    if cell_data:
        if Path(path).suffix.lower() != ".vtu":
            raise ValueError(f"extra cell data is written to .vtu files only, not {path.name}")
        extra = {"cell_data": cell_data}
    with atomic_path(path) as tmp:
        module.write(tmp, microstructure, **extra)


def load(path: str | os.PathLike) -> Microstructure:
    """Read a microstructure saved with :meth:`Microstructure.save` (any supported format)."""
    return read(path)
