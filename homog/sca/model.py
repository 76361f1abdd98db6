"""Reduced-order model (ROM) of an RVE by Self-consistent Clustering Analysis.

``build_rom`` runs the offline stage (Liu, Bessa & Liu, CMAME 306, 2016, §2): elastic strain
concentration from the FFT solver, k-means clustering per phase, interaction tensors for any
reference medium. ``ReducedOrderModel.run`` runs the online stage (:mod:`homog.sca.online`) on a
:class:`homog.loading.LoadPath` and returns the same :class:`homog.response.Response` as
:func:`homog.dns`. ``save``/``load_rom`` keep the model in one portable ``.npz`` file
(:mod:`homog.sca.io`).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from homog.dns import dns
from homog.inputs import (
    check_callable,
    check_int,
    labels_and_lengths,
    materials_for_labels,
    stop_requested,
)
from homog.loading import LoadPath
from homog.materials import Material, VonMisesDamage
from homog.materials._validation import positive
from homog.nonlocal_average import cluster_weights
from homog.response import Response
from homog.sca.adaptive import AdaptiveStepper, Adaptivity
from homog.sca.clustering import (
    SCALINGS,
    cluster_strain_concentration,
    cluster_volume_fractions,
    validate_cluster_counts,
)
from homog.sca.hierarchy import ClusterHierarchy, adaptive_phases, fine_clustering
from homog.sca.interaction import interaction_parts, interaction_tensors
from homog.sca.io import read_rom, save_rom
from homog.sca.online import OnlineSolver, isotropic_fit
from kernels import ConvergenceError, elastic_homogenization, get_backend
from kernels.arraymodule import to_numpy
from kernels.frequency import DISCRETIZATIONS
from kernels.homogenization import check_homogenization_memory
from kernels.nonlinear import check_solve_memory
from kernels.tensors import PLANE_INDICES


class ReducedOrderModel:
    """A clustered RVE: cluster map, volume fractions, interaction parts and materials.

    Attributes
    ----------
    cluster_labels : int32 grid of cluster ids (shape of the RVE).
    cluster_phases : (K,) phase label of every cluster.
    volume_fractions : (K,) c_I.
    C_eff : (m, m) elastic effective stiffness from the FFT solver (m = 6 in 3D, 3 in 2D).
    materials : phase label -> :class:`homog.materials.Material`.
    lengths : RVE lengths; ``info``: build settings and stage timings.
    hierarchy : the fine clusters and their tree when built with adaptive clusters
        (:class:`homog.sca.adaptive.ClusterHierarchy`), else None.
    nodes : the hierarchy nodes of this model's clusters, a cut of ``hierarchy`` (its initial
        cut unless given; a refined model of :mod:`homog.sca.adaptive` is a later one).
    """

    def __init__(self, cluster_labels: np.ndarray, cluster_phases: np.ndarray,
                 D1: np.ndarray, D2: np.ndarray, C_eff: np.ndarray,
                 materials: Mapping[int, Material], lengths: tuple[float, ...],
                 info: dict | None = None, hierarchy: ClusterHierarchy | None = None,
                 nodes: np.ndarray | None = None) -> None:
        self.hierarchy = hierarchy
        self.nodes = (None if hierarchy is None else
                      np.asarray(hierarchy.initial if nodes is None else nodes, dtype=np.int64))
        self.cluster_labels = np.asarray(cluster_labels, dtype=np.int32)
        self.cluster_phases = np.asarray(cluster_phases, dtype=np.int64)
        self.K = self.cluster_phases.size
        self.volume_fractions = cluster_volume_fractions(self.cluster_labels, self.K)
        # read-only views: the online solvers share a layout made from them (online_solver)
        self.D1, self.D2 = np.asarray(D1).view(), np.asarray(D2).view()
        self.D1.flags.writeable = self.D2.flags.writeable = False
        self.C_eff = np.asarray(C_eff)
        self.materials = dict(materials)
        self.lengths = tuple(float(v) for v in lengths)
        self.info = dict(info or {})
        self._nonlocal_weights: dict[tuple, np.ndarray] = {}  # (length, clusters) -> W
        # (D1, D2, fractions) and the layout of the last online solver made from them
        self._solver_interactions: tuple[tuple, dict | None] = ((), None)
        self.ndim = self.cluster_labels.ndim
        self.m = 6 if self.ndim == 3 else 3
        expected = (self.K, self.K, self.m, self.m)
        if self.D1.shape != expected or self.D2.shape != expected:
            raise ValueError(f"interaction parts must have shape {expected}, got "
                             f"{self.D1.shape} and {self.D2.shape}")
        missing = sorted({int(p) for p in self.cluster_phases} - set(self.materials))
        if missing:
            raise ValueError(f"clusters of phases {missing} have no material")

    @property
    def n_clusters(self) -> dict[int, int]:
        """Phase label -> number of clusters."""
        phases, counts = np.unique(self.cluster_phases, return_counts=True)
        return {int(p): int(c) for p, c in zip(phases, counts)}

    @property
    def reference_medium(self) -> tuple[float, float]:
        """(λ0, μ0) of the elastic start: the isotropic fit of C_eff."""
        comps = np.arange(6) if self.m == 6 else np.asarray(PLANE_INDICES)
        lam, mu = isotropic_fit(self.C_eff, comps)
        return float(lam), float(mu)

    @property
    def cluster_lengths(self) -> np.ndarray:
        """(K,) characteristic length of each cluster, h_I = (c_I V)^(1/d).

        V is the RVE volume (area in 2D) and d its dimension: the edge of a cube (square) of the
        cluster's volume. Regularized softening materials scale their law with it, as a finite
        element code scales it with the element size (crack band, Bažant & Oh 1983).
        """
        volume = float(np.prod(self.lengths))
        return (self.volume_fractions * volume) ** (1.0 / self.ndim)

    def interaction_tensors(self, lam0: float, mu0: float) -> np.ndarray:
        """D_IJ for the reference medium (λ0, μ0), shape (K, K, m, m) Mandel."""
        return interaction_tensors(self.D1, self.D2, lam0, mu0)

    def online_solver(self, *, tol: float = 1e-8, scs: str = "regression",
                      scs_tol: float = 1e-4, scs_maxiter: int = 20,
                      max_newton: int = 25, scs_tangent: bool = False,
                      krylov_from: int = 300) -> OnlineSolver:
        """The :class:`homog.sca.OnlineSolver` of this model.

        ``scs_tangent``: return the tangent of the self-consistent solution, which includes
        the motion of the reference medium with the strain (regression scheme), rather than
        C_hom at a fixed reference medium. ``krylov_from``: systems of at least this many
        unknowns (K·m) take GMRES steps preconditioned by a kept factorization (see the solver).
        """
        groups = [(self.materials[int(p)], np.flatnonzero(self.cluster_phases == p))
                  for p in np.unique(self.cluster_phases)]
        weights = [self.nonlocal_weights(mat.nonlocal_length, idx)
                   if mat.nonlocal_length is not None else None
                   for mat, idx in groups]
        # the solver's layout of D1, D2 is kept for the next solver of the same arrays (a
        # copy of both, 10–30 ms on 945 unknowns, paid once per model, not once per run)
        sources, shared = self._solver_interactions
        same = len(sources) == 3 and all(
            a is b for a, b in zip(sources, (self.D1, self.D2, self.volume_fractions)))
        solver = OnlineSolver(self.D1, self.D2, self.volume_fractions, groups,
                              cluster_lengths=self.cluster_lengths, tol=tol,
                              max_newton=max_newton, scs=scs, scs_tol=scs_tol,
                              scs_maxiter=scs_maxiter, scs_tangent=scs_tangent,
                              krylov_from=krylov_from, nonlocal_weights=weights,
                              interactions=shared if same else None)
        self._solver_interactions = ((self.D1, self.D2, self.volume_fractions),
                                     solver.interactions)
        return solver

    def nonlocal_weights(self, length: float, clusters: np.ndarray) -> np.ndarray:
        """W (n, n): the Gaussian average of internal length ``length`` over ``clusters``.

        :func:`homog.nonlocal_average.cluster_weights` on this model's cluster map, computed
        once per (length, clusters) and kept. A refined cut of a hierarchy aggregates the
        fine clusters' W instead (:meth:`ClusterHierarchy.nonlocal_weights`; the same matrix,
        no FFT per split); the initial cut computes its own, one FFT pair per cluster.
        """
        key = (float(length), tuple(int(i) for i in clusters))
        if key not in self._nonlocal_weights:
            if self.hierarchy is not None and not np.array_equal(self.nodes,
                                                                 self.hierarchy.initial):
                W = self.hierarchy.nonlocal_weights(self.nodes[np.asarray(clusters)],
                                                    self.lengths, length)
            else:
                W = cluster_weights(self.cluster_labels, np.asarray(clusters), self.lengths,
                                    length)
            self._nonlocal_weights[key] = W
        return self._nonlocal_weights[key]

    def umat(self, **options: Any) -> Any:
        """This model as a UMAT-like constitutive model (:class:`homog.umat.Umat`)."""
        from homog.umat import Umat

        return Umat(self, **options)

    def run(self, loading: LoadPath, *, tol: float = 1e-6, scs: str = "regression",
            scs_tol: float = 1e-4, max_cuts: int = 6, progress: Any = None,
            stop: Callable[[np.ndarray, np.ndarray], bool] | None = None,
            failure: str = "raise", adaptivity: Adaptivity | str | None = "auto") -> Response:
        """Run a load path; returns a :class:`~homog.response.Response`.

        Each increment is solved by Newton with a self-consistent reference medium
        (``scs`` = "projection" or "regression"). An increment that fails is split in halves,
        up to ``max_cuts`` times. ``progress``: optional callable(done, total).

        ``tol`` bounds Newton's scaled residual. The default 1e-6 is below what the
        self-consistency tolerance ``scs_tol`` leaves (the curves lie ~2e-6 from the exactly
        self-consistent ones with either 1e-6 or 1e-8): measured on 2D and 3D models of 18 to
        315 clusters, the curves at 1e-6 stay within 1e-6 (relative) of those at 1e-8, with
        10–25 % fewer Newton iterations (docs/sca.md).

        ``stop(strain, stress)`` is called after every converged increment k with the Mandel
        histories up to it (rows 0..k, row 0 the unloaded state); when it returns True the
        run ends there (``info["stopped"] = "stop"``). ``failure``: what an increment that
        does not converge after the cuts does — ``"raise"`` a :class:`kernels.ConvergenceError`,
        or ``"truncate"``: return the response up to the last converged increment with
        ``info["stopped"] = "diverged"`` and the message in ``info["error"]``.

        ``adaptivity``: online refinement of the clusters (:mod:`homog.sca.adaptive`): "auto" (the
        default: :class:`~homog.sca.adaptive.Adaptivity` defaults when the model was built with
        adaptive clusters, else none), an :class:`~homog.sca.adaptive.Adaptivity`, or None (static
        clusters). ``info["clusters_history"]`` lists (increment, clusters) after each refinement
        and ``info["clusters"]`` the final count per phase; ``info["rewinds"]`` the increments
        after which the run started again on refined clusters (``Adaptivity(rewind=...)``).
        """
        if not isinstance(loading, LoadPath):
            raise ValueError(f"loading must be a homog.loading.LoadPath, got "
                             f"{type(loading).__name__}")
        if failure not in ("raise", "truncate"):
            raise ValueError(f"failure must be 'raise' or 'truncate', got {failure!r}")
        max_cuts = check_int(max_cuts, "max_cuts", 0)
        check_callable(progress, "progress", "(done, total)")
        check_callable(stop, "stop", "(strain, stress) -> bool")
        steps = list(loading.for_dimension(self.ndim))
        if adaptivity == "auto":
            adaptivity = Adaptivity() if self.hierarchy is not None else None
        if adaptivity is not None and not isinstance(adaptivity, Adaptivity):
            raise ValueError(f"adaptivity must be 'auto', None or a homog.sca.adaptive.Adaptivity, "
                             f"got {adaptivity!r}")
        options = {"tol": tol, "scs": scs, "scs_tol": scs_tol}
        stepper = None if adaptivity is None else AdaptiveStepper(self, adaptivity, options)
        solver = self.online_solver(**options) if stepper is None else stepper.solver
        comps = solver.comps
        state = solver.initial_state(*self.reference_medium)
        n = len(steps)
        strain, stress = np.zeros((n + 1, 6)), np.zeros((n + 1, 6))
        tangent = np.zeros((n + 1, 6, 6))
        tangent[0][np.ix_(comps, comps)] = self.C_eff
        iterations = np.zeros(n, dtype=int)
        scs_its, scs_failed = np.zeros(n, dtype=int), 0
        t0 = time.perf_counter()
        guess, last, stopped, rewinds, k, reported = None, n, None, [], 0, 0
        with solver.blas_threads():  # held over the run: an increment's own block is then free
            while k < n:
                target, controlled = steps[k]
                with solver.blas_threads():
                    if stepper is None:
                        res = solver.advance(state, target - solver.macro(state, controlled)[0],
                                             controlled, guess, max_cuts)
                    else:
                        splits = len(stepper.history)
                        res, state = stepper.advance(
                            state, target - solver.macro(state, controlled)[0], controlled, guess,
                            max_cuts, k + 1)
                        solver = stepper.solver
                        if (res.converged[0] and len(stepper.history) > splits
                                and len(rewinds) < stepper.settings.rewind):
                            rewinds.append(k + 1)  # the refined clusters start from scratch
                            state = solver.initial_state(*self.reference_medium)
                            guess, scs_failed, k = None, 0, 0
                            continue
                if not res.converged[0]:
                    message = (
                        f"increment {k + 1}: Newton found only solutions whose second-order "
                        f"work ΔΣ:ΔE is below the bound ΔΣ:<C>⁻¹:ΔΣ after {max_cuts} cuts, "
                        "which the stable phases of this model exclude (spurious roots of the "
                        "SCA equations, homog.sca.online): try smaller increments or more "
                        "clusters"
                        if res.unstable[0] else
                        f"increment {k + 1} did not converge after {max_cuts} cuts "
                        f"(residual {res.residual[0]:.3e} > tol {tol:.1e} after "
                        f"{res.newton_iterations[0]} Newton iterations)")
                    if failure == "raise":
                        raise ConvergenceError(message, int(res.newton_iterations[0]),
                                               float(res.residual[0]))
                    last, stopped = k, {"stopped": "diverged", "error": message}
                    break
                iterations[k] = res.newton_iterations[0]
                scs_its[k] = res.scs_iterations[0]
                scs_failed += not res.scs_converged[0]
                guess = (res.state.strain - state.strain) if res.substeps[0] == 1 else None
                state = res.state
                strain[k + 1, comps] = solver.c @ state.strain[0]
                stress[k + 1] = solver.c @ state.stress[0]
                tangent[k + 1][np.ix_(comps, comps)] = res.tangent[0][comps]
                if progress is not None and k + 1 > reported:  # not again after a rewind
                    progress(k + 1, n)
                    reported = k + 1
                if stop is not None and stop_requested(stop, strain[:k + 2], stress[:k + 2]):
                    last, stopped = k + 1, {"stopped": "stop"}
                    break
                k += 1
        model = self if stepper is None else stepper.model
        info = {"solver": "sca", "clusters": model.n_clusters, "scs": scs,
                "online_s": time.perf_counter() - t0,
                "scs_iterations": int(scs_its[:last].sum()),
                "scs_not_converged": int(scs_failed),
                "reference_medium": [float(state.lam0[0]), float(state.mu0[0])],
                "clusters_history": [] if stepper is None else stepper.history,
                **({"rewinds": rewinds} if rewinds else {}), **(stopped or {})}
        return Response(strain[:last + 1], stress[:last + 1], iterations[:last],
                        tangent=tangent[:last + 1], info=info)

    def save(self, path: Any) -> Path:
        """Write the model to one ``.npz`` file (atomic; read with :func:`load_rom`): ``path``,
        with ``.npz`` appended when it has another extension; returns the path written."""
        return save_rom(self, path)


def load_rom(path: Any) -> ReducedOrderModel:
    """Read a model written by :meth:`ReducedOrderModel.save` (:func:`homog.sca.io.read_rom`),
    with clear errors for anything else."""
    return ReducedOrderModel(**read_rom(path))


def _counts_for_phases(counts: dict[int, int], labels: np.ndarray) -> dict[int, int]:
    """Check the cluster counts against the phases of ``labels`` before any FFT solve: one
    count per phase present, none for an absent phase, at most a phase's voxel count."""
    present, voxels = np.unique(labels, return_counts=True)
    available = dict(zip(present.tolist(), voxels.tolist()))
    absent = sorted(set(counts) - set(available))
    if absent:
        raise ValueError(
            f"n_clusters gives counts for phase label(s) {absent}, which the microstructure "
            f"does not contain; its labels are {sorted(available)}: give counts for those only"
        )
    missing = [p for p in available if p not in counts]
    if missing:
        raise ValueError(
            f"phase label(s) {missing} of the microstructure have no cluster count; n_clusters "
            f"gives {sorted(counts)}: give every label of {sorted(available)} a count, e.g. "
            f"{{{', '.join(f'{p}: 8' for p in available)}}}"
        )
    for phase, k in counts.items():
        if k > available[phase]:
            raise ValueError(
                f"n_clusters[{phase}] = {k} exceeds the {available[phase]} voxels of phase "
                f"{phase}: ask for at most {available[phase]} clusters (or refine the grid)"
            )
    return counts


