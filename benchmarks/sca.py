"""SCA reduced-order model benchmark: stage times, peak memory, error against the DNS, and CRATE.

Cases (reference materials of homog/data/reference_materials.toml, uniaxial stress to 5 %):
2D 600² with 30 % fibres (clusters 3, 18, 54, 315) and 3D 64³ with 20 % spheres (5, 20).

    python benchmarks/sca.py --case 2d --size 600 --steps 200
    python benchmarks/sca.py --case 2d --size 600 --crate-python /tmp/crate-venv/bin/python
    python benchmarks/sca.py --case 3d --size 64 --dns          # compute the DNS reference too

The models have static clusters, as CRATE's SCA (``--adaptive`` for build_rom's default,
adaptive clusters in the plastic matrix). Times are wall times in the default thread
configuration (nothing set); the first row of a run also pays one-off costs (scikit-learn
import, numba cache loading). ``--memory`` traces
the offline peak memory, which slows the offline stage.

The DNS reference is read from benchmarks/data/dns_<case>_<size>_<steps>.csv when present
(written by --dns), else the error column is empty. CRATE runs through
../shared/peers/crate_case.py on the same labels and cluster counts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from homog.cli._options import reference_materials_path
from homog.dns import dns
from homog.loading import uniaxial_stress
from homog.response import Response
from homog.sca.model import build_rom

HERE = Path(__file__).parent
CLUSTERS = {"2d": [(2, 1), (12, 6), (36, 18), (210, 105)], "3d": [(3, 2), (13, 7)]}


def microstructure(case: str, size: int):
    import rve_gen

    if case == "2d":
        pack = rve_gen.circles(volume_fraction=0.3, radius=0.05, seed=0)
        return pack.voxelize((size, size))
    pack = rve_gen.spheres(volume_fraction=0.2, radius=0.12, seed=0)
    return pack.voxelize((size, size, size))


def run_crate(python: str, labels: np.ndarray, clusters, steps: int) -> dict:
    script = HERE.parent.parent / "shared" / "peers" / "crate_case.py"  # ../shared beside the repo
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "labels.npy")
        np.save(path, labels.astype(np.int64))
        out = os.path.join(tmp, "out")
        proc = subprocess.run([python, str(script), path, "--clusters", str(clusters[0]),
                               str(clusters[1]), "--steps", str(steps), "--out", out],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            return {"error": proc.stderr.strip().splitlines()[-1:] or ["failed"]}
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        curve = np.loadtxt(os.path.join(out, "curve.csv"), delimiter=",", skiprows=1)
        result["final_stress"] = float(curve[-1, 1])
        result["curve"] = curve  # (strain_11, stress_11) per increment
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", choices=("2d", "3d"), default="2d")
    p.add_argument("--size", type=int, default=600)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--clusters", type=int, nargs="+", help="indices into the case's list")
    p.add_argument("--dns", action="store_true", help="compute (and store) the DNS reference")
    p.add_argument("--crate-python", help="python of a venv with cratepy installed")
    p.add_argument("--adaptive", action="store_true",
                   help="build_rom's default adaptive clusters instead of static ones")
    p.add_argument("--memory", action="store_true",
                   help="trace the offline peak memory (tracemalloc; slows the offline stage)")
    a = p.parse_args()
    ms = microstructure(a.case, a.size)
    mats = reference_materials_path()
    path = uniaxial_stress(0.05, a.steps)
    ref_file = HERE / "data" / f"dns_{a.case}_{a.size}_{a.steps}.csv"
    ref = None
    if a.dns:
        t = time.perf_counter()
        ref = dns(ms, mats, path)
        ref.info["wall_s"] = time.perf_counter() - t
        ref_file.parent.mkdir(exist_ok=True)
        ref.to_csv(ref_file)
        print(f"# DNS {a.case} {a.size}: {ref.info['wall_s']:.1f} s, final stress "
              f"{ref.stress[-1, 0]:.6g}, Newton its {int(ref.iterations.sum())}")
    elif ref_file.exists():
        ref = Response.from_csv(ref_file)
    vf = ms.volume_fractions
    print(f"# case {a.case} grid {ms.shape} volume fractions {vf} steps {a.steps}")
    head = (f"{'K':>4} {'conc s':>7} {'kmeans s':>8} {'D s':>6} {'online s':>8} {'total s':>7} "
            f"{'ms/inc':>7} {'peak B/vox':>10} {'final σ11':>10} {'err %':>7} {'CRATE s':>8} "
            f"{'CRATE σ11':>10} {'speed-up':>8}")
    print(head)
    print("-" * len(head))
    selected = [CLUSTERS[a.case][i] for i in (a.clusters or range(len(CLUSTERS[a.case])))]
    for k in selected:
        if a.memory:
            tracemalloc.start()
        t0 = time.perf_counter()
        rom = build_rom(ms, mats, {0: k[0], 1: k[1]}, adaptive="auto" if a.adaptive else None)
        t1 = time.perf_counter()
        peak = (f"{tracemalloc.get_traced_memory()[1] / ms.labels.size:10.0f}" if a.memory
                else f"{'-':>10}")
        tracemalloc.stop()
        r = rom.run(path)  # adaptivity "auto": refines when the model has a hierarchy
        online = time.perf_counter() - t1
        total = time.perf_counter() - t0
        tm = rom.info["timings"]
        err = (f"{100 * (r.stress[-1, 0] / ref.stress[-1, 0] - 1):7.2f}" if ref is not None
               else f"{'':>7}")
        crate = {}
        if a.crate_python:
            crate = run_crate(a.crate_python, ms.labels, k, a.steps)
        cs = f"{crate['wall_s']:8.1f}" if "wall_s" in crate else f"{'':>8}"
        cf = f"{crate['final_stress']:10.5g}" if "final_stress" in crate else f"{'':>10}"
        su = f"{crate['wall_s'] / total:8.0f}" if "wall_s" in crate else f"{'':>8}"
        print(f"{sum(k):>4} {tm['strain_concentration_s']:7.2f} {tm['clustering_s']:8.2f} "
              f"{tm['interaction_s']:6.2f} {online:8.2f} {total:7.2f} "
              f"{1e3 * online / a.steps:7.1f} {peak} "
              f"{r.stress[-1, 0]:10.5g} {err} {cs} {cf} {su}", flush=True)
        if "error" in crate:
            print(f"#   CRATE failed: {crate['error']}")


if __name__ == "__main__":
    main()
