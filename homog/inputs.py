"""Inputs shared by the full-field and reduced-order solvers: microstructure and materials."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from homog.materials import Material, from_config
from kernels.arraymodule import to_numpy, whole_number
from kernels.frequency import check_lengths
from kernels.stiffness_field import validate_labels


def labels_and_lengths(microstructure: Any, lengths: Any) -> tuple[np.ndarray, Any]:
    """Integer label grid and RVE lengths from a label array or a microstructure object."""
    if hasattr(microstructure, "labels"):
        if lengths is not None:
            raise ValueError(
                "lengths is only for a plain label array: the microstructure carries its own "
                "lengths (microstructure.lengths)"
            )
        labels, lengths = microstructure.labels, getattr(microstructure, "lengths", None)
    else:
        labels = microstructure
        if labels is None or isinstance(labels, str | bytes | os.PathLike):
            raise ValueError(
                f"microstructure must be an integer label array or an object with .labels "
                f"(e.g. rve_gen.Microstructure; read a file with rve_gen.read), got {labels!r}"
            )
    labels = validate_labels(np.asarray(to_numpy(labels)))
    return labels, None if lengths is None else check_lengths(lengths, labels.ndim)


def check_int(value: Any, name: str, low: int) -> int:
    """``value`` as an int; ValueError naming ``name`` unless it is a whole number >= ``low``
    (an int, or a float or 0-d array of integral value: 3.0, 1e9; not 2.5 or True)."""
    v = whole_number(value, low)
    if v is None:
        raise ValueError(f"{name} = {value!r} must be an integer >= {low}")
    return v


def check_callable(value: Any, name: str, signature: str) -> None:
    """ValueError naming ``name`` unless ``value`` is None or callable."""
    if value is not None and not callable(value):
        raise ValueError(f"{name} must be a callable {signature} or None, got {value!r}")


def stop_requested(stop: Any, strain: np.ndarray, stress: np.ndarray) -> bool:
    """``stop(strain, stress)``, which must answer True or False (a numpy bool too): any other
    value is a mistake in the callable (e.g. a string, truthy whatever it says), refused."""
    answer = stop(strain, stress)
    if not isinstance(answer, bool | np.bool_):
        raise ValueError(f"stop(strain, stress) must return True or False, got {answer!r}")
    return bool(answer)


def materials_for_labels(materials: Any, labels: np.ndarray) -> dict[int, Material]:
    """Materials (mapping or TOML for ``from_config``) checked to cover every label, which
    must be a phase label 0, 1, 2, ... (as in ``rve_gen.Microstructure``)."""
    if isinstance(materials, str | os.PathLike) or (
        isinstance(materials, Mapping) and "phases" in materials
    ):
        materials = from_config(materials)
    if not isinstance(materials, Mapping):
        raise ValueError(
            "materials must be a mapping label -> Material, or a TOML path / dict with a "
            f"'phases' table for homog.materials.from_config; got {type(materials).__name__}"
        )
    out = {}
    for key, value in materials.items():
        if isinstance(key, bool) or not isinstance(key, int | np.integer):
            raise ValueError(f"material keys must be integer phase labels, got {key!r}")
        if not isinstance(value, Material):
            raise ValueError(
                f"material of label {key} is a {type(value).__name__}, not a "
                "homog.materials.Material (e.g. VonMises(...), LinearElastic(...))"
            )
        out[int(key)] = value
    present = np.unique(labels)
    if present[0] < 0:
        raise ValueError(f"labels contain negative values ({int(present[0])}): phase labels are "
                         "0, 1, 2, ...")
    missing = [int(p) for p in present if int(p) not in out]
    if missing:
        raise ValueError(
            f"phase label(s) {missing} occur in the microstructure but have no material; "
            f"materials are given for {sorted(out)}: add a material for every label"
        )
    return out
