"""Offline stage of adaptive SCA: a hierarchy of fine clusters over the static clusters.

Adaptive SCA (Ferreira, Andrade Pires & Bessa, CMAME 393, 2022) refines clusters during the run
(:mod:`homog.sca.adaptive`). Offline (:func:`fine_clustering`, then
:meth:`ClusterHierarchy.from_tree`), in every adaptive phase, each
cluster of the static k-means clustering (the initial model: the same clusters as without
adaptivity) is bisected recursively by 2-means on the same features (the standardized strain
concentration), the node of largest within-cluster scatter first, until the phase holds
``n_fine`` leaves. The leaves are the fine clusters; their interaction parts D1, D2 are
computed once (Parseval GEMMs, :func:`homog.sca.interaction.interaction_parts`). Since D is
linear in the cluster indicators, the interaction tensor of any cut of the tree is an
aggregation of the fine one,

    D_IJ = (1 / c_I) Σ_{i ∈ I} Σ_{j ∈ J} c_i D_ij,

exactly the tensor computed from the cut's own cluster map (tested): a split costs a few
matrix products, no FFT (:meth:`ClusterHierarchy.cut`). The weights W of a non-local average
over the clusters (:func:`homog.nonlocal_average.cluster_weights`) are linear in the cluster
indicators as well, W_IJ = (1 / c_I) Σ_{i ∈ I} Σ_{j ∈ J} c_i W_ij: computed once on the fine
clusters of a phase, aggregated for every cut (:meth:`ClusterHierarchy.nonlocal_weights`).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from homog.nonlocal_average import cluster_weights
from homog.sca.clustering import _canonical_order, kmeans_labels, phase_features
from homog.sca.interaction import interaction_parts


class ClusterHierarchy:
    """A binary tree over the fine clusters of an RVE, with their interaction parts.

    Attributes
    ----------
    fine_labels : int32 grid of fine cluster ids 0..Kf−1.
    fine_phases : (Kf,) phase label of every fine cluster.
    D1, D2 : (Kf, Kf, m, m) interaction parts of the fine clusters.
    children : (n_nodes, 2) child node ids, −1 for a leaf; nodes 0..Kf−1 are the fine clusters.
    initial : node ids of the initial cut (the static clusters), in cluster order.
    adaptive_phases : phase labels whose clusters may split.
    """

    def __init__(self, fine_labels: np.ndarray, fine_phases: np.ndarray, D1: np.ndarray,
                 D2: np.ndarray, children: np.ndarray, initial: np.ndarray,
                 adaptive_phases: tuple[int, ...]) -> None:
        self.fine_labels = np.asarray(fine_labels, dtype=np.int32)
        self.fine_phases = np.asarray(fine_phases, dtype=np.int64)
        self.D1, self.D2 = np.asarray(D1), np.asarray(D2)
        self.children = np.asarray(children, dtype=np.int64)
        self.initial = np.asarray(initial, dtype=np.int64)
        self.adaptive_phases = tuple(int(p) for p in adaptive_phases)
        Kf = self.fine_phases.size
        n = self.children.shape[0]
        if self.children.shape != (n, 2) or n < Kf or np.any(self.children[:Kf] != -1):
            raise ValueError(f"children must be (n_nodes >= {Kf}, 2) with the {Kf} fine "
                             "clusters as leaves (-1)")
        if self.D1.shape[:2] != (Kf, Kf) or self.D2.shape != self.D1.shape:
            raise ValueError(f"fine interaction parts must be ({Kf}, {Kf}, m, m)")
        self.fine_fractions = (np.bincount(self.fine_labels.reshape(-1), minlength=Kf)
                               / self.fine_labels.size)
        # fine members of every node, children first (node ids are created after their children)
        self.members: list[np.ndarray] = [np.array([i]) for i in range(Kf)]
        for node in range(Kf, n):
            a, b = self.children[node]
            if not (0 <= a < node and 0 <= b < node):
                raise ValueError(f"node {node}: children {a}, {b} must be earlier nodes")
            self.members.append(np.concatenate([self.members[a], self.members[b]]))
        self.node_phase = np.array([self.fine_phases[m[0]] for m in self.members])
        # (phase, length, RVE lengths) -> (fine clusters of the phase, their W), on first use
        self._fine_weights: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def from_tree(cls, tree: FineTree, *, lengths: Any = None, discretization: str = "willot",
                  backend: Any = "auto") -> ClusterHierarchy:
        """The hierarchy of a :func:`fine_clustering`, with the interaction parts of its fine
        clusters (:func:`~homog.sca.interaction.interaction_parts`)."""
        D1, D2 = interaction_parts(tree.fine_labels, tree.fine_phases.size, lengths=lengths,
                                   discretization=discretization, backend=backend)
        return cls(tree.fine_labels, tree.fine_phases, D1, D2, tree.children, tree.initial,
                   tree.adaptive_phases)

    @property
    def n_fine(self) -> int:
        return int(self.fine_phases.size)

    def can_split(self, node: int) -> bool:
        """True for a node with children in an adaptive phase."""
        return bool(self.children[node, 0] >= 0 and
                    int(self.node_phase[node]) in self.adaptive_phases)

    def cut(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(cluster_labels, cluster_phases, D1, D2) of the clustering whose clusters are
        ``nodes`` (in that order; they must partition the fine clusters)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        Kf = self.n_fine
        owner = np.full(Kf, -1)
        for position, node in enumerate(nodes):
            owner[self.members[node]] = position
        if np.any(owner < 0) or sum(self.members[n].size for n in nodes) != Kf:
            raise ValueError("the nodes of a cut must partition the fine clusters")
        M = np.zeros((Kf, nodes.size))
        M[np.arange(Kf), owner] = 1.0
        c = self.fine_fractions
        cI = c @ M

        def aggregate(D: np.ndarray) -> np.ndarray:
            left = np.einsum("iI,i,ijab->Ijab", M, c, D, optimize=True)
            return np.einsum("Ijab,jJ->IJab", left, M, optimize=True) / cI[:, None, None, None]

        labels = owner[self.fine_labels].astype(np.int32)
        return labels, self.node_phase[nodes], aggregate(self.D1), aggregate(self.D2)


    def nonlocal_weights(self, nodes: np.ndarray, lengths: Any, length: float) -> np.ndarray:
        """W (n, n) of the non-local average of internal length ``length`` over the clusters
        ``nodes``, which must partition the fine clusters of one phase: the fine clusters' W
        (computed once per phase and length, one FFT pair per fine cluster) aggregated,
        W_IJ = Σ_{i ∈ I} c_i Σ_{j ∈ J} W_ij / Σ_{i ∈ I} c_i (module docstring)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        phase = int(self.node_phase[nodes[0]])
        key = (phase, float(length), tuple(float(v) for v in lengths))
        if key not in self._fine_weights:
            fine = np.flatnonzero(self.fine_phases == phase)
            self._fine_weights[key] = (fine, cluster_weights(self.fine_labels, fine, lengths,
                                                             length))
        fine, W = self._fine_weights[key]
        position = np.full(self.n_fine, -1)
        position[fine] = np.arange(fine.size)
        M = np.zeros((fine.size, nodes.size))
        for k, node in enumerate(nodes):
            rows = position[self.members[node]]
            if np.any(rows < 0):
                raise ValueError(f"node {node} is not in phase {phase}")
            M[rows, k] += 1.0
        if not np.all(M.sum(axis=1) == 1.0):
            raise ValueError(f"the nodes must partition the fine clusters of phase {phase}")
        c = self.fine_fractions[fine]
        return (M.T @ (c[:, None] * W) @ M) / (c @ M)[:, None]


