"""``.tif``/``.tiff``: a 2D image or a 3D stack (axis 0 = pages) written by tifffile, with the
lengths and phase names as JSON in the image description."""

from __future__ import annotations

from pathlib import Path

import tifffile

from rve_gen.io import _metadata
from rve_gen.microstructure import Microstructure


def write(path: Path, ms: Microstructure) -> None:
    """Label image as unsigned integers, zlib-compressed, metadata as JSON description."""
    labels = ms.labels.astype(_metadata.storage_dtype(ms.labels))
    tifffile.imwrite(
        path,
        labels,
        photometric="minisblack",
        description=_metadata.dumps(ms),
        metadata=None,
        compression="zlib",
    )


def read(path: Path) -> Microstructure:
    """Labels and, when present, the metadata written by :func:`write`."""
    with tifffile.TiffFile(path) as tif:
        labels = tif.asarray()
        text = tif.pages[0].description
    return _metadata.build(labels, text if text.startswith("{") else None)
