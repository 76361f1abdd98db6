"""The reduced-order model file: one ``.npz`` with arrays and JSON metadata, no pickle.

Layout (schema ``homog.rom`` version 1): arrays ``cluster_labels`` (int32 grid),
``cluster_phases`` (K,), ``D1``, ``D2`` (K, K, m, m), ``C_eff`` (m, m), ``lengths`` (d,), and
``metadata``: a JSON string with the schema, version, materials (``Material.to_config()`` per
phase) and build info. A model built with adaptive clusters adds its hierarchy
(:class:`homog.sca.hierarchy.ClusterHierarchy`): arrays ``hierarchy_fine_labels``,
``hierarchy_fine_phases``, ``hierarchy_D1``, ``hierarchy_D2``, ``hierarchy_children``,
``hierarchy_initial`` and the metadata entry ``adaptive_phases``. Files are written to a
temporary name in the target folder and renamed, so a crash never leaves a half-written model;
they are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from homog.files import atomic_open, check_target, jsonable
from homog.materials.config import material_from_config
from homog.sca.hierarchy import ClusterHierarchy

SCHEMA = "homog.rom"
VERSION = 1
_ARRAYS = ("cluster_labels", "cluster_phases", "D1", "D2", "C_eff", "lengths")
_HIERARCHY = ("fine_labels", "fine_phases", "D1", "D2", "children", "initial")


def save_rom(rom: Any, path: Any) -> Path:
    """Write ``rom`` to ``path`` (``.npz`` added if missing) atomically; returns the path."""
    path = check_target(path, create_folder=True)
    if path.suffix != ".npz":
        path = path.with_suffix(path.suffix + ".npz")
    meta = {"schema": SCHEMA, "version": VERSION,
            "materials": {str(p): m.to_config() for p, m in rom.materials.items()},
            "info": jsonable(rom.info)}
    hierarchy = {}
    if rom.hierarchy is not None:
        meta["adaptive_phases"] = list(rom.hierarchy.adaptive_phases)
        hierarchy = {f"hierarchy_{k}": getattr(rom.hierarchy, k) for k in _HIERARCHY}
        hierarchy["hierarchy_initial"] = rom.nodes  # the model's own cut
    with atomic_open(path, "wb") as f:
        np.savez(f, cluster_labels=rom.cluster_labels, cluster_phases=rom.cluster_phases,
                 D1=rom.D1, D2=rom.D2, C_eff=rom.C_eff,
                 lengths=np.asarray(rom.lengths, dtype=float),
                 metadata=np.asarray(json.dumps(meta)), **hierarchy)
    return path


def read_rom(path: Any) -> dict[str, Any]:
    """The parts of a model written by :func:`save_rom`, as keyword arguments of
    :class:`homog.sca.model.ReducedOrderModel` (see :func:`homog.sca.model.load_rom`), with
    clear errors for anything else."""
    path = Path(path)
    if not path.is_file():
        written = path.with_suffix(path.suffix + ".npz")
        hint = (f" (save writes ROM files with the .npz extension: {written} exists)"
                if written.is_file() else "")
        raise FileNotFoundError(f"no reduced-order model file at {path}{hint}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a readable homog ROM file (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in _ARRAYS + ("metadata",) if k not in data.files]
            if missing:
                raise ValueError(f"{path} is not a homog ROM file (missing {missing})")
            try:  # an object array (pickled) is refused by np.load, never unpickled
                arrays = {k: data[k] for k in _ARRAYS}
                tree = {k: data[f"hierarchy_{k}"] for k in _HIERARCHY
                        if f"hierarchy_{k}" in data.files}
                meta = json.loads(str(data["metadata"]))
            except ValueError as exc:
                raise ValueError(f"{path} is not a readable homog ROM file ({exc})") from None
    except (zipfile.BadZipFile, OSError, EOFError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a readable homog ROM file ({exc})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path} is not a homog ROM file: its metadata is a JSON "
                         f"{type(meta).__name__}, not an object; rebuild it with 'homog build'")
    if meta.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a homog ROM file (schema {meta.get('schema')!r})")
    if meta.get("version") != VERSION:
        raise ValueError(f"{path} has ROM schema version {meta.get('version')!r}; this homog "
                         f"reads version {VERSION}")
    check_arrays(arrays, path)
    configs = meta.get("materials")
    if not isinstance(configs, dict):
        raise ValueError(f"{path}: metadata 'materials' must map phase labels to material "
                         f"tables, got {type(configs).__name__}; rebuild it with 'homog build'")
    try:
        materials = {int(p): material_from_config(cfg, f"{path.name}: materials.{p}")
                     for p, cfg in configs.items()}
    except TypeError as exc:
        raise ValueError(f"{path}: unreadable materials in the metadata ({exc})") from None
    missing = sorted({int(p) for p in arrays["cluster_phases"]} - set(materials))
    if missing:
        raise ValueError(f"{path}: clusters of phase(s) {missing} have no material in the "
                         "metadata; the file is inconsistent: rebuild it with 'homog build'")
    info = meta.get("info", {})
    if not isinstance(info, dict):
        raise ValueError(f"{path}: metadata 'info' must be a JSON object")
    return {"cluster_labels": arrays["cluster_labels"],
            "cluster_phases": arrays["cluster_phases"], "D1": arrays["D1"], "D2": arrays["D2"],
            "C_eff": arrays["C_eff"], "materials": materials,
            "lengths": tuple(float(x) for x in arrays["lengths"]), "info": info,
            "hierarchy": _hierarchy(tree, meta, arrays["cluster_labels"],
                                    arrays["cluster_phases"], path)}


def _hierarchy(tree: dict[str, np.ndarray], meta: dict, cluster_labels: np.ndarray,
               cluster_phases: np.ndarray, path: Any) -> Any:
    """The adaptive-cluster hierarchy stored with a model (None when there is none); its
    adaptive phases must be phases of the model."""
    if not tree:
        return None
    missing = [k for k in _HIERARCHY if k not in tree]
    phases = meta.get("adaptive_phases")
    if missing or not isinstance(phases, list):
        raise ValueError(f"{path} is an inconsistent homog ROM file: its adaptive-cluster "
                         f"hierarchy is incomplete (missing {missing or ['adaptive_phases']}); "
                         "rebuild it with 'homog build'")
    model_phases = sorted({int(p) for p in cluster_phases})
    absent = [p for p in phases if isinstance(p, bool) or not isinstance(p, int)
              or p not in model_phases]
    if absent:
        raise ValueError(f"{path} is an inconsistent homog ROM file: its adaptive_phases "
                         f"{phases} name {absent}: not a phase of the model (its phases "
                         f"are {model_phases}); rebuild it with 'homog build'")
    try:
        if not all(np.all(np.isfinite(v)) for v in tree.values()):
            raise ValueError("non-finite values")
        h = ClusterHierarchy(*(tree[k] for k in _HIERARCHY), tuple(phases))
        if not np.array_equal(h.cut(h.initial)[0], cluster_labels):
            raise ValueError("its initial cut is not the model's clustering")
    except (ValueError, IndexError, TypeError) as exc:
        raise ValueError(f"{path} is an inconsistent homog ROM file: adaptive-cluster "
                         f"hierarchy: {exc}; rebuild it with 'homog build'") from None
    return h


def check_arrays(arrays: dict[str, np.ndarray], path: Any) -> None:
    """Refuse arrays of a ROM file that do not fit together (shapes, dtypes, ranges), before a
    run fails on them: cluster labels ``(*grid)`` with ids 0..K−1, ``cluster_phases`` (K,),
    ``D1``/``D2`` (K, K, m, m), ``C_eff`` (m, m), ``lengths`` (ndim,), all finite."""
    def bad(what: str) -> ValueError:
        return ValueError(f"{path} is an inconsistent homog ROM file: {what}; rebuild it with "
                          "'homog build' (or ReducedOrderModel.save)")

    labels, phases = arrays["cluster_labels"], arrays["cluster_phases"]
    for name, array in arrays.items():
        if not np.issubdtype(array.dtype, np.number):
            raise bad(f"array {name!r} has dtype {array.dtype}, not numbers")
        if not np.all(np.isfinite(array)):
            raise bad(f"array {name!r} holds NaN or infinite values")
    for name in ("cluster_labels", "cluster_phases"):
        if not np.issubdtype(arrays[name].dtype, np.integer):
            raise bad(f"{name} has dtype {arrays[name].dtype}, not integers")
    if labels.ndim not in (2, 3) or labels.size == 0:
        raise bad(f"cluster_labels has shape {labels.shape}, not a 2D or 3D grid")
    m = 3 if labels.ndim == 2 else 6
    K = phases.shape[0] if phases.ndim == 1 else -1
    if K < 1:
        raise bad(f"cluster_phases has shape {phases.shape}, expected (K,) with K >= 1")
    if labels.min() < 0 or labels.max() >= K:
        raise bad(f"cluster labels range over {labels.min()}..{labels.max()} but there are "
                  f"{K} clusters (ids 0..{K - 1})")
    if phases.min() < 0:
        raise bad(f"cluster_phases holds the negative label {phases.min()}")
    for name, shape in (("D1", (K, K, m, m)), ("D2", (K, K, m, m)), ("C_eff", (m, m)),
                        ("lengths", (labels.ndim,))):
        if arrays[name].shape != shape:
            raise bad(f"{name} has shape {arrays[name].shape}, expected {shape} for {K} "
                      f"clusters on a {labels.ndim}D grid")
    if np.any(arrays["lengths"] <= 0):
        raise bad(f"lengths {arrays['lengths'].tolist()} must be positive")
