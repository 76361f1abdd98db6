"""Adaptive clustering: the fine-level hierarchy, exact aggregation of D, splits that inherit
the state, and the "auto" rule (inelastic phases only)."""

import re

import numpy as np
import pytest

import rve_gen
from homog.failure import failure_metrics, run_to_failure
from homog.loading import cyclic, uniaxial_stress
from homog.materials import LinearElastic, LinearHardening, VonMises, VonMisesDamage
from homog.sca.adaptive import Adaptivity
from homog.sca.hierarchy import ClusterHierarchy
from homog.sca.interaction import interaction_parts
from homog.sca.model import build_rom

MATRIX = VonMises(100.0, 0.3, LinearHardening(0.5, 0.5))
FIBRE = LinearElastic(500.0, 0.19)


def damage(length=0.08):
    return VonMisesDamage(100.0, 0.3, LinearHardening(0.5, 0.5), onset=0.01,
                          softening_strain=0.02, nonlocal_length=length)


@pytest.fixture(scope="module")
def micro():
    return rve_gen.circles(volume_fraction=0.3, radius=0.12, seed=3).voxelize((32, 32))


@pytest.fixture(scope="module")
def adaptive_rom(micro):
    return build_rom(micro, {0: damage(), 1: FIBRE}, {0: 6, 1: 2}, adaptive={0: 40})


def test_hierarchy_partitions_the_phase_into_the_fine_clusters(micro, adaptive_rom):
    h = adaptive_rom.hierarchy
    assert h.n_fine == 42 and h.adaptive_phases == (0,)
    assert np.array_equal(np.unique(h.fine_labels), np.arange(42))
    # every fine cluster lies in one phase, and the initial cut is the model's clustering
    assert np.array_equal(h.fine_phases[h.fine_labels], micro.labels)
    assert np.array_equal(h.node_phase[h.initial], adaptive_rom.cluster_phases)
    for position, node in enumerate(h.initial):
        voxels = np.isin(h.fine_labels, h.members[node])
        assert np.array_equal(voxels, adaptive_rom.cluster_labels == position)
    # each internal node has two children, whose members it is the union of
    for node in range(h.n_fine, h.children.shape[0]):
        a, b = h.children[node]
        assert sorted(h.members[node]) == sorted(np.r_[h.members[a], h.members[b]])


