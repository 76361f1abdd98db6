"""FFT backends: independent implementations must give the same solution."""

import numpy as np
import pytest
from oracles import disc_labels, sphere_labels

from kernels import available_backends, get_backend, gpu_available, solve_elastic
from kernels.tensors import isotropic_stiffness

STIFF = {0: isotropic_stiffness(100.0, 0.3), 1: isotropic_stiffness(500.0, 0.19)}


@pytest.mark.parametrize("labels", [disc_labels(24, 0.3), sphere_labels(12, 0.2)[:, :, :9]],
                         ids=["2d", "3d-odd"])
def test_cpu_backends_agree_to_1e_10(labels):
    E = np.zeros(6 if labels.ndim == 3 else 3)
    E[0], E[-1] = 0.01, 0.004
    sols = {name: solve_elastic(labels, STIFF, E, tol=1e-9, backend=name)
            for name in available_backends() if name != "cupy"}
    assert {"scipy", "pyfftw"} <= set(sols)
    ref = sols["scipy"]
    for sol in sols.values():
        np.testing.assert_allclose(sol.strain, ref.strain, rtol=0, atol=1e-10 * np.abs(E).max())
        assert sol.iterations == ref.iterations


def test_backend_round_trip_transforms():
    rng = np.random.default_rng(0)
    for name in ("scipy", "pyfftw"):
        b = get_backend(name)
        real = b.empty_real((3, 8, 7))
        spec = b.empty_spectrum(real.shape)
        data = rng.normal(size=real.shape)
        real[...] = data
        plan = b.plan(real, spec)
        plan.forward()
        np.testing.assert_allclose(spec, np.fft.rfftn(data, axes=(1, 2)), atol=1e-12)
        plan.inverse()
        np.testing.assert_allclose(real, data, atol=1e-13)


def test_auto_backend_and_unknown_names():
    assert get_backend("auto").name == ("cupy" if gpu_available() else "pyfftw")
    with pytest.raises(ValueError, match="unknown FFT backend"):
        get_backend("fftw3")
    if not gpu_available():
        with pytest.raises(ValueError, match="CUDA GPU"):
            get_backend("cupy")


def test_auto_stays_on_the_cpu_for_numpy_data():
    """gpu=False keeps "auto" on the CPU; NewtonCG asks for it when its state is numpy
    (a law written for numpy), whatever the machine."""
    from kernels.arraymodule import holds_device_arrays

    assert get_backend("auto", gpu=False).name == "pyfftw"
    state = {0: {"strain": np.zeros((4, 6))}, 1: [np.zeros(3), (np.ones(2), None)]}
    assert not holds_device_arrays(state) and not holds_device_arrays(None)
    if gpu_available():
        import cupy

        state[1][1] = (cupy.ones(2), None)
        assert holds_device_arrays(state)


def test_pyfftw_wisdom_is_saved_and_reused(tmp_path):
    from kernels.fft import PyFFTWBackend
    path = tmp_path / "wisdom"
    b = PyFFTWBackend(planner_effort="FFTW_MEASURE", wisdom_path=path)
    real = b.empty_real((3, 16, 16))
    b.plan(real, b.empty_spectrum(real.shape))
    assert path.stat().st_size > 0
    PyFFTWBackend(planner_effort="FFTW_MEASURE", wisdom_path=path)  # loads without error


@pytest.mark.parametrize("value, expected", [
    (3, 3), (3.0, 3), (np.int64(4), 4), (np.array(5.0), 5), (1e9, 10**9), (1, 1),
    (True, None), (2.5, None), (np.inf, None), (np.nan, None), ("3", None), (0, None),
    (np.array([2]), None), (2 + 0j, None),
])
def test_whole_number_accepts_integral_scalars_only(value, expected):
    """The one whole-number check behind homog.inputs.check_int and the solvers' maxiter."""
    from kernels.arraymodule import whole_number
    assert whole_number(value, 1) == expected
