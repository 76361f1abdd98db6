"""The summary table of a database: one row per sample, inputs and scalar outputs.

Columns, in order: ``id`` (the index), ``origin``, ``index``, ``round`` (explored samples),
``status`` ("complete", "failed" or "incomplete"), ``attempts``, one column per design
variable (its dotted path, physical value), one per output (``toughness``, ...; NaN for a
failed sample), ``error``, ``elapsed_s`` (seconds inside the worker) and ``worker``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from homog.database.config import DatabaseConfig, sample_origin
from homog.database.store import SampleStore
from homog.materials import material_from_config
from homog.sca.hierarchy import phase_kind

_LEADING = ["origin", "index", "round", "status", "attempts"]
_TRAILING = ["error", "elapsed_s", "worker"]


def summary_table(store: str | os.PathLike | SampleStore) -> pd.DataFrame:
    """The summary DataFrame of a store (path or open store), indexed by sample id."""
    if not isinstance(store, SampleStore):
        store = SampleStore.open(store)
    names = store.config.names
    rows, outputs = [], {}
    for sample, attrs in store.scan().items():
        row: dict[str, Any] = {"id": sample, "status": attrs["status"]}
        if attrs["status"] != "incomplete":
            row.update({key: attrs.get(key) for key in _LEADING[:3] + _TRAILING})
            row["attempts"] = attrs.get("attempts")
            row.update(attrs.get("inputs", {}))
            for key, value in attrs.get("outputs", {}).items():
                outputs[key] = None
                row[key] = value
        rows.append(row)
    columns = ["id"] + _LEADING + names + list(outputs) + _TRAILING
    table = pd.DataFrame(rows, columns=columns).set_index("id")
    for key in list(outputs) + ["elapsed_s"]:
        table[key] = pd.to_numeric(table[key], errors="coerce").astype(float)
    for key in ("index", "round", "attempts"):
        table[key] = table[key].astype("Int64")
    return table


def export_table(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``table`` to ``.csv`` or ``.parquet`` (needs pyarrow) by extension; the path."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table.to_csv(path)
    elif suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ValueError("writing Parquet needs pyarrow: pip install 'homog[parquet]', or "
                             "write a .csv instead") from None
        table.to_parquet(path)
    else:
        raise ValueError(f"{path}: the summary table is written as .csv or .parquet")
    return path


#: Outputs measured up to failure: a sample that did not fail by the end of its load path
#: only bounds them from below (right-censored), so it is left out of their training data.
CENSORED_TARGETS = ("toughness", "failure_strain")
#: Outputs measured at the peak: a sample whose stress was still at its maximum at the end of
#: its path (``peaked`` 0; e.g. a reduced model that locked and kept hardening) only bounds
#: them from below, so it is left out of their training data.
PEAK_TARGETS = ("peak_stress", "strain_at_peak")


def unvalidated_target(config: DatabaseConfig, target: str) -> str | None:
    """Why the store's ``target`` should not be learned, or None.

    The toughness and failure strain of a softening material, labelled by the reduced-order
    model (``[rom] labeller = "sca"``, the default), come from the ROM's post-peak branch,
    which does not follow the DNS (docs/database.md, "Checking the labels against the DNS";
    docs/adaptive.md): those labels are no training data for a toughness model.
    """
    if target not in CENSORED_TARGETS or config.data["rom"].get("labeller", "sca") != "sca":
        return None
    softening = []
    for name, table in sorted(config.data["materials"].items()):
        material = material_from_config(table, f"materials.{name}")
        if phase_kind(material) == "softening" and material.max_damage > 0:
            softening.append(name)
    if not softening:
        return None
    return (f"{target} labelled by the reduced-order model of a softening material "
            f"({', '.join(softening)}): its post-peak branch does not follow the full-field "
            "solution (measured on the example database's design space: toughness R² -19.6 "
            "against the DNS over 60 designs, median error 52 %; docs/database.md). Label it "
            "with [rom] labeller = \"dns\", and use the ROM for the peak stress")


def censored(table: pd.DataFrame, target: str) -> pd.DataFrame:
    """The complete samples whose ``target`` is censored: for :data:`CENSORED_TARGETS` they
    did not fail (``failed`` 0), for :data:`PEAK_TARGETS` their stress had not peaked
    (``peaked`` 0; stores written before that output had no such column: none)."""
    flag = ("failed" if target in CENSORED_TARGETS else
            "peaked" if target in PEAK_TARGETS else None)
    if flag is None or flag not in table.columns:
        return table.iloc[:0]
    return table[(table["status"] == "complete") & (table[flag] != 1.0)]


def training_data(table: pd.DataFrame, names: list[str], target: str,
                  origins: tuple[str, ...] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Complete samples with a finite ``target``: (their rows, the target values). For a
    target of :data:`CENSORED_TARGETS` (:data:`PEAK_TARGETS`), samples that did not fail (whose
    stress had not peaked) are left out (:func:`censored`): their value is the path's, not the
    material's. ``origins`` that no sample of the table has, or that leave none of those
    samples, are a ValueError naming theirs."""
    if target not in table.columns or target in names or target in _LEADING + _TRAILING:
        outputs = [c for c in table.columns if c not in names + _LEADING + _TRAILING]
        raise ValueError(f"target {target!r} is not an output of this database; outputs: "
                         f"{outputs}")
    rows = table[(table["status"] == "complete") & np.isfinite(table[target])]
    rows = rows.drop(index=censored(table, target).index, errors="ignore")
    if origins is not None:
        # an origin no sample has is a mistake (a typo); one whose samples all failed or are
        # unfinished only is refused when it leaves nothing to learn from
        known = {sample_origin(name) for name in table.index}
        unknown = [origin for origin in origins if origin not in known]
        kept = rows[rows["origin"].isin(origins)]
        if unknown or (kept.empty and not rows.empty):
            present = ", ".join(map(repr, sorted(rows["origin"].unique()))) or "(none yet)"
            raise ValueError(f"no complete sample with a finite {target!r} has origin "
                             f"{' or '.join(map(repr, unknown or origins))}; those samples "
                             f"have origin {present}: choose among these")
        rows = kept
    return rows, rows[target].to_numpy(dtype=float)