def test_initial_clusters_are_the_static_ones(micro, adaptive_rom):
    static = build_rom(micro, {0: damage(), 1: FIBRE}, {0: 6, 1: 2}, adaptive=None)
    assert static.hierarchy is None
    assert np.array_equal(static.cluster_labels, adaptive_rom.cluster_labels)
    np.testing.assert_allclose(adaptive_rom.D1, static.D1, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(adaptive_rom.D2, static.D2, rtol=1e-9, atol=1e-12)


def test_aggregated_interaction_tensors_equal_the_direct_ones(adaptive_rom):
    """D is linear in the indicators: D of a cut from the fine D = D of the cut's own map."""
    h = adaptive_rom.hierarchy
    nodes = list(h.initial)
    for _ in range(3):  # split the first splittable cluster, three times
        i = next(i for i, n in enumerate(nodes) if h.can_split(n))
        nodes[i:i + 1] = list(h.children[nodes[i]])
    labels, phases, D1, D2 = h.cut(np.array(nodes))
    E1, E2 = interaction_parts(labels, len(nodes),
                               discretization=adaptive_rom.info["discretization"])
    np.testing.assert_allclose(D1, E1, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(D2, E2, rtol=1e-9, atol=1e-12)
    assert np.array_equal(phases, h.node_phase[nodes])


def test_aggregated_nonlocal_weights_equal_the_direct_ones(tmp_path, adaptive_rom):
    """W is linear in the indicators too: a refined model's W from the fine W = W of its own
    cluster map (one FFT pair per fine cluster once, none per split); saved, the refined model
    loads with its own cut."""
    from homog.nonlocal_average import cluster_weights
    from homog.sca.model import ReducedOrderModel, load_rom

    h, rom = adaptive_rom.hierarchy, adaptive_rom
    nodes = list(h.initial)
    for _ in range(4):
        i = next(i for i, n in enumerate(nodes) if h.can_split(n))
        nodes[i:i + 1] = list(h.children[nodes[i]])
    nodes = np.array(nodes)
    labels, phases, D1, D2 = h.cut(nodes)
    refined = ReducedOrderModel(labels, phases, D1, D2, rom.C_eff, rom.materials, rom.lengths,
                                rom.info, h, nodes)
    matrix = np.flatnonzero(phases == 0)
    W = refined.nonlocal_weights(0.08, matrix)
    np.testing.assert_allclose(W, cluster_weights(labels, matrix, rom.lengths, 0.08),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(W.sum(axis=1), 1.0, rtol=1e-12)  # an average: rows sum to 1
    with pytest.raises(ValueError, match="partition"):
        h.nonlocal_weights(nodes[matrix][1:], rom.lengths, 0.08)
    refined.save(tmp_path / "refined.npz")
    back = load_rom(tmp_path / "refined.npz")
    assert np.array_equal(back.nodes, nodes) and back.K == refined.K


def test_a_cut_must_partition_the_fine_clusters(adaptive_rom):
    h = adaptive_rom.hierarchy
    with pytest.raises(ValueError, match="partition"):
        h.cut(h.initial[:-1])
    node = next(n for n in h.initial if h.can_split(n))
    with pytest.raises(ValueError, match="partition"):
        h.cut(np.r_[h.initial, h.children[node][0]])


def test_a_softening_run_refines_and_fails(adaptive_rom):
    path = uniaxial_stress(0.03, 60)
    adaptive = run_to_failure(adaptive_rom, path)
    history = adaptive.info["clusters_history"]
    assert history, "no cluster split while the damage localized"
    counts = [k for _, k in history]
    assert counts == sorted(counts) and counts[-1] <= adaptive_rom.hierarchy.n_fine
    assert sum(adaptive.info["clusters"].values()) == counts[-1]
    assert failure_metrics(adaptive).failed
    capped = run_to_failure(adaptive_rom, path, adaptivity=Adaptivity(max_clusters=10))
    assert max(k for _, k in capped.info["clusters_history"]) <= 10


def test_no_split_means_the_static_model(adaptive_rom):
    """Adaptivity that never triggers leaves the static curve unchanged, bit for bit."""
    path = uniaxial_stress(0.02, 20)
    never = adaptive_rom.run(path, adaptivity=Adaptivity(threshold=1e30))
    static = adaptive_rom.run(path, adaptivity=None)
    assert never.info["clusters_history"] == []
    np.testing.assert_array_equal(never.stress, static.stress)


def test_children_inherit_the_state_of_their_parent(adaptive_rom):
    """Split every cluster before any load: the children carry the parents' (zero) state and
    an elastic increment then gives the same macroscopic stiffness to the clustering error."""
    h = adaptive_rom.hierarchy
    path = uniaxial_stress(0.002, 2)
    solver_options = {"tol": 1e-8, "scs": "regression", "scs_tol": 1e-4}
    from homog.sca.adaptive import AdaptiveStepper

    stepper = AdaptiveStepper(adaptive_rom, Adaptivity(), solver_options)
    state = stepper.solver.initial_state(*adaptive_rom.reference_medium)
    chosen = [i for i, n in enumerate(stepper.nodes) if h.can_split(n)]
    split = stepper._split(state, chosen)
    assert stepper.nodes.size == adaptive_rom.K + len(chosen)
    assert split.strain.shape == (1, stepper.nodes.size, 3)
    for st in split.material_states:
        for value in st.values():
            assert not np.any(value)
    refined = stepper.model.run(path, adaptivity=None)
    coarse = adaptive_rom.run(path, adaptivity=None)
    assert abs(refined.stress[1, 0] / coarse.stress[1, 0] - 1) < 0.02


def test_auto_refines_hardening_phases_with_four_fine_clusters_per_cluster(micro):
    rom = build_rom(micro, {0: MATRIX, 1: FIBRE}, {0: 6, 1: 2})
    h = rom.hierarchy
    assert h.adaptive_phases == (0,) and h.n_fine == 4 * 6 + 2  # the elastic fibres stay
    elastic = rom.run(uniaxial_stress(0.002, 4))                 # below yield: no feature
    assert elastic.info["clusters_history"] == []
    plastic = rom.run(uniaxial_stress(0.02, 10))
    assert plastic.info["clusters_history"], "plastic flow concentrates: clusters split"
    # trigger None: every matrix cluster splits in a hardening phase, down to the fine level
    assert plastic.info["clusters_history"][-1][1] == h.n_fine
    half = rom.run(uniaxial_stress(0.02, 10), adaptivity=Adaptivity(trigger=0.5, max_rounds=1))
    assert half.info["clusters_history"][0][1] < 2 * 6 + 2  # the upper half only
    assert build_rom(micro, {0: MATRIX, 1: FIBRE}, {0: 6, 1: 2}, adaptive=None).hierarchy is None
    softening = build_rom(micro, {0: damage(), 1: FIBRE}, {0: 6, 1: 2})
    assert softening.hierarchy.n_fine == 8 * 6 + 2


def test_a_rewound_run_is_the_refined_model_run_from_the_start(micro):
    """Adaptivity(rewind=1): after the increment whose clusters split, the run starts again
    from the unloaded state on the refined clusters, so its curve is the refined (static)
    model's from the first increment on, bit for bit; the default keeps the inherited states
    and ends elsewhere."""
    rom = build_rom(micro, {0: MATRIX, 1: FIBRE}, {0: 6, 1: 2})
    path = uniaxial_stress(0.02, 10)
    done = []
    rewound = rom.run(path, adaptivity=Adaptivity(rewind=1),
                      progress=lambda k, n: done.append(k))
    inherited = rom.run(path)
    split_at = inherited.info["clusters_history"][0][0]
    assert rewound.info["rewinds"] == [split_at] and "rewinds" not in inherited.info
    assert rewound.info["clusters"] == inherited.info["clusters"]
    assert done == list(range(1, 11))  # each increment reported once
    h = rom.hierarchy
    fine = np.arange(h.n_fine)  # every matrix cluster split down to the fine level
    labels, phases, D1, D2 = h.cut(fine)
    refined = type(rom)(labels, phases, D1, D2, rom.C_eff, rom.materials, rom.lengths,
                        rom.info, h, fine).run(path, adaptivity=None)
    np.testing.assert_array_equal(rewound.stress, refined.stress)
    assert abs(inherited.stress[-1, 0] / refined.stress[-1, 0] - 1) > 1e-4


def test_rewinding_makes_the_cyclic_loop_of_a_perfectly_plastic_matrix_symmetric(micro):
    """A perfectly plastic matrix and elastic fibres under fully reversed strain cycles: the
    stabilized loop is symmetric (σ(−ε) = −σ(ε)) for a model whose history is its own. The
    children that inherit the states of their parents keep an asymmetry (docs/adaptive.md)."""
    mats = {0: VonMises(100.0, 0.3, LinearHardening(0.5, 0.0)), 1: FIBRE}
    rom = build_rom(micro, mats, {0: 6, 1: 2})
    path = cyclic(0.02, cycles=2, steps=20)
    ends = np.asarray(path.segment_ends[2:4]) + 1  # +ε, −ε of the second cycle
    rewound = rom.run(path, adaptivity=Adaptivity(rewind=1)).stress[ends, 0]
    inherited = rom.run(path).stress[ends, 0]
    assert abs(rewound[0] + rewound[1]) < 0.01 * rewound[0]      # measured 0.4 %
    assert abs(inherited[0] + inherited[1]) > 0.03 * inherited[0]  # measured 4.4 %


@pytest.mark.parametrize("bad, match", [
    ({"trigger": 1.0}, "trigger"), ({"threshold": 0.0}, "threshold"),
    ({"max_clusters": 0}, "max_clusters"), ({"max_rounds": 0}, "max_rounds"),
    ({"rewind": -1}, "rewind"), ({"rewind": 1.5}, "rewind"), ({"rewind": True}, "rewind")])
def test_bad_adaptivity_settings_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        Adaptivity(**bad)


def test_bad_adaptive_requests_are_refused(micro, adaptive_rom):
    with pytest.raises(ValueError, match="fine clusters requested"):
        build_rom(micro, {0: damage(), 1: FIBRE}, {0: 6, 1: 2}, adaptive={0: 10**6})
    with pytest.raises(ValueError, match="adaptive must be"):
        build_rom(micro, {0: damage(), 1: FIBRE}, {0: 6, 1: 2}, adaptive="everywhere")
    with pytest.raises(ValueError, match="adaptivity must be"):
        adaptive_rom.run(uniaxial_stress(0.01, 2), adaptivity="yes")
    static = build_rom(micro, {0: MATRIX, 1: FIBRE}, {0: 6, 1: 2}, adaptive=None)
    with pytest.raises(ValueError, match="adaptive clusters"):
        static.run(uniaxial_stress(0.01, 2), adaptivity=Adaptivity())


def test_hierarchy_checks_its_tree():
    with pytest.raises(ValueError, match="leaves"):
        ClusterHierarchy(np.zeros((4, 4), dtype=np.int32), np.array([0]),
                         np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 3, 3)),
                         np.array([[0, 0]]), np.array([0]), (0,))


def test_a_saved_model_keeps_its_hierarchy(tmp_path, adaptive_rom):
    from homog.sca.model import load_rom

    adaptive_rom.save(tmp_path / "rom.npz")
    loaded = load_rom(tmp_path / "rom.npz")
    h, g = adaptive_rom.hierarchy, loaded.hierarchy
    assert g.adaptive_phases == h.adaptive_phases
    for name in ("fine_labels", "fine_phases", "D1", "D2", "children", "initial"):
        np.testing.assert_array_equal(getattr(g, name), getattr(h, name))
    path = uniaxial_stress(0.03, 40)
    a, b = loaded.run(path, failure="truncate"), adaptive_rom.run(path, failure="truncate")
    assert a.info["clusters_history"] == b.info["clusters_history"]
    np.testing.assert_array_equal(a.stress, b.stress)


def test_a_damaged_hierarchy_is_refused_at_load(tmp_path, adaptive_rom):
    from homog.sca.model import load_rom

    adaptive_rom.save(tmp_path / "rom.npz")
    with np.load(tmp_path / "rom.npz") as data:
        arrays = dict(data)
    arrays["hierarchy_children"] = arrays["hierarchy_children"][::-1].copy()
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match="adaptive-cluster hierarchy"):
        load_rom(tmp_path / "bad.npz")
    del arrays["hierarchy_initial"]
    np.savez(tmp_path / "partial.npz", **arrays)
    with pytest.raises(ValueError, match="incomplete"):
        load_rom(tmp_path / "partial.npz")


