"""DNS to failure, as a database labels a sample: with and without the Newton stall test.

The example database's materials and path (``homog database example fibres``: von Mises
matrix with non-local damage, elastic fibres, uniaxial stress in steps of 0.1 % to failure
at 50 % of the peak) on 200² RVEs of ``rve_gen.circles``; each design sets the fibre
fraction, radius, matrix σy0, softening strain s and the packing seed. Every design runs
with ``stall_iterations="auto"`` (the default: a sub-step is cut after 8 Newton iterations
without a new lowest residual, :mod:`kernels.nonlinear`) and with None (no stall test, the
behaviour before 2026-12-01), one after the other in the default thread configuration.

    python benchmarks/dns_failure.py
    python benchmarks/dns_failure.py --size 100 --designs "0.3 0.06 0.5 0.04 1"

Prints per run the wall and Krylov times, Newton and Krylov iterations, the GMRES switch
(increment) if any, and the failure metrics, whose agreement between the two runs is the
check that the stall test cuts only sub-steps that would not have converged.
"""

from __future__ import annotations

import argparse
import os
import time

import tomllib

import rve_gen
from homog.database.config import loading_path
from homog.database.examples import example_config
from homog.failure import failure_metrics, run_to_failure
from homog.materials import from_config

#: fibre fraction, radius, matrix σy0, softening strain, packing seed
DESIGNS = ("0.3 0.06 0.5 0.04 1", "0.2 0.05 0.7 0.025 2", "0.4 0.07 0.4 0.06 3",
           "0.25 0.045 0.6 0.03 4")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=200)
    p.add_argument("--designs", nargs="+", default=DESIGNS,
                   help='"fraction radius sigma_y0 softening_strain seed" per design')
    args = p.parse_args()
    config = tomllib.loads(example_config("fibres"))
    path = loading_path(config["loading"])
    drop = config["failure"]["drop"]
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {os.uname().nodename} size={args.size}² "
          f"default thread configuration, load {os.getloadavg()[0]:.2f}")
    print(f"{'design':>24} {'stall':>5} {'wall s':>7} {'Krylov s':>8} {'Newton':>6} "
          f"{'Krylov':>7} {'GMRES at':>8} {'toughness':>11} {'peak':>9} {'failure e':>9}")
    for design in args.designs:
        fraction, radius, sigma_y0, softening, seed = design.split()
        matrix = dict(config["materials"]["matrix"], softening_strain=float(softening))
        matrix["hardening"] = dict(matrix["hardening"], sigma_y0=float(sigma_y0))
        materials = from_config({"phases": {0: matrix, 1: config["materials"]["fibre"]}})
        labels = rve_gen.circles(volume_fraction=float(fraction), radius=float(radius),
                                 min_gap=config["microstructure"]["min_gap"],
                                 seed=int(seed)).voxelize((args.size, args.size))
        for stall in ("auto", None):
            start = time.perf_counter()
            r = run_to_failure(labels, path, drop=drop, materials=materials,
                               stall_iterations=stall)
            wall = time.perf_counter() - start
            m = failure_metrics(r, drop=drop)
            print(f"{design:>24} {str(stall):>5} {wall:7.1f} {r.info['cg_time_s']:8.1f} "
                  f"{int(r.iterations.sum()):6d} {int(sum(r.info['cg_iterations'])):7d} "
                  f"{str(r.info.get('krylov_switch', '-')):>8} {m.toughness:11.8f} "
                  f"{m.peak_stress:9.6f} {m.failure_strain:9.6f}", flush=True)


if __name__ == "__main__":
    main()
