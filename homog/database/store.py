"""The database on disk: a Zarr store, one group per sample, complete groups only count.

Layout (schema ``homog.database`` version 1)::

    db.zarr/                      root attributes: schema, version, config (normalized JSON),
                                  fingerprint (SHA-256 of config), homog version
      samples/
        doe-000000/               attributes: status, attempts, origin, index, point, inputs,
                                  seed, outputs, info | error, traceback, elapsed_s, worker,
                                  arrays (names of the arrays)
          strain  (n + 1, 6)      arrays of the labeller (float64 Mandel curves, ...)
          stress  (n + 1, 6)
      .staging/  .trash/          a sample being committed or removed (empty between runs)
      .homog-driver.lock          the writing driver (:mod:`homog.database.lock`)

Commit (:meth:`SampleStore.write`): a sample group is written whole under ``.staging/``
(arrays, then attributes with the final status), every file and folder of it is fsynced, and
the folder is renamed into ``samples/``; a group it replaces (a failure being retried) is
first renamed into ``.trash/``. Removal renames into ``.trash/`` and deletes from there. So
``samples/`` only ever gains whole, durable groups and loses whole groups, and a crash or a
power loss at any moment leaves a state that the next writer repairs when it opens the store
(:meth:`SampleStore.recover`): half-staged groups are deleted, a replaced group whose
successor never arrived is put back (its attempt count with it), and any group under
``samples/`` whose metadata or arrays cannot be read is removed, to be run again. Group names
are the sample identity (``origin-index``), so a sample is never stored twice. Only the driver
process writes, one driver at a time (the lock); workers return records. Nothing is pickled:
arrays are Zarr arrays, everything else JSON attributes.
"""

from __future__ import annotations

import errno
import os
import shutil
import weakref
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from homog.database.config import DatabaseConfig, canonical_json, config_from_data
from homog.database.lock import LOCK_NAME, StoreLock
from homog.files import fsync_dir, fsync_tree, jsonable
from homog.text import counted

SCHEMA = "homog.database"
VERSION = 1
#: Final statuses; any other (or unreadable) group is incomplete.
FINAL = ("complete", "failed")
_ZARR3 = int(zarr.__version__.split(".")[0]) >= 3
#: Files of a group's metadata and attributes (Zarr 3; Zarr 2).
_ROOT_METADATA = ("zarr.json", ".zattrs", ".zgroup")
_STAGING, _TRASH, _REMOVED = ".staging", ".trash", ".removed"


