"""SCA accuracy over random realizations: homog and CRATE against the full-field DNS.

Cases (reference materials, uniaxial stress to 5 %): 2D 600² RVEs of 30 % fibres
(``rve_gen.circles(0.3, radius 0.05, seed)``) at 3, 18, 54 clusters and 3D 64³ RVEs of 20 %
spheres (``rve_gen.spheres(0.2, radius 0.12, seed)``) at 5, 20, 55 clusters, one RVE per seed.
The DNS of each RVE is computed once and kept in ``benchmarks/data/accuracy/``; CRATE runs
through ``../shared/peers/crate_case.py`` on the same labels and cluster counts.

    python benchmarks/accuracy.py --case 2d --crate-python /tmp/crate-venv/bin/python
    python benchmarks/accuracy.py --case 3d --seeds 0 1 2 3 4 --dns-steps 100

Prints one row per (seed, clusters): final-stress error and curve error (largest deviation of
σ11 along the path, in % of the DNS peak) of homog and CRATE, and homog's build + run time;
then the mean and spread per cluster count.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from homog.cli._options import reference_materials_path
from homog.dns import dns
from homog.loading import uniaxial_stress
from homog.response import Response
from homog.sca.model import build_rom

HERE = Path(__file__).parent
CLUSTERS = {"2d": [(2, 1), (12, 6), (36, 18)], "3d": [(3, 2), (13, 7), (37, 18)]}


def microstructure(case: str, seed: int):
    import rve_gen

    if case == "2d":
        return rve_gen.circles(volume_fraction=0.3, radius=0.05, seed=seed).voxelize((600, 600))
    return rve_gen.spheres(volume_fraction=0.2, radius=0.12, seed=seed).voxelize((64, 64, 64))


def reference(case: str, seed: int, ms, steps: int) -> Response:
    """The DNS curve of one realization (computed once, then read from its CSV)."""
    path = HERE / "data" / "accuracy" / f"dns_{case}_seed{seed}_{steps}.csv"
    if path.exists():
        return Response.from_csv(path)
    t = time.perf_counter()
    r = dns(ms, reference_materials_path(), uniaxial_stress(0.05, steps))
    print(f"# DNS {case} seed {seed}: {time.perf_counter() - t:.0f} s", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    r.to_csv(path)
    return r


def crate(case: str, seed: int, labels: np.ndarray, clusters: tuple[int, int], steps: int,
          python: str) -> np.ndarray | None:
    """CRATE's (ε11, σ11) curve on the same labels (computed once, then read from its CSV)."""
    from sca import run_crate  # benchmarks/sca.py: CRATE on the same labels

    name = f"crate_{case}_seed{seed}_K{clusters[0]}+{clusters[1]}_{steps}.csv"
    path = HERE / "data" / "accuracy" / name
    if path.exists():
        return np.loadtxt(path, delimiter=",", skiprows=1)
    if not python:
        return None
    result = run_crate(python, labels, clusters, steps)
    if "curve" not in result:
        print(f"# CRATE {case} seed {seed} K {clusters}: {result.get('error')}", flush=True)
        return None
    np.savetxt(path, result["curve"], delimiter=",", header="strain_11,stress_11", comments="")
    return result["curve"]


def errors(strain: np.ndarray, stress: np.ndarray, ref: Response) -> tuple[float, float]:
    """(final-stress error, largest deviation along the curve), in %, against the DNS σ11(ε11)."""
    on_ref = np.interp(strain, ref.strain[:, 0], ref.stress[:, 0])
    final = 100 * (stress[-1] / on_ref[-1] - 1)
    curve = 100 * np.max(np.abs(stress - on_ref)) / np.max(np.abs(ref.stress[:, 0]))
    return float(final), float(curve)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", choices=("2d", "3d"), default="2d")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--steps", type=int, default=200, help="ROM and CRATE increments")
    p.add_argument("--dns-steps", type=int, default=200, help="DNS increments")
    p.add_argument("--crate-python", help="python of a venv with cratepy installed")
    p.add_argument("--discretization", default=None,
                   help="Green operator of the ROM (build_rom's default when omitted)")
    p.add_argument("--static", action="store_true",
                   help="static clusters (adaptive=None), like CRATE's SCA")
    a = p.parse_args()
    path = uniaxial_stress(0.05, a.steps)
    rows = []
    head = (f"{'seed':>4} {'K':>3} {'homog final %':>13} {'curve %':>7} {'s':>5} "
            f"{'CRATE final %':>13} {'curve %':>7}")
    print(head)
    print("-" * len(head))
    for seed in a.seeds:
        ms = microstructure(a.case, seed)
        ref = reference(a.case, seed, ms, a.dns_steps)
        for k in CLUSTERS[a.case]:
            t = time.perf_counter()
            options = {} if a.discretization is None else {"discretization": a.discretization}
            if a.static:
                options["adaptive"] = None
            r = build_rom(ms, reference_materials_path(), {0: k[0], 1: k[1]}, **options).run(path)
            seconds = time.perf_counter() - t
            hf, hc = errors(r.strain[:, 0], r.stress[:, 0], ref)
            cf = cc = np.nan
            curve = crate(a.case, seed, ms.labels, k, a.steps, a.crate_python)
            if curve is not None:
                cf, cc = errors(curve[:, 0], curve[:, 1], ref)
            rows.append((sum(k), hf, hc, seconds, cf, cc))
            print(f"{seed:>4} {sum(k):>3} {hf:13.2f} {hc:7.2f} {seconds:5.1f} {cf:13.2f} "
                  f"{cc:7.2f}", flush=True)
    data = np.array(rows)
    print("# mean ± std over the seeds (signed), mean |error|")
    for K in sorted(set(data[:, 0])):
        d = data[data[:, 0] == K]
        print(f"# K {int(K):>3}: homog final {d[:, 1].mean():+.2f} ± {d[:, 1].std():.2f} % "
              f"(mean |error| {np.abs(d[:, 1]).mean():.2f} %), curve {d[:, 2].mean():.2f} %, "
              f"{d[:, 3].mean():.1f} s; CRATE final {np.nanmean(d[:, 4]):+.2f} ± "
              f"{np.nanstd(d[:, 4]):.2f} % (mean |error| {np.nanmean(np.abs(d[:, 4])):.2f} %), "
              f"curve {np.nanmean(d[:, 5]):.2f} %")


if __name__ == "__main__":
    main()