FINE_PER_CLUSTER = {"softening": 8, "hardening": 4}
"""Fine clusters per initial cluster of "auto" adaptivity, by phase kind. Measured
(docs/adaptive.md): 8 in softening phases (the toughness study), 4 in hardening phases (the
accuracy study of docs/sca.md: mean final-stress error on five 600² RVEs 2.4 → 1.2 % from 18
clusters, 1.7 → 0.85 % from 54; 8 cost twice the build for no gain)."""


def phase_kind(material: Any) -> str:
    """"softening" for a material that can soften (damage), else "hardening"."""
    return "softening" if getattr(material, "max_damage", None) is not None else "hardening"


def adaptive_phases(materials: Mapping[int, Any]) -> dict[int, int]:
    """The phases where "auto" adaptivity refines (inelastic ones: an ``eqps`` state, the
    adaptivity feature), each with its fine clusters per initial cluster (FINE_PER_CLUSTER)."""
    return {int(p): FINE_PER_CLUSTER[phase_kind(m)] for p, m in sorted(materials.items())
            if "eqps" in dict(m.state_variables)}


class FineTree(NamedTuple):
    """The fine clusters of :func:`fine_clustering` and the tree over them, without their
    interaction parts (:meth:`ClusterHierarchy.from_tree` adds those)."""

    fine_labels: np.ndarray
    fine_phases: np.ndarray
    children: np.ndarray
    initial: np.ndarray
    adaptive_phases: tuple[int, ...]