def build_rom(
    microstructure: Any,
    materials: Any,
    n_clusters: Mapping[int, int],
    *,
    backend: Any = "auto",
    seed: int | None = 0,
    scaling: str = "standardize",
    tol: float = 1e-4,
    discretization: str = "auto",
    cluster_labels: np.ndarray | None = None,
    lengths: Any = None,
    progress: Any = None,
    adaptive: Mapping[int, int] | str | None = "auto",
    probe: LoadPath | None = None,
    probe_weight: float | None = None,
) -> ReducedOrderModel:
    """Offline stage of SCA: a :class:`ReducedOrderModel` of ``microstructure``.

    Parameters
    ----------
    microstructure : integer label array or object with ``.labels`` and ``.lengths``.
    materials : phase label -> Material, or a TOML path/dict (``homog.materials.from_config``).
    n_clusters : phase label -> number of clusters.
    backend : FFT/array backend for the elastic solves and interaction tensors.
    seed : k-means random state (same seed, same model; None: unseeded).
    scaling : feature scaling of the clustering ("standardize" or "none").
    tol : relative residual of the elastic FFT solves. Their strain fields only feed the
        clustering features, and C_eff, whose error is of order tol² in the energy norm (2e-8
        at 1e-4; its largest entry is within 6e-6 (relative) of a 1e-9 solve on the 600²
        RVE of benchmarks/sca.py, 1.2e-6 on the 64³ one). Measured over the accuracy study's
        15 RVEs (docs/sca.md), 1e-4 (default; 10 CG iterations per load instead of 16) gives
        the same final-stress errors as 1e-6, within the k-means scatter, and a 40 % faster
        strain-concentration stage.
    discretization : Green operator of the elastic solves and the interaction tensors:
        "spectral" (the continuous operator of Liu et al. 2016 and CRATE), "willot" (the
        DNS's default; use it where the ROM must equal the DNS, e.g. one voxel per cluster)
        or "auto" (default): "willot" where the phases' elastic contrast reaches
        ``WILLOT_CONTRAST`` (:func:`elastic_contrast`), "spectral" otherwise. Measured
        against the (Willot) DNS: on random 600² fibre RVEs of contrast 5 the spectral
        operator's models are closer (mean |final-stress error| 3.1 / 2.2 % at 18 / 54
        clusters against 3.6 / 2.5 %, benchmarks/RESULTS.md); at a contrast of 1000 its
        strain-concentration fields ring (Moulinec–Suquet's scheme) and its models converge
        to a wrong limit (200² pores, 400 + 200 static clusters: curve off by 19 %, elastic
        slope +12 %, against 7 % and within 2 % with Willot's; rigid fibres: mean |error|
        7.1–8.8 % against 7.9–11.5 %; docs/sca.md, "Compliant inclusions").
        The operator used is recorded in ``info["discretization"]``.
    cluster_labels : a ready cluster map (int grid of ids 0..K−1, each cluster inside one
        phase) that replaces the clustering, e.g. one voxel per cluster.
    progress : optional callable(stage_name) called as each stage starts.
    adaptive : fine clusters per phase for adaptive SCA (:mod:`homog.sca.adaptive`): the initial
        model keeps the k-means clusters of ``n_clusters`` and carries a hierarchy of
        ``adaptive[phase]`` fine clusters over each listed phase, which ``run`` refines where
        the strain localizes. "auto" (default): the inelastic phases, with 8 × their initial
        count in phases that can soften (damage), 4 × in the others (at most their voxels;
        measured, docs/adaptive.md); None: static clusters (as CRATE's SCA).
    probe : a plastic probe (docs/adaptive.md), for models of softening RVEs: a short load
        path that the full-field solver (:func:`homog.dns`, with the undamaged laws of the
        materials and the same ``discretization``) runs on the RVE before the clustering.
        The equivalent plastic strain it ends with joins the clustering features of the
        inelastic phases (those with an ε̄p state), for the initial and the fine clusters, so
        that the voxels where plastic strain localizes get clusters of their own. Give the
        path of the load the model will run, up to about the strain where damage starts; it
        costs a DNS of that many increments. Measured on eight random 48² RVEs to failure
        (issue 16's case, probe ``uniaxial_stress(0.006, 6)``, five k-means seeds): mean
        |peak error| 2.3 % against 5.5 % without; the toughness error is no smaller (mean
        |error| 36 % either way) and biased low (median −28 %). Not for hardening-only
        models: it moves their curves 2–3 % further below the DNS.
    probe_weight : weight of the probe's feature against the ncomp² concentration components
        together (:func:`homog.sca.clustering.with_feature`; None: 1), with a ``probe`` only."""
    labels, lengths = labels_and_lengths(microstructure, lengths)
    backend = get_backend(backend)
    check_homogenization_memory(labels.shape, backend.xp,  # before any pass over the grid
                                return_concentration=cluster_labels is None)
    if probe is not None:  # the probe's full-field solve, checked before the elastic ones run
        check_solve_memory(labels.shape, backend.xp)
    materials = materials_for_labels(materials, labels)
    present = {p: materials[p] for p in np.flatnonzero(np.bincount(labels.reshape(-1))).tolist()}
    _warn_contrast(present)
    discretization = _discretization(discretization, present)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)
                             or not 0 <= seed < 2**32):
        raise ValueError(f"seed = {seed!r} must be an integer in [0, 2**32 - 1] (the k-means "
                         "random state), or None for an unseeded clustering")
    if scaling not in SCALINGS:
        raise ValueError(f"scaling = {scaling!r}: use one of {list(SCALINGS)}")
    check_callable(progress, "progress", "(stage_name)")
    if probe is not None and cluster_labels is not None:
        raise ValueError("probe shapes the clustering, and cluster_labels replaces it: give "
                         "one or the other")
    if probe is not None and not isinstance(probe, LoadPath):
        raise ValueError(f"probe must be a LoadPath (e.g. homog.loading.uniaxial_stress(0.006, "
                         f"6)) or None, got {type(probe).__name__}")
    if probe is None and probe_weight is not None:
        raise ValueError("probe_weight weighs the feature of a probe: give a probe with it")
    weight = positive(1.0 if probe_weight is None else probe_weight, "probe_weight")
    if cluster_labels is not None and adaptive not in ("auto", None):
        raise ValueError("adaptive fine clusters refine the k-means clusters, and "
                         "cluster_labels replaces them: pass adaptive=None with cluster_labels")
    counts = None
    if cluster_labels is None:
        counts = _counts_for_phases(validate_cluster_counts(n_clusters), labels)
    timings = {}
    stiffness = {p: m.stiffness for p, m in materials.items()}
    _stage(progress, "strain concentration (elastic FFT solves)")
    t = time.perf_counter()
    elastic = elastic_homogenization(labels, stiffness, lengths=lengths, tol=tol, backend=backend,
                                     discretization=discretization,
                                     return_concentration=cluster_labels is None)
    timings["strain_concentration_s"] = time.perf_counter() - t
    extra = None
    if probe is not None:
        _stage(progress, "plastic probe (full-field solve)")
        t = time.perf_counter()
        extra = _probe_features(labels, materials, probe, weight, lengths, discretization,
                                backend)
        timings["probe_s"] = time.perf_counter() - t
    _stage(progress, "clustering (k-means per phase)")
    t = time.perf_counter()
    fine = _fine_counts(adaptive, counts, materials, labels) if cluster_labels is None else {}
    tree = hierarchy = None
    if fine:
        A = to_numpy(elastic.strain_concentration)
        elastic.strain_concentration = None
        tree = fine_clustering(A, labels, counts, fine, seed=seed, scaling=scaling,
                               extra_features=extra)
        del A
    elif cluster_labels is None:
        A = to_numpy(elastic.strain_concentration)
        elastic.strain_concentration = None  # A is only needed for the clustering: free it
        cl, phases = cluster_strain_concentration(A, labels, counts, seed=seed, scaling=scaling,
                                                  extra_features=extra)
        del A
    else:
        cl, phases = _custom_clusters(cluster_labels, labels)
    timings["clustering_s"] = time.perf_counter() - t
    _stage(progress, "interaction tensors")
    t = time.perf_counter()
    if tree is not None:  # the fine clusters' D, aggregated for the initial cut
        hierarchy = ClusterHierarchy.from_tree(tree, lengths=lengths,
                                               discretization=discretization, backend=backend)
        cl, phases, D1, D2 = hierarchy.cut(hierarchy.initial)
    else:
        D1, D2 = interaction_parts(cl, phases.size, lengths=lengths,
                                   discretization=discretization, backend=backend)
    timings["interaction_s"] = time.perf_counter() - t
    info = {"seed": seed, "scaling": scaling, "discretization": discretization,
            "elastic_iterations": elastic.iterations, "timings": timings,
            "backend": elastic.info["backend"]}
    lengths = tuple(lengths) if lengths is not None else (1.0,) * labels.ndim
    if hierarchy is not None:
        info["fine_clusters"] = fine
    if extra is not None:
        info["probe"] = {"increments": probe.nsteps, "weight": weight,
                         "phases": sorted(extra)}
    return ReducedOrderModel(cl, phases, D1, D2, elastic.C_eff, materials, lengths, info,
                             hierarchy)


