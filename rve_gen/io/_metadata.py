"""The JSON metadata (lengths, phase names) that image formats carry next to the labels."""

from __future__ import annotations

import json

import numpy as np

from rve_gen.microstructure import Microstructure

KEY = "rve_gen"


def dumps(ms: Microstructure) -> str:
    """Metadata of ``ms`` as a JSON string."""
    return json.dumps({"format": KEY, "version": 1, "lengths": ms.lengths, "phases": ms.phases})


def parse(text: str | None) -> tuple[tuple | None, tuple | None]:
    """Lengths and phase names of a metadata string (``None``, ``None`` when absent or not
    written by rve_gen, e.g. another program's TIFF description)."""
    if not text:
        return None, None
    try:
        meta = json.loads(text)
        if meta.get("format") != KEY:
            return None, None
        return tuple(meta["lengths"]), tuple(meta["phases"])
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        return None, None


def storage_dtype(labels: np.ndarray):
    """Smallest unsigned integer type holding the labels (uint8 or uint16)."""
    if labels.max() < 256:
        return np.uint8
    if labels.max() < 65536:
        return np.uint16
    raise ValueError(f"labels up to {labels.max()} do not fit an image file: use .npz.")
