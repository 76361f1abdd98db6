"""CuPy backend: the numpy code path on a GPU gives the CPU answer (skipped without a GPU)."""

import numpy as np
import pytest
from oracles import disc_labels, sphere_labels

from kernels import elastic_homogenization, gpu_available, solve_elastic, to_numpy
from kernels.tensors import isotropic_stiffness

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not gpu_available(), reason="needs CuPy and a CUDA GPU"),
]
STIFF = {0: isotropic_stiffness(100.0, 0.3), 1: isotropic_stiffness(500.0, 0.19)}


@pytest.mark.parametrize("labels", [disc_labels(32, 0.3), sphere_labels(16, 0.2)],
                         ids=["2d", "3d"])
@pytest.mark.parametrize("solver", ["cg", "basic"])
def test_cupy_equals_numpy(labels, solver):
    E = np.zeros(6 if labels.ndim == 3 else 3)
    E[0] = 0.01
    cpu = solve_elastic(labels, STIFF, E, solver=solver, tol=1e-9, backend="pyfftw")
    gpu = solve_elastic(labels, STIFF, E, solver=solver, tol=1e-9, backend="cupy")
    np.testing.assert_allclose(to_numpy(gpu.strain), cpu.strain, atol=1e-10 * E[0])
    assert gpu.iterations == cpu.iterations


def test_cupy_homogenization_with_voids():
    labels = sphere_labels(16, 0.2)
    stiff = {0: STIFF[0], 1: np.zeros((6, 6))}
    cpu = elastic_homogenization(labels, stiff, backend="pyfftw", tol=1e-8)
    gpu = elastic_homogenization(labels, stiff, backend="cupy", tol=1e-8)
    np.testing.assert_allclose(gpu.C_eff, cpu.C_eff, rtol=1e-7,
                               atol=1e-10 * np.abs(cpu.C_eff).max())
