"""``.jpg``, ``.jpeg``, ``.bmp``, ``.gif``: pictures read with imageio (read only, see
:func:`rve_gen.io.writer_for`; they carry no rve_gen metadata). Labels follow the rule of
:mod:`rve_gen.io._pixels`; lossy JPEG edges usually need ``threshold=...``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rve_gen.io._pixels import Pixels, microstructure
from rve_gen.microstructure import Microstructure


def pixels(path: Path) -> Pixels:
    """Grey levels or colours of the picture (the first frame of a GIF)."""
    import imageio.v3 as iio

    array = np.asarray(iio.imread(path, plugin="pillow",
                                  index=0 if path.suffix.lower() == ".gif" else None))
    return Pixels(array, array.ndim == 3 and array.shape[-1] in (2, 3, 4), True)


def read(path: Path) -> Microstructure:
    """Labels by the rule of :mod:`rve_gen.io._pixels`, default lengths and names."""
    return microstructure(pixels(path), str(path))
