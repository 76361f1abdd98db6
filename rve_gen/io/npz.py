"""``.npz``: labels, lengths and phase names (a JSON string), loaded without pickle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rve_gen.io._pixels import LabelError, Pixels, microstructure
from rve_gen.microstructure import Microstructure


def write(path: Path, ms: Microstructure) -> None:
    """Compressed archive with ``labels``, ``lengths`` and ``phases`` (JSON string)."""
    with open(path, "wb") as f:
        np.savez_compressed(
            f,
            labels=ms.labels,
            lengths=np.asarray(ms.lengths),
            phases=np.asarray(json.dumps(list(ms.phases))),
        )


def pixels(path: Path) -> Pixels:
    """Load with ``allow_pickle=False``; an archive holding a single array is read as labels."""
    with np.load(path, allow_pickle=False) as data:
        if "labels" not in data:
            if len(data.files) != 1:
                raise LabelError(
                    f"{path} has arrays {data.files} but no 'labels': save with "
                    "Microstructure.save, or save the label array alone (np.savez(path, labels))."
                )
            return Pixels(data[data.files[0]])
        lengths = tuple(data["lengths"]) if "lengths" in data else None
        phases = tuple(json.loads(str(data["phases"]))) if "phases" in data else None
        return Pixels(data["labels"], lengths=lengths, phases=phases)


def read(path: Path) -> Microstructure:
    """Labels as stored, lengths and phase names."""
    return microstructure(pixels(path), str(path))
