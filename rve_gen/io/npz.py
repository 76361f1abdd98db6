"""``.npz``: labels, lengths and phase names (a JSON string), loaded without pickle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

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


def read(path: Path) -> Microstructure:
    """Load with ``allow_pickle=False``; an archive holding a single array is read as labels."""
    with np.load(path, allow_pickle=False) as data:
        if "labels" not in data:
            if len(data.files) != 1:
                raise ValueError(
                    f"{path} has arrays {data.files} but no 'labels': save with "
                    "Microstructure.save or use rve_gen.from_image on the array."
                )
            return Microstructure(data[data.files[0]])
        lengths = data["lengths"] if "lengths" in data else None
        phases = json.loads(str(data["phases"])) if "phases" in data else None
        return Microstructure(data["labels"], lengths, phases)
