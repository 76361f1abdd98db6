"""Online stage of a large reduced-order model: wall milliseconds per increment.

The case of issue 14: the 600² fibre RVE of benchmarks/sca.py (30 % fibres), static clusters
210 + 105 (945 unknowns), reference materials, uniaxial stress to 2 % in 20 increments and to
5 % in 200. Prints, per run, ms per increment, Jacobian factorizations and Newton iterations
per increment, and the final σ11. Default thread configuration (nothing set).

    python benchmarks/online.py                       # GMRES steps (large systems, default)
    python benchmarks/online.py --krylov-from 1000000000   # a factorization every iteration
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from homog.cli._options import reference_materials_path
from homog.loading import uniaxial_stress
from homog.sca.model import build_rom

RUNS = ((0.02, 20), (0.05, 200))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=600)
    p.add_argument("--clusters", type=int, nargs=2, default=(210, 105),
                   metavar=("MATRIX", "FIBRES"))
    p.add_argument("--krylov-from", type=int, default=None,
                   help="OnlineSolver.krylov_from (default: the solver's)")
    p.add_argument("--repeat", type=int, default=2, help="timed runs of each path (best kept)")
    args = p.parse_args()
    import rve_gen

    labels = rve_gen.circles(volume_fraction=0.3, radius=0.05, seed=0).voxelize(
        (args.size, args.size))
    rom = build_rom(labels, reference_materials_path(),
                    {0: args.clusters[0], 1: args.clusters[1]}, adaptive=None)
    solvers = []
    make = rom.online_solver

    def capture(**options):  # count the factorizations of the solver each run builds
        if args.krylov_from is not None:
            options["krylov_from"] = args.krylov_from
        solvers.append(make(**options))
        return solvers[-1]

    rom.online_solver = capture
    rom.run(uniaxial_stress(0.02, 3), adaptivity=None)  # warm-up: numba cache, BLAS
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {os.uname().nodename}  size={args.size}² "
          f"clusters={sum(args.clusters)} unknowns={3 * sum(args.clusters)} "
          f"krylov_from={args.krylov_from or 'default'} load {os.getloadavg()[0]:.2f}")
    print(f"{'increments':>10} {'strain':>7} {'ms/inc':>8} {'LU/inc':>7} {'Newton/inc':>10} "
          f"{'final σ11':>10}")
    for strain, n in RUNS:
        best = np.inf
        for _ in range(args.repeat):
            t = time.perf_counter()
            r = rom.run(uniaxial_stress(strain, n), adaptivity=None)
            best = min(best, time.perf_counter() - t)
        lu = solvers[-1].factorizations / n
        newton = int(np.sum(r.iterations)) / n
        print(f"{n:>10} {strain:>7.2f} {1e3 * best / n:>8.1f} {lu:>7.2f} {newton:>10.2f} "
              f"{r.stress[-1, 0]:>10.6f}")
    print(f"# load {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
