"""Interaction tensors: invariants, Green-operator identity, GEMM path vs direct convolution."""

import numpy as np
import pytest

from homog.sca.clustering import cluster_strain_concentration
from homog.sca.interaction import (
    interaction_parts,
    interaction_tensors,
    monomial_basis,
    quartic_monomials,
)
from kernels import frequency_grid, green_parts
from kernels.green import apply_green


@pytest.mark.parametrize("d", [2, 3])
def test_monomial_basis_reproduces_green_parts(d):
    rng = np.random.default_rng(d)
    n = rng.normal(size=(d, 9))
    n /= np.linalg.norm(n, axis=0)
    B1, B2 = monomial_basis(d)
    mono = np.array([np.prod([n[i] for i in q], axis=0) for q in quartic_monomials(d)])
    p1, p2 = green_parts(n)
    np.testing.assert_allclose(np.einsum("mab,mk->kab", B1, mono), p1, atol=1e-15)
    np.testing.assert_allclose(np.einsum("mab,mk->kab", B2, mono), p2, atol=1e-15)


@pytest.mark.parametrize("shape", [(9, 12), (6, 5, 8)])
def test_invariants_row_sum_and_reciprocity(shape):
    rng = np.random.default_rng(0)
    K = 7
    cl = rng.integers(0, K, size=shape)
    D = interaction_tensors(*interaction_parts(cl, K, backend="scipy"), 2.0, 0.8)
    c = np.bincount(cl.ravel(), minlength=K) / cl.size
    scale = np.abs(D).max()
    np.testing.assert_allclose(D.sum(axis=1), 0.0, atol=1e-13 * scale)  # Σ_J D_IJ = 0
    cD = c[:, None, None, None] * D
    np.testing.assert_allclose(cD, np.swapaxes(cD, 0, 1).swapaxes(2, 3), atol=1e-14 * scale)


@pytest.mark.parametrize("shape, lengths", [((6, 7), (1.0, 1.3)), ((4, 5, 6), None)])
def test_gemm_path_equals_direct_convolution(shape, lengths):
    """D_IJ[:, k] = ⟨Γ0 * (χ_J e_k)⟩ over cluster I, with Γ0 applied by the FFT solver's code."""
    rng = np.random.default_rng(1)
    K = 4
    cl = rng.integers(0, K, size=shape)
    lam0, mu0 = 1.5, 0.6
    D = interaction_tensors(*interaction_parts(cl, K, lengths=lengths, backend="scipy"),
                            lam0, mu0)
    grid = frequency_grid(shape, lengths)
    m = D.shape[-1]
    axes = tuple(range(1, len(shape) + 1))
    direct = np.zeros_like(D)
    for J in range(K):
        for k in range(m):
            tau = np.zeros((m,) + shape)
            tau[k] = cl == J
            spec = np.ascontiguousarray(np.fft.rfftn(tau, axes=axes))
            conv = np.fft.irfftn(apply_green(spec, grid.directions, lam0, mu0), s=shape,
                                 axes=axes)
            for I in range(K):
                direct[I, J, :, k] = conv[:, cl == I].mean(axis=1)
    np.testing.assert_allclose(D, direct, atol=1e-13 * np.abs(direct).max())


def test_clustering_is_seeded_and_stays_inside_phases():
    rng = np.random.default_rng(2)
    labels = (rng.random((20, 20)) < 0.3).astype(int)
    A = rng.normal(size=(3, 3, 20, 20))
    a, pa = cluster_strain_concentration(A, labels, {0: 5, 1: 3}, seed=4)
    b, pb = cluster_strain_concentration(A, labels, {0: 5, 1: 3}, seed=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(pa, [0] * 5 + [1] * 3)
    assert np.all(pa[a] == labels)
    with pytest.raises(ValueError, match="no cluster count"):
        cluster_strain_concentration(A, labels, {0: 5}, seed=4)
    with pytest.raises(ValueError, match="between 1 and"):
        cluster_strain_concentration(A, labels, {0: 5, 1: 10_000}, seed=4)


@pytest.mark.parametrize("backend", ["scipy", "pyfftw"])
def test_indicator_spectra_in_batches_with_a_partial_last_one(monkeypatch, backend):
    """Small frequency chunks force the indicators through several batches (the last one
    partial) and the products through several chunks: the same parts as in one pass."""
    import homog.sca.interaction as interaction
    pytest.importorskip(backend)
    rng = np.random.default_rng(2)
    K, shape = 7, (10, 12)
    cl = rng.integers(0, K, size=shape)
    whole = interaction_parts(cl, K, backend=backend)
    monkeypatch.setattr(interaction, "_CHUNK_BYTES", 3 * 8 * cl.size)  # batches of 3: 3, 3, 1
    # products over chunks of 16 of the 140 interleaved columns, the last one partial
    monkeypatch.setattr(interaction, "_PRODUCT_BYTES", K * 8 * 16)
    monkeypatch.setattr(interaction, "_PRODUCT_COLUMNS", 2)
    batched = interaction_parts(cl, K, backend=backend)
    for a, b in zip(whole, batched):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-14 * np.abs(a).max())