#: An elastic phase whose elastic stiffness is this many times below that of an inelastic
#: phase (smallest eigenvalues of the Mandel stiffnesses) makes build_rom warn: SCA's clusters
#: represent such compliant inclusions (pores, voids) poorly (docs/sca.md, "Compliant
#: inclusions").
COMPLIANT_CONTRAST = 50.0
#: build_rom's discretization="auto" takes Willot's operator from this elastic contrast on
#: (measured: no gain at 100 and mixed at 333 for pores, large at 1000 for pores and small
#: for rigid fibres; docs/sca.md, "Compliant inclusions").
WILLOT_CONTRAST = 500.0


def elastic_contrast(materials: Mapping[int, Material]) -> float:
    """Largest over smallest of the phases' elastic moduli, each phase's modulus being the
    smallest eigenvalue of its Mandel stiffness (2μ for an isotropic phase with ν ≥ 0): 1000
    for pores of E 0.1 in a matrix of E 100 (the same ν), and for fibres of E 10⁵ in it. Not
    the solvers' :attr:`kernels.stiffness_field.StiffnessField.contrast`, which also counts a
    phase's own eigenvalue spread and so reads 2500 (2D) or 3250 (3D) for those pores."""
    moduli = [_smallest_modulus(m) for m in materials.values()]
    return max(moduli) / max(min(moduli), 1e-300)


