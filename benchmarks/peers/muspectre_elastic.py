"""Run muSpectre's small-strain Newton–CG elastic solve on a label grid (peer benchmark).

Runs in a separate virtual environment with `pip install muspectre` (its wheel pins its own
numpy); `benchmarks/fft_elastic.py --muspectre-python PATH` calls it. muSpectre needs odd grids.
Input: labels .npy (0 = matrix, 1 = inclusion), E/nu of both phases, tolerance. Output: one
line of JSON with the wall time, CG iterations and the mean stress σ11 for ε11 = 1e-2.
"""

import argparse
import json
import time

import muSpectre as msp
import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("labels")
    p.add_argument("--E", type=float, nargs=2, required=True)
    p.add_argument("--nu", type=float, nargs=2, required=True)
    p.add_argument("--tol", type=float, default=1e-6)
    p.add_argument("--maxiter", type=int, default=5000)
    a = p.parse_args()
    labels = np.load(a.labels)
    dim = labels.ndim
    t0 = time.perf_counter()
    cell = msp.Cell(list(labels.shape), [1.0] * dim, msp.Formulation.small_strain)
    mat_cls = msp.material.MaterialLinearElastic1_3d if dim == 3 else \
        msp.material.MaterialLinearElastic1_2d
    mats = [mat_cls.make(cell, f"phase{i}", a.E[i], a.nu[i]) for i in range(2)]
    flat = labels.reshape(-1, order="F")  # muSpectre numbers pixels column-major
    for pixel_id, label in enumerate(flat):
        mats[int(label)].add_pixel(pixel_id)
    cell.initialise()
    t_setup = time.perf_counter() - t0
    strain = np.zeros((dim, dim))
    strain[0, 0] = 1e-2
    solver = msp.solvers.KrylovSolverCG(cell, a.tol, a.maxiter, msp.Verbosity.Silent)
    t1 = time.perf_counter()
    res = msp.solvers.newton_cg(cell, strain, solver, a.tol, a.tol, msp.Verbosity.Silent)
    t_solve = time.perf_counter() - t1
    stress = np.asarray(res.stress).reshape(dim, dim, -1, order="F")
    print(json.dumps({"setup_s": t_setup, "solve_s": t_solve,
                      "cg_iterations": int(solver.counter),
                      "sigma11": float(stress[0, 0].mean())}))


if __name__ == "__main__":
    main()