@pytest.mark.parametrize("phases", [[0, 7], [3], ["0"]])
def test_adaptive_phases_absent_from_the_model_are_refused_at_load(tmp_path, adaptive_rom,
                                                                  phases):
    """A file naming a phase the model lacks loaded and ran."""
    import json

    from homog.sca.model import load_rom

    adaptive_rom.save(tmp_path / "rom.npz")
    with np.load(tmp_path / "rom.npz") as data:
        arrays = dict(data)
    meta = json.loads(str(arrays["metadata"]))
    arrays["metadata"] = np.asarray(json.dumps({**meta, "adaptive_phases": phases}))
    np.savez(tmp_path / "bad.npz", **arrays)
    bad = [p for p in phases if p not in (0, 1)]
    with pytest.raises(ValueError, match=rf"bad\.npz is an inconsistent homog ROM file: its "
                                         rf"adaptive_phases .* name {re.escape(str(bad))}: not a "
                                         r"phase of the model \(its phases are \[0, 1\]\)"):
        load_rom(tmp_path / "bad.npz")


def test_a_refined_model_that_fails_leaves_the_coarse_result(adaptive_rom):
    """Refinement never turns a converged increment into a failed one."""
    from dataclasses import replace

    from homog.sca.adaptive import AdaptiveStepper

    class Failing(AdaptiveStepper):
        tried = 0

        def _split(self, state, chosen):
            self.tried += 1
            new = super()._split(state, chosen)
            solve = self.solver.advance

            def advance(*args, **kwargs):
                res = solve(*args, **kwargs)
                return replace(res, converged=np.zeros_like(res.converged))

            self.solver.advance = advance
            return new

    options = {"tol": 1e-8, "scs": "regression", "scs_tol": 1e-4}
    path = uniaxial_stress(0.03, 60).for_dimension(2)
    failing = Failing(adaptive_rom, Adaptivity(), options)
    plain = adaptive_rom.online_solver(**options)
    state = failing.solver.initial_state(*adaptive_rom.reference_medium)
    reference = plain.initial_state(*adaptive_rom.reference_medium)
    for k, (target, controlled) in enumerate(path):
        res, state = failing.advance(state, target - failing.solver.macro(state, controlled)[0],
                                     controlled, None, 6, k + 1)
        ref = plain.advance(reference, target - plain.macro(reference, controlled)[0],
                            controlled, None, 6)
        assert bool(res.converged[0]) == bool(ref.converged[0])
        if not ref.converged[0]:
            break
        np.testing.assert_array_equal(res.state.stress, ref.state.stress)
        state, reference = res.state, ref.state
    assert failing.tried > 0, "no split was tried: the test would prove nothing"
    assert failing.history == [] and failing.nodes.size == adaptive_rom.K


