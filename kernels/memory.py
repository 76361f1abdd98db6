"""Memory estimates, checked before any large allocation."""

from __future__ import annotations

from typing import Any

import psutil

GIB = float(1 << 30)


def available_bytes(xp: Any) -> int:
    """Free memory on the device of array module ``xp`` (host RAM for numpy)."""
    if xp.__name__ == "cupy":
        free, _total = xp.cuda.Device().mem_info
        return int(free)
    return int(psutil.virtual_memory().available)


GRID_ADVICE = "use a coarser grid, a machine with more memory, or another backend"


def check_memory(needed: int, xp: Any, what: str, advice: str = GRID_ADVICE) -> None:
    """Raise ``MemoryError`` naming ``what`` and ``advice`` (what to do; by default about
    the grid) when ``needed`` bytes exceed the free memory."""
    free = available_bytes(xp)
    if needed > free:
        where = "GPU" if xp.__name__ == "cupy" else "RAM"
        raise MemoryError(
            f"{what} needs about {needed / GIB:.2f} GiB but only {free / GIB:.2f} GiB of {where} "
            f"is free: {advice}"
        )