def fine_clustering(concentration: np.ndarray, labels: np.ndarray,
                    n_clusters: Mapping[int, int], n_fine: Mapping[int, int], *, seed: int = 0,
                    scaling: str = "standardize",
                    extra_features: Mapping[int, tuple[np.ndarray, float]] | None = None
                    ) -> FineTree:
    """Offline stage of adaptive SCA, its clustering (module docstring).

    ``concentration``: A(x), (ncomp, ncomp, *grid); ``n_clusters``: initial clusters per phase
    (the static clustering, same seed); ``n_fine``: fine clusters of each adaptive phase
    (≥ its initial count, ≤ its voxels). Phases not in ``n_fine`` keep their static clusters.
    ``extra_features``: as in :func:`~homog.sca.clustering.cluster_strain_concentration`, for
    the initial and the fine clusters alike.
    """
    ncomp = concentration.shape[0]
    features = concentration.reshape(ncomp * ncomp, -1)
    flat = labels.reshape(-1)
    leaves: list[tuple[int, np.ndarray]] = []  # (phase, voxel indices) of the fine clusters
    internal: list[tuple[int, int]] = []       # children refs of internal nodes (see _emit)
    initial_refs: list[int] = []
    for phase in sorted(int(p) for p in np.unique(flat)):
        idx = np.flatnonzero(flat == phase)
        k = int(n_clusters[phase])
        X = phase_features(features, idx, scaling, (extra_features or {}).get(phase))
        local = _canonical_order(kmeans_labels(X, k, seed), features[0, idx], k)
        fine = int(n_fine.get(phase, k))
        if not k <= fine <= idx.size:
            raise ValueError(f"phase {phase}: {fine} fine clusters requested; need between its "
                             f"{k} initial clusters and its {idx.size} voxels")
        for subtree in _bisection_trees(X, local, k, fine, features[0, idx], seed):
            initial_refs.append(_emit(subtree, phase, idx, leaves, internal))
    Kf = len(leaves)
    fine_labels = np.empty(flat.size, dtype=np.int32)
    for i, (_, voxels) in enumerate(leaves):
        fine_labels[voxels] = i

    def node_id(ref: int) -> int:
        return ref if ref >= 0 else Kf + (-ref - 1)

    children = np.full((Kf + len(internal), 2), -1, dtype=np.int64)
    for j, (a, b) in enumerate(internal):
        children[Kf + j] = node_id(a), node_id(b)
    return FineTree(fine_labels.reshape(labels.shape), np.array([p for p, _ in leaves]),
                    children, np.array([node_id(r) for r in initial_refs]),
                    tuple(p for p in n_fine if n_fine[p] > n_clusters[p]))


def _bisection_trees(X: np.ndarray, local: np.ndarray, k: int, fine: int, key: np.ndarray,
                     seed: int) -> list[Any]:
    """Per initial cluster, its bisection tree: a leaf is an array of rows of ``X``, an internal
    node the pair of its subtrees (the half of lower mean ``key`` first). The node of largest
    scatter is bisected by 2-means first, until there are ``fine`` leaves (or none divides)."""
    trees: dict[int, Any] = {}
    heap: list[tuple[float, int, np.ndarray]] = []
    for cluster in range(k):
        rows = np.flatnonzero(local == cluster)
        heapq.heappush(heap, (-_scatter(X[rows]), cluster, rows))
    children: dict[int, tuple[int, int]] = {}
    counter, count = k, k
    while count < fine and heap:
        scatter, node, rows = heapq.heappop(heap)
        split = kmeans_labels(X[rows], 2, seed) if rows.size >= 2 and scatter < 0 else None
        if split is None or split.min() == split.max():
            trees[node] = rows
            continue
        halves = sorted((rows[split == 0], rows[split == 1]), key=lambda r: float(key[r].mean()))
        children[node] = (counter, counter + 1)
        for half in halves:
            heapq.heappush(heap, (-_scatter(X[half]), counter, half))
            counter += 1
        count += 1
    trees.update({node: rows for _, node, rows in heap})

    def subtree(node: int) -> Any:
        if node in trees:
            return trees[node]
        return tuple(subtree(child) for child in children[node])

    return [subtree(cluster) for cluster in range(k)]


def _emit(tree: Any, phase: int, idx: np.ndarray, leaves: list, internal: list) -> int:
    """Append ``tree``'s leaves (phase, voxels) and internal nodes (children refs), children
    first; returns its reference: a leaf index (≥ 0) or −(internal index + 1)."""
    if isinstance(tree, np.ndarray):
        leaves.append((phase, idx[tree]))
        return len(leaves) - 1
    refs = [_emit(child, phase, idx, leaves, internal) for child in tree]
    internal.append(tuple(refs))
    return -len(internal)


def _scatter(X: np.ndarray) -> float:
    """Within-cluster sum of squared distances to the mean (k-means inertia of one cluster)."""
    return float(((X - X.mean(axis=0)) ** 2).sum())
