"""The reduced-order model file: one ``.npz`` with arrays and JSON metadata, no pickle.

Layout (schema ``homog.rom`` version 1): arrays ``cluster_labels`` (int32 grid),
``cluster_phases`` (K,), ``D1``, ``D2`` (K, K, m, m), ``C_eff`` (m, m), ``lengths`` (d,), and
``metadata``: a JSON string with the schema, version, materials (``Material.to_config()`` per
phase) and build info. Files are written to a temporary name in the target folder and renamed,
so a crash never leaves a half-written model; they are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from homog.files import atomic_open, jsonable
from homog.materials.config import material_from_config

SCHEMA = "homog.rom"
VERSION = 1
_ARRAYS = ("cluster_labels", "cluster_phases", "D1", "D2", "C_eff", "lengths")


def save_rom(rom: Any, path: Any) -> Path:
    """Write ``rom`` to ``path`` (``.npz`` added if missing) atomically; returns the path."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(path.suffix + ".npz")
    meta = {"schema": SCHEMA, "version": VERSION,
            "materials": {str(p): m.to_config() for p, m in rom.materials.items()},
            "info": jsonable(rom.info)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as f:
        np.savez(f, cluster_labels=rom.cluster_labels, cluster_phases=rom.cluster_phases,
                 D1=rom.D1, D2=rom.D2, C_eff=rom.C_eff,
                 lengths=np.asarray(rom.lengths, dtype=float),
                 metadata=np.asarray(json.dumps(meta)))
    return path


def load_rom(path: Any) -> Any:
    """Read a model written by :meth:`ReducedOrderModel.save`, with clear errors otherwise."""
    from homog.rom import ReducedOrderModel

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no reduced-order model file at {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a readable homog ROM file (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in _ARRAYS + ("metadata",) if k not in data.files]
            if missing:
                raise ValueError(f"{path} is not a homog ROM file (missing {missing})")
            arrays = {k: data[k] for k in _ARRAYS}
            meta = json.loads(str(data["metadata"]))
    except (zipfile.BadZipFile, OSError, EOFError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a readable homog ROM file ({exc})") from None
    if meta.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a homog ROM file (schema {meta.get('schema')!r})")
    if meta.get("version") != VERSION:
        raise ValueError(f"{path} has ROM schema version {meta.get('version')}; this homog "
                         f"reads version {VERSION}")
    materials = {int(p): material_from_config(cfg, f"{path.name}: materials.{p}")
                 for p, cfg in meta["materials"].items()}
    return ReducedOrderModel(arrays["cluster_labels"], arrays["cluster_phases"], arrays["D1"],
                             arrays["D2"], arrays["C_eff"], materials,
                             tuple(arrays["lengths"]), meta.get("info", {}))

