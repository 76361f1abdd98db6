"""Nonlinear full-field (DNS) benchmark: a 2D fibre RVE under uniaxial stress.

CRATE's reference materials (Ferreira et al., CMAME 393, 2022): von Mises matrix E = 100,
ν = 0.3, σ_y = 0.5 + 5 ε̄p up to ε̄p = 0.04, then slope 2; elastic fibres E = 500, ν = 0.19.
Random non-overlapping periodic disks (30 %, seeded), plane strain, ε11 ramped to 5 % with the
other in-plane stresses zero:

    python benchmarks/dns.py --size 128 --steps 100 --threads auto 1 2

"auto" is the default configuration (the library's thread policy, kernels.threads); a number
forces that many threads on every pool of the solve.

Prints one table: wall time, Newton and CG iterations, and "ns/vox/CG-it", the time spent in
CG divided by voxels × CG iterations (one tangent application, one projection P with an FFT
pair, the fused CG updates and dot products per iteration).
"""

from __future__ import annotations

import argparse
import platform

import numpy as np

from homog.dns import dns
from homog.loading import uniaxial_stress
from homog.materials import LinearElastic, PiecewiseLinearHardening, VonMises
from kernels import available_backends, get_backend

MATERIALS = {
    0: VonMises(100.0, 0.3, PiecewiseLinearHardening([0.0, 0.04, 2.0], [0.5, 0.7, 4.62])),
    1: LinearElastic(500.0, 0.19),
}


def fibre_rve(n: int, fraction: float = 0.3, radius: float = 0.06, seed: int = 0) -> np.ndarray:
    """Periodic random sequential addition of equal disks (gap of one voxel), voxelized."""
    rng = np.random.default_rng(seed)
    count = int(round(fraction / (np.pi * radius**2)))
    centres: list[np.ndarray] = []
    while len(centres) < count:
        c = rng.random(2)
        if centres:
            d = np.abs(np.asarray(centres) - c)
            d = np.minimum(d, 1.0 - d)
            if np.min(np.hypot(d[:, 0], d[:, 1])) < 2.0 * radius + 1.0 / n:
                continue
        centres.append(c)
    x = (np.arange(n) + 0.5) / n
    labels = np.zeros((n, n), dtype=np.int32)
    for c in centres:
        dx = np.abs(x - c[0])
        dy = np.abs(x - c[1])
        dx, dy = np.minimum(dx, 1.0 - dx), np.minimum(dy, 1.0 - dy)
        labels[dx[:, None] ** 2 + dy[None, :] ** 2 < radius**2] = 1
    return labels


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--strain", type=float, default=0.05)
    p.add_argument("--tol", type=float, default=1e-6)
    p.add_argument("--threads", nargs="+", default=["auto", "1", "2"],
                   help="'auto' (the default configuration) or thread counts")
    p.add_argument("--backends", nargs="+", default=None,
                   help="FFT backends (default: every CPU backend available, and cupy)")
    args = p.parse_args()
    labels = fibre_rve(args.size)
    path = uniaxial_stress(args.strain, steps=args.steps)
    n = labels.size
    print(f"# 2D fibre RVE {args.size}^2, fibre fraction {labels.mean():.3f}, {args.steps} "
          f"increments to eps11 = {args.strain}, tol {args.tol:g}; {platform.processor() or ''}"
          f" numpy {np.__version__}")
    header = (f"{'backend':8} {'thr':>4} {'wall s':>7} {'Newton':>6} {'N/inc':>5} {'CG':>6} "
              f"{'CG/inc':>6} {'cuts':>4} {'CG s':>6} {'law s':>6} {'ns/vox/CG-it':>12} "
              f"{'sigma11':>8}")
    print(header)
    print("-" * len(header))
    for backend in args.backends or available_backends():
        for threads in args.threads if backend != "cupy" else ["auto"]:
            fixed = None if threads == "auto" else int(threads)
            r = dns(labels, MATERIALS, path, tol=args.tol,
                    backend=get_backend(backend, threads=fixed))
            newton, cg = int(r.iterations.sum()), int(sum(r.info["cg_iterations"]))
            print(f"{backend:8} {threads:>4} {r.info['wall_time_s']:7.1f} {newton:6d} "
                  f"{newton / args.steps:5.1f} {cg:6d} {cg / args.steps:6.1f} "
                  f"{sum(r.info['cuts']):4d} {r.info['cg_time_s']:6.1f} "
                  f"{r.info['law_time_s']:6.1f} {1e9 * r.info['cg_time_s'] / (n * cg):12.0f} "
                  f"{r.stress[-1, 0]:8.4f}")


if __name__ == "__main__":
    main()