def test_an_elastic_phase_cannot_be_made_adaptive(micro):
    """Without an inelastic driver there is nothing to split on: asking for fine clusters of
    an elastic phase (which would only cost their hierarchy) is refused."""
    with pytest.raises(ValueError, match=r"phases \[1\] whose materials have no plastic"):
        build_rom(micro, {0: MATRIX, 1: FIBRE}, {0: 6, 1: 2}, adaptive={1: 8})


@pytest.mark.parametrize("options, message", [
    ({"probe_weight": 2.0}, "give a probe with it"),
    ({"cluster_labels": "voxels", "adaptive": {0: 12}}, "pass adaptive=None"),
])
def test_options_that_would_do_nothing_are_refused(micro, options, message):
    labels = micro.labels if hasattr(micro, "labels") else micro
    if options.get("cluster_labels") == "voxels":
        options = {**options, "cluster_labels": np.arange(labels.size).reshape(labels.shape)}
    with pytest.raises(ValueError, match=message):
        build_rom(micro, {0: MATRIX, 1: FIBRE}, {0: 6, 1: 2}, **options)


# --------------------------------------------------------------------------- plastic probe
def test_with_feature_adds_a_standardized_weighted_column():
    from homog.sca.clustering import with_feature
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 9)).astype(np.float32)
    values = 3.0 + 0.01 * rng.normal(size=500)
    Y = with_feature(X, values, 2.0)
    assert Y.shape == (500, 10) and np.array_equal(Y[:, :9], X)
    # the new column's variance is weight² times the 9 unit-variance columns together
    assert np.var(Y[:, 9]) == pytest.approx(4.0 * 9, rel=1e-5)
    assert abs(np.mean(Y[:, 9])) < 1e-4
    assert with_feature(X, np.full(500, 0.3), 2.0) is X  # a constant adds nothing


