"""Elastic FFT solver benchmark: iterations, wall time, ns/voxel/iteration, peak memory.

3D RVEs of random non-overlapping spheres (20 %, rve_gen.spheres), phase contrast 5, 100 and
10⁴, basic and CG schemes, every available backend; optionally side by side with muSpectre
(odd grids, its own venv) on the same labels in the same run:

    python benchmarks/fft_elastic.py --sizes 64 128
    python benchmarks/fft_elastic.py --sizes 63 127 --muspectre-python /tmp/musp-venv/bin/python

Prints one table. "ns/vox/it" is the solve time divided by voxels × iterations; "peak MB" the
largest traced allocation (numpy/pyFFTW buffers, tracemalloc; device memory pool on CuPy).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np

from kernels import ConvergenceError, LippmannSchwinger, available_backends
from kernels.tensors import isotropic_stiffness


def spheres(n: int, fraction: float, seed: int = 0) -> np.ndarray:
    import rve_gen

    pack = rve_gen.spheres(volume_fraction=fraction, radius=0.08, seed=seed)
    return np.asarray(pack.voxelize((n, n, n)).labels, dtype=np.int32)


def run_ours(labels, contrast, solver, backend, tol, maxiter, discretization="willot"):
    stiff = {0: isotropic_stiffness(1.0, 0.3), 1: isotropic_stiffness(contrast, 0.3)}
    xp_is_cupy = backend == "cupy"
    tracemalloc.start()
    t0 = time.perf_counter()
    problem = LippmannSchwinger(labels, stiff, solver=solver, tol=tol, maxiter=maxiter,
                                backend=backend, discretization=discretization)
    setup = time.perf_counter() - t0
    E = np.zeros(6)
    E[0] = 1e-2
    t1 = time.perf_counter()
    try:
        sol = problem.solve(macro_strain=E)
        its, res, ok = sol.iterations, sol.residual, True
        sigma = sol.macro_stress[0]
    except ConvergenceError as exc:
        its, res, ok, sigma = exc.iterations, exc.residual, False, float("nan")
    if xp_is_cupy:
        problem.xp.cuda.Device().synchronize()
    solve = time.perf_counter() - t1
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    if xp_is_cupy:
        peak = problem.xp.get_default_memory_pool().total_bytes()
    return {"setup_s": setup, "solve_s": solve, "iterations": its, "residual": res,
            "converged": ok, "sigma11": sigma, "peak_bytes": peak}


def run_muspectre(python, labels, contrast, tol):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "labels.npy")
        np.save(path, labels)
        script = os.path.join(os.path.dirname(__file__), "peers", "muspectre_elastic.py")
        out = subprocess.run([python, script, path, "--E", "1", str(contrast), "--nu", "0.3",
                              "0.3", "--tol", str(tol)], capture_output=True, text=True,
                             check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    p.add_argument("--contrasts", type=float, nargs="+", default=[5, 100, 1e4])
    p.add_argument("--solvers", nargs="+", default=["cg", "basic"])
    p.add_argument("--backends", nargs="+", default=None)
    p.add_argument("--tol", type=float, default=1e-6)
    p.add_argument("--maxiter-basic", type=int, default=1000,
                   help="cap of the basic scheme (it needs ~contrast iterations)")
    p.add_argument("--muspectre-python", help="python of a venv with muspectre installed")
    a = p.parse_args()
    backends = a.backends or available_backends()
    for backend in backends:  # compile/load the numba loops and plan caches before timing
        for solver in a.solvers:
            run_ours(spheres(16, 0.2), 5.0, solver, backend, a.tol, 100)
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    head = (f"{'grid':>6} {'contrast':>8} {'solver':>6} {'backend':>8} {'disc':>8} {'its':>5} "
            f"{'solve s':>8} {'ns/vox/it':>9} {'peak MB':>8} {'B/vox':>6} {'sigma11':>10}")
    print(head)
    print("-" * len(head))
    for n in a.sizes:
        labels = spheres(n, 0.2)
        N = labels.size
        for contrast in a.contrasts:
            rows = []
            for solver in a.solvers:
                for backend in backends:
                    maxiter = a.maxiter_basic if solver == "basic" else 5000
                    r = run_ours(labels, contrast, solver, backend, a.tol, maxiter)
                    rows.append((solver, backend, "willot", r))
            if a.muspectre_python and n % 2 == 1:
                r = run_ours(labels, contrast, "cg", "pyfftw", a.tol, 5000, "spectral")
                rows.append(("cg", "pyfftw", "spectral", r))
                m = run_muspectre(a.muspectre_python, labels, contrast, a.tol)
                rows.append(("cg", "muSpectre", "spectral",
                             {"solve_s": m["solve_s"], "iterations": m["cg_iterations"],
                              "converged": True, "sigma11": m["sigma11"], "peak_bytes": 0}))
            for solver, backend, disc, r in rows:
                its = max(r["iterations"], 1)
                mark = "" if r["converged"] else "*"
                print(f"{n:>6} {contrast:>8g} {solver:>6} {backend:>8} {disc:>8} "
                      f"{r['iterations']:>4}{mark:1} {r['solve_s']:>8.2f} "
                      f"{1e9 * r['solve_s'] / (N * its):>9.1f} "
                      f"{r['peak_bytes'] / 1e6:>8.0f} {r['peak_bytes'] / N:>6.0f} "
                      f"{r['sigma11']:>10.6g}")
            sys.stdout.flush()
    print("* not converged within the iteration cap")


if __name__ == "__main__":
    main()