class SampleStore:
    """A database store; build with :meth:`create` (to write) or :meth:`open` (to read).

    A writable store holds the store's lock (:class:`~homog.database.lock.StoreLock`) until
    :meth:`close` (or the end of a ``with`` block, or garbage collection). ``notes``: one line
    per thing opening it found and repaired (a dead driver's lock taken over, a sample put
    back, the design grown).
    """

    def __init__(self, root: Any, path: Path, lock: StoreLock | None = None) -> None:
        self.root = root
        self.path = path
        self.lock = lock
        self.notes: list[str] = []
        self._config: DatabaseConfig | None = None
        if lock is not None:
            weakref.finalize(self, lock.release)

    @classmethod
    def create(cls, path: str | os.PathLike, config: DatabaseConfig) -> SampleStore:
        """Open ``path`` for writing (locked), creating it for ``config`` if it does not exist.

        An existing store must have been created with the same configuration (same
        fingerprint), or with a Sobol design that ``config`` extends (more samples, nothing
        else changed; see :meth:`adopt`); otherwise ValueError lists the differences.
        """
        path = Path(path)
        if not path.exists():
            store = cls._new(path, config)
            if store is not None:
                return store
        store = cls.open(path, writable=True)
        try:
            store.adopt(config)
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def _new(cls, path: Path, config: DatabaseConfig) -> SampleStore | None:
        """A new store at ``path``, or None if another process created it first."""
        from homog import __version__

        if not path.parent.is_dir():
            raise FileNotFoundError(f"cannot create the store {path}: folder {path.parent} does "
                                    "not exist")
        # built under a temporary name (locked) and renamed: a store exists whole or not at all
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        root = zarr.open_group(str(tmp), mode="w")
        root.attrs.put({"schema": SCHEMA, "version": VERSION, "config": config.data,
                        "variable_order": config.names,
                        "fingerprint": config.fingerprint, "homog": __version__,
                        "created": _now()})
        root.require_group("samples")
        lock = StoreLock.acquire(tmp)
        fsync_tree(tmp)
        try:
            os.rename(tmp, path)
        except OSError as exc:
            lock.release()
            shutil.rmtree(tmp, ignore_errors=True)
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                return None  # another driver created it meanwhile: open theirs (and its lock)
            raise
        fsync_dir(path.parent)
        lock.path = path / LOCK_NAME
        store = cls(zarr.open_group(str(path), mode="a"), path, lock)
        store._config = config
        return store

    @classmethod
    def of(cls, store: str | os.PathLike | SampleStore, config: DatabaseConfig) -> SampleStore:
        """``store`` ready to write samples of ``config``: a path goes to :meth:`create`; an
        open store must be writable and made for (or extended to) the same configuration."""
        if not isinstance(store, SampleStore):
            return cls.create(store, config)
        if store.lock is None:
            raise ValueError(f"store {store.path} is open read-only; open it with "
                             "SampleStore.open(path, writable=True)")
        store.adopt(config)
        return store

    @classmethod
    def open(cls, path: str | os.PathLike, *, writable: bool = False) -> SampleStore:
        """An existing store, checked to be a homog database of a version this code reads.

        ``writable``: lock it (:class:`~homog.database.lock.StoreLockedError` if another
        driver holds it) and repair what an interrupted writer left (:meth:`recover`).
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no database store at {path}")
        root = _open_root(path, "r")
        if not writable:
            return cls(root, path)
        lock = StoreLock.acquire(path)
        try:
            store = cls(_open_root(path, "a"), path, lock)
        except BaseException:
            lock.release()
            raise
        if lock.took_over:
            store.notes.append(lock.took_over)
        store.notes += store.recover()
        return store

    def close(self) -> None:
        """Release the lock of a writable store (idempotent; a read-only store: nothing)."""
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> SampleStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def adopt(self, config: DatabaseConfig) -> None:
        """Check that ``config`` may write this store, growing a Sobol design if it asks.

        The same configuration is accepted as is. A Sobol design may grow: a configuration
        that differs only by a larger ``samples`` adds the next points of the same scrambled
        Sobol sequence (the first points do not depend on how many are drawn), and the store
        records the new count. Anything else is a ValueError saying what differs and why.
        """
        recorded = self.root.attrs["config"]
        order = self.root.attrs.get("variable_order")
        if order is None and _ZARR3:  # a store of an earlier homog: Zarr 3 kept the order
            order = list(recorded.get("variables", {}))
        if order is not None and list(order) != config.names:
            raise ValueError(f"store {self.path} was created with the design variables in the "
                             f"order {list(order)}; the configuration lists {config.names}: the "
                             "columns of the design (and so the points of the samples still to "
                             "run) would differ; list them in the store's order")
        if self.root.attrs["fingerprint"] == config.fingerprint:
            self._config = config
            return
        old, new = int(recorded["samples"]), config.samples
        if canonical_json({**recorded, "samples": 0}) != canonical_json(
                {**config.data, "samples": 0}):
            raise ValueError(f"store {self.path} was created with a different configuration "
                             f"({_differences(recorded, config.data)}); resume with the "
                             "original configuration, or use a new store")
        if config.method != "sobol":
            raise ValueError(f"store {self.path} holds a {config.method!r} design of "
                             f"{counted(old, 'sample')} and the configuration asks for {new}: "
                             "only a 'sobol' design can grow (the points of this one depend on "
                             f"the count); keep samples = {old}, or use a new store")
        if new < old:
            raise ValueError(f"store {self.path} holds a Sobol design of {old} samples; "
                             f"samples = {new} would drop some: a design only grows, give "
                             f"samples >= {old}")
        if "explore" in self.root.attrs:
            raise ValueError(f"store {self.path} was explored beyond its base design of "
                             f"{counted(old, 'sample')} (the rounds and baselines are numbered "
                             f"after it), so its design cannot grow; keep samples = {old}, or "
                             "use a new store")
        self.set_attrs(config=config.data, variable_order=config.names,
                       fingerprint=config.fingerprint,
                       grown=[*self.root.attrs.get("grown", []),
                              {"from": old, "to": new, "at": _now()}])
        self._config = config
        self.notes.append(f"{self.path}: the Sobol design grows from {old} to {new} samples")

    def set_attrs(self, **attrs: Any) -> None:
        """Update root attributes and make them durable (the root metadata is fsynced)."""
        self.root.attrs.update(jsonable(attrs))
        for entry in os.scandir(self.path):
            if entry.is_file() and entry.name in _ROOT_METADATA:
                fd = os.open(entry.path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        fsync_dir(self.path)

    @property
    def config(self) -> DatabaseConfig:
        """The configuration the store was created with (or grown to)."""
        if self._config is None:
            # zarr 2 writes attributes with sorted keys: the recorded order of the design
            # variables (the columns of the design) puts them back in the configuration's
            self._config = config_from_data(self.root.attrs["config"],
                                            self.root.attrs.get("variable_order"))
        return self._config

    @property
    def samples(self) -> Any:
        """The Zarr group holding one group per sample."""
        return self.root["samples"]

    def ids(self) -> list[str]:
        """Names of all sample groups, complete or not, sorted (read from the folder, so a
        group with missing or damaged metadata is listed too)."""
        folder = self.path / "samples"
        return sorted(entry.name for entry in os.scandir(folder) if entry.is_dir())

    def scan(self, *, verify: bool = False) -> dict[str, dict[str, Any]]:
        """Attributes of every sample group; unreadable or unfinished ones have
        ``status = "incomplete"``.

        ``verify``: also read every array a complete group lists; a group whose arrays
        cannot be read counts as incomplete (``damaged`` gives the reason).
        """
        out = {}
        for name in self.ids():
            try:
                attrs = dict(self.samples[name].attrs)
            except Exception as exc:  # missing or half-written metadata: not final
                attrs = {"damaged": f"unreadable metadata ({type(exc).__name__})"}
            if attrs.get("status") not in FINAL:
                attrs = {"status": "incomplete", **({"damaged": attrs["damaged"]}
                                                    if "damaged" in attrs else {})}
            elif verify and (problem := self._unreadable_arrays(name, attrs)):
                attrs = {"status": "incomplete", "damaged": problem}
            out[name] = attrs
        return out

    def _unreadable_arrays(self, name: str, attrs: Mapping[str, Any]) -> str | None:
        group = self.samples[name]
        for key in attrs.get("arrays", []):
            try:
                _read_array(group, key, f"{self.path}/samples/{name}")
            except UnsafeArrayError as exc:
                return str(exc)
            except Exception as exc:  # missing or truncated array metadata or chunk
                return f"array {key!r} unreadable ({type(exc).__name__})"
        return None

    def remove_incomplete(self) -> list[str]:
        """Delete the groups that were never committed or are damaged (arrays verified);
        returns their names. Each is removed whole (:meth:`discard`) and runs again."""
        names = [name for name, attrs in self.scan(verify=True).items()
                 if attrs["status"] == "incomplete"]
        for name in names:
            self.discard(name)
        return names

    def recover(self) -> list[str]:
        """Finish or undo what an interrupted writer left under ``.staging/`` and ``.trash/``.

        A staged group never reached ``samples/``: deleted (its sample runs again). A group in
        the trash that was being removed (``*.removed``), or whose sample is back in
        ``samples/``, is deleted. One whose sample is missing was being replaced: put back, so
        the sample keeps its attempt count.
        Returns one note per group put back. Idempotent: a crash inside it is repaired by the
        next call.
        """
        notes = []
        staging = self.path / _STAGING
        for entry in (os.scandir(staging) if staging.is_dir() else ()):
            _remove(Path(entry.path))
        trash = self.path / _TRASH
        if trash.is_dir():
            for entry in sorted(os.scandir(trash), key=lambda e: e.name):
                target = self.path / "samples" / entry.name
                if entry.name.endswith(_REMOVED) or target.exists():
                    shutil.rmtree(entry.path)
                else:
                    os.rename(entry.path, target)
                    notes.append(f"{self.path}: sample {entry.name} put back from an "
                                 "interrupted replacement")
            fsync_dir(self.path / "samples")
        return notes

    def discard(self, name: str) -> None:
        """Remove the sample group ``name`` whole: renamed into ``.trash/`` (as
        ``name.removed``, never put back), then deleted."""
        self._set_aside(name, name + _REMOVED)
        fsync_dir(self.path / "samples")
        shutil.rmtree(self.path / _TRASH / (name + _REMOVED))

    def write(self, spec: Mapping[str, Any], record: Mapping[str, Any], attempts: int) -> None:
        """Commit one sample: staged whole (arrays, then attributes), fsynced, renamed in.

        ``spec``: the sample specification; ``record``: what :func:`~homog.database.sample.
        execute` returned; ``attempts``: how many times the sample has now been run. A previous
        group of the same sample (a failure being retried) is replaced; until the new group
        is in place, the old one (with its attempt count) is what a crash leaves.
        """
        if self.lock is None:
            raise ValueError(f"store {self.path} is open read-only; open it with "
                             "SampleStore.open(path, writable=True)")
        name = spec["id"]
        staged = self.path / _STAGING / name
        _remove(staged)
        staged.parent.mkdir(exist_ok=True)
        group = zarr.open_group(str(staged), mode="w")
        arrays = record.get("arrays", {})
        for key, array in arrays.items():
            _write_array(group, key, np.ascontiguousarray(array))
        attrs = {"status": record["status"], "attempts": int(attempts),
                 "origin": spec["origin"], "index": int(spec["index"]),
                 "point": list(spec["point"]), "inputs": dict(spec["inputs"]),
                 "seed": int(spec["seed"]), "elapsed_s": float(record["elapsed_s"]),
                 "worker": record.get("worker", ""), "written": _now(),
                 "arrays": sorted(arrays)}
        if "round" in spec:
            attrs["round"] = int(spec["round"])
        if record["status"] == "complete":
            attrs["outputs"] = dict(record["outputs"])
            attrs["info"] = jsonable(record.get("info", {}))
        else:
            attrs["error"] = str(record["error"])
            attrs["traceback"] = str(record.get("traceback", ""))
        group.attrs.put(jsonable(attrs))
        fsync_tree(staged)
        if (self.path / "samples" / name).exists():
            self._set_aside(name)
        self._install(staged, name)

    def _set_aside(self, name: str, as_name: str | None = None) -> None:
        """Move the group ``name`` into the trash as ``as_name`` (default ``name``: the first
        half of a replacement, put back if the second half never happens)."""
        trash = self.path / _TRASH / (as_name or name)
        trash.parent.mkdir(exist_ok=True)
        _remove(trash)
        os.rename(self.path / "samples" / name, trash)

    def _install(self, staged: Path, name: str) -> None:
        """Rename a staged group into ``samples/`` and empty the trash of its predecessor."""
        os.rename(staged, self.path / "samples" / name)
        fsync_dir(self.path / "samples")
        _remove(self.path / _TRASH / name)

    def sample(self, name: str) -> dict[str, Any]:
        """Attributes and arrays (numpy) of one sample group."""
        group = self.samples[name]
        out = dict(group.attrs)
        out["arrays"] = {key: _read_array(group, key, f"{self.path}/samples/{name}")
                         for key in sorted(group.array_keys())}
        return out

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids())


def _remove(path: Path) -> None:
    """Delete the folder ``path`` if it exists."""
    if path.exists():
        shutil.rmtree(path)


def _open_root(path: Path, mode: str) -> Any:
    """The root group of a homog database at ``path`` (ValueError if it is none)."""
    try:
        root = zarr.open_group(str(path), mode=mode)
        attrs = dict(root.attrs)
    except Exception as exc:  # zarr raises various errors for a non-Zarr folder
        raise ValueError(f"{path} is not a readable Zarr store ({exc})") from None
    if attrs.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a homog database (schema {attrs.get('schema')!r})")
    if attrs.get("version") != VERSION:
        raise ValueError(f"{path} has database schema version {attrs.get('version')}; this "
                         f"homog reads version {VERSION}")
    return root


class UnsafeArrayError(ValueError):
    """A store array that homog does not read: not numeric, or encoded with pickle."""


def _read_array(group: Any, key: str, where: str) -> np.ndarray:
    """The numpy array ``key`` of ``group``, read only if it is numeric and free of pickle
    codecs: a store is a user file, and Zarr 2 with numcodecs < 0.15 unpickles the chunks of
    an array whose filters or object codec say "pickle" (homog writes plain numeric arrays
    only)."""
    array = group[key]
    compressors = (getattr(array, "compressors", None) or () if _ZARR3
                   else [getattr(array, "compressor", None)])
    codecs = [*(getattr(array, "filters", None) or ()), *compressors]
    names = [str(getattr(codec, "codec_id", type(codec).__name__)).lower()
             for codec in codecs if codec is not None]
    if np.dtype(array.dtype).kind not in "biufc" or any("pickle" in n for n in names):
        raise UnsafeArrayError(
            f"{where}/{key} is a {array.dtype} array with codecs {names}: homog reads numeric "
            "arrays without pickle codecs only (reading this one could run code)")
    return np.asarray(array[...])


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
