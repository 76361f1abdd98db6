"""``.png``: a 2D label image (8 or 16 bit grey) with the metadata in a text chunk; any other
PNG is read by the label rule of :mod:`rve_gen.io._pixels`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from rve_gen.io import _metadata
from rve_gen.io._pixels import Pixels, microstructure
from rve_gen.microstructure import Microstructure


def write(path: Path, ms: Microstructure) -> None:
    """Grey levels equal to the labels (axis 0 = image rows)."""
    if ms.ndim != 2:
        raise ValueError(
            f"PNG holds 2D images but this microstructure is {ms.ndim}D: use .tif, .npz or "
            ".vtu, or preview() for a picture of the mid-slices."
        )
    labels = ms.labels.astype(_metadata.storage_dtype(ms.labels))
    info = PngImagePlugin.PngInfo()
    info.add_text(_metadata.KEY, _metadata.dumps(ms))
    Image.fromarray(labels).save(path, format="PNG", pnginfo=info)


def pixels(path: Path) -> Pixels:
    """Pixel values (grey levels, palette indices or colours) and the rve_gen metadata."""
    with Image.open(path) as image:
        image.load()
        text = image.text.get(_metadata.KEY)
        colour = image.mode not in ("1", "L", "P", "I", "I;16", "I;16B", "I;16L", "F")
        array = np.asarray(image)
    lengths, phases = _metadata.parse(text)
    return Pixels(array, colour and array.ndim == 3, lengths is None, lengths, phases)


def read(path: Path) -> Microstructure:
    """Labels by the rule of :mod:`rve_gen.io._pixels` and the metadata written by
    :func:`write` (defaults when absent)."""
    return microstructure(pixels(path), str(path))
