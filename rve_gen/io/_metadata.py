"""The JSON metadata (lengths, phase names) that image formats carry next to the labels."""

from __future__ import annotations

import json

import numpy as np

from rve_gen.microstructure import Microstructure

KEY = "rve_gen"


def dumps(ms: Microstructure) -> str:
    """Metadata of ``ms`` as a JSON string."""
    return json.dumps({"format": KEY, "version": 1, "lengths": ms.lengths, "phases": ms.phases})


def build(labels: np.ndarray, text: str | None) -> Microstructure:
    """A Microstructure from labels and a metadata string (``None``: defaults)."""
    if not text:
        return Microstructure(labels)
    try:
        meta = json.loads(text)
        return Microstructure(labels, meta["lengths"], meta["phases"])
    except (json.JSONDecodeError, KeyError, TypeError):
        return Microstructure(labels)


def storage_dtype(labels: np.ndarray):
    """Smallest unsigned integer type holding the labels (uint8 or uint16)."""
    if labels.max() < 256:
        return np.uint8
    if labels.max() < 65536:
        return np.uint16
    raise ValueError(f"labels up to {labels.max()} do not fit an image file: use .npz.")
