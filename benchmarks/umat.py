"""Throughput of the ROM as a batched UMAT (point-increments per second).

3D RVE of 20 % spheres (32³, reference materials of homog/data/reference_materials.toml),
ROMs with 8, 16 and 64 clusters; every point gets its own random strain-rate direction
(norm 0.05 % per increment, so the matrix yields after ~10 increments) and is advanced through
``--increments`` increments by ``umat.batch`` — the FE² pattern. The first half of the
increments ("elastic": the first increment, which refits the reference medium from C_eff,
and the onset of yield) and the second half ("plastic") are timed separately; "LU/pt-inc"
counts the Jacobian factorizations per point-increment (CPU path), from the solver's
``factorizations`` counter. Times are wall times in the default thread configuration;
the header prints the load average, which should be below ~1 for a figure worth recording.

    python benchmarks/umat.py --clusters 16 --points 300     # the issue-14 case
    python benchmarks/umat.py                         # CPU, 10³ and 10⁴ points
    python benchmarks/umat.py --points 1000 10000 100000 --array cupy   # GPU
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from homog.cli._options import reference_materials_path
from homog.sca.model import build_rom

CLUSTERS = {8: {0: 5, 1: 3}, 16: {0: 10, 1: 6}, 64: {0: 40, 1: 24}}


def rom_for(clusters: int, size: int):
    import rve_gen

    ms = rve_gen.spheres(volume_fraction=0.2, radius=0.15, seed=0).voxelize((size,) * 3)
    return build_rom(ms, reference_materials_path(), CLUSTERS[clusters], seed=0, adaptive=None)


def run(umat, npoints: int, increments: int, xp) -> dict:
    rng = np.random.default_rng(1)
    direction = rng.normal(size=(npoints, 6))
    direction[:, :3] -= 0.7 * direction[:, :3].mean(axis=1, keepdims=True)  # mostly deviatoric
    dstran = xp.asarray(5e-4 * direction / np.linalg.norm(direction, axis=1, keepdims=True))
    stress, stran = xp.zeros((npoints, 6)), xp.zeros((npoints, 6))
    statev = umat.initial_statev(npoints, xp=xp)
    times, failed = [], 0
    start = umat.solver.factorizations
    for _ in range(increments):
        t = time.perf_counter()
        stress, statev, ddsdde, ok = umat.batch(stress, statev, stran, dstran)
        if xp is not np:
            xp.cuda.Device().synchronize()
        times.append(time.perf_counter() - t)
        failed += int((~ok).sum())
        stran = stran + dstran
    times = np.array(times)
    half = increments // 2
    return {"points": npoints, "elastic_rate": npoints * half / times[:half].sum(),
            "plastic_rate": npoints * (increments - half) / times[half:].sum(),
            "rate": npoints * increments / times.sum(), "failed": failed,
            "factorizations": (umat.solver.factorizations - start) / (npoints * increments)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, nargs="+", default=[8, 16, 64],
                        choices=sorted(CLUSTERS))
    parser.add_argument("--points", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--increments", type=int, default=20)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--array", choices=["numpy", "cupy"], default="numpy")
    args = parser.parse_args()
    if args.array == "cupy":
        import cupy as xp
    else:
        xp = np
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.node()} {platform.processor()} "
          f"array={args.array} increments={args.increments} size={args.size}³ "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"{'clusters':>8} {'points':>8} {'elastic/s':>11} {'plastic/s':>11} {'all/s':>11} "
          f"{'LU/pt-inc':>9} {'failed':>6}")
    for k in args.clusters:
        umat = rom_for(k, args.size).umat()
        umat.batch(*(xp.zeros((2, 6)),) * 1, umat.initial_statev(2, xp=xp), xp.zeros((2, 6)),
                   xp.full((2, 6), 1e-4))  # warm up (numba, cuBLAS handles)
        for n in args.points:
            r = run(umat, n, args.increments, xp)
            lu = f"{r['factorizations']:>9.2f}" if xp is np else f"{'-':>9}"
            print(f"{k:>8} {n:>8} {r['elastic_rate']:>11.0f} {r['plastic_rate']:>11.0f} "
                  f"{r['rate']:>11.0f} {lu} {r['failed']:>6}", flush=True)
    print(f"# load {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
