"""``.npy``: the bare label array (lengths and names are not stored; use ``.npz`` for them)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from rve_gen.io._pixels import Pixels, microstructure
from rve_gen.microstructure import Microstructure, default_phase_names


def write(path: Path, ms: Microstructure) -> None:
    """Save the labels; warns when lengths or phase names would be lost."""
    if ms.lengths != (1.0,) * ms.ndim or ms.phases != default_phase_names(ms.nphases):
        warnings.warn(
            f"{path.suffix} keeps only the labels: lengths {ms.lengths} and phase names are "
            "lost; save as .npz to keep them.",
            UserWarning,
            stacklevel=4,
        )
    with open(path, "wb") as f:
        np.save(f, ms.labels, allow_pickle=False)


def pixels(path: Path) -> Pixels:
    """The array (``allow_pickle=False``)."""
    return Pixels(np.load(path, allow_pickle=False))


def read(path: Path) -> Microstructure:
    """The labels as stored, default lengths and names."""
    return microstructure(pixels(path), str(path))