def _smallest_modulus(material: Material) -> float:
    return float(np.linalg.eigvalsh(np.asarray(material.stiffness, dtype=float)).min())


def _discretization(discretization: str, materials: Mapping[int, Material]) -> str:
    """The Green operator build_rom uses for ``discretization`` (its docstring)."""
    if discretization not in ("auto", *DISCRETIZATIONS):
        raise ValueError(f"discretization = {discretization!r}: use 'auto', "
                         f"{', '.join(repr(d) for d in DISCRETIZATIONS)}")
    if discretization != "auto":
        return discretization
    return "willot" if elastic_contrast(materials) >= WILLOT_CONTRAST else "spectral"


def _warn_contrast(materials: Mapping[int, Material]) -> None:
    """Warn about phases that SCA's clusters represent poorly, in an RVE with an inelastic
    phase: an elastic phase COMPLIANT_CONTRAST times or more below an inelastic one in
    stiffness (pores), else an elastic contrast of WILLOT_CONTRAST or more (rigid inclusions).

    Measured on random 200² RVEs of 30 % elastic inclusions in a hardening von Mises matrix
    (E 100), final stress of uniaxial stress against the DNS, 12 + 6 static clusters:
    inclusions 3.3× and 10× more compliant −2.5 and −1.4 %, 33× +3.8 %, 100× +12 % (one RVE),
    1000× +18 … +36 %, 1000× stiffer −14 … +5 % (three RVEs each; docs/sca.md, "Compliant
    inclusions").
    """
    inelastic = adaptive_phases(materials)
    if not inelastic:
        return
    moduli = {p: _smallest_modulus(m) for p, m in materials.items()}
    strong = max(inelastic, key=moduli.__getitem__)
    for p in sorted(set(materials) - set(inelastic)):
        if moduli[p] * COMPLIANT_CONTRAST <= moduli[strong]:
            warnings.warn(
                f"phase {p} is elastic and {moduli[strong] / max(moduli[p], 1e-300):.0f}x more "
                f"compliant than the inelastic phase {strong}: SCA's clusters represent such "
                "compliant inclusions (pores, voids) poorly. On random 200² RVEs with pores "
                "1000x more compliant than a hardening matrix, build_rom's defaults with 12 + 6 "
                "clusters came out 20-39 % above the full-field stress under uniaxial stress "
                "and 30-55 % under shear; static models (adaptive=None; homog build --static) "
                "refined in both phases came within 7 % of the curve only at 400 + 200 "
                "clusters, and refining the pores alone makes the elastic slope 25-60 % too "
                "low: check the model against homog.dns (docs/sca.md, 'Compliant "
                "inclusions')", UserWarning, stacklevel=3)
            return
    soft = min(moduli, key=moduli.__getitem__)
    stiff = max(moduli, key=moduli.__getitem__)
    if moduli[stiff] >= WILLOT_CONTRAST * moduli[soft]:
        warnings.warn(
            f"phase {stiff} is {moduli[stiff] / max(moduli[soft], 1e-300):.0f}x stiffer than "
            f"phase {soft}: SCA's clusters represent such near-rigid phases poorly. On random "
            "200² RVEs with fibres 1000x stiffer than a hardening matrix, build_rom's defaults "
            "came out 17 % below to 2 % above the full-field stress under uniaxial stress, "
            "with 6 or 18 clusters in the fibres: check the model against homog.dns "
            "(docs/sca.md, 'Compliant inclusions')", UserWarning, stacklevel=3)


