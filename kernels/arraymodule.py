"""Array-module dispatch: one code path for numpy (CPU) and cupy (GPU).

Every numerical routine works out ``xp`` from its input arrays with :func:`array_module` and
writes its expressions with ``xp.``; nothing is duplicated for the GPU (DESIGN.md §2).
"""

from __future__ import annotations

from types import ModuleType

import numpy as np


def array_module(*arrays: object) -> ModuleType:
    """``cupy`` if any argument is a cupy array, else ``numpy``."""
    for a in arrays:
        if type(a).__module__.startswith("cupy"):
            import cupy

            return cupy
    return np


def holds_device_arrays(tree: object) -> bool:
    """True if ``tree`` (an array, or dicts, lists and tuples of them) holds a cupy array."""
    if isinstance(tree, dict):
        return any(holds_device_arrays(v) for v in tree.values())
    if isinstance(tree, list | tuple):
        return any(holds_device_arrays(v) for v in tree)
    return type(tree).__module__.startswith("cupy")


def to_numpy(a: object) -> np.ndarray:
    """A host (numpy) copy of a numpy or cupy array; numpy arrays pass through."""
    if type(a).__module__.startswith("cupy"):
        return a.get()
    return np.asarray(a)


def real_scalar(value: object) -> float | None:
    """``float(value)`` for a real number or a 0-d real array (numpy or cupy), else None
    (bools, strings, complex numbers, arrays)."""
    if isinstance(value, bool | str | bytes) or getattr(value, "ndim", 0) != 0:
        return None
    kind = getattr(getattr(value, "dtype", None), "kind", "f")
    if kind not in "iuf":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def whole_number(value: object, low: int) -> int | None:
    """``int(value)`` for a whole number >= ``low`` (an int, or a float or 0-d array of
    integral value: 3.0, 1e9; not a bool, 2.5 or inf), else None."""
    v = real_scalar(value)
    if v is None or not np.isfinite(v) or not v.is_integer() or v < low:
        return None
    return int(v)


def gpu_available() -> bool:
    """True when CuPy imports and sees at least one usable CUDA device."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # any import or driver failure means "no usable GPU"
        return False
