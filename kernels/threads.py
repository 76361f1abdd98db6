"""One thread setting for every CPU thread pool the library drives.

Up to four pools work inside one process: numba's parallel loops (:mod:`kernels.pointwise`,
:mod:`kernels.green`; OpenMP), FFTW's plans (pyFFTW; OpenMP), BLAS/LAPACK (OpenBLAS or MKL)
and scikit-learn's OpenMP loops (k-means). Left alone, each starts one thread per core and
spin-waits between its parallel regions, so two pools that take turns fight over the cores:
measured on 2 cores, a 96² DNS took 67 s by default against 1.2 s on one thread
(``benchmarks/threads.py``; benchmarks/RESULTS.md).

The policy, applied by every solver of the library:

* **OpenMP runtimes sleep between regions.** Importing :mod:`kernels` sets
  ``OMP_WAIT_POLICY=PASSIVE`` unless the environment already sets it. The runtimes read it when
  they load, so this holds when :mod:`kernels` (or :mod:`homog`) is imported before pyFFTW and
  scikit-learn; otherwise :func:`passive_wait` is False and "auto" keeps one thread.
* **One count governs every pool**: :func:`set_threads` (process-wide), :func:`use_threads`
  (a context manager), the ``HOMOG_NUM_THREADS`` environment variable and the ``--threads``
  option of the command line: the most threads any pool of the library uses ("auto", the
  default: every usable core).
* **BLAS stays on one thread** under "auto" (:func:`blas_threads`): its threads spin.
* **Threads only where they pay**: a job whose fields hold fewer than
  :data:`PARALLEL_ENTRIES` numbers (components × voxels; 256² in 2D, 32³ in 3D) runs on one
  thread whatever the setting; dense online systems below 2000 unknowns likewise. Measured
  on the 2-core developer machine, two threads make a 128² elastic solve 1.6× slower, break
  even at 256² and gain 1.3× at 32³, 1.7× at 48³ and 64³ (and stay level with one thread
  when a second job runs beside them).
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Environment variable read at import: a positive integer, or "auto".
ENV_VAR = "HOMOG_NUM_THREADS"

#: Smallest field (components × voxels) that runs on more than one thread.
PARALLEL_ENTRIES = 3 * 256 * 256

_OPENMP_RUNTIMES = ("libgomp", "libomp", "libiomp")


def _openmp_loaded() -> bool:
    """True when an OpenMP runtime is already mapped into this process (Linux; else False)."""
    try:
        with open("/proc/self/maps") as maps:
            return any(name in line for line in maps for name in _OPENMP_RUNTIMES)
    except OSError:
        return False


def _init_wait_policy() -> bool:
    """Ask OpenMP runtimes to sleep, not spin, between regions; True when that takes effect."""
    policy = os.environ.get("OMP_WAIT_POLICY")
    if policy is not None:
        return policy.strip().upper() == "PASSIVE"
    loaded = _openmp_loaded()
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return not loaded


_PASSIVE = _init_wait_policy()


def passive_wait() -> bool:
    """Whether the OpenMP pools of this process sleep between parallel regions."""
    return _PASSIVE


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _parse(value: Any, source: str) -> int | None:
    """An explicit thread count, or None for "auto"; a clear error for anything else (an
    empty string too: "auto" is spelled out)."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ValueError(f"{source} = {value!r}: give a positive integer or 'auto'") from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{source} = {value!r}: give a positive integer or 'auto'")
    return int(value)


def _from_environment() -> int | None:
    """The setting of :data:`ENV_VAR` (unset or empty: "auto"); a bad value warns and leaves
    "auto" (no import error).

    The warning names the variable as its origin, with no line of code under it: the cause is
    the environment, not the library's line that reads it (nor the user's import).
    """
    try:
        return _parse(os.environ.get(ENV_VAR, "").strip() or None, ENV_VAR)
    except ValueError as exc:
        warnings.warn_explicit(f"{exc}; using 'auto'", RuntimeWarning, filename=ENV_VAR,
                               lineno=0, module=__name__)
        return None


_setting: int | None = _from_environment()


def set_threads(n: int | str | None) -> None:
    """Set the most threads any pool uses, process-wide: a positive integer, or "auto"/None
    (jobs below their threshold run on one thread either way: :func:`threads_for`)."""
    global _setting
    _setting = _parse(n, "threads")


def get_threads() -> int | None:
    """The explicit thread count, or None when the policy is "auto"."""
    return _setting


@contextmanager
def use_threads(n: int | str | None) -> Iterator[None]:
    """Within the block, pools use at most ``n`` threads ("auto"/None: the automatic policy)."""
    global _setting
    previous = _setting
    _setting = _parse(n, "threads")
    try:
        yield
    finally:
        _setting = previous


def threads_for(size: int, threshold: int = PARALLEL_ENTRIES) -> int:
    """Threads for a job of ``size``: by default the numbers its fields hold (components ×
    voxels); a caller with another measure of work passes its own measured ``threshold``.

    One below ``threshold``, where threads do not pay; above it the explicit setting, or under
    "auto" every usable core when the OpenMP pools sleep between regions (else one).
    """
    if size < threshold:
        return 1
    if _setting is not None:
        return _setting
    return usable_cores() if _PASSIVE else 1


#: Modules that bring their own BLAS or OpenMP library when imported.
_POOL_MODULES = ("scipy.linalg", "pyfftw", "sklearn")
_controller: Any = None
_controller_key: tuple[bool, ...] = ()


def _pool_modules() -> tuple[bool, ...]:
    """Which of :data:`_POOL_MODULES` are imported."""
    return tuple(name in sys.modules for name in _POOL_MODULES)


def _pools() -> Any:
    """threadpoolctl's controller of the BLAS and OpenMP libraries loaded so far.

    Built once (about 10 ms) and again whenever one of :data:`_POOL_MODULES` was imported since.
    """
    global _controller, _controller_key
    from threadpoolctl import ThreadpoolController

    key = _pool_modules()
    if _controller is None or key != _controller_key:
        _controller, _controller_key = ThreadpoolController(), key
    return _controller


def blas_threads(n: int) -> int:
    """BLAS/LAPACK threads of a job given ``n`` threads: ``n`` under an explicit setting, one
    under "auto".

    OpenBLAS threads spin between calls and no setting makes them sleep: measured on 2 cores,
    the interaction-tensor GEMMs of a 315-cluster 600² model took 4.3 s on two BLAS threads
    and 7.7 s on one, but 58 s each with two such jobs side by side (one thread: 7.8 s). Where
    dense products pay to split, the library splits them over Python threads, which sleep while
    they wait (:func:`homog.sca.interaction.interaction_parts`).
    """
    return n if _setting is not None else 1


#: (OpenMP count, BLAS count, pool modules imported) of the innermost :func:`limit` block
#: running in each thread (numba's count is per thread; the BLAS and OpenMP pools are
#: process-wide, and every block restores them).
_active = threading.local()


@contextmanager
def limit(n: int) -> Iterator[None]:
    """Run the block with ``n`` threads in numba and OpenMP (scikit-learn) and
    :func:`blas_threads` in BLAS/LAPACK; FFTW takes its count per plan
    (:meth:`kernels.fft.PyFFTWBackend.plan`).

    Inside a block of the same counts (in the same thread, no pool library imported since) the
    pools already hold them and nothing is set: threadpoolctl's query and reset of the pools
    cost about 0.1 ms a block, which a loop of small solves (the online SCA increments) would
    otherwise pay at every step.
    """
    counts = (n, blas_threads(n), _pool_modules())
    if getattr(_active, "counts", None) == counts:
        yield
        return
    try:
        import numba
    except ImportError:  # the array paths of kernels.pointwise serve numpy without it
        numba = None
    previous = None
    if numba is not None:
        previous = numba.get_num_threads()
        numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
    pools = _pools()
    outer = getattr(_active, "counts", None)
    try:
        with pools.limit(limits=n, user_api="openmp"), \
                pools.limit(limits=counts[1], user_api="blas"):
            _active.counts = counts
            yield
    finally:
        _active.counts = outer
        if numba is not None:
            numba.set_num_threads(previous)
