"""One driver per store: an exclusive lock file inside the store.

A driver (``homog database run``/``explore``, or :func:`~homog.database.run_database`) holds
``<store>/.homog-driver.lock`` while it writes. The lock is an ``flock`` on that file, which
the kernel releases when the holder exits, however it exits (SIGKILL included); the file
records the holder (host, pid, start time, command) so that a refused driver can say who
holds the store. A driver that finds a record but gets the lock knows the previous driver
died without releasing it (killed, or its machine lost power) and takes the store over,
saying so. On a file system without ``flock`` (some Lustre or NFS mounts) the record alone
decides: a live pid on this host holds the store, a dead one is taken over, and a record
from another host is trusted until the user deletes the file.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the record alone decides
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".homog-driver.lock"
#: errno values of a file system that does not implement flock.
_NO_FLOCK = (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL)


class StoreLockedError(ValueError):
    """Another live driver writes the store."""


class StoreLock:
    """The exclusive write lock of one store, held from :meth:`acquire` to :meth:`release`.

    ``took_over``: a one-line note when the previous holder had died without releasing it
    (else None).
    """

    def __init__(self, fd: int, path: Path, took_over: str | None) -> None:
        self.fd: int | None = fd
        self.path = path
        self.took_over = took_over

    @classmethod
    def acquire(cls, store: Path) -> StoreLock:
        """Lock ``store`` (a folder) for this process or raise :class:`StoreLockedError`."""
        path = store / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise ValueError(f"cannot lock the store {store} for writing ({exc.strerror}): a "
                             "run needs write access to the store's folder; copy the store "
                             "somewhere writable, or only read it (summary, train)") from None
        try:
            holder = _read(fd)
            if not _flock(fd) and holder and _alive(holder):
                raise StoreLockedError(_refusal(store, holder, path, flock=False))
        except StoreLockedError:
            os.close(fd)
            raise
        except BlockingIOError:
            os.close(fd)
            raise StoreLockedError(_refusal(store, _read_path(path), path, flock=True)) from None
        took_over = None
        if holder:
            took_over = (f"{store}: taking over from driver {_describe(holder)}, which ended "
                         "without releasing the store (killed or crashed); its unfinished "
                         "samples are cleaned up and run again")
        record = {"host": socket.gethostname(), "pid": os.getpid(),
                  "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "command": " ".join(sys.argv)[:300]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        os.fsync(fd)
        return cls(fd, path, took_over)

    def release(self) -> None:
        """Clear the record and unlock (idempotent)."""
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        try:
            os.ftruncate(fd, 0)
            os.fsync(fd)
        finally:
            os.close(fd)  # closing the descriptor drops the flock


def _flock(fd: int) -> bool:
    """Take the flock without waiting: True if taken, False if the file system has none;
    BlockingIOError if another process holds it."""
    if fcntl is None:  # pragma: no cover - Windows
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise
    except OSError as exc:
        if exc.errno in _NO_FLOCK:
            return False
        raise
    return True


def _read(fd: int) -> dict[str, Any]:
    """The holder record in the lock file ({} if empty or unreadable)."""
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_path(path: Path) -> dict[str, Any]:
    fd = os.open(path, os.O_RDONLY)
    try:
        return _read(fd)
    finally:
        os.close(fd)


def _alive(holder: dict[str, Any]) -> bool:
    """Whether the recorded holder may still run (a pid on another host: assume so)."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder.get("pid", -1)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True  # a process of another user has that pid: leave the store alone
    return True


def _describe(holder: dict[str, Any]) -> str:
    return (f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} (started "
            f"{holder.get('started', '?')}: {holder.get('command', '?')})")


def _refusal(store: Path, holder: dict[str, Any], path: Path, *, flock: bool) -> str:
    text = (f"store {store} is in use by another driver, {_describe(holder)}; one driver "
            "writes a store at a time: wait for it to finish (or stop it) and run again, or "
            "use another --store")
    if not flock:
        text += (f". This file system has no file locks, so if that driver is gone, delete "
                 f"{path} and run again")
    return text
