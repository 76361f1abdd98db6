"""The database on disk: a Zarr store, one group per sample, complete groups only count.

Layout (schema ``homog.database`` version 1)::

    db.zarr/                      root attributes: schema, version, config (normalized JSON),
                                  fingerprint (SHA-256 of config), homog version
      samples/
        doe-000000/               attributes: status, attempts, origin, index, point, inputs,
                                  seed, outputs, info | error, traceback, elapsed_s, worker
          strain  (n + 1, 6)      arrays of the labeller (float64 Mandel curves, ...)
          stress  (n + 1, 6)

A sample group is created with ``status = "writing"``, its arrays are written, and its
attributes are replaced last with ``status = "complete"`` (or ``"failed"``). Zarr writes each
metadata document atomically (temporary file + rename), so a crash at any moment leaves either
a complete group or one whose status is not final; :meth:`SampleStore.remove_incomplete` deletes
those before work resumes. Group names are the sample identity (``origin-index``), so a sample
is never stored twice. Only the driver process writes; workers return records.
Nothing is pickled: arrays are Zarr arrays, everything else JSON attributes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from homog.database.config import DatabaseConfig, canonical_json, config_from_data
from homog.files import jsonable

SCHEMA = "homog.database"
VERSION = 1
#: Final statuses; any other (or unreadable) group is incomplete.
FINAL = ("complete", "failed")
_ZARR3 = int(zarr.__version__.split(".")[0]) >= 3


class SampleStore:
    """A database store; build with :meth:`create` (to write) or :meth:`open` (to read)."""

    def __init__(self, root: Any, path: Path) -> None:
        self.root = root
        self.path = path
        self._config: DatabaseConfig | None = None

    @classmethod
    def create(cls, path: str | os.PathLike, config: DatabaseConfig) -> SampleStore:
        """Open ``path`` for writing, creating it for ``config`` if it does not exist.

        An existing store must have been created with the same configuration (same
        fingerprint); otherwise ValueError lists the differences.
        """
        path = Path(path)
        if path.exists():
            store = cls.open(path, writable=True)
            if store.root.attrs["fingerprint"] != config.fingerprint:
                raise ValueError(
                    f"store {path} was created with a different configuration "
                    f"({_differences(store.root.attrs['config'], config.data)}); resume with "
                    "the original configuration, or use a new store")
            store._config = config
            return store
        from homog import __version__

        # built under a temporary name and renamed: a store either exists whole or not at all
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        root = zarr.open_group(str(tmp), mode="w")
        root.attrs.put({"schema": SCHEMA, "version": VERSION, "config": config.data,
                        "fingerprint": config.fingerprint, "homog": __version__,
                        "created": _now()})
        root.require_group("samples")
        os.rename(tmp, path)
        store = cls(zarr.open_group(str(path), mode="a"), path)
        store._config = config
        return store

    @classmethod
    def of(cls, store: str | os.PathLike | SampleStore, config: DatabaseConfig) -> SampleStore:
        """``store`` ready to write samples of ``config``: a path goes to :meth:`create`; an
        open store must be writable and made for the same configuration."""
        if not isinstance(store, SampleStore):
            return cls.create(store, config)
        if store.root.attrs["fingerprint"] != config.fingerprint:
            raise ValueError(f"store {store.path} was created with a different configuration "
                             f"({_differences(store.root.attrs['config'], config.data)})")
        if getattr(store.root, "read_only", False):
            raise ValueError(f"store {store.path} is open read-only; open it with "
                             "SampleStore.open(path, writable=True)")
        return store

    @classmethod
    def open(cls, path: str | os.PathLike, *, writable: bool = False) -> SampleStore:
        """An existing store, checked to be a homog database of a version this code reads."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no database store at {path}")
        try:
            root = zarr.open_group(str(path), mode="a" if writable else "r")
            attrs = dict(root.attrs)
        except Exception as exc:  # zarr raises various errors for a non-Zarr folder
            raise ValueError(f"{path} is not a readable Zarr store ({exc})") from None
        if attrs.get("schema") != SCHEMA:
            raise ValueError(f"{path} is not a homog database (schema {attrs.get('schema')!r})")
        if attrs.get("version") != VERSION:
            raise ValueError(f"{path} has database schema version {attrs.get('version')}; this "
                             f"homog reads version {VERSION}")
        return cls(root, path)

    @property
    def config(self) -> DatabaseConfig:
        """The configuration the store was created with."""
        if self._config is None:
            self._config = config_from_data(self.root.attrs["config"])
        return self._config

    @property
    def samples(self) -> Any:
        """The Zarr group holding one group per sample."""
        return self.root["samples"]

    def ids(self) -> list[str]:
        """Names of all sample groups, complete or not, sorted."""
        return sorted(self.samples.group_keys())

    def scan(self) -> dict[str, dict[str, Any]]:
        """Attributes of every sample group; unreadable or unfinished ones have
        ``status = "incomplete"``."""
        out = {}
        for name in self.ids():
            try:
                attrs = dict(self.samples[name].attrs)
            except Exception:  # half-written metadata: the group is not final
                attrs = {}
            if attrs.get("status") not in FINAL:
                attrs = {"status": "incomplete"}
            out[name] = attrs
        return out

    def remove_incomplete(self) -> list[str]:
        """Delete the groups that were never committed; returns their names."""
        names = [name for name, attrs in self.scan().items() if attrs["status"] == "incomplete"]
        for name in names:
            del self.samples[name]
        return names

    def write(self, spec: Mapping[str, Any], record: Mapping[str, Any], attempts: int) -> None:
        """Commit one sample: the group, its arrays, then its attributes (status last).

        ``spec``: the sample specification; ``record``: what :func:`~homog.database.sample.
        execute` returned; ``attempts``: how many times the sample has now been run. A previous
        group of the same sample (a failure being retried) is replaced.
        """
        name = spec["id"]
        if name in self.samples:
            del self.samples[name]
        group = self.samples.create_group(name)
        group.attrs.put({"status": "writing"})
        for key, array in record.get("arrays", {}).items():
            _write_array(group, key, np.ascontiguousarray(array))
        attrs = {"status": record["status"], "attempts": int(attempts),
                 "origin": spec["origin"], "index": int(spec["index"]),
                 "point": list(spec["point"]), "inputs": dict(spec["inputs"]),
                 "seed": int(spec["seed"]), "elapsed_s": float(record["elapsed_s"]),
                 "worker": record.get("worker", ""), "written": _now()}
        if "round" in spec:
            attrs["round"] = int(spec["round"])
        if record["status"] == "complete":
            attrs["outputs"] = dict(record["outputs"])
            attrs["info"] = jsonable(record.get("info", {}))
        else:
            attrs["error"] = str(record["error"])
            attrs["traceback"] = str(record.get("traceback", ""))
        group.attrs.put(jsonable(attrs))

    def sample(self, name: str) -> dict[str, Any]:
        """Attributes and arrays (numpy) of one sample group."""
        group = self.samples[name]
        out = dict(group.attrs)
        out["arrays"] = {key: np.asarray(group[key][...]) for key in sorted(group.array_keys())}
        return out

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids())


def _write_array(group: Any, name: str, data: np.ndarray) -> None:
    if _ZARR3:
        array = group.create_array(name, shape=data.shape, dtype=data.dtype,
                                   chunks=data.shape or None)
        array[...] = data
    else:  # zarr 2.16+
        group.create_dataset(name, data=data, chunks=data.shape or None)


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    a, b = _flatten(old), _flatten(new)
    keys = sorted(k for k in set(a) | set(b)
                  if canonical_json(a.get(k)) != canonical_json(b.get(k)))
    shown = [f"{k}: {a.get(k, '(absent)')!r} -> {b.get(k, '(absent)')!r}" for k in keys[:5]]
    more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
    return "; ".join(shown) + more


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, Mapping):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: tree}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
