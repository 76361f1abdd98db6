"""Online stage of Self-consistent Clustering Analysis: the discrete Lippmann–Schwinger system.

Unknowns of an increment: the cluster strain increments Δε_I (K × m) and the far-field strain
increment Δε⁰ (m), with m = 6 in 3D and 3 (11, 22, √2·12) in 2D plane strain (Liu, Bessa &
Liu, CMAME 306, 2016, eqs. 30–33):

    R_I = Δε_I + Σ_J D_IJ:(Δσ_J − C0:Δε_J) − Δε⁰ = 0     for every cluster I,
    Σ_J c_J Δε_J[k] = ΔE[k]  (strain-controlled k),  Σ_J c_J Δσ_J[k] = ΔΣ[k]  (stress-controlled).

Newton with the algorithmic tangents C_J: the cluster block A_IJ = δ_IJ I + D_IJ:(C_J − C0)
is factorized once per iteration and solved for [Y | X] = A⁻¹[−R | 1 ⊗ I], so that
δε_I = Y_I + X_I δε⁰ and the macroscopic conditions leave an m × m system for δε⁰ — strain,
stress and mixed control alike. At convergence the same factorization gives the homogenized
algorithmic tangent C_hom = (Σ c_J C_J X_J)(Σ c_J X_J)⁻¹.

The reference medium is self-consistent (§2.4 of Liu et al. 2016): (λ0, μ0) fit the
increment — ``"regression"`` (default): the isotropic C0 that best maps the macroscopic strain
increment to the stress increment (Liu et al. 2016, eq. 42), falling back to the projection
where that fit is singular; ``"projection"``: the isotropic part of C_hom (least squares over
the m components). With the regression, the self-consistency F = θ − fit(ΔE, ΔΣ) = 0,
θ = (λ0, μ0), is solved by Newton together with the cluster strains: δε_I = Y_I + X_I δε⁰ +
Z_I δθ with Z = −A⁻¹ ∂R/∂θ from the same factorization, and (δε⁰, δθ) from one (m + 2)
system per point (:meth:`OnlineSolver._newton_step`). Otherwise — the projection, a singular
or inadmissible fit, a point whose Newton merit grew (it restarts its increment) — the medium
is refitted between Newton iterations (a fixed point). Either way the
increment converges in one Newton loop with a medium within ``scs_tol`` of its fit (rather
than one full Newton solve per self-consistent iteration). Measured on a 2D fibre RVE (32²,
30 %, von Mises matrix, uniaxial stress to 5 %): final-stress error against the full-field
solution 4.6 % / 2.2 % (regression) against 19 % / 10 % (projection) at 18 / 54 clusters.
The projection is dominated by the still-elastic directions of the tangent, which the load
path never probes.

Non-local materials (:class:`homog.materials.VonMisesDamage` with ``nonlocal_length``) average
their damage driving variable over the clusters of their phase with the matrix W_IJ of
:func:`homog.nonlocal_average.cluster_weights`. Their consistent tangent couples the clusters,
∂Δσ_I/∂Δε_J = δ_IJ C_I − W_IJ U_I ⊗ G_J (:class:`~homog.materials.damage.NonlocalCoupling`),
and enters the Jacobian, the Newton step and C_hom as one more term, so Newton stays quadratic.

A model whose phases are all stable in Drucker's sense (elastic, von Mises with non-negative
hardening: ``Material.can_soften`` False) has a stable macroscopic response too (Hill, J. Mech.
Phys. Solids 15, 1967): ΔΣ:ΔE ≥ ΔΣ:⟨C⟩⁻¹:ΔΣ > 0 over every increment, ⟨C⟩ the Voigt mean
of the phases' elastic stiffness (:meth:`OnlineSolver._unstable`). The discrete SCA equations
can nevertheless have other roots, and Newton can land on one (measured: a 32² ROM of 4 + 2
clusters under shear jumped to normal strains of ±0.7 at a shear strain of 0.6 %, its shear
stress −4.4 where the DNS gives +0.5; a 48² ROM of 36 + 18 clusters sheared with ε11 held
reached σ11 = −16.6 and a shear stress 10 times the DNS's, with positive work). An increment
of such a model whose converged second-order work is below half that bound (``VOIGT_SLACK``;
``STABILITY_TOL``) while its free (stress-controlled) strains moved more than the controlled
ones is refused (not converged), so that it is cut like any failed increment, and reported as
unstable (``IncrementResult.unstable``). Small dips of
coarse models at the onset of plastic flow (negative work, small free strains) pass, as
before; an increment with every strain component prescribed (the UMAT) has no free strain
and is not checked.

Every array carries a leading axis of material points: one solver advances a batch of points
(the integration points of an FE² model, :mod:`homog.umat`) with batched linear solves and
one constitutive call per material group, on numpy or cupy. D = a(λ0, μ0) D1 − c(λ0, μ0) D2
is never formed per point: the residual takes two GEMMs of the whole batch with the shared
D1, D2, and the Jacobian two batched products. Each point keeps its own reference medium,
iteration count and convergence flag; a point that fails does not disturb the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from homog.inputs import check_int
from homog.materials.von_mises import ReturnMappingError
from homog.nonlocal_average import ClusterAverage
from homog.sca.batched_linalg import (
    assemble_jacobians,
    lu_factor_points,
    lu_solve_points,
    vector_products,
)
from homog.sca.krylov import KrylovSteps
from kernels import green_coefficients
from kernels import threads as thread_policy
from kernels.arraymodule import array_module, real_scalar
from kernels.projection import check_tolerance
from kernels.tensors import PLANE_INDICES, lame_projection

SCS_SCHEMES = ("projection", "regression")
#: Systems with fewer unknowns (K·m) run their dense linear algebra on one BLAS thread.
_THREADED_SIZE = 2000
#: A reference medium within this relative distance of the one of a factorization keeps it.
THETA_RTOL = 1e-11
#: A Newton step on the medium after which the merit grew is halved this many times (back
#: toward the last accepted iterate) before the increment restarts with fixed-point refits.
MAX_HALVINGS = 1
#: An increment whose volumetric (deviatoric) work is below this fraction of |ΔΣ:ΔE| does not
#: determine λ0 (μ0): regression_fit's ``hold``.
UNDETERMINED_WORK = 1e-2
#: A ROM of stable phases refuses an increment whose second-order work ΔΣ:ΔE is below the
#: Voigt bound ΔΣ:⟨C⟩⁻¹:ΔΣ of its phases by more than this fraction of it (the SCA's fields
#: meet the bound only approximately) ...
VOIGT_SLACK = 0.5
#: ... and by more than this fraction of the work the applied load increment would do
#: elastically (_unstable).
STABILITY_TOL = 1e-2


@dataclass
class OnlineState:
    """Converged state of P material points of one reduced-order model (P = 1 for a load path).

    ``strain`` (P, K, m) and ``stress`` (P, K, 6): cluster strains and full stresses;
    ``material_states``: for each material group of the solver, the material's state dict with
    arrays (P·n_g, size), point by point (the n_g clusters of point p are rows p·n_g to
    (p+1)·n_g − 1); ``lam0``, ``mu0`` (P,): the self-consistent reference medium of each point.
    ``factors``: the last factorized Jacobian of every point, with its X = A⁻¹(1 ⊗ I) (CPU,
    systems solved by GMRES), which preconditions the next increment, or None; it is not
    part of the physical state (a copy or a subset of points drops it).
    States are immutable: the solver never writes into the arrays of a state it was given.
    """

    strain: Any
    stress: Any
    material_states: list[dict]
    lam0: Any
    mu0: Any
    factors: dict | None = None

    @property
    def npoints(self) -> int:
        return int(self.strain.shape[0])

    def take(self, points: Any) -> OnlineState:
        """The state of the points ``points`` (an integer index array of this state's module)."""
        P = self.npoints
        states = [{k: v[_rows(points, v.shape[0] // P)] for k, v in st.items()}
                  for st in self.material_states]
        return OnlineState(self.strain[points], self.stress[points], states,
                           self.lam0[points], self.mu0[points])

    def copy(self) -> OnlineState:
        """A state that owns all its arrays."""
        return OnlineState(self.strain.copy(), self.stress.copy(),
                           [{k: v.copy() for k, v in st.items()} for st in self.material_states],
                           self.lam0.copy(), self.mu0.copy())

    def put(self, points: Any, other: OnlineState) -> None:
        """Write ``other`` into the points ``points`` of this state (which must own its arrays)."""
        P = self.npoints
        self.strain[points], self.stress[points] = other.strain, other.stress
        self.lam0[points], self.mu0[points] = other.lam0, other.mu0
        for st, new in zip(self.material_states, other.material_states):
            for k, v in st.items():
                v[_rows(points, v.shape[0] // P)] = new[k]


def _rows(points: Any, n: int) -> Any:
    """Rows of a point-major (P·n, …) array that belong to ``points``."""
    xp = array_module(points)
    return (points[:, None] * n + xp.arange(n)).reshape(-1)


@dataclass
class IncrementResult:
    """One increment of P points.

    ``tangent`` (P, 6, m): the homogenized algorithmic tangent ∂Σ/∂E of all six stress
    components with respect to the m strain components (its ``comps`` rows are the m × m
    C_hom). A point that failed (``converged`` False) keeps its start state and has a NaN
    tangent; ``residual`` is its last scaled residual; ``unstable`` (P,) marks the points
    refused for a converged increment of too little second-order work (module docstring).
    """

    state: OnlineState
    tangent: Any
    newton_iterations: Any
    scs_iterations: Any
    scs_converged: Any
    converged: Any
    residual: Any
    unstable: Any
    substeps: Any = None


class OnlineSolver(KrylovSteps):
    """The SCA system of one reduced-order model, for one or many material points at once.

    ``D1``, ``D2``: interaction parts (K, K, m, m); ``fractions`` (K,); ``groups``: list of
    (material, cluster index array) covering every cluster once; ``cluster_lengths`` (K,):
    characteristic length of each cluster, handed to the materials as ``element_length``
    (regularized softening laws); ``nonlocal_weights``: per group, the averaging matrix W
    (n_g, n_g) of a non-local material, or None; ``interactions``: the :attr:`interactions`
    of an earlier solver of the same D1, D2 and fractions, shared instead of rebuilt (the
    reduced-order model passes them from one run to the next). Every array operation carries
    a leading points axis and is written with the array module of the state (numpy or
    cupy): a batch of points is advanced together (batched linear solves, one constitutive
    call per material group).

    On the CPU each point keeps its LU factors (LAPACK getrf). A system of fewer than
    ``krylov_from`` unknowns (K·m) refactors at every Newton iteration. A larger one
    factorizes in single precision (its solutions refined to double, :meth:`_refine`) and
    takes its Newton steps by GMRES on the current Jacobian preconditioned by the last
    factorization (:meth:`_krylov_steps`), kept across iterations, refits of the reference
    medium and increments (:attr:`OnlineState.factors`); it refactors when GMRES was slow.
    At convergence either refactors only if its Jacobian moved since (a medium within
    ``THETA_RTOL`` of the factorized one counts as unmoved), so the returned tangent is exact
    and an elastic increment pays one factorization. The Jacobians are assembled by one
    compiled pass over the points (:func:`homog.sca.batched_linalg.assemble_jacobians`). On a
    GPU each iteration is one batched solve. With the regression scheme the reference medium
    is a Newton unknown (:meth:`_newton_step`, :meth:`_krylov_steps`). The decisions are taken
    point by point, so a point advanced alone or in a batch follows the same iterates (to
    rounding in the single-precision GMRES products of large systems, whose batched GEMM and
    single-point GEMV round differently: states within ~1e-11 there).
    """

    def __init__(self, D1: np.ndarray, D2: np.ndarray, fractions: np.ndarray,
                 groups: list[tuple[Any, np.ndarray]], *, cluster_lengths: Any = None,
                 tol: float = 1e-8, max_newton: int = 25, scs: str = "regression",
                 scs_tol: float = 1e-4, scs_maxiter: int = 20, krylov_from: int = 300,
                 scs_tangent: bool = False, nonlocal_weights: Any = None,
                 interactions: dict | None = None) -> None:
        if scs not in SCS_SCHEMES:
            raise ValueError(f"unknown self-consistent scheme {scs!r}; choose one of "
                             f"{', '.join(SCS_SCHEMES)}")
        check_tolerance(tol, "tol")
        value = real_scalar(scs_tol)
        if value is None or not value > 0:
            raise ValueError(f"scs_tol = {scs_tol!r} must be a number > 0 (inf: a frozen "
                             "reference medium)")
        for name, value in (("scs_maxiter", scs_maxiter), ("max_newton", max_newton),
                            ("krylov_from", krylov_from)):
            check_int(value, name, 1)
        self.K, self.m = D1.shape[0], D1.shape[2]
        self.c = np.asarray(fractions, dtype=float)
        self.groups = [(mat, np.asarray(idx)) for mat, idx in groups]
        self.cluster_lengths = (None if cluster_lengths is None
                                else np.asarray(cluster_lengths, dtype=float))
        self.comps = np.arange(6) if self.m == 6 else np.asarray(PLANE_INDICES)
        self.tol, self.max_newton = float(tol), int(max_newton)
        self.scs, self.scs_tol, self.scs_maxiter = scs, float(scs_tol), int(scs_maxiter)
        self.krylov_from = int(krylov_from)
        # the correction differentiates the regression fit at its fixed point: it applies when
        # the reference medium is refitted to convergence, not when it is frozen (scs_tol = inf)
        self.scs_tangent = bool(scs_tangent) and scs == "regression" and np.isfinite(scs_tol)
        # Newton on (λ0, μ0) needs the regression fit (differentiable) and a refitted medium
        self.newton_medium = scs == "regression" and np.isfinite(scs_tol)
        # interaction parts laid out as Dᵀ blocks [J, b, (I a)] = D_IJ[a, b], so that the
        # Jacobian comes out of one batched product already in LAPACK's (column-major) order
        km = self.K * self.m
        weights = [None] * len(self.groups) if nonlocal_weights is None else list(nonlocal_weights)
        if len(weights) != len(self.groups):
            raise ValueError(f"nonlocal_weights has {len(weights)} entries for "
                             f"{len(self.groups)} material groups")
        # W of every non-local group as one block-diagonal (K, K) matrix, for the coupling
        W = np.zeros((self.K, self.K))
        for (_, idx), Wg in zip(self.groups, weights):
            if Wg is not None:
                Wg = np.asarray(Wg, dtype=float)
                if Wg.shape != (idx.size, idx.size) or not np.all(np.isfinite(Wg)):
                    raise ValueError(f"nonlocal weights of a group of {idx.size} clusters must "
                                     f"be a finite ({idx.size}, {idx.size}) matrix, got "
                                     f"{Wg.shape}")
                W[np.ix_(idx, idx)] = Wg
        self.coupled = any(Wg is not None for Wg in weights)
        #: phases all stable (no softening): increments of too little second-order work are
        #: refused; 2μ̄, the Voigt mean of the phases' elastic 2μ, scales the work (_unstable)
        self.stable = not any(mat.can_soften for mat, _ in self.groups)
        self._two_mu = float(sum(2.0 * lame_projection(mat.stiffness)[1] * self.c[idx].sum()
                                 for mat, idx in self.groups))
        #: ⟨C⟩⁻¹ on the m components (the plane-strain block in 2D), ⟨C⟩ the Voigt mean of the
        #: phases' elastic stiffness: the bound of the second-order work (_unstable)
        voigt = sum(np.asarray(mat.stiffness, dtype=float) * self.c[idx].sum()
                    for mat, idx in self.groups)
        self._voigt_compliance = np.linalg.inv(voigt[np.ix_(self.comps, self.comps)])
        #: points whose Jacobian was LU-factorized (CPU path), since construction: the cost
        #: measure of benchmarks/umat.py and of the tests of Newton on the medium
        self.factorizations = 0
        if interactions is not None and not all(
                interactions[name].shape == (self.K, self.m, km) for name in ("D1T", "D2T")):
            raise ValueError(f"interactions of another model: D1T, D2T of shapes "
                             f"{interactions['D1T'].shape}, {interactions['D2T'].shape}, "
                             f"expected {(self.K, self.m, km)}")
        if interactions is None:
            interactions = {name: np.ascontiguousarray(
                D.transpose(1, 3, 0, 2).reshape(self.K, self.m, km))
                for name, D in (("D1T", D1), ("D2T", D2))}
            with self.blas_threads():  # a few GEMVs: not worth waking the BLAS pool
                interactions["reciprocal"] = _reciprocal_weights(interactions, self.c, self.m)
        #: D1, D2 laid out for the solver (Dᵀ blocks, the reciprocity weights and, for large
        #: systems, single-precision copies made at first use): shareable by later solvers
        self.interactions = interactions
        self._host = {
            "W": W,
            "averages": [None if Wg is None else ClusterAverage(np.asarray(Wg, dtype=float))
                         for Wg in weights],
            "D1T": interactions["D1T"], "D2T": interactions["D2T"],
            "reciprocal": interactions["reciprocal"],
            "c": self.c, "comps": self.comps,
            "stack": np.tile(np.eye(self.m), (self.K, 1)),  # (K m, m): ∂R/∂Δε⁰ = −1 ⊗ I
            "C0_basis": _isotropic_basis(self.comps),
            "groups": [idx for _, idx in self.groups],
            "voigt_compliance": self._voigt_compliance,
        }
        self._device: dict[str, dict] = {}

    def _arrays(self, xp: Any) -> dict:
        """The solver's constant arrays on the array module ``xp`` (copied once per module)."""
        if xp is np:
            return self._host
        if xp.__name__ not in self._device:
            self._device[xp.__name__] = {
                k: ([xp.asarray(i) for i in v] if k == "groups" else
                    [None if i is None else ClusterAverage(xp.asarray(i.matrix)) for i in v]
                    if k == "averages" else
                    tuple(xp.asarray(b) for b in v) if k == "C0_basis" else
                    None if v is None else xp.asarray(v))
                for k, v in self._host.items()}
        return self._device[xp.__name__]

    def _interactions(self, a: dict, V: Any) -> tuple[Any, Any]:
        """D1 v and D2 v (q, K m) for every row v of V (q, K m), in double precision.

        The shared arrays hold Dᵀ (C order), whose rows are D's columns. Where the interaction
        tensors are reciprocal, c_I D_IJ = c_J D_JIᵀ (Liu et al. 2016; ``a["reciprocal"]``,
        checked once), diag(c) D is symmetric and D v = c⁻¹ ∘ (Dᵀ (c ∘ v)): products along
        the rows of the stored matrix, 1.2–1.7× faster than the column-wise D v on the
        945-unknown ROM of benchmarks/online.py.
        """
        km = self.K * self.m
        D1T, D2T = a["D1T"].reshape(km, km), a["D2T"].reshape(km, km)
        cc = a["reciprocal"]
        if cc is None:
            return vector_products(D1T.T, V), vector_products(D2T.T, V)
        u = V * cc
        return vector_products(D1T, u) / cc, vector_products(D2T, u) / cc

    def blas_threads(self) -> Any:
        """Thread limit of the online stage (:mod:`kernels.threads`): under "auto", one thread
        below ``_THREADED_SIZE`` unknowns.

        Measured here (2 cores, busy): OpenBLAS' threaded LU solve of a 54×54 system took
        7.7 ms against 0.08 ms on one thread, and the factorization of a 945×945 one 230 ms
        against 47 ms; small dense systems gain nothing from threads.
        """
        n = self.K * self.m
        return thread_policy.limit(thread_policy.threads_for(n, threshold=_THREADED_SIZE))

    def macro(self, state: OnlineState, strain_controlled: Any) -> Any:
        """(P, m): per component, the macroscopic strain (strain-controlled) or stress."""
        a = self._arrays(array_module(state.strain))
        return _where(strain_controlled, a["c"] @ state.strain,
                      a["c"] @ state.stress[:, :, a["comps"]])

    def initial_state(self, lam0: float, mu0: float, npoints: int = 1,
                      xp: Any = np) -> OnlineState:
        """The virgin state of ``npoints`` points with the reference medium (λ0, μ0)."""
        states = []
        for mat, idx in self.groups:
            extra = {}
            if self.cluster_lengths is not None:
                extra["element_length"] = xp.asarray(np.tile(self.cluster_lengths[idx], npoints))
            states.append(mat.initial_state(npoints * idx.size, xp, **extra))
        return OnlineState(xp.zeros((npoints, self.K, self.m)), xp.zeros((npoints, self.K, 6)),
                           states, xp.full(npoints, float(lam0)), xp.full(npoints, float(mu0)))

    # ------------------------------------------------------------------ constitutive update
    def _constitutive(self, state: OnlineState, dstrain: Any):
        """Cluster stresses (P, K, 6), tangents (P, K, 6, 6), new material states, ok (P,)
        and the non-local coupling (U (P, K, 6), G (P, K, m)), None without non-local groups.
        """
        xp = array_module(dstrain)
        a = self._arrays(xp)
        P = dstrain.shape[0]
        full = xp.zeros((P, self.K, 6))
        full[:, :, a["comps"]] = dstrain
        stress = xp.empty((P, self.K, 6))
        tangent = xp.empty((P, self.K, 6, 6))
        U = xp.zeros((P, self.K, 6)) if self.coupled else None
        G = xp.zeros((P, self.K, 6)) if self.coupled else None
        ok = xp.ones(P, dtype=bool)
        new_states = []
        for (mat, _), idx, st, average in zip(self.groups, a["groups"], state.material_states,
                                              a["averages"]):
            s, t, ns, good, coupling = _material_update(mat, full[:, idx], st, average)
            stress[:, idx], tangent[:, idx] = s, t
            if coupling is not None and U is not None:
                U[:, idx], G[:, idx] = coupling
            new_states.append(ns)
            ok &= good
        coupling = None if U is None else (U, G[:, :, a["comps"]])
        return stress, tangent, new_states, ok, coupling

    # ------------------------------------------------------------------ one increment
    def _reference(self, lam0: Any, mu0: Any, a: dict) -> tuple[Any, Any, Any]:
        """Per point, the coefficients (a, c) of D = a D1 − c D2 and C0 (P, m, m)."""
        coef_a, coef_c = green_coefficients(lam0, mu0)
        L, M = a["C0_basis"]
        return coef_a, coef_c, lam0[:, None, None] * L + mu0[:, None, None] * M

    def increment(self, state: OnlineState, target: Any, strain_controlled: Any,
                  guess: Any = None) -> IncrementResult:
        """Solve one increment of every point from the converged ``state``.

        ``target`` (P, m) or (m,) holds, per component, the increment ΔE (strain-controlled)
        or ΔΣ (stress-controlled); ``strain_controlled`` (m,) bool is shared by the points;
        ``guess`` (P, K, m) is an initial Δε. With the regression scheme the reference medium
        (λ0, μ0) is a Newton unknown beside the cluster strains (:meth:`_newton_step`); with the
        projection scheme, or where the fit is singular or inadmissible, it is refitted between
        Newton iterations (at most ``scs_maxiter`` times). Either way Newton and the
        self-consistency converge together: a point has converged when its residual is below
        ``tol`` with a reference medium within ``scs_tol`` (relative) of its fit. Points that fail
        (Newton not converged in ``max_newton`` iterations, a singular Jacobian, a failed
        return mapping, non-finite values) are reported in ``converged`` and do not disturb
        the others.
        """
        xp = array_module(state.strain)
        a = self._arrays(xp)
        K, m, c, comps = self.K, self.m, a["c"], a["comps"]
        P, km = state.npoints, K * m
        controlled = xp.asarray(strain_controlled, dtype=bool)
        target = xp.broadcast_to(xp.asarray(target, dtype=float), (P, m))
        keep = xp is np  # LAPACK factors kept per point (CPU); batched solves on a GPU
        krylov = keep and km >= self.krylov_from

        out = state.copy()
        tangent_out = xp.full((P, 6, m), xp.nan)
        iterations, scs_iterations = xp.zeros(P, dtype=int), xp.zeros(P, dtype=int)
        scs_out, converged_out = xp.ones(P, dtype=bool), xp.zeros(P, dtype=bool)
        residual_out, unstable_out = xp.full(P, xp.inf), xp.zeros(P, dtype=bool)

        scale_e = xp.maximum(
            xp.maximum(xp.max(xp.abs(xp.where(controlled, target, 0.0)), axis=1),
                       xp.max(xp.abs(state.strain.reshape(P, km)), axis=1) * 1e-3),
            1e-12)
        start = xp.zeros((P, K, m)) if guess is None else xp.array(guess, dtype=float)
        w = _Work(points=xp.arange(P), state=state, target=target, scale_e=scale_e,
                  de=start.copy(), guess=start,
                  de0=xp.zeros((P, m)), lam0=state.lam0.copy(), mu0=state.mu0.copy(),
                  updates=xp.zeros(P, dtype=int), scs_good=xp.ones(P, dtype=bool),
                  previous=xp.full(P, xp.inf), stale=xp.ones(P, dtype=bool),
                  X=xp.zeros((P, K, m, m)), Xbar=xp.zeros((P, m, m)),
                  CXbar=xp.zeros((P, m, m)), C_hom=xp.full((P, 6, m), xp.nan),
                  lu_tangent=xp.zeros((P, K, m, m)),
                  lu_U=xp.zeros((P, K, 6)) if self.coupled else None,
                  lu_G=xp.zeros((P, K, m)) if self.coupled else None,
                  newton=xp.zeros(P, dtype=bool), F=xp.zeros((P, 2)),
                  stepped=xp.zeros(P, dtype=bool), fixed=xp.zeros(P, dtype=bool),
                  lu_theta=xp.zeros((P, 2)), merit=xp.full(P, xp.inf),
                  restart=xp.zeros(P, dtype=bool), leave=xp.zeros(P, dtype=bool),
                  fresh=xp.ones(P, dtype=bool), deadline=xp.full(P, self.max_newton),
                  refresh=xp.zeros(P, dtype=bool), step_de=xp.zeros((P, K, m)),
                  step_de0=xp.zeros((P, m)), step_dtheta=xp.zeros((P, 2)),
                  halvings=xp.zeros(P, dtype=int), back=xp.zeros(P, dtype=bool))
        w.coef_a, w.coef_c, w.C0 = self._reference(w.lam0, w.mu0, a)
        if krylov and state.factors is not None:  # preconditioner: the last factorization
            for name, value in state.factors.items():  # the LU is replaced, never written
                setattr(w, name, value if name in ("LU", "piv") else value.copy())
            w.fresh[:], w.stale[:] = False, False  # exact for their tangents and medium
            w.lu_shared = xp.ones(P, dtype=bool)
        factors = {} if krylov else None  # the factorizations of the converged points
        it = 0
        while w.n:
            it += 1
            over = it > w.deadline  # out of Newton iterations
            if bool(over.any()):
                iterations[w.points[over]] = it - 1
                residual_out[w.points[over]] = w.previous[over]
                w = w.keep(~over)
                if w.n == 0:
                    break
            bad = ~xp.all(xp.isfinite(w.de.reshape(w.n, km)), axis=1)
            if bool(bad.any()):
                residual_out[w.points[bad]] = xp.nan
                iterations[w.points[bad]] = it - 1
                w = w.keep(~bad)
                if w.n == 0:
                    break
            stress, tangent, new_states, ok, coupling = self._constitutive(w.state, w.de)
            tangent_m = tangent[:, :, comps][:, :, :, comps]
            dsig = (stress - w.state.stress)[:, :, comps]
            moved = xp.zeros(w.n, dtype=bool)
            dE, dS = c @ w.de, c @ dsig
            # stable phases: λ0 (μ0) stays where the increment has no volumetric (deviatoric)
            # work to fit it to (pure shear, equibiaxial strain; regression_fit)
            hold = (w.lam0, w.mu0) if self.stable else None
            held = _held(dE, dS, comps, hold)
            if self.newton_medium:
                # Newton on the self-consistency where the regression fit is usable: the
                # residual F = θ − fit(ΔE, ΔΣ) joins the Newton system (see _newton_step)
                flam, fmu, fok = regression_fit(dE, dS, comps, hold, held)
                admissible = _admissible(flam, fmu)
                # an inadmissible fit (softening) is for the refits, which hold the medium
                w.leave = ~w.fixed & fok & ~admissible
                w.newton = fok & admissible & ~w.fixed
                w.F = xp.stack([w.lam0 - flam, w.mu0 - fmu], axis=1)
                if bool(w.newton.any()):
                    w.G_E, w.G_S = _regression_derivatives(dE, dS, flam, fmu, w.newton, comps,
                                                           held=held)
            # refits need a C_hom (after a first factorization); Newton points need none
            if not bool((w.fresh | w.newton).all()):
                lam, mu = self._refit(w.C_hom[:, comps], dE, dS, w.lam0, w.mu0, hold, held)
                change = (xp.maximum(xp.abs(lam - w.lam0), xp.abs(mu - w.mu0))
                          / xp.maximum(xp.abs(w.lam0) + xp.abs(w.mu0), 1e-300))
                wants = (change > self.scs_tol) & ~w.newton & ~w.fresh
                moved = wants & (w.updates < self.scs_maxiter)
                w.scs_good &= ~(wants & ~moved)
                if bool(moved.any()):
                    w.lam0, w.mu0 = xp.where(moved, lam, w.lam0), xp.where(moved, mu, w.mu0)
                    w.coef_a, w.coef_c, w.C0 = self._reference(w.lam0, w.mu0, a)
                    w.updates += moved
            # R_I = Δε_I + Σ_J D_IJ (Δσ_J − C0 Δε_J) − Δε⁰, D = a D1 − c D2 shared by the
            # points up to (a, c): two GEMMs over the batch (D @ v = v @ Dᵀ), which also
            # take (∂C0/∂θ)Δε for the medium's Newton step (_medium_sensitivity)
            v = (dsig - w.de @ w.C0.transpose(0, 2, 1)).reshape(w.n, km)
            vecs = v[:, None]
            if bool(w.newton.any()) and not krylov:  # large systems: see _medium_sensitivity
                vecs = xp.concatenate([vecs, self._medium_directions(w, xp)], axis=1)
            D1all, D2all = (p.reshape(vecs.shape)
                            for p in self._interactions(a, vecs.reshape(-1, km)))
            D1v, D2v = D1all[:, 0], D2all[:, 0]
            Dv = w.coef_a[:, None] * D1v - w.coef_c[:, None] * D2v
            R = w.de + Dv.reshape(w.n, K, m) - w.de0[:, None, :]
            macro = _where(controlled, c @ w.de, c @ dsig) - w.target
            scale_s = xp.maximum(xp.max(xp.abs(c @ stress[:, :, comps]), axis=1), 1e-300)
            residual = xp.maximum(
                xp.max(xp.abs(R.reshape(w.n, km)), axis=1) / w.scale_e,
                xp.max(xp.abs(_where(controlled, macro / w.scale_e[:, None],
                                     macro / scale_s[:, None])), axis=1))
            failed = ~(xp.isfinite(residual) & ok)
            medium_change = (xp.max(xp.abs(w.F), axis=1)
                             / xp.maximum(xp.abs(w.lam0) + xp.abs(w.mu0), 1e-300))
            converged = ((residual <= self.tol) & ~moved & ~failed
                         & (~w.newton | (medium_change <= self.scs_tol)))
            if self.stable and bool(converged.any()):
                unstable = converged & self._unstable(dE, dS, w.target, controlled)
                if bool(unstable.any()):
                    unstable_out[w.points[unstable]] = True
                    converged &= ~unstable
                    failed |= unstable
            # Newton progress on both equations
            merit = xp.maximum(residual / self.tol,
                               xp.where(w.newton, medium_change / self.scs_tol, 0.0))
            # a Newton step on θ after which the merit grew is taken back halfway to the last
            # accepted iterate (backtracking, Dennis & Schnabel, Numerical Methods for
            # Unconstrained Optimization and Nonlinear Equations, SIAM 1996, §6.3), at most
            # MAX_HALVINGS times in a row: the first step into plastic flow overshoots the
            # medium, computed from a Jacobian that has not seen the flow yet
            grew = w.stepped & (merit > w.merit) & ~converged & ~w.leave
            back = grew & (w.halvings < MAX_HALVINGS)
            # a point refactors at every iteration or, for large systems, when the GMRES of its
            # last step was slow (the factorization is kept across refits of the reference
            # medium and across increments); at convergence only if its Jacobian moved since
            # the last factorization, so that the tangent is exact (an elastic increment pays
            # one factorization)
            if keep:
                w.stale |= xp.any(tangent_m != w.lu_tangent, axis=(1, 2, 3))
                # the medium's Newton steps end at round-off: below THETA_RTOL (relative)
                # they leave the factorization (and the tangent) as exact as the fit
                w.stale |= ((xp.abs(w.lam0 - w.lu_theta[:, 0]) + xp.abs(w.mu0 - w.lu_theta[:, 1]))
                            > THETA_RTOL * (xp.abs(w.lam0) + xp.abs(w.mu0)))
                if coupling is not None:
                    w.stale |= (xp.any(coupling[0] != w.lu_U, axis=(1, 2))
                                | xp.any(coupling[1] != w.lu_G, axis=(1, 2)))
                refactor = (w.LU is None) | xp.where(converged, w.stale,
                                                     w.refresh if krylov else True)
            else:
                refactor = xp.ones(w.n, dtype=bool)
            idx = xp.flatnonzero(refactor)
            rhs = -R.reshape(w.n, km, 1)
            sensitivity = None  # ∂R/∂θ: for Newton steps on θ and the self-consistent tangent
            if bool((w.newton & ~converged).any()) or (self.scs_tangent and bool(converged.any())):
                exact = not krylov or (self.scs_tangent and bool(converged.any()))
                sensitivity = self._medium_sensitivity(w, D1all, D2all, a,
                                                       single=not exact)
            B = rhs if sensitivity is None else xp.concatenate([rhs, -sensitivity], axis=2)
            w.step_tangent, w.step_coupling = tangent_m, coupling
            if keep:
                sol = xp.zeros(B.shape)
                # a large system takes its steps from GMRES: it needs the solutions of its
                # exact factorization only for the self-consistent tangent at convergence
                wanted = converged & (sensitivity is not None) & self.scs_tangent
                if idx.size:
                    if krylov and not bool(wanted[idx].any()):
                        self._factorize(w, idx, tangent_m, tangent, coupling, None, a)
                    else:
                        sol[idx] = self._factorize(w, idx, tangent_m, tangent, coupling, B[idx],
                                                   a)
                rest = xp.flatnonzero(~refactor & (wanted if krylov else True))
                if rest.size:
                    sol[rest] = lu_solve_points(w.LU, w.piv, B[rest], rest)
                    if w.LU.dtype != np.float64:  # single precision (large systems)
                        apply = self._jacobian_operator(w, rest, tangent_m, coupling, a)
                        sol[rest] = self._refine(w.LU, w.piv, rest, apply, B[rest], sol[rest])
                w.Y = sol[:, :, 0].reshape(w.n, K, m)
                if sensitivity is not None:
                    w.Z = sol[:, :, 1:].reshape(w.n, K, m, 2)
                if krylov:
                    self._krylov_steps(w, xp.flatnonzero(~converged & ~failed & ~back), tangent_m,
                                       tangent, coupling, R, macro, controlled, sensitivity,
                                       a)
            else:
                At = self._jacobian(w, idx, tangent_m, coupling, a)
                stack = xp.broadcast_to(a["stack"], (w.n, km, m))
                sol = _solve_points(At.transpose(0, 2, 1), xp.concatenate([B, stack], axis=2))
                r = B.shape[2]
                w.Y = sol[:, :, 0].reshape(w.n, K, m)
                if sensitivity is not None:
                    w.Z = sol[:, :, 1:r].reshape(w.n, K, m, 2)
                self._store_solutions(w, idx, sol[:, :, r:], tangent, coupling, a)
            failed |= ~xp.all(xp.isfinite(w.C_hom.reshape(w.n, -1)), axis=1)
            converged &= ~failed
            done = converged | failed
            # a point whose merit grew after a step on θ and was halved MAX_HALVINGS times, or
            # whose fit became inadmissible, restarts its increment with the fixed-point refits
            # (linear, robust; past a peak they hold the medium) and a fresh budget of Newton
            # iterations
            w.restart = ((grew & ~back) | w.leave) & ~done
            w.back = back & ~done
            w.previous = residual
            w.merit = xp.where(back, w.merit, merit)  # the merit of the accepted iterate
            if bool(done.any()):
                p = w.points[converged]
                if p.size:
                    i = xp.flatnonzero(converged)
                    new = OnlineState(w.state.strain[i] + w.de[i], stress[i],
                                      [_take_points(st, i, w.n) for st in new_states],
                                      w.lam0[i], w.mu0[i])
                    out.put(p, new)
                    tangent_out[p] = w.C_hom[i]
                    converged_out[p] = True
                    if factors is not None:
                        whole = i.size == w.n == P  # every point at once: hand the arrays over
                        for name in _FACTORS:
                            value = getattr(w, name)
                            if value is None:
                                continue
                            if whole:
                                factors[name] = value
                                continue
                            if name not in factors:
                                factors[name] = xp.empty((P, *value.shape[1:]), value.dtype)
                            factors[name][p] = value[i]
                    scs_iterations[p], scs_out[p] = w.updates[i], w.scs_good[i]
                    f = i[w.scs_good[i]]  # points whose reference medium is at the fixed point
                    if self.scs_tangent and sensitivity is not None and f.size:
                        Zf = w.Z[f]
                        CZ = _mean_response(c, tangent[f][:, :, :, comps], Zf,
                                            _take_coupling(coupling, f), a["W"])
                        tangent_out[w.points[f]] = _self_consistent_tangent(
                            w.C_hom[f], Zf, CZ, c, c @ w.de[f], c @ dsig[f],
                            w.lam0[f], w.mu0[f], comps, _take_hold(hold, f))
                iterations[w.points[done]] = it - 1
                residual_out[w.points[done]] = residual[done]
                if bool(done.all()):
                    break
                w = w.keep(~done)
                macro = macro[~done]
            current = (w.de, w.de0, w.lam0, w.mu0)
            if krylov:
                w.de, w.de0 = w.de + w.step_de, w.de0 + w.step_de0
                w.stepped = xp.zeros(w.n, dtype=bool)
                stepping = w.newton & ~w.back
                if bool(stepping.any()):
                    self._step_medium(w, xp.where(stepping[:, None], w.step_dtheta, 0.0), a)
            else:
                self._newton_step(w, macro, controlled, sensitivity is not None, a)
            self._backtrack(w, current, a)
            if bool(w.restart.any()):
                self._restart(w, w.restart, it, a)
        if factors and bool(converged_out.all()):
            out.factors = factors
        return IncrementResult(out, tangent_out, iterations, scs_iterations, scs_out,
                               converged_out, residual_out, unstable=unstable_out)

    def _unstable(self, dE: Any, dS: Any, target: Any, controlled: Any) -> Any:
        """(n,) bool: the increments (ΔE, ΔΣ) (n, m) that jumped to a spurious root.

        Stable phases bound the second-order work from below: Drucker's Δσ:Δε_p ≥ 0 gives
        Δσ:Δε ≥ Δσ:C(x)⁻¹:Δσ at every point, and the mean of that over stress fields of mean
        ΔΣ is at least ΔΣ:⟨C⟩⁻¹:ΔΣ (Hill, J. Mech. Phys. Solids 11, 1963; in plane strain with
        the in-plane block of C), so ΔΣ:ΔE ≥ B = ΔΣ:⟨C⟩⁻¹:ΔΣ ≥ 0. An increment is refused where
        ΔΣ:ΔE < (1 − VOIGT_SLACK) B − STABILITY_TOL × W, W = 2μ̄ |ΔE_c|² + |ΔΣ_s|² / 2μ̄ the
        elastic work of the applied load increment ``target`` (ΔE on the strain-controlled
        components, ΔΣ on the others), and its free (stress-controlled) strains moved more than
        the controlled ones (max norms). The bound catches roots of positive work whose
        reaction stresses do no work (shear with ε11 held: σ11 = −16.6 where the full field
        gives 0); W is measured against the applied load, not the converged increment, whose
        free strains are large at such a root (module docstring). A negative work with small
        free strains, the dip some coarse models show at the onset of plastic flow, is let
        through as before."""
        xp = array_module(dE)
        scale = xp.where(controlled, target * target * self._two_mu,
                         target * target / self._two_mu).sum(axis=1)
        bound = ((dS @ self._arrays(xp)["voigt_compliance"]) * dS).sum(axis=1)
        low = (dS * dE).sum(axis=1) < (1.0 - VOIGT_SLACK) * bound - STABILITY_TOL * scale
        free = xp.max(xp.abs(xp.where(controlled, 0.0, dE)), axis=1)
        return low & (free > xp.max(xp.abs(xp.where(controlled, dE, 0.0)), axis=1))

    def _jacobian(self, w: _Work, idx: Any, tangent_m: Any, coupling: Any, a: dict,
                  dtype: type = np.float64) -> Any:
        """Aᵀ (n, K m, K m) of the points ``idx``: A = 1 + D·(blockdiag(C_J − C0) + N).

        Block J of Aᵀ is (C_J − C0)ᵀ·(column block J of D)ᵀ, so Aᵀ in C order, i.e. A in
        Fortran (LAPACK) order, comes out of batched products with the shared Dᵀ blocks.
        N_IJ = −W_IJ U_I ⊗ G_J is the coupling of the non-local materials.
        """
        xp = array_module(tangent_m)
        comps, km = a["comps"], self.K * self.m
        Delta_T = (tangent_m[idx] - w.C0[idx, None]).transpose(0, 1, 3, 2)
        if xp is np:  # one compiled pass, no per-point temporaries
            D1T, D2T = a["D1T"], a["D2T"]
            if dtype == np.float32 and self.interactions["reciprocal"] is not None:
                D1T, D2T = self._single_interactions()  # Dᵀ in single: half the traffic
            At = assemble_jacobians(Delta_T, D1T, D2T, w.coef_a[idx], w.coef_c[idx], dtype)
        else:
            DT = w.coef_a[idx, None, None, None] * a["D1T"]  # Dᵀ blocks of each point
            DT -= w.coef_c[idx, None, None, None] * a["D2T"]
            At = (Delta_T @ DT).reshape(idx.size, km, km)
            diag = xp.arange(km)
            At[:, diag, diag] += 1.0
        if coupling is not None:
            # block row J of (D N)ᵀ is −G_J ⊗ r_J, r_J = Σ_I W_IJ U_Iᵀ (column block I of D)ᵀ
            Um, Gm = coupling[0][idx][:, :, comps], coupling[1][idx]
            r = (w.coef_a[idx, None, None] * _weighted_rows(a["W"], Um, a["D1T"])
                 - w.coef_c[idx, None, None] * _weighted_rows(a["W"], Um, a["D2T"]))
            At -= (Gm[:, :, :, None] * r[:, :, None, :]).reshape(idx.size, km, km)
        return At

    def _factorize(self, w: _Work, idx: Any, tangent_m: Any, tangent: Any, coupling: Any,
                   B: Any, a: dict) -> Any:
        """LU-factorize the Jacobian of the points ``idx`` (CPU); X = A⁻¹(1 ⊗ I) is kept and
        A⁻¹B (n, K m, r) returned, both from one triangular solve per point.

        ``tangent_m`` (n, K, m, m): the cluster tangents on the m components, ``tangent`` the
        full ones (n, K, 6, 6), ``coupling`` the non-local (U, G) or None; ``B`` (n, K m, r),
        or None: X only (returns None).
        """
        km, m = self.K * self.m, self.m
        single = km >= self.krylov_from  # large systems: single precision, refined solutions
        At = self._jacobian(w, idx, tangent_m, coupling, a, np.float32 if single else np.float64)
        piv = lu_factor_points(At)
        self.factorizations += int(idx.size)
        stack = np.broadcast_to(a["stack"], (idx.size, km, m))
        rhs = stack if B is None else np.concatenate([stack, B], axis=2)
        sol = lu_solve_points(At, piv, rhs)
        if single:  # the tangent columns exact, and B where the solutions are used (below)
            q = rhs.shape[2] if self.scs_tangent else m
            sol[:, :, :q] = self._refine(
                At, piv, None, self._jacobian_operator(w, idx, tangent_m, coupling, a),
                rhs[:, :, :q], sol[:, :, :q])
        X = sol[:, :, :m]
        if w.LU is None or idx.size == w.n:
            w.LU, w.piv = At, piv
        else:  # written in place: a copy first where the factors came from the state
            if w.lu_shared is not None and bool(w.lu_shared.any()):
                w.LU, w.piv, w.lu_shared = w.LU.copy(), w.piv.copy(), None
            w.LU[idx], w.piv[idx] = At, piv
        w.lu_tangent[idx], w.stale[idx] = tangent_m[idx], False
        w.lu_theta[idx, 0], w.lu_theta[idx, 1] = w.lam0[idx], w.mu0[idx]
        if coupling is not None:
            w.lu_U[idx], w.lu_G[idx] = coupling[0][idx], coupling[1][idx]
        self._store_solutions(w, idx, X, tangent, coupling, a)
        return None if B is None else sol[:, :, m:]

    def _store_solutions(self, w: _Work, idx: Any, X: Any, tangent: Any, coupling: Any,
                         a: dict) -> None:
        """Keep X = A⁻¹(1 ⊗ I) (n, K m, m) of the points ``idx`` and what follows from it:
        Σ c_J X_J, Σ c_J ∂Δσ_J/∂Δε·X_J and C_hom = (Σ c_J C_J X_J)(Σ c_J X_J)⁻¹ (Liu et al.
        2016, eq. 33)."""
        xp = array_module(X)
        c, comps = a["c"], a["comps"]
        X = X.reshape(idx.size, self.K, self.m, self.m)
        w.X[idx] = X
        w.Xbar[idx] = xp.einsum("J,pJab->pab", c, X)
        CX = _mean_response(c, tangent[idx][:, :, :, comps], X,
                            _take_coupling(coupling, idx), a["W"])
        w.CXbar[idx] = CX[:, comps]
        w.C_hom[idx] = _solve_right(CX, w.Xbar[idx])
        w.fresh[idx] = False

    def _newton_step(self, w: _Work, macro: Any, controlled: Any, has_Z: bool, a: dict) -> None:
        """Newton step of the points of ``w``: δε_I = Y_I + X_I δε⁰ + Z_I δθ.

        δε⁰ (m) comes from the linearized macroscopic conditions (Σ c_J δε_J or
        Σ c_J C_J δε_J per component) and, where the reference medium θ = (λ0, μ0) is solved
        by Newton (``w.newton``: the regression fit is usable), δθ from the linearized
        self-consistency F + δθ − G_E δΔE − G_Σ δΔΣ = 0, F = θ − fit(ΔE, ΔΣ) (Liu et al.
        2016, eq. 42; G_E, G_Σ from :func:`_regression_derivatives`): one (m + 2) × (m + 2)
        system per point. Newton on the self-consistency converges with the cluster strains
        (the fixed-point refit converges linearly and moves the Jacobian at every refit).
        Elsewhere δθ = 0 (the medium is refitted between iterations by :meth:`_refit`).
        """
        xp = array_module(w.de)
        c, comps, m = a["c"], a["comps"], self.m
        Ybar = c @ w.Y
        coupling = (None if w.step_coupling is None
                    else (w.step_coupling[0][:, :, comps], w.step_coupling[1]))
        CYbar = _mean_response(c, w.step_tangent, w.Y[..., None], coupling, a["W"])[..., 0]
        M = xp.where(controlled[:, None], w.Xbar, w.CXbar)
        b = -macro - _where(controlled, Ybar, CYbar)
        w.stepped = xp.zeros(w.n, dtype=bool)
        if not (has_Z and bool(w.newton.any())):
            d0 = _solve_points(M, b[:, :, None])[:, :, 0]
            w.de = w.de + w.Y + (w.X @ d0[:, None, :, None])[..., 0]
            w.de0 = w.de0 + d0
            return
        on = w.newton[:, None, None]
        Zbar = xp.einsum("J,pJab->pab", c, w.Z)  # (P, m, 2)
        CZbar = _mean_response(c, w.step_tangent, w.Z, coupling, a["W"])
        J = xp.zeros((w.n, m + 2, m + 2))
        J[:, :m, :m] = M
        J[:, :m, m:] = xp.where(on, xp.where(controlled[:, None], Zbar, CZbar), 0.0)
        J[:, m:, :m] = xp.where(on, -(w.G_E @ w.Xbar + w.G_S @ w.CXbar), 0.0)
        J[:, m:, m:] = xp.eye(2) - xp.where(on, w.G_E @ Zbar + w.G_S @ CZbar, 0.0)
        F = -w.F + (w.G_E @ Ybar[:, :, None] + w.G_S @ CYbar[:, :, None])[..., 0]
        rhs = xp.concatenate([b, xp.where(w.newton[:, None], F, 0.0)], axis=1)
        sol = _solve_points(J, rhs[:, :, None])[:, :, 0]
        d0, dtheta = sol[:, :m], xp.where(w.newton[:, None], sol[:, m:], 0.0)
        Zd = xp.where(on[..., None], w.Z @ dtheta[:, None, :, None], 0.0)[..., 0]
        w.de = w.de + w.Y + (w.X @ d0[:, None, :, None])[..., 0] + Zd
        w.de0 = w.de0 + d0
        self._step_medium(w, dtheta, a)

    def _step_medium(self, w: _Work, dtheta: Any, a: dict) -> None:
        """θ ← θ + δθ at the points of ``w`` that solve the medium by Newton (``w.newton``;
        δθ (n, 2) is 0 elsewhere); a step out of the admissible media takes the fixed-point
        refit instead."""
        xp = array_module(dtheta)
        lam, mu = w.lam0 + dtheta[:, 0], w.mu0 + dtheta[:, 1]
        # a step out of the admissible media takes the fixed-point refit instead (admissible)
        out = ~_admissible(lam, mu)
        lam = xp.where(out, w.lam0 - w.F[:, 0], lam)
        mu = xp.where(out, w.mu0 - w.F[:, 1], mu)
        moved = w.newton & ((lam != w.lam0) | (mu != w.mu0))
        w.stepped = moved
        if bool(moved.any()):
            w.lam0, w.mu0 = lam, mu
            w.coef_a, w.coef_c, w.C0 = self._reference(w.lam0, w.mu0, a)
            w.updates += moved

    def _backtrack(self, w: _Work, current: tuple, a: dict) -> None:
        """The points ``w.back`` go halfway from the ``current`` iterate (Δε, Δε⁰, λ0, μ0),
        whose merit grew, back to the last accepted one (``w.accepted``), in place of their
        Newton step; the others' ``current`` iterate becomes their last accepted one."""
        xp = array_module(w.de)
        back = w.back
        if bool(back.any()):
            shape = [(-1, 1, 1), (-1, 1), (-1,), (-1,)]
            mid = [xp.where(back.reshape(s), 0.5 * (last + now), new)
                   for s, last, now, new in zip(shape, w.accepted, current,
                                                (w.de, w.de0, w.lam0, w.mu0))]
            w.de, w.de0, w.lam0, w.mu0 = mid
            w.coef_a, w.coef_c, w.C0 = self._reference(w.lam0, w.mu0, a)
            w.stepped = w.stepped | back
            w.accepted = tuple(xp.where(back.reshape(s), last, now)
                               for s, last, now in zip(shape, w.accepted, current))
        else:
            w.accepted = current
        w.halvings = xp.where(back, w.halvings + 1, 0)

    def _restart(self, w: _Work, points: Any, it: int, a: dict) -> None:
        """Start the increment of ``points`` (bool mask of ``w``) again from its first iterate,
        with the fixed-point refits of the reference medium and ``max_newton`` more iterations.
        """
        xp = array_module(w.de)
        w.de[points], w.de0[points] = w.guess[points], 0.0
        w.lam0 = xp.where(points, w.state.lam0, w.lam0)
        w.mu0 = xp.where(points, w.state.mu0, w.mu0)
        w.coef_a, w.coef_c, w.C0 = self._reference(w.lam0, w.mu0, a)
        w.updates[points], w.scs_good[points] = 0, True
        w.previous[points], w.merit[points] = xp.inf, xp.inf
        w.stale[points], w.fresh[points], w.fixed[points] = True, True, True
        w.newton[points] = False
        w.deadline[points] = it + self.max_newton

    def _medium_directions(self, w: _Work, xp: Any) -> Any:
        """(∂C0/∂λ0) Δε and (∂C0/∂μ0) Δε (P, 2, K m) at the current iterate."""
        km = self.K * self.m
        L, _ = self._arrays(xp)["C0_basis"]
        de = w.de.reshape(w.n, self.K, self.m)
        return xp.stack([(de @ L).reshape(w.n, km), 2.0 * de.reshape(w.n, km)], axis=1)

    def _medium_sensitivity(self, w: _Work, D1all: Any, D2all: Any, a: dict,
                            single: bool = False) -> Any:
        """∂R/∂(λ0, μ0) (P, K m, 2) at the current iterate.

        R = Δε + D(λ0, μ0)(Δσ − C0 Δε) − Δε⁰ with D = a D1 − c D2, C0 = λ0 1⊗1 + 2μ0 I:
        ∂R/∂θ = (∂a/∂θ D1 − ∂c/∂θ D2) v − D (∂C0/∂θ) Δε, v = Δσ − C0 Δε. ``D1all``,
        ``D2all`` (P, q, K m): D1 and D2 applied to v and, if q = 3, to (∂C0/∂θ) Δε
        (:meth:`_medium_directions`), which are applied here otherwise: in single precision
        when ``single`` (a large system's Newton step on the CPU, whose GMRES stops at a
        relative residual of 1e-3; never for the self-consistent tangent), for one point as
        one product with its a D1 − c D2 (:meth:`_single_medium_products`).
        """
        xp = array_module(D1all)
        lam, mu = w.lam0, w.mu0
        D1v, D2v = D1all[:, 0], D2all[:, 0]
        if D1all.shape[1] == 3:
            De = w.coef_a[:, None, None] * D1all[:, 1:] - w.coef_c[:, None, None] * D2all[:, 1:]
        else:
            vecs = self._medium_directions(w, xp)
            flat = vecs.reshape(-1, vecs.shape[2])
            if single and w.n == 1:  # one medium: a D1 − c D2 formed once, one product
                De = self._single_medium_products(float(w.coef_a[0]), float(w.coef_c[0]),
                                                  flat).reshape(vecs.shape)
            else:
                D1e, D2e = (self._single_products(flat) if single
                            else self._interactions(a, flat))
                De = (w.coef_a[:, None, None] * D1e.reshape(vecs.shape)
                      - w.coef_c[:, None, None] * D2e.reshape(vecs.shape))
        a_mu = -1.0 / mu**2
        c_lam = 1.0 / (lam + 2.0 * mu) ** 2
        c_mu = -(lam**2 + 4.0 * lam * mu + 2.0 * mu**2) / (mu * (lam + 2.0 * mu)) ** 2
        d_lam = -c_lam[:, None] * D2v - De[:, 0]
        d_mu = a_mu[:, None] * D1v - c_mu[:, None] * D2v - De[:, 1]
        return xp.stack([d_lam, d_mu], axis=2)

    def advance(self, state: OnlineState, target: Any, strain_controlled: Any,
                guess: Any = None, max_cuts: int = 6) -> IncrementResult:
        """:meth:`increment` with sub-stepping: a point that fails is solved again from its
        start state in two halves, each halved again on failure, up to ``max_cuts`` times.

        The result sums the Newton and self-consistent iterations of the sub-increments that
        made up each point's converged increment; ``substeps`` (P,) counts them.
        """
        xp = array_module(state.strain)
        res = self.increment(state, target, strain_controlled, guess)
        res.substeps = xp.ones(state.npoints, dtype=int)
        if max_cuts <= 0 or bool(res.converged.all()):
            return res
        idx = xp.flatnonzero(~res.converged)
        start = state.take(idx)
        whole = xp.broadcast_to(xp.asarray(target, dtype=float), (state.npoints, self.m))[idx]
        first = self.advance(start, 0.5 * whole, strain_controlled, None, max_cuts - 1)
        half = xp.flatnonzero(first.converged)
        res.residual[idx] = first.residual
        res.unstable[idx] |= first.unstable
        if half.size == 0:
            return res
        mid = first.state.take(half)
        reached = (self.macro(mid, strain_controlled)
                   - self.macro(start.take(half), strain_controlled))
        second = self.advance(mid, whole[half] - reached, strain_controlled, None, max_cuts - 1)
        res.residual[idx[half]] = second.residual
        res.unstable[idx[half]] |= second.unstable
        ok = half[second.converged]
        res.state.factors = None  # the cut points' factors are not kept
        if ok.size:
            p, q = idx[ok], xp.flatnonzero(second.converged)
            res.state.put(p, second.state.take(q))
            res.tangent[p] = second.tangent[q]
            res.converged[p], res.unstable[p] = True, False
            for name in ("newton_iterations", "scs_iterations", "substeps"):
                getattr(res, name)[p] = getattr(first, name)[ok] + getattr(second, name)[q]
            res.scs_converged[p] = first.scs_converged[ok] & second.scs_converged[q]
        return res

    # ------------------------------------------------------------------ reference medium
    def _refit(self, C_hom: Any, dE: Any, dS: Any, lam0: Any, mu0: Any,
               hold: Any = None, held: Any = None) -> tuple[Any, Any]:
        """Per point, the reference medium fitted to the current iterate (ΔE, ΔΣ, C_hom);
        ``hold``, ``held``: as for :func:`regression_fit`."""
        xp = array_module(C_hom)
        lam, mu = isotropic_fit(C_hom, self.comps)
        if self.scs == "regression":
            rlam, rmu, ok = regression_fit(dE, dS, self.comps, hold, held)
            lam, mu = xp.where(ok, rlam, lam), xp.where(ok, rmu, mu)
        # a softening tangent has no admissible isotropic fit: keep C0
        admissible = _admissible(lam, mu)
        return xp.where(admissible, lam, lam0), xp.where(admissible, mu, mu0)


@dataclass
class _Work:
    """The unconverged points of an increment and their Newton iterates."""

    points: Any
    state: OnlineState
    target: Any
    scale_e: Any
    de: Any
    de0: Any
    lam0: Any
    mu0: Any
    updates: Any
    scs_good: Any
    previous: Any
    stale: Any
    X: Any
    Xbar: Any
    CXbar: Any
    C_hom: Any
    lu_tangent: Any
    newton: Any
    F: Any
    stepped: Any
    fixed: Any
    lu_theta: Any
    merit: Any
    restart: Any
    leave: Any
    fresh: Any
    deadline: Any
    guess: Any
    G_E: Any = None
    G_S: Any = None
    Z: Any = None
    step_tangent: Any = None
    step_coupling: Any = None
    lu_shared: Any = None
    lu_U: Any = None
    lu_G: Any = None
    coef_a: Any = None
    coef_c: Any = None
    C0: Any = None
    Y: Any = None
    LU: Any = None
    piv: Any = None
    refresh: Any = None
    step_de: Any = None
    step_de0: Any = None
    step_dtheta: Any = None
    halvings: Any = None
    back: Any = None
    accepted: Any = None  # the last accepted iterate (Δε, Δε⁰, λ0, μ0), for backtracking

    @property
    def n(self) -> int:
        return int(self.points.shape[0])

    def keep(self, mask: Any) -> _Work:
        """The points where ``mask`` is True."""
        idx = array_module(mask).flatnonzero(mask)
        fields = {k: (v if v is None else v.take(idx) if k == "state"
                      else tuple(x[idx] for x in v) if isinstance(v, tuple) else v[idx])
                  for k, v in self.__dict__.items()}
        return _Work(**fields)


#: What a factorization leaves in the Newton work (_Work fields), kept in OnlineState.factors.
_FACTORS = ("LU", "piv", "lu_tangent", "lu_theta", "lu_U", "lu_G", "X", "Xbar", "CXbar",
            "C_hom")


def _solve_points(A: Any, B: Any) -> Any:
    """Batched solve A_p x_p = B_p; NaN for the points whose matrix is singular."""
    xp = array_module(A)
    try:
        return xp.linalg.solve(A, B)
    except np.linalg.LinAlgError:  # numpy raises for the whole batch: isolate the culprits
        out = xp.full(B.shape, xp.nan)
        for p in range(A.shape[0]):
            try:
                out[p] = xp.linalg.solve(A[p], B[p])
            except np.linalg.LinAlgError:
                pass
        return out


def _solve_right(B: Any, A: Any) -> Any:
    """B A⁻¹ per point (B (P, r, m), A (P, m, m))."""
    return _solve_points(A.transpose(0, 2, 1), B.transpose(0, 2, 1)).transpose(0, 2, 1)


def _where(controlled: Any, strain: Any, stress: Any) -> Any:
    xp = array_module(strain)
    return xp.where(xp.asarray(controlled), strain, stress)


def _take_points(state: dict, idx: Any, P: int) -> dict:
    """Rows of the points ``idx`` of a point-major material state of P points."""
    return {k: v[_rows(idx, v.shape[0] // P)] for k, v in state.items()}


def _material_update(mat: Any, dstrain: Any, state: dict,
                     average: Any = None) -> tuple[Any, Any, dict, Any, Any]:
    """``mat.update`` for P points of n clusters each (``dstrain`` (P, n, 6)).

    With a non-local ``average`` (:class:`~homog.nonlocal_average.ClusterAverage`) the material's
    ``update_nonlocal``, whose coupling comes back as (U, G) (P, n, 6) (None otherwise).
    A failed return mapping is confined to the points where it happens: the batch is split in
    halves until the failing points are isolated; they get NaN stresses and ``ok`` False.
    """
    xp = array_module(dstrain)
    P, n = dstrain.shape[:2]
    try:
        coupling = None
        if average is None:
            s, t, ns = mat.update(dstrain.reshape(P * n, 6), state)
        else:
            s, t, ns, nl = mat.update_nonlocal(dstrain.reshape(P * n, 6), state, average)
            if nl is not None:
                coupling = (nl.U.reshape(P, n, 6), nl.G.reshape(P, n, 6))
        return (s.reshape(P, n, 6), t.reshape(P, n, 6, 6), ns, xp.ones(P, dtype=bool),
                coupling)
    except ReturnMappingError:
        if P == 1:
            return (xp.full((1, n, 6), xp.nan), xp.full((1, n, 6, 6), xp.nan), state,
                    xp.zeros(1, dtype=bool), None)
    h = P // 2
    parts = [_material_update(mat, dstrain[sl], {k: v[rows] for k, v in state.items()},
                              average)
             for sl, rows in ((slice(0, h), slice(0, h * n)), (slice(h, P), slice(h * n, P * n)))]
    coupling = None
    if parts[0][4] is not None or parts[1][4] is not None:  # a failed point has none: zeros
        halves = [part[4] if part[4] is not None else
                  (xp.zeros((part[0].shape[0], n, 6)),) * 2 for part in parts]
        coupling = tuple(xp.concatenate([halves[0][i], halves[1][i]]) for i in range(2))
    return (xp.concatenate([parts[0][0], parts[1][0]]), xp.concatenate([parts[0][1], parts[1][1]]),
            {k: xp.concatenate([parts[0][2][k], parts[1][2][k]]) for k in parts[0][2]},
            xp.concatenate([parts[0][3], parts[1][3]]), coupling)


def _reciprocal_weights(host: dict, c: np.ndarray, m: int) -> np.ndarray | None:
    """c_I repeated over the m components (K m,) where the interaction parts are reciprocal,
    c_I D_IJ = c_J D_JIᵀ (S = diag(c) D symmetric), else None.

    Checked by products with two random vectors (Freivalds' test: S v = Sᵀ v for random v
    only if S = Sᵀ, but for a set of v of measure zero), four GEMVs per part instead of
    forming S − Sᵀ (10× the time on 945 unknowns, once per solver and run); an asymmetry
    of 1e-9 of the largest entry is found.
    """
    if not np.all(c > 0):
        return None
    cc = np.repeat(c, m)
    km = cc.size
    V = np.random.default_rng(0).standard_normal((2, km))
    for name in ("D1T", "D2T"):
        DT = host[name].reshape(km, km)  # Dᵀ: S v = c ∘ (D v), Sᵀ v = Dᵀ (c ∘ v)
        largest = max(float(DT.max()), -float(DT.min())) * float(cc.max())
        for v in V:
            gap = np.abs(cc * (DT.T @ v) - DT @ (cc * v)).max()
            if not gap <= 1e-13 * largest * np.abs(v).sum():
                return None
    return cc


def _take_coupling(coupling: Any, idx: Any) -> Any:
    """The non-local coupling (U, G) of the points ``idx`` (None stays None)."""
    return None if coupling is None else (coupling[0][idx], coupling[1][idx])


def _mean_response(c: Any, rows: Any, V: Any, coupling: Any, W: Any) -> Any:
    """Σ_J c_J ∂Δσ_J/∂Δε · V: (P, r, q) for cluster fields V (P, K, m, q).

    ``rows`` (P, K, r, m): the local tangents (r stress rows); ``coupling``: (U (P, K, r),
    G (P, K, m)) of the non-local materials, which adds −Σ_I c_I U_I ⊗ Σ_J W_IJ G_J·V_J. The
    product form of the matrix of :func:`homog.sca.krylov.mean_rows`: applied to a few fields
    it costs O(K) per point where the matrix costs O(K²) with the coupling.
    """
    xp = array_module(V)
    P, K, r, m = rows.shape
    # one batched product over the (J, b) pairs (a three-operand einsum is several times slower)
    out = (rows.transpose(0, 2, 1, 3).reshape(P, r, K * m)
           @ (c[:, None, None] * V).reshape(P, K * m, V.shape[-1]))
    if coupling is not None:
        U, G = coupling
        t = W @ xp.einsum("pJb,pJbc->pJc", G, V)  # (P, K, q): Σ_J W_IJ G_J·V_J
        out -= xp.einsum("I,pIa,pIc->pac", c, U, t)
    return out


def _weighted_rows(W: Any, U: Any, DT: Any) -> Any:
    """r_J = Σ_I W_IJ U_Iᵀ DT_I (P, K, K m) for U (P, K, m) and DT (K, m, K m)."""
    xp = array_module(U)
    q = xp.einsum("pIa,Iak->pIk", U, DT)
    return W.T @ q  # a GEMM per point: 3.6× the einsum "IJ,pIk->pJk" at K = 75


def _self_consistent_tangent(C_hom: Any, Z: Any, CZ: Any, c: Any, dE: Any, dS: Any,
                             lam: Any, mu: Any, comps: Any, hold: Any = None) -> Any:
    """dΣ/dE of the self-consistent solution: C_hom corrected for the moving reference medium.

    With θ = (λ0, μ0) the regression fit of (ΔE, ΔΣ) (:func:`regression_fit`), the converged
    stress depends on E directly (C_hom, at fixed θ) and through θ: dΣ = C_hom dE + S dθ,
    dθ = G_E dE + G_Σ dΣ, so dΣ/dE = (1 − S G_Σ)⁻¹ (C_hom + S G_E). S = ∂Σ/∂θ comes from
    Z = −A⁻¹ ∂R/∂θ (P, K, m, 2) as CZ − C_hom Σ c_J Z_J, CZ = Σ c_J (∂Δσ/∂Δε · Z)_J (the
    macroscopic strain held); G_Σ = N⁻¹Aᵀ and G_E = N⁻¹(∂Aᵀ r − Aᵀ C0) are the derivatives
    of the least-squares fit θ = N⁻¹AᵀΔΣ, A = [tr(ΔE) 1, 2ΔE], N = AᵀA, r = ΔΣ − Aθ. Where
    the regression is singular or not admissible (the solver then holds θ) C_hom is returned
    unchanged; ``hold``: as for :func:`regression_fit`. Rows: all six stress components
    (``C_hom`` (P, 6, m)).
    """
    xp = array_module(C_hom)
    Zbar = xp.einsum("J,pJab->pab", c, Z)
    S = CZ - C_hom @ Zbar  # (P, 6, 2)
    held = _held(dE, dS, comps, hold)
    fit_lam, fit_mu, ok = regression_fit(dE, dS, comps, hold, held)
    # where the fit is not admissible (softening) the solver held the medium: C_hom is exact
    ok &= _admissible(fit_lam, fit_mu)
    G_E, G_S = _regression_derivatives(dE, dS, lam, mu, ok, comps, held=held)
    Sm = S[:, comps]
    eye = xp.eye(len(comps))
    T = _solve_points(eye - Sm @ G_S, C_hom[:, comps] + Sm @ G_E)
    full = C_hom + S @ (G_E + G_S @ T)
    good = ok & xp.all(xp.isfinite(full.reshape(full.shape[0], -1)), axis=1)
    return xp.where(good[:, None, None], full, C_hom)


def _regression_derivatives(dE: Any, dS: Any, lam: Any, mu: Any, ok: Any,
                            comps: Any, held: Any = None) -> tuple[Any, Any]:
    """G_E = ∂θ/∂ΔE and G_Σ = ∂θ/∂ΔΣ (P, 2, m) of the regression fit θ = (λ, μ) at (ΔE, ΔΣ).

    θ = N⁻¹AᵀΔΣ minimizes |ΔΣ − Aθ|² (Liu et al. 2016, eq. 42) with A = [tr(ΔE) 1, 2ΔE]
    (m, 2), N = AᵀA: G_Σ = N⁻¹Aᵀ and, A being linear in ΔE, G_E = N⁻¹(∂Aᵀ/∂ΔE r − Aᵀ C0(θ)),
    r = ΔΣ − Aθ, C0(θ) = λ 1⊗1 + 2μ I. ``lam``, ``mu`` (P,): θ; zeros where ``ok`` is False.
    """
    xp = array_module(dE)
    one = _trace_vector(comps, xp)
    A = xp.stack([(dE @ one)[:, None] * one, 2.0 * dE], axis=2)  # (P, m, 2)
    At = A.transpose(0, 2, 1)
    N = At @ A
    N[~ok] = xp.eye(2)
    det = N[:, 0, 0] * N[:, 1, 1] - N[:, 0, 1] * N[:, 1, 0]
    Ninv = xp.stack([N[:, 1, 1], -N[:, 0, 1], -N[:, 1, 0], N[:, 0, 0]], axis=1)
    Ninv = (Ninv / det[:, None]).reshape(-1, 2, 2)  # closed-form 2 × 2 inverse
    theta = xp.stack([lam, mu], axis=1)
    r = dS - (A @ theta[:, :, None])[..., 0]
    dAr = xp.stack([(r @ one)[:, None] * one, 2.0 * r], axis=1)  # (P, 2, m): ∂Aᵀ/∂ΔE_k r
    C0 = lam[:, None, None] * xp.outer(one, one) + 2.0 * mu[:, None, None] * xp.eye(len(one))
    mask = ok[:, None, None]
    G_E, G_S = xp.where(mask, Ninv @ (dAr - At @ C0), 0.0), xp.where(mask, Ninv @ At, 0.0)
    if held is None or not bool((held[0] | held[1]).any()):
        return G_E, G_S
    held_lam, held_mu = held
    # λ held: ∂λ = 0 and μ = (ΔΣ·ΔE − λ tr(ΔE)²) / 2|ΔE|² gives ∂μ/∂ΔΣ = ΔE / 2|ΔE|²,
    # ∂μ/∂ΔE = (ΔΣ − 2λ tr(ΔE) 1) / 2|ΔE|² − 2μ ΔE / |ΔE|²; μ held: ∂μ = 0 and
    # λ = ΔΣ·1 / d tr(ΔE) − 2μ / d gives ∂λ/∂ΔΣ = 1 / d tr(ΔE), ∂λ/∂ΔE = −ΔΣ·1 1 / d tr(ΔE)²;
    # both held: the medium stays (zero rows)
    square = xp.where(held_lam, (dE * dE).sum(axis=1), 1.0)[:, None]
    d, trace = one.sum(), xp.where(held_mu & ~held_lam, dE @ one, 1.0)[:, None]
    rows_E, rows_S = xp.zeros_like(G_E), xp.zeros_like(G_S)
    rows_E[:, 1] = xp.where(held_mu[:, None], 0.0, (
        dS - 2.0 * (lam * (dE @ one))[:, None] * one) / (2.0 * square)
        - 2.0 * mu[:, None] * dE / square)
    rows_S[:, 1] = xp.where(held_mu[:, None], 0.0, dE / (2.0 * square))
    rows_E[:, 0] = xp.where(held_lam[:, None], 0.0, -(dS @ one)[:, None] * one / (d * trace**2))
    rows_S[:, 0] = xp.where(held_lam[:, None], 0.0, one / (d * trace))
    either = ((held_lam | held_mu) & ok)[:, None, None]
    return xp.where(either, rows_E, G_E), xp.where(either, rows_S, G_S)


def _admissible(lam: Any, mu: Any) -> Any:
    """True where (λ, μ) is a usable isotropic reference medium: finite, μ > 0 and strongly
    elliptic with a margin, λ + 2μ ≥ μ/5, so that the longitudinal coefficient of its Green
    operator, c = 1/μ − 1/(λ + 2μ), stays within |c| ≤ 4/μ.

    Near λ + 2μ = 0 the SCA system is ill-conditioned: with λ + 2μ > 0 alone a softening 200²
    database sample converged (λ0 = −33.7, μ0 = 16.9) to a stress 70 times its peak. A
    positive bulk modulus (3λ + 2μ > 0) is not required: measured on eight random RVEs run to
    failure, requiring it made the toughness of most of them 30–280 % worse or the run
    diverge, while this margin keeps their results and refuses that sample's medium.
    """
    xp = array_module(lam)
    return xp.isfinite(lam) & xp.isfinite(mu) & (mu > 0) & (lam + 2 * mu > 0.2 * mu)


def _isotropic_basis(comps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1⊗1 and 2I restricted to ``comps``: C_iso(λ, μ) = λ L + μ M."""
    one = _trace_vector(comps, np)
    return np.outer(one, one), 2.0 * np.eye(len(comps))


def _trace_vector(comps: Any, xp: Any) -> Any:
    """The identity 1 on the Mandel components ``comps`` (1 on the normal ones 11, 22, 33, 0 on
    the shears): tr(ε) = 1·ε."""
    return (xp.asarray(comps) < 3).astype(float)


def isotropic_fit(C: Any, comps: np.ndarray) -> tuple[Any, Any]:
    """(λ, μ) of the isotropic stiffness closest to ``C`` (Frobenius, over ``comps``).

    Least squares on the basis {1⊗1, 2I} restricted to the components (all six in 3D, where
    it is the classical projection on the bulk and shear parts; the plane-strain block in 2D).
    ``C`` (..., m, m) gives arrays of shape (...).
    """
    xp = array_module(C)
    L, M = _isotropic_basis(comps)
    G = np.array([[np.sum(L * L), np.sum(L * M)], [np.sum(M * L), np.sum(M * M)]])
    sym = 0.5 * (C + xp.swapaxes(C, -1, -2))
    rhs = xp.stack([(sym * xp.asarray(L)).sum(axis=(-2, -1)),
                    (sym * xp.asarray(M)).sum(axis=(-2, -1))], axis=-1)
    lam_mu = rhs @ xp.asarray(np.linalg.inv(G).T)
    return lam_mu[..., 0], lam_mu[..., 1]


def regression_fit(dE: Any, dS: Any, comps: np.ndarray, hold: Any = None,
                   held: Any = None) -> tuple[Any, Any, Any]:
    """(λ, μ, ok) minimizing |ΔΣ − λ tr(ΔE) 1 − 2μ ΔE|² (Liu et al. 2016, eq. 42).

    Per point for ``dE``, ``dS`` (..., m); ``ok`` is False where the two columns
    [tr(ΔE) 1, 2ΔE] are (nearly) dependent (condition number above 1e8, e.g. an isochoric
    increment): there λ, μ are meaningless. Solved by a two-column QR (Gram–Schmidt).

    ``hold`` = (λ, μ) per point, either None: where the increment's volumetric work
    tr ΔΣ tr ΔE / d (d normal components) is below ``UNDETERMINED_WORK`` of |ΔΣ:ΔE|, λ keeps
    its given value and μ alone minimizes the residual, μ = (ΔΣ − λ tr(ΔE) 1)·ΔE / 2|ΔE|²;
    where the deviatoric work (the rest) is, μ keeps its value and λ = (ΔΣ − 2μ ΔE)·1 / d tr(ΔE)
    (:func:`_held`). Under pure shear the normal stresses are prescribed zero while the normal
    strains are not (the RVE's shear couples to them): the two-column fit then answers λ = −μ
    (measured: −0.38, 0.38 for an elastic 48² RVE whose shear modulus is 9), a medium without
    in-plane bulk modulus, on which the ROM ended 56 % below the DNS or diverged; holding λ,
    the same runs end within 3 %. Equibiaxial plane strain has no deviatoric work, and there
    the fit drove μ to 2e-5 and the run diverged. ``held``: :func:`_held` of these arguments,
    when the caller has it already (computed here otherwise).
    """
    xp = array_module(dE)
    one = _trace_vector(comps, xp)
    a1 = (dE @ one)[..., None] * one
    a2 = 2.0 * dE
    r11 = xp.sqrt((a1 * a1).sum(axis=-1))
    q1 = a1 / xp.where(r11 > 0, r11, 1.0)[..., None]
    r12 = (q1 * a2).sum(axis=-1)
    w = a2 - r12[..., None] * q1
    r22 = xp.sqrt((w * w).sum(axis=-1))
    q2 = w / xp.where(r22 > 0, r22, 1.0)[..., None]
    # condition number of R = [[r11, r12], [0, r22]] from its Frobenius norm and determinant
    frob2, det = r11**2 + r12**2 + r22**2, xp.abs(r11 * r22)
    disc = xp.sqrt(xp.maximum(frob2**2 - 4.0 * det**2, 0.0))
    smin2 = 2.0 * det**2 / (frob2 + disc + 1e-300)
    ok = (det > 0) & (frob2 + disc < 2.0 * 1e16 * smin2)
    b1, b2 = (q1 * dS).sum(axis=-1), (q2 * dS).sum(axis=-1)
    mu = b2 / xp.where(ok, r22, 1.0)
    lam = (b1 - r12 * mu) / xp.where(ok, r11, 1.0)
    held = _held(dE, dS, comps, hold) if held is None else held
    if held is None or not bool((held[0] | held[1]).any()):
        return lam, mu, ok
    (lam_hold, mu_hold), (held_lam, held_mu) = hold, held
    if lam_hold is not None:
        square = xp.where(held_lam, (dE * dE).sum(axis=-1), 1.0)
        alone = ((dS * dE).sum(axis=-1) - lam_hold * (dE @ one) ** 2) / (2.0 * square)
        lam, mu = xp.where(held_lam, lam_hold, lam), xp.where(held_lam, alone, mu)
    if mu_hold is not None:
        alone_lam = held_mu & ~held_lam  # both held: the medium stays
        trace = xp.where(alone_lam, dE @ one, 1.0)
        alone = ((dS - 2.0 * mu_hold[..., None] * dE) @ one) / (one.sum() * trace)
        lam, mu = xp.where(alone_lam, alone, lam), xp.where(held_mu, mu_hold, mu)
    return lam, mu, ok | held_lam | held_mu


def _held(dE: Any, dS: Any, comps: Any, hold: Any) -> Any:
    """(λ held, μ held), (n,) bool each, for :func:`regression_fit`'s ``hold`` (None without
    it): a non-zero increment whose volumetric work tr ΔΣ tr ΔE / d (deviatoric work) is below
    ``UNDETERMINED_WORK`` of |ΔΣ:ΔE|, where ``hold`` gives λ (μ). Both held, the medium
    stays."""
    if hold is None:
        return None
    xp = array_module(dE)
    one = _trace_vector(comps, xp)
    work = (dS * dE).sum(axis=-1)
    volumetric = (dS @ one) * (dE @ one) / one.sum()
    small = UNDETERMINED_WORK * xp.abs(work)
    moving = (dE * dE).sum(axis=-1) > 0
    none = xp.zeros(work.shape, dtype=bool)
    return ((moving & (xp.abs(volumetric) < small)) if hold[0] is not None else none,
            (moving & (xp.abs(work - volumetric) < small)) if hold[1] is not None else none)


def _take_hold(hold: Any, points: Any) -> Any:
    """``hold`` (regression_fit) of the points ``points``."""
    return None if hold is None else tuple(None if h is None else h[points] for h in hold)
