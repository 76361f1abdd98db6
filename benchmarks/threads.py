"""Thread configurations: the default against one core, two jobs side by side, and a busy core.

Each job runs in a fresh process, timed inside after a short warm-up (numba cache, FFT plans):

* ``default``: no thread variable set (the configuration users get);
* ``one core``: pinned to one CPU with every pool at one thread (``HOMOG_NUM_THREADS=1``,
  ``NUMBA_NUM_THREADS=1``, ``OMP_NUM_THREADS=1``, ``OPENBLAS_NUM_THREADS=1``);
* ``pair``: two default jobs started together (the mean of their times);
* ``loaded``: one default job beside a busy-looping process (another user's job).

    python benchmarks/threads.py                       # every job
    python benchmarks/threads.py --jobs dns96 cg64

Prints one table: seconds per configuration (ns/voxel/iteration for the elastic CG jobs) and
the ratios to one core.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

#: Variables that change the thread configuration; the default runs without any of them.
THREAD_VARIABLES = ("HOMOG_NUM_THREADS", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS",
                    "OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "GOMP_SPINCOUNT", "NUMBA_THREADING_LAYER")
ONE_THREAD = {"HOMOG_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
              "OPENBLAS_NUM_THREADS": "1"}
JOBS = {
    "dns96": "DNS 96², 30 increments to 3 % (uniaxial stress, reference materials)",
    "dns128": "DNS 128², 30 increments to 3 %",
    "cg64": "elastic CG 64³, contrast 100 (ns/voxel/iteration)",
    "cg128": "elastic CG 128³, contrast 100 (ns/voxel/iteration)",
    "sca600": "SCA 600², 12 + 6 clusters: build + 200 increments (second of two)",
}


def run_job(name: str) -> dict:
    """The job itself (in the child process): its time and the figure to compare."""
    import rve_gen
    from homog.cli._options import reference_materials_path
    from homog.dns import dns
    from homog.loading import uniaxial_stress
    from homog.sca.model import build_rom
    from kernels import solve_elastic
    from kernels.tensors import isotropic_stiffness

    materials = reference_materials_path()
    if name.startswith("dns"):
        n = int(name[3:])
        ms = rve_gen.circles(volume_fraction=0.3, radius=0.1, seed=0).voxelize((n, n))
        dns(ms, materials, uniaxial_stress(0.003, 1))
        t = time.perf_counter()
        r = dns(ms, materials, uniaxial_stress(0.03, 30))
        return {"s": time.perf_counter() - t, "check": float(r.stress[-1, 0])}
    if name.startswith("cg"):
        n = int(name[2:])
        ms = rve_gen.spheres(volume_fraction=0.2, radius=0.08, seed=0).voxelize((n, n, n))
        stiffness = {0: isotropic_stiffness(1.0, 0.3), 1: isotropic_stiffness(100.0, 0.3)}
        load = [0.01, 0, 0, 0, 0, 0]
        solve_elastic(ms.labels, stiffness, macro_strain=load, tol=1e-2)
        t = time.perf_counter()
        sol = solve_elastic(ms.labels, stiffness, macro_strain=load, tol=1e-6)
        s = time.perf_counter() - t
        return {"s": s, "ns": 1e9 * s / (sol.iterations * n**3),
                "check": float(sol.stress[0].mean())}
    ms = rve_gen.circles(volume_fraction=0.3, radius=0.05, seed=0).voxelize((600, 600))
    path = uniaxial_stress(0.05, 200)
    for _ in range(2):
        t = time.perf_counter()
        r = build_rom(ms, materials, {0: 12, 1: 6}).run(path)
        s = time.perf_counter() - t
    return {"s": s, "check": float(r.stress[-1, 0])}


def _start(name: str, extra: dict | None = None, one_core: bool = False) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    env.update(extra or {})
    cpu = sorted(os.sched_getaffinity(0))[0] if one_core else None
    return subprocess.Popen(
        [sys.executable, __file__, "--child", name], env=env, stdout=subprocess.PIPE, text=True,
        preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if one_core else None)


def _result(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"job failed (exit {proc.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def measure(name: str) -> dict[str, dict]:
    """The job in the four configurations."""
    results = {"one core": _result(_start(name, ONE_THREAD, one_core=True)),
               "default": _result(_start(name))}
    pair = [_start(name), _start(name)]
    first, second = (_result(p) for p in pair)
    results["pair"] = {k: 0.5 * (first[k] + second[k]) for k in first}
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        results["loaded"] = _result(_start(name))
    finally:
        busy.kill()
        busy.wait()
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", nargs="+", choices=sorted(JOBS), default=list(JOBS))
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(run_job(a.child)))
        return
    print(f"# {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; times in s, CG in "
          "ns/voxel/iteration; ratios to one core")
    head = (f"{'job':8} {'one core':>9} {'default':>8} {'pair':>8} {'loaded':>8} "
            f"{'default/1':>9} {'pair/1':>7} {'loaded/1':>8}")
    print(head)
    print("-" * len(head))
    for name in a.jobs:
        r = measure(name)
        key = "ns" if name.startswith("cg") else "s"
        v = {c: r[c][key] for c in r}
        one = v["one core"]
        print(f"{name:8} {one:9.2f} {v['default']:8.2f} {v['pair']:8.2f} {v['loaded']:8.2f} "
              f"{v['default'] / one:9.2f} {v['pair'] / one:7.2f} {v['loaded'] / one:8.2f}",
              flush=True)
        checks = {round(r[c]["check"], 9) for c in r}
        if len(checks) > 1:
            print(f"#   {name}: the configurations disagree: {sorted(checks)}")
    print("# jobs: " + "; ".join(f"{k}: {JOBS[k]}" for k in a.jobs))


if __name__ == "__main__":
    main()
