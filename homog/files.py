"""Files written atomically, and metadata made JSON-serializable.

Every file homog writes (responses, plots, models, trained-model reports) goes through
:func:`atomic_open`: a crash or Ctrl-C leaves either the old file or the complete new one,
never a half-written one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np


@contextmanager
def atomic_open(path: Any, mode: str = "w") -> Iterator[IO]:
    """A temporary file next to ``path``, moved onto ``path`` with ``os.replace`` on success.

    The file gets ordinary permissions (0644, not mkstemp's 0600); on any exception the
    temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as file:
            yield file
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars and arrays turned into Python numbers and lists, tuples into
    lists and dict keys into strings, recursively (for ``json.dumps`` and Zarr attributes)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj
