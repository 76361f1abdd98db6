"""Real-to-complex FFT backends for batched fields of shape ``(ncomp, *grid)``.

``get_backend("auto" | "scipy" | "pyfftw" | "cupy")`` returns a backend object; "auto" picks
CuPy when a GPU is usable, else pyFFTW, else scipy. A backend allocates the work buffers of a
solver on its device and plans the forward (unnormalised) and inverse (1/N-normalised)
transforms over the trailing grid axes once, bound to those buffers:

    real = backend.empty_real((6, 64, 64, 64)); spec = backend.empty_spectrum(real.shape)
    plan = backend.plan(real, spec); plan.forward(); plan.inverse()

``plan.forward()`` reads ``real`` and writes ``spec``; ``plan.inverse()`` reads ``spec`` (and may
overwrite it) and writes ``real``. ``forward``/``inverse`` also accept other arrays of the same
shapes for one-off transforms.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from kernels import threads as thread_policy
from kernels.arraymodule import gpu_available

BACKENDS = ("auto", "scipy", "pyfftw", "cupy")


def spectrum_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape of the half spectrum of a real batch ``(ncomp, *grid)``: last axis n//2 + 1."""
    return tuple(shape[:-1]) + (shape[-1] // 2 + 1,)


class _CPUThreads:
    """``threads``: a fixed count, or None for the library's policy (:mod:`kernels.threads`)."""

    threads: int | None

    def _set_threads(self, threads: int | None) -> None:
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                    or threads < 1):
            raise ValueError(f"threads = {threads!r}: give a positive integer or None (policy)")
        self.threads = threads

    def threads_for(self, entries: int) -> int:
        """Threads of a transform (and of the solver around it) over ``entries`` numbers."""
        return self.threads or thread_policy.threads_for(entries)