def plastic_spread(cluster_labels, eqps, mask):
    """Within-cluster variance of ε̄p over the voxels of ``mask``, over its total variance."""
    cl, e = cluster_labels[mask], eqps[mask]
    within = sum(np.sum((e[cl == c] - e[cl == c].mean()) ** 2) for c in np.unique(cl))
    return within / np.sum((e - e.mean()) ** 2)


def test_a_plastic_probe_separates_the_voxels_where_plastic_strain_concentrates(micro):
    """The probe's ε̄p joins the clustering features of the softening matrix: the clusters
    (initial and fine) then split its plastic strain field much better than those of the
    elastic concentration alone, and the probe is recorded in the model."""
    from homog.dns import dns
    mats = {0: damage(), 1: FIBRE}
    probe = uniaxial_stress(0.006, 3)
    eqps = dns(micro, {0: mats[0].effective, 1: FIBRE}, probe,
               discretization="spectral", save_fields="last").fields["eqps"][-1]
    mask = micro.labels == 0
    plain = build_rom(micro, mats, {0: 6, 1: 2}, adaptive={0: 24})
    probed = build_rom(micro, mats, {0: 6, 1: 2}, adaptive={0: 24}, probe=probe,
                       probe_weight=3.0)
    for rom in (plain, probed):
        rom.spread = plastic_spread(rom.cluster_labels, eqps, mask)
        rom.fine_spread = plastic_spread(rom.hierarchy.fine_labels, eqps, mask)
    assert probed.spread < 0.5 * plain.spread
    assert probed.fine_spread < 0.5 * plain.fine_spread
    assert probed.info["probe"] == {"increments": 3, "weight": 3.0, "phases": [0]}
    assert probed.info["timings"]["probe_s"] > 0
    # the fibres (elastic) keep the clusters of their concentration alone
    fibres = micro.labels == 1
    assert np.array_equal(probed.cluster_labels[fibres], plain.cluster_labels[fibres])