def _probe_features(labels: np.ndarray, materials: Mapping[int, Material], probe: LoadPath,
                    weight: float, lengths: Any, discretization: str,
                    backend: Any) -> dict[int, tuple[np.ndarray, float]]:
    """phase -> (ε̄p (N,) at the end of the probe's full-field solve, weight) for the
    inelastic phases (build_rom's ``probe``), with damage materials replaced by their
    undamaged von Mises laws."""
    phases = sorted(adaptive_phases(materials))  # the inelastic ones: an ε̄p state
    if not phases:
        raise ValueError("probe: no phase has a plastic strain (ε̄p) to probe; the materials "
                         "are all elastic, so drop the probe")
    # the undamaged laws: the probe shows where plastic strain concentrates, before softening
    undamaged = {p: m.effective if isinstance(m, VonMisesDamage) else m
                 for p, m in materials.items()}
    try:
        response = dns(labels, undamaged, probe, lengths=lengths, discretization=discretization,
                       backend=backend, save_fields="last")
    except ConvergenceError as exc:
        raise ConvergenceError(f"the plastic probe did not converge ({exc}): end it before the "
                               "RVE fails (a smaller strain)", exc.iterations,
                               exc.residual) from None
    eqps = np.asarray(response.fields["eqps"][-1], dtype=float).reshape(-1)
    flat = labels.reshape(-1)
    yielded = [p for p in phases if np.ptp(eqps[flat == p]) > 0]
    if not yielded:
        raise ValueError(f"the plastic probe left no plastic strain pattern in phases {phases} "
                         f"(largest ε̄p {eqps.max():.3g}): probe to a larger strain, past the "
                         "onset of plastic flow")
    return {p: (eqps, weight) for p in yielded}


