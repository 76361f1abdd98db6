"""Files written atomically and durably: one helper for every file the distribution writes.

The data is written to a temporary file next to the target, flushed to the disk (``fsync``),
renamed over the target, and the folder entry is flushed too. A crash, a Ctrl-C or a power loss
leaves either the old file or the complete new one, never a half-written one. Files get the
permissions the user's umask gives (``0o666 & ~umask``, e.g. 0644), like any file the user
creates. :func:`fsync_tree` makes a folder written by another library (a Zarr group) durable
before it is renamed into place. It lives here, in the lowest package that writes files
(``rve_gen`` imports neither ``kernels`` nor ``homog``); :mod:`homog.files` re-exports it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def file_mode() -> int:
    """Permission bits of a new file under the current umask (``0o666 & ~umask``)."""
    return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask, read from /proc on Linux (no change to the process state), else
    by setting it and putting it back at once."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


@contextmanager
def atomic_open(path: Any, mode: str = "w") -> Iterator[IO]:
    """A temporary file next to ``path``, made durable and moved onto ``path`` on success.

    On leaving the block without an exception the file is flushed and fsynced, given the
    umask's permissions (mkstemp's would be 0600), renamed onto ``path`` with ``os.replace``,
    and the folder is fsynced so that the rename itself survives a power loss. On any
    exception the temporary file is removed and ``path`` is left as it was. ``mode``: "w"
    (text) or "wb" (binary).
    """
    path = check_target(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


@contextmanager
def atomic_path(path: Any) -> Iterator[Path]:
    """:func:`atomic_open` for writers that take a file name: a temporary path next to
    ``path`` (same suffix, so that a writer choosing its format by extension is served) that
    the block writes; then fsynced, given the umask's permissions and renamed onto ``path``."""
    path = check_target(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as file:
            os.fsync(file.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def check_target(path: Any, *, create_folder: bool = False) -> Path:
    """``path`` as a :class:`~pathlib.Path` naming a file to write, checked before any work:
    ValueError for something that is not a path, an empty name, "." or "..", or an existing
    folder; FileNotFoundError naming ``path`` (not a temporary name) when its folder is
    missing, unless ``create_folder`` (then the folder is made)."""
    try:
        path = Path(path)
    except TypeError:
        raise ValueError(f"the output path must be a file name (str or os.PathLike), got "
                         f"{type(path).__name__} {path!r}") from None
    if path.name in ("", ".", "..") or path.is_dir():
        raise ValueError(f"the output path {str(path)!r} names a folder, not a file: give a "
                         "file name")
    if create_folder:
        path.parent.mkdir(parents=True, exist_ok=True)
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"cannot write {path}: the folder {path.parent} does not exist (create it first)")
    return path


def fsync_dir(path: str | os.PathLike) -> None:
    """Flush a folder's entries (new, renamed or removed names) to the disk."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # a platform without directory handles (Windows): nothing to flush
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on folders; their renames are durable
        pass
    finally:
        os.close(fd)


def fsync_tree(path: str | os.PathLike) -> None:
    """Flush every file under ``path`` and then every folder, deepest first, to the disk."""
    for folder, _, names in os.walk(path, topdown=False):
        for name in names:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(folder)
