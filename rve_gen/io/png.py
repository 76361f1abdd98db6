"""``.png``: a 2D label image (8 or 16 bit grey) with the metadata in a text chunk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from rve_gen.io import _metadata
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


def read(path: Path) -> Microstructure:
    """Labels and the metadata written by :func:`write` (defaults when absent)."""
    with Image.open(path) as image:
        labels = np.asarray(image)
        text = image.text.get(_metadata.KEY)
    if labels.ndim != 2:
        raise ValueError(
            f"{path} is a colour image: use rve_gen.from_image(path, phases=...) to map "
            "colours to phases."
        )
    return _metadata.build(labels, text)
