"""The nonlinear paths on CuPy give the CPU answer: DNS, the SCA offline stage, backend choice.

The same code runs on both array modules (DESIGN.md: array-module dispatch); these tests run
each path twice, on pyFFTW/numpy and on CuPy, and compare. Skipped without a GPU.
"""

import numpy as np
import pytest

from homog.dns import dns
from homog.loading import uniaxial_stress
from homog.materials import LinearElastic, PiecewiseLinearHardening, VonMises
from homog.sca.model import build_rom
from kernels import gpu_available
from kernels.nonlinear import NewtonCG
from kernels.tensors import isotropic_stiffness

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not gpu_available(), reason="needs CuPy and a CUDA GPU"),
]
MATERIALS = {
    0: VonMises(100.0, 0.3, PiecewiseLinearHardening([0.0, 0.04, 2.0], [0.5, 0.7, 4.62])),
    1: LinearElastic(500.0, 0.19),
}


def fibre_labels(n: int, fraction: float = 0.3) -> np.ndarray:
    x = (np.arange(n) + 0.5) / n
    X, Y = np.meshgrid(x, x, indexing="ij")
    return (((X - 0.3) ** 2 + (Y - 0.6) ** 2) < fraction / np.pi).astype(np.int32)


@pytest.mark.parametrize("shape", [(24, 24), (12, 12, 12)], ids=["2d", "3d"])
def test_plastic_dns_on_cupy_equals_cpu(shape):
    labels = fibre_labels(shape[0]) if len(shape) == 2 else (
        np.indices(shape).sum(axis=0) % 5 == 0).astype(np.int32)
    path = uniaxial_stress(0.02, 8)
    cpu = dns(labels, MATERIALS, path, backend="pyfftw", tol=1e-9)
    gpu = dns(labels, MATERIALS, path, backend="cupy", tol=1e-9)
    assert gpu.info["backend"] == "cupy" and cpu.info["backend"] == "pyfftw"
    scale = np.abs(cpu.stress).max()
    assert scale > 0.6  # past yield (σy0 = 0.5): the plastic update ran
    np.testing.assert_allclose(gpu.stress, cpu.stress, atol=1e-7 * scale)
    np.testing.assert_allclose(gpu.strain, cpu.strain, atol=1e-9)


def test_rom_built_on_cupy_equals_cpu():
    labels = fibre_labels(32)
    cpu = build_rom(labels, MATERIALS, {0: 4, 1: 2}, backend="pyfftw", seed=0, tol=1e-9,
                    adaptive=None)
    gpu = build_rom(labels, MATERIALS, {0: 4, 1: 2}, backend="cupy", seed=0, tol=1e-9,
                    adaptive=None)
    np.testing.assert_array_equal(gpu.cluster_labels, cpu.cluster_labels)
    np.testing.assert_allclose(gpu.C_eff, cpu.C_eff, rtol=1e-8)
    for a, b in ((gpu.D1, cpu.D1), (gpu.D2, cpu.D2)):
        assert isinstance(a, np.ndarray)  # the model holds host arrays
        np.testing.assert_allclose(a, b, atol=1e-10 * np.abs(b).max())
    path = uniaxial_stress(0.02, 10)
    np.testing.assert_allclose(gpu.run(path).stress, cpu.run(path).stress, rtol=1e-8,
                               atol=1e-10)


def test_auto_keeps_a_numpy_law_on_the_cpu():
    """backend="auto" on a GPU machine: a law written for numpy (numpy state) runs on the CPU,
    a CuPy state on the GPU."""
    import cupy

    labels = np.zeros((8, 8), dtype=np.int32)
    labels[2:5, 3:6] = 1
    C = np.stack([isotropic_stiffness(100, 0.3), isotropic_stiffness(500, 0.19)])
    for xp in (np, cupy):
        Cp = xp.asarray(C[labels.ravel()])

        def law(dstrain, state, Cp=Cp, xp=xp):
            strain = state + dstrain
            return xp.einsum("pij,pj->pi", Cp, strain), Cp, strain

        solver = NewtonCG(labels, law, xp.zeros((labels.size, 6)))
        assert solver.backend.name == ("cupy" if xp is cupy else "pyfftw")
        steps = list(solver.run(np.array([[1e-3, 0.0, 0.0]]), np.array([[True, False, False]])))
        assert abs(steps[-1].macro_stress[1]) < 1e-6 * abs(steps[-1].macro_stress[0])