def test_a_saved_probed_model_keeps_its_probe_record(tmp_path, micro):
    from homog.sca.model import load_rom
    rom = build_rom(micro, {0: damage(), 1: FIBRE}, {0: 4, 1: 2}, adaptive=None,
                    probe=uniaxial_stress(0.006, 2))
    rom.save(tmp_path / "probed.npz")
    again = load_rom(tmp_path / "probed.npz")
    assert again.info["probe"] == rom.info["probe"]
    assert np.array_equal(again.cluster_labels, rom.cluster_labels)


@pytest.mark.parametrize("kwargs, match", [
    ({"probe": 0.006}, "probe must be a LoadPath"),
    ({"probe": uniaxial_stress(0.006, 2), "probe_weight": 0.0}, "probe_weight"),
    ({"probe": uniaxial_stress(0.006, 2), "probe_weight": float("nan")}, "probe_weight"),
])
def test_bad_probes_are_refused(micro, kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_rom(micro, {0: damage(), 1: FIBRE}, {0: 4, 1: 2}, **kwargs)


def test_a_probe_of_elastic_phases_is_refused(micro):
    with pytest.raises(ValueError, match="no phase has a plastic strain"):
        build_rom(micro, {0: LinearElastic(100.0, 0.3), 1: FIBRE}, {0: 4, 1: 2},
                  probe=uniaxial_stress(0.006, 2))


def test_a_probe_that_does_not_yield_or_meets_a_ready_clustering_is_refused(micro):
    with pytest.raises(ValueError, match="no plastic strain pattern"):
        build_rom(micro, {0: damage(), 1: FIBRE}, {0: 4, 1: 2},
                  probe=uniaxial_stress(0.001, 1))  # elastic: σ11 ≈ 0.14 < σy 0.5
    with pytest.raises(ValueError, match="cluster_labels"):
        build_rom(micro, {0: damage(), 1: FIBRE}, None, cluster_labels=micro.labels,
                  probe=uniaxial_stress(0.006, 2))
