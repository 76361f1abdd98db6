"""rve_gen benchmark: packing time and highest volume fraction reached, voxelization speed.

    python benchmarks/packing.py

Rows: circles (2D, 200 monodisperse particles), spheres (3D, 1000 monodisperse particles) at
the documented ceiling and at the highest fraction the algorithm reaches (probed above the
ceiling in steps of 0.01 until relaxation fails), and voxelization of 1000 spheres on 256³.
"""

from __future__ import annotations

import time

import numpy as np

import rve_gen
from rve_gen import packing


def radius_for(fraction: float, count: int, ndim: int) -> float:
    unit = np.pi if ndim == 2 else 4.0 / 3.0 * np.pi
    return (fraction / (count * unit)) ** (1.0 / ndim)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def highest(generator, ndim: int, count: int, start: float, max_steps: int):
    """Highest fraction reached from ``start`` upwards in steps of 0.01, and its time."""
    ceiling = packing.MAX_VOLUME_FRACTION[ndim]
    packing.MAX_VOLUME_FRACTION[ndim] = 0.95
    best = (None, None)
    try:
        for fraction in np.arange(start, 0.95, 0.01):
            try:
                _, seconds = timed(
                    generator, fraction, radius_for(fraction, count, ndim), seed=0,
                    max_steps=max_steps,
                )
            except ValueError:
                break
            best = (round(float(fraction), 2), seconds)
    finally:
        packing.MAX_VOLUME_FRACTION[ndim] = ceiling
    return best


def main() -> None:
    rows = []
    for name, generator, ndim, count in (
        ("circles 2D", rve_gen.circles, 2, 200),
        ("spheres 3D", rve_gen.spheres, 3, 1000),
    ):
        for fraction in (0.65 if ndim == 2 else 0.55, packing.MAX_VOLUME_FRACTION[ndim]):
            pack, seconds = timed(generator, fraction, radius_for(fraction, count, ndim), seed=0)
            rows.append((f"{name}, {len(pack)} particles", f"{fraction:.2f}", seconds))
        fraction, seconds = highest(
            generator, ndim, count, packing.MAX_VOLUME_FRACTION[ndim] + 0.01, 20_000
        )
        rows.append((f"{name}, {count} particles, highest reached", f"{fraction}", seconds))
    pack = rve_gen.spheres(0.5, radius_for(0.5, 1000, 3), seed=0)
    pack.voxelize(64)  # warm-up
    ms, seconds = timed(pack.voxelize, 256)
    rows.append((f"voxelize 256³, {len(pack)} spheres (voxel vf {ms.volume_fractions[1]:.4f})",
                 f"{pack.volume_fraction:.2f}", seconds))
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'vol. fraction':>13}  {'time [s]':>8}")
    for case, fraction, seconds in rows:
        print(f"{case:<{width}}  {fraction:>13}  {seconds:8.2f}")


if __name__ == "__main__":
    main()
