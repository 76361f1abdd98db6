"""``.tif``/``.tiff``: a 2D image or a 3D stack (axis 0 = pages) written by tifffile, with the
lengths and phase names as JSON in the image description."""

from __future__ import annotations

from pathlib import Path

import tifffile

from rve_gen.io import _metadata
from rve_gen.io._pixels import Pixels, microstructure
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


def pixels(path: Path) -> Pixels:
    """Pixel values of every page (a 3D stack for several pages) and the rve_gen metadata."""
    with tifffile.TiffFile(path) as tif:
        array = tif.asarray()
        colour = tif.pages[0].samplesperpixel > 1
        text = tif.pages[0].description
    lengths, phases = _metadata.parse(text)
    return Pixels(array, colour, lengths is None, lengths, phases)


def read(path: Path) -> Microstructure:
    """Labels by the rule of :mod:`rve_gen.io._pixels` and, when present, the metadata
    written by :func:`write`."""
    return microstructure(pixels(path), str(path))