class ScipyBackend(_CPUThreads):
    """scipy.fft with ``workers`` threads (pocketfft); the portable reference backend."""

    name = "scipy"
    xp = np

    def __init__(self, threads: int | None = None) -> None:
        self._set_threads(threads)

    def empty_real(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.empty(shape, dtype=np.float64)

    def empty_spectrum(self, real_shape: tuple[int, ...]) -> np.ndarray:
        return np.empty(spectrum_shape(real_shape), dtype=np.complex128)

    def plan(self, real: np.ndarray, spec: np.ndarray) -> _BoundPlan:
        return _BoundPlan(self, real, spec)

    def rfftn(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        import scipy.fft

        out[...] = scipy.fft.rfftn(x, axes=_grid_axes(x.ndim),
                                     workers=self.threads_for(x.size))
        return out

    def irfftn(self, X: np.ndarray, out: np.ndarray) -> np.ndarray:
        import scipy.fft

        axes = _grid_axes(out.ndim)
        out[...] = scipy.fft.irfftn(X, s=out.shape[1:], axes=axes,
                                      workers=self.threads_for(out.size))
        return out


class PyFFTWBackend(_CPUThreads):
    """pyFFTW: FFTW plans built once per buffer pair, multi-threaded, with wisdom reuse.

    ``planner_effort`` is an FFTW flag; the default FFTW_ESTIMATE plans instantly and, measured
    on the 2-core developer machine at 128³, runs as fast as FFTW_MEASURE. With a slower
    effort, the accumulated wisdom is saved to ``wisdom_path`` (written atomically) and loaded
    on the next start, so planning is paid once per machine.
    """

    name = "pyfftw"
    xp = np

    def __init__(
        self,
        threads: int | None = None,
        planner_effort: str = "FFTW_ESTIMATE",
        wisdom_path: str | os.PathLike | None = None,
    ) -> None:
        import pyfftw

        self._pyfftw = pyfftw
        self._set_threads(threads)
        self.planner_effort = planner_effort
        self.wisdom_path = Path(wisdom_path) if wisdom_path else _default_wisdom_path()
        if planner_effort != "FFTW_ESTIMATE":
            self._import_wisdom()

    def empty_real(self, shape: tuple[int, ...]) -> np.ndarray:
        return self._pyfftw.empty_aligned(shape, dtype="float64")

    def empty_spectrum(self, real_shape: tuple[int, ...]) -> np.ndarray:
        return self._pyfftw.empty_aligned(spectrum_shape(real_shape), dtype="complex128")

    def plan(self, real: np.ndarray, spec: np.ndarray) -> _BoundPlan:
        axes = _grid_axes(real.ndim)
        flags = (self.planner_effort, "FFTW_DESTROY_INPUT")
        threads = self.threads_for(real.size)
        fwd = self._pyfftw.FFTW(real, spec, axes=axes, threads=threads, flags=flags)
        inv = self._pyfftw.FFTW(
            spec, real, axes=axes, direction="FFTW_BACKWARD", threads=threads, flags=flags
        )
        if self.planner_effort != "FFTW_ESTIMATE":
            self._export_wisdom()
        return _BoundPlan(self, real, spec, fwd, inv)

    def rfftn(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        import pyfftw.interfaces.numpy_fft as nfft

        out[...] = nfft.rfftn(x, axes=_grid_axes(x.ndim), threads=self.threads_for(x.size))
        return out

    def irfftn(self, X: np.ndarray, out: np.ndarray) -> np.ndarray:
        import pyfftw.interfaces.numpy_fft as nfft

        axes = _grid_axes(out.ndim)
        out[...] = nfft.irfftn(X, s=out.shape[1:], axes=axes,
                                 threads=self.threads_for(out.size))
        return out

    def _import_wisdom(self) -> None:
        try:
            data = self.wisdom_path.read_bytes()
        except OSError:
            return
        parts = data.split(b"\0\0")
        if len(parts) == 3:
            self._pyfftw.import_wisdom(tuple(parts))

    def _export_wisdom(self) -> None:
        data = b"\0\0".join(self._pyfftw.export_wisdom())
        try:
            self.wisdom_path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.wisdom_path.parent, prefix=".wisdom-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, self.wisdom_path)
        except OSError:
            pass  # wisdom is a cache: failing to store it only costs planning time next run


class CupyBackend:
    """cupy.fft (cuFFT) on the current CUDA device; cuFFT plans are cached by CuPy."""

    name = "cupy"

    def __init__(self) -> None:
        import cupy

        self.xp = cupy
        self.threads = 1

    def threads_for(self, entries: int) -> int:
        """Host threads around the GPU work: one."""
        return 1

    def empty_real(self, shape: tuple[int, ...]) -> Any:
        return self.xp.empty(shape, dtype=self.xp.float64)

    def empty_spectrum(self, real_shape: tuple[int, ...]) -> Any:
        return self.xp.empty(spectrum_shape(real_shape), dtype=self.xp.complex128)

    def plan(self, real: Any, spec: Any) -> _BoundPlan:
        return _BoundPlan(self, real, spec)

    def rfftn(self, x: Any, out: Any) -> Any:
        out[...] = self.xp.fft.rfftn(x, axes=_grid_axes(x.ndim))
        return out

    def irfftn(self, X: Any, out: Any) -> Any:
        out[...] = self.xp.fft.irfftn(X, s=out.shape[1:], axes=_grid_axes(out.ndim))
        return out


class _BoundPlan:
    """Forward/inverse transforms bound to one (real, spectrum) buffer pair."""

    def __init__(self, backend: Any, real: Any, spec: Any, fwd: Any = None, inv: Any = None):
        self.backend, self.real, self.spec = backend, real, spec
        self._fwd, self._inv = fwd, inv

    def forward(self, x: Any = None, out: Any = None) -> Any:
        x = self.real if x is None else x
        out = self.spec if out is None else out
        if self._fwd is not None:
            self._fwd(x, out)
            return out
        return self.backend.rfftn(x, out)

    def inverse(self, X: Any = None, out: Any = None) -> Any:
        X = self.spec if X is None else X
        out = self.real if out is None else out
        if self._inv is not None:
            self._inv(X, out)  # normalised by 1/N (pyFFTW default)
            return out
        return self.backend.irfftn(X, out)


Backend = ScipyBackend | PyFFTWBackend | CupyBackend


def get_backend(name: str | Backend = "auto", *, threads: int | None = None,
                gpu: bool = True) -> Backend:
    """An FFT backend by name: "auto", "scipy", "pyfftw" or "cupy" (or pass one through).

    "auto" picks CuPy when a GPU is usable (and ``gpu`` is True), else pyFFTW when it
    imports, else scipy. ``gpu=False`` keeps "auto" on the CPU, e.g. for a user's
    constitutive law written for numpy arrays.
    """
    if not isinstance(name, str):
        return name
    if name not in BACKENDS:
        raise ValueError(f"unknown FFT backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name == "auto":
        if gpu and gpu_available():
            return CupyBackend()
        try:
            return PyFFTWBackend(threads)
        except ImportError:
            return ScipyBackend(threads)
    if name == "scipy":
        return ScipyBackend(threads)
    if name == "pyfftw":
        try:
            return PyFFTWBackend(threads)
        except ImportError as exc:
            raise ValueError("backend 'pyfftw' needs pyfftw (pip install pyfftw)") from exc
    if not gpu_available():
        raise ValueError(
            "backend 'cupy' needs CuPy and a CUDA GPU (pip install 'homog[gpu]'); none is usable "
            "here: use backend='auto', 'pyfftw' or 'scipy'"
        )
    return CupyBackend()


def available_backends() -> list[str]:
    """Names of the backends usable on this machine."""
    names = ["scipy"]
    try:
        import pyfftw  # noqa: F401

        names.append("pyfftw")
    except ImportError:
        pass
    if gpu_available():
        names.append("cupy")
    return names


def _grid_axes(ndim: int) -> tuple[int, ...]:
    return tuple(range(1, ndim))


def _default_wisdom_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "homog" / "fftw-wisdom"