def _fine_counts(adaptive: Any, counts: dict[int, int], materials: Mapping[int, Material],
                 labels: np.ndarray) -> dict[int, int]:
    """Fine clusters per adaptive phase (only phases that get more than their initial count)."""
    if adaptive is None:
        return {}
    if isinstance(adaptive, str):
        if adaptive != "auto":
            raise ValueError(f"adaptive must be 'auto', None or phase -> fine clusters, got "
                             f"{adaptive!r}")
        voxels = dict(zip(*(v.tolist() for v in np.unique(labels, return_counts=True))))
        adaptive = {p: min(factor * counts[p], voxels[p])
                    for p, factor in adaptive_phases(materials).items() if p in counts}
    fine = validate_cluster_counts(adaptive)
    unknown = sorted(set(fine) - set(counts))
    if unknown:
        raise ValueError(f"adaptive names phases {unknown} that have no cluster count")
    inelastic = adaptive_phases(materials)
    elastic = sorted(set(fine) - set(inelastic))
    if elastic:
        raise ValueError(f"adaptive names phases {elastic} whose materials have no plastic "
                         f"strain (eqps) to refine on: adaptivity splits clusters of inelastic "
                         f"phases only ({sorted(inelastic) or 'none here'})")
    return {p: k for p, k in fine.items() if k > counts[p]}


def _custom_clusters(cluster_labels: Any, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cl = np.asarray(cluster_labels)
    if cl.shape != labels.shape or cl.dtype.kind not in "iu":
        raise ValueError(f"cluster_labels must be an integer array of the RVE's shape "
                         f"{labels.shape}, got {cl.dtype} {cl.shape}")
    if cl.min() < 0:
        raise ValueError(f"cluster_labels must be cluster ids 0..K−1, got a negative id "
                         f"({int(cl.min())})")
    K = int(cl.max()) + 1
    if np.any(np.bincount(cl.reshape(-1), minlength=K) == 0):
        raise ValueError(f"cluster_labels must use every id 0..{K - 1}")
    phases = np.zeros(K, dtype=np.int64)
    phases[cl.reshape(-1)] = labels.reshape(-1)
    if np.any(phases[cl] != labels):
        raise ValueError("every cluster of cluster_labels must lie inside one phase")
    return cl.astype(np.int32), phases


def _stage(progress: Any, name: str) -> None:
    if progress is not None:
        progress(name)
