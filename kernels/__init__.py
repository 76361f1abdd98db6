"""FFT machinery for periodic RVEs: tensors, backends, Green operators, full-field solvers.

Public entry points: :func:`solve_elastic`, :func:`elastic_homogenization`,
:func:`get_backend`, :func:`frequency_grid`, :func:`apply_green`, :func:`green_parts` and the
Mandel algebra in :mod:`kernels.tensors`. :mod:`kernels.threads` holds the one thread
setting of every CPU pool (:func:`set_threads`, :func:`use_threads`); it is imported first,
so that OpenMP runtimes loaded later sleep between parallel regions.
"""

from kernels import threads  # noqa: I001  (first: sets the OpenMP wait policy)
from kernels import tensors
from kernels.arraymodule import array_module, gpu_available, to_numpy
from kernels.fft import available_backends, get_backend
from kernels.frequency import FrequencyGrid, frequency_grid
from kernels.green import apply_green, apply_projection, green_coefficients, green_parts
from kernels.homogenization import HomogenizationResult, elastic_homogenization
from kernels.lippmann_schwinger import (
    ElasticSolution,
    LippmannSchwinger,
    estimate_memory,
    solve_elastic,
)
from kernels.nonlinear import Increment, NewtonCG, solve_nonlinear
from kernels.projection import ConvergenceError, Projection, conjugate_gradient, gmres
from kernels.threads import get_threads, set_threads, use_threads

__all__ = [
    "ConvergenceError",
    "ElasticSolution",
    "FrequencyGrid",
    "HomogenizationResult",
    "Increment",
    "LippmannSchwinger",
    "NewtonCG",
    "Projection",
    "apply_green",
    "apply_projection",
    "array_module",
    "available_backends",
    "conjugate_gradient",
    "gmres",
    "elastic_homogenization",
    "estimate_memory",
    "frequency_grid",
    "get_backend",
    "get_threads",
    "gpu_available",
    "green_coefficients",
    "green_parts",
    "set_threads",
    "solve_elastic",
    "solve_nonlinear",
    "tensors",
    "threads",
    "to_numpy",
    "use_threads",
]
