"""Elastic Lippmann–Schwinger solvers on a periodic voxel grid.

Unknown: the strain field ε(x), shape (ncomp, *grid), ncomp = 6 (3D) or 3 (2D plane strain,
components 11, 22, √2·12). Macroscopic conditions are given per component: a prescribed
mean strain E_i or a prescribed mean stress Σ_i (strain, stress or mixed control).

Both solvers stop on the same equilibrium-based residual,

    res = ||P:(Σ̄ − σ)||_RMS / ||⟨σ⟩||,   ||f||²_RMS = (1/N) Σ_x |f(x)|²,

where P = G + M_free: G projects onto compatible zero-mean fields (Γ̂0 for C0 = I) and
M_free keeps the mean of the stress-controlled components. ||G:σ|| vanishes exactly when
div σ = 0 (it is the |ξ|-weighted Fourier norm ||ξ·σ̂ / |ξ|||), the second part when the
prescribed mean stresses are met.

* ``"cg"`` (Zeman et al., J. Comput. Phys. 229, 2010; de Geus et al., CMAME 318, 2017): the
  equilibrium P:C:ε = P:Σ̄ over ε ∈ ε0 + range(P) is symmetric positive (semi-)definite, so
  conjugate gradients apply; a stress-controlled mean is just one more unknown direction of P.
  Independent of any reference medium, robust for voids (zero stiffness). The default.
* ``"basic"`` (Moulinec & Suquet, CMAME 157, 1998, §2.4): the fixed point
  ε ← ε − Γ0:σ with λ0, μ0 the means of the phases' extreme Lamé constants; for
  stress-controlled components the mean strain moves by C0_ff⁻¹(Σ̄ − ⟨σ⟩)_f. Iterations grow
  with the contrast; kept as the reference method. Voids are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kernels import threads as thread_policy
from kernels.arraymodule import to_numpy, whole_number
from kernels.fft import get_backend, spectrum_shape
from kernels.frequency import frequency_grid
from kernels.green import apply_green, green_coefficients
from kernels.memory import check_memory
from kernels.projection import (
    ConvergenceError,
    Projection,
    check_tolerance,
    conjugate_gradient,
)
from kernels.stiffness_field import StiffnessField, stiffness_map, validate_labels
from kernels.tensors import PLANE_INDICES, isotropic_stiffness

SOLVERS = ("cg", "basic")
DEFAULT_MAXITER = {"cg": 2000, "basic": 20000}
#: Smallest relative residual asked of an elastic solve (round-off floor of its FFTs: ~1e-13).
MIN_TOL = 1e-14
#: Stiffness contrast from which a solve that fails names it as the likely cause.
HIGH_CONTRAST = 1e6


@dataclass
class ElasticSolution:
    """Result of :func:`solve_elastic`.

    strain, stress : fields (ncomp, *grid) on the backend's device (numpy or cupy).
    macro_strain, macro_stress : ⟨ε⟩, ⟨σ⟩ as numpy vectors (ncomp,).
    iterations, residual : solver iterations and the final equilibrium residual.
    stress_33 : σ33(x) in 2D plane strain (None in 3D).
    """

    strain: Any
    stress: Any
    macro_strain: np.ndarray
    macro_stress: np.ndarray
    iterations: int
    residual: float
    solver: str
    stress_33: Any = None
    info: dict = field(default_factory=dict)


def solve_elastic(
    labels: Any,
    stiffness: Mapping[int, Any],
    macro_strain: Any = None,
    macro_stress: Any = None,
    *,
    lengths: Any = None,
    solver: str = "cg",
    tol: float = 1e-6,
    maxiter: int | None = None,
    backend: Any = "auto",
    discretization: str = "willot",
    reference_medium: tuple[float, float] | None = None,
) -> ElasticSolution:
    """Solve periodic linear elasticity on a voxel RVE under macroscopic strain/stress.

    Parameters
    ----------
    labels : integer array (N1, N2) or (N1, N2, N3), the phase of each voxel.
    stiffness : mapping label -> 6×6 Mandel stiffness (3D; 2D uses its plane-strain block).
        A zero matrix is a void (``solver="cg"`` only).
    macro_strain, macro_stress : vectors of ncomp Mandel components (6 in 3D; 3 in 2D:
        11, 22, √2·12). Each component is prescribed by exactly one of them; NaN marks
        "not prescribed here". Only ``macro_strain`` → strain control; only ``macro_stress``
        → stress control; both → mixed.
    lengths : RVE lengths per axis (default 1).
    solver : "cg" (default) or "basic".
    tol : tolerance on the relative equilibrium residual (module docstring).
    maxiter : iteration limit (default 2000 for CG, 20000 for the basic scheme).
    backend : "auto", "scipy", "pyfftw", "cupy" or a backend from :func:`kernels.get_backend`.
    discretization : Green operator discretization, "willot" (default) or "spectral".
    reference_medium : (λ0, μ0) of the basic scheme; default the means of the phases' extreme
        Lamé constants (Moulinec & Suquet 1998). The converged solution does not depend on it.

    Raises ``ValueError`` on bad input, ``MemoryError`` when the grid does not fit and
    :class:`ConvergenceError` (with iterations and residual) when the solver does not converge.
    """
    problem = LippmannSchwinger(labels, stiffness, lengths=lengths, solver=solver, tol=tol,
                                maxiter=maxiter, backend=backend, discretization=discretization,
                                reference_medium=reference_medium)
    return problem.solve(macro_strain, macro_stress)


class LippmannSchwinger:
    """A periodic elastic RVE set up once (grid, stiffness, buffers, FFT plans), solved often.

    ``solve(macro_strain, macro_stress)`` returns an :class:`ElasticSolution` whose fields are
    views of the work buffers: copy them before the next solve if they are to be kept.
    """

    def __init__(
        self,
        labels: Any,
        stiffness: Mapping[int, Any],
        *,
        lengths: Any = None,
        solver: str = "cg",
        tol: float = 1e-6,
        maxiter: int | None = None,
        backend: Any = "auto",
        discretization: str = "willot",
        reference_medium: tuple[float, float] | None = None,
    ) -> None:
        labels = validate_labels(labels)
        if solver not in SOLVERS:
            raise ValueError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
        tol = check_tolerance(tol, "tol", MIN_TOL)
        if maxiter is not None and whole_number(maxiter, 1) is None:
            raise ValueError(f"maxiter = {maxiter!r} must be an integer >= 1, or None for the "
                             f"default ({DEFAULT_MAXITER[solver]} for solver={solver!r})")
        if reference_medium is not None and not _pair(reference_medium):
            raise ValueError(f"reference_medium = {reference_medium!r} must be two numbers "
                             "(lam0, mu0), or None")
        self.solver = solver
        self.reference_medium = reference_medium
        self.tol = float(tol)
        self.maxiter = int(maxiter or DEFAULT_MAXITER[solver])
        self.backend = get_backend(backend)
        xp = self.backend.xp
        self.xp = xp
        self.shape = tuple(int(s) for s in labels.shape)
        self.ndim = len(self.shape)
        self.ncomp = 6 if self.ndim == 3 else 3
        check_memory(estimate_memory(self.shape, solver), xp,
                     f"an elastic {solver} solve on a {'x'.join(map(str, self.shape))} grid")
        stiffness = stiffness_map(stiffness)
        self.field = StiffnessField(xp.asarray(labels), stiffness, xp, allow_void=True)
        if solver == "basic" and self.field.has_void:
            raise ValueError(
                "the basic (Moulinec-Suquet) scheme does not converge with voids (zero "
                "stiffness); use solver='cg'"
            )
        self.grid = frequency_grid(self.shape, lengths, discretization, xp)
        real_shape = (self.ncomp,) + self.shape
        self._x = self.backend.empty_real(real_shape)
        self._w = self.backend.empty_real(real_shape)
        self._spec = self.backend.empty_spectrum(real_shape)
        if solver == "cg":
            self._r = self.backend.empty_real(real_shape)
            self._p = self.backend.empty_real(real_shape)
        self.threads = self.backend.threads_for(self.ncomp * self.grid.size)
        self._plan = self.backend.plan(self._w, self._spec)
        self.projection = Projection(self.grid, self._plan, xp)
        self._zero = (slice(None),) + (0,) * self.ndim
        self.N = self.grid.size

    # ---------------------------------------------------------------- macroscopic conditions
    def _macro(self, macro_strain: Any, macro_stress: Any) -> tuple[np.ndarray, ...]:
        """Split the load into (free mask, E0, Σ̄) with E0 an initial mean-strain guess."""
        n = self.ncomp
        strain = _vector(macro_strain, n, "macro_strain")
        stress = _vector(macro_stress, n, "macro_stress")
        fixed = np.isfinite(strain)
        free = np.isfinite(stress)
        if np.any(fixed & free) or not np.all(fixed | free):
            raise ValueError(
                f"each of the {n} components must be prescribed by exactly one of macro_strain "
                f"and macro_stress (use NaN for 'not prescribed'); strain given for "
                f"{np.flatnonzero(fixed).tolist()}, stress for {np.flatnonzero(free).tolist()}"
            )
        E0 = np.where(fixed, strain, 0.0)
        S = np.where(free, stress, 0.0)
        if free.any():
            cv = self.field.voigt_average()
            rhs = S[free] - cv[np.ix_(free, fixed)] @ E0[fixed]
            E0[free] = np.linalg.solve(cv[np.ix_(free, free)], rhs)
        return free, E0, S

    # ---------------------------------------------------------------- solve
    def solve(self, macro_strain: Any = None, macro_stress: Any = None) -> ElasticSolution:
        """Solve for one macroscopic load (see :func:`solve_elastic`).

        Runs on :attr:`threads` threads in every pool (:mod:`kernels.threads`).
        """
        with thread_policy.limit(self.threads):
            return self._solve(macro_strain, macro_stress)

    def _solve(self, macro_strain: Any, macro_stress: Any) -> ElasticSolution:
        free, E0, S = self._macro(macro_strain, macro_stress)
        xp = self.xp
        x = self._x
        x[...] = xp.asarray(E0).reshape((-1,) + (1,) * self.ndim)
        scale = max(float(np.linalg.norm(self.field.voigt_average() @ E0)),
                    float(np.linalg.norm(S)))
        if scale == 0.0:
            iterations, residual = 0, 0.0
            self.field.apply(x, self._w)
        elif self.solver == "cg":
            iterations, residual = self._cg(free, S, scale)
        else:
            iterations, residual = self._basic(free, S, scale)
        stress = self._w  # σ(x): both solvers end on the stress of their converged strain
        macro_strain_ = to_numpy(x.reshape(self.ncomp, -1).mean(axis=1))
        macro_stress_ = to_numpy(stress.reshape(self.ncomp, -1).mean(axis=1))
        s33 = self.field.out_of_plane_stress(x) if self.ndim == 2 else None
        return ElasticSolution(x, stress, macro_strain_, macro_stress_, iterations, residual,
                               self.solver, s33, {"backend": self.backend.name,
                                                  "discretization": self.grid.discretization})

    def _cg(self, free: np.ndarray, S: np.ndarray, scale: float) -> tuple[int, float]:
        """CG on P:C:ε = P:Σ̄ over ε ∈ E0 + range(P), restarted from the true residual.

        Returns with the stress C:x of the converged strain in ``self._w``.
        """
        x, r = self._x, self._r
        S_col = self.xp.asarray(S).reshape((-1,) + (1,) * self.ndim)
        iterations = 0
        while True:
            self.field.apply(x, r)
            r *= -1.0
            r += S_col
            self.projection(r, free)
            try:
                its, _ = conjugate_gradient(
                    self.field.apply, lambda v: self.projection(v, free), x, r, self._p,
                    self._w, atol=self.tol * scale, maxiter=self.maxiter - iterations)
            except ConvergenceError as exc:
                raise ConvergenceError(
                    f"elastic CG solve: {exc} (relative residual {exc.residual / scale:.3e}, "
                    f"tol {self.tol:.1e}){self._contrast_hint()}", iterations + exc.iterations,
                    exc.residual / scale) from None
            iterations += its
            # the recursive residual can drift from the true one: check, restart if needed
            self.field.apply(x, self._w)
            residual = self.projection.residual(self._w, free, S) / scale
            if residual <= self.tol or its == 0:
                return iterations, float(residual)

    def _basic(self, free: np.ndarray, S: np.ndarray, scale: float) -> tuple[int, float]:
        """Moulinec–Suquet fixed point ε ← ε − Γ0:σ with mixed macroscopic conditions.

        Returns with the stress C:x of the converged strain in ``self._w``.
        """
        if self.reference_medium is None:
            (lmin, lmax), (mmin, mmax) = self.field.lame_extremes()
            lam0, mu0 = 0.5 * (lmin + lmax), 0.5 * (mmin + mmax)
        else:
            lam0, mu0 = (float(v) for v in self.reference_medium)
        green_coefficients(lam0, mu0)  # validates the reference medium
        C0 = isotropic_stiffness(lam=lam0, mu=mu0)
        if self.ndim == 2:
            C0 = C0[np.ix_(PLANE_INDICES, PLANE_INDICES)]
        C0ff_inv = np.linalg.inv(C0[np.ix_(free, free)]) if free.any() else None
        x, w = self._x, self._w
        residual = np.inf
        for iterations in range(self.maxiter + 1):
            self.field.apply(x, w)
            residual = self.projection.residual(w, free, S) / scale
            if not np.isfinite(residual):
                break
            if residual <= self.tol:
                return iterations, float(residual)
            if iterations == self.maxiter:
                break
            spec = self.projection.spectrum
            mean_stress = self.projection.mean_of_spectrum()
            apply_green(spec, self.grid.directions, lam0, mu0)
            spec[self._zero] = 0.0
            self._plan.inverse(spec, w)
            x -= w
            if C0ff_inv is not None:
                dE = np.zeros(self.ncomp)
                dE[free] = C0ff_inv @ (S[free] - mean_stress[free])
                x += self.xp.asarray(dE).reshape((-1,) + (1,) * self.ndim)
        raise ConvergenceError(
            f"basic scheme did not converge: residual {residual:.3e} > tol {self.tol:.1e} after "
            f"{iterations} iterations (maxiter={self.maxiter}); use solver='cg' or raise maxiter"
            f"{self._contrast_hint()}", iterations, float(residual))

    def _contrast_hint(self) -> str:
        """The phases' stiffness contrast, for the message of a failed solve where it is
        high enough (:data:`HIGH_CONTRAST`) to be the likely cause; else ''."""
        contrast = self.field.contrast
        if contrast < HIGH_CONTRAST:
            return ""
        return (f"; the stiffness contrast of the phases is {contrast:.1e} (largest over "
                "smallest eigenvalue of their stiffness matrices), the likely cause (in double "
                "precision so high a contrast stalls or breaks the iteration): check the "
                "moduli, and model a pore as a void (zero stiffness, solver='cg') rather than "
                "a very soft phase")


def estimate_memory(shape: tuple[int, ...], solver: str = "cg") -> int:
    """Bytes an elastic solve allocates: real fields, the half spectrum and frequency data."""
    ncomp = 6 if len(shape) == 3 else 3
    n = int(np.prod(shape))
    nh = int(np.prod(spectrum_shape(tuple(shape))))
    real_fields = 4 if solver == "cg" else 2
    return (real_fields * ncomp * 8 * n + ncomp * 16 * nh + len(shape) * 8 * nh
            + 8 * n)  # labels on device and phase index sets


def _pair(value: Any) -> bool:
    """True for two real numbers (a tuple, list or array of host or device scalars)."""
    try:
        if len(value) != 2:
            return False
        [float(v) for v in value]
    except (TypeError, ValueError):
        return False
    return True


def _vector(value: Any, n: int, name: str) -> np.ndarray:
    if value is None:
        return np.full(n, np.nan)
    try:
        v = np.asarray(to_numpy(value), dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {n} numbers (NaN where not prescribed), got "
                         f"{value!r}") from None
    if v.shape != (n,):
        names = "11, 22, 33, 23, 13, 12" if n == 6 else "11, 22, 12"
        raise ValueError(f"{name} must have {n} Mandel components ({names}), got {v.size}")
    if np.any(np.isinf(v)):
        raise ValueError(f"{name} has infinite entries; use NaN only to mark 'not prescribed'")
    return v

