"""Files written atomically and durably, and metadata made JSON-serializable.

Every file homog writes (responses, plots, models, RVE images, trained-model reports) goes
through :func:`atomic_open` or :func:`atomic_path` (:mod:`rve_gen.io.atomic`, the one helper of
the distribution: temporary file, fsync, the umask's permissions, rename, folder fsync).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rve_gen.io.atomic import (  # noqa: F401  (re-exported)
    atomic_open,
    atomic_path,
    check_target,
    file_mode,
    fsync_dir,
    fsync_tree,
)


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
