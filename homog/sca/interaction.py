"""Cluster interaction tensors of SCA as dense products of cluster-indicator spectra.

D_IJ = 1/(c_I |Ω|) ∫_I ∫_J Γ0(x − x') dx' dx (Liu, Bessa & Liu, CMAME 306, 2016, eq. 22).
On the voxel grid, with χ̂_J the DFT of the indicator of cluster J, N_I its voxel count and N
the grid size, Parseval gives

    D_IJ = 1/(N_I N) Σ_ξ Re(conj(χ̂_I(ξ)) χ̂_J(ξ)) Γ̂0(ξ),   Γ̂0 = a(μ0) Φ1(n) − c(λ0, μ0) Φ2(n)

(kernels.green; DESIGN.md §4). Φ2 is linear in the quartic monomials n_a n_b n_c n_d and, since
|n| = 1 wherever Γ̂0 ≠ 0, Φ1 is too (n_a n_b = Σ_c n_a n_b n_c n_c). So the geometric parts are

    D1_IJ = Σ_m S^m_IJ B1_m,   D2_IJ = Σ_m S^m_IJ B2_m,
    S^m_IJ = Σ_ξ w_ξ Re(conj χ̂_I χ̂_J) μ_m(ξ) / (N_I N)

over the 15 (3D) or 5 (2D) quartic monomials μ_m, with constant Mandel matrices B1_m, B2_m:
one real K×K GEMM per monomial over the half spectrum (w_ξ = 2 for frequencies that stand for
a mirrored pair, else 1), chunked over frequencies to bound memory, on numpy (BLAS) or cupy.
D(λ0, μ0) = a D1 − c D2 is then a linear combination for any reference medium. The Green
operator is discretized as the FFT solver's of the same ``discretization`` (``build_rom``
picks "spectral" or "willot" by the phases' contrast, the DNS's is "willot"), so with one
voxel per cluster and the DNS's operator the SCA system is the discrete Lippmann–Schwinger
equation itself.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from kernels import frequency_grid, get_backend, green_coefficients
from kernels import threads as thread_policy
from kernels.arraymodule import to_numpy
from kernels.fft import spectrum_shape
from kernels.memory import check_memory
from kernels.tensors import MANDEL_PAIRS, PLANE_INDICES, SQRT2

_CHUNK_BYTES = 16 << 20
#: The frequency columns of one K × K product: K·step doubles within this many bytes, and at
#: least _PRODUCT_COLUMNS columns (an even count: the real and imaginary parts of a frequency).
_PRODUCT_BYTES = 256 << 10
_PRODUCT_COLUMNS = 1024


def quartic_monomials(d: int) -> list[tuple[int, int, int, int]]:
    """The sorted index quadruples (a ≤ b ≤ c ≤ e) of n_a n_b n_c n_e in ``d`` dimensions."""
    return list(itertools.combinations_with_replacement(range(d), 4))


def monomial_basis(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Constant Mandel matrices (B1, B2), each (nmono, m, m), with Φ_k(n) = Σ_m B_k,m μ_m(n).

    Φ1_ijkl = ¼(δ_jk n_i n_l + δ_jl n_i n_k + δ_ik n_j n_l + δ_il n_j n_k) is written with
    n_a n_b = Σ_c n_a n_b n_c n_c; Φ2_ijkl = n_i n_j n_k n_l. In 2D (plane strain) the
    in-plane (11, 22, √2·12) blocks are returned.
    """
    quads = quartic_monomials(d)
    index = {q: m for m, q in enumerate(quads)}
    w = np.array([1.0, 1.0, 1.0, SQRT2, SQRT2, SQRT2])
    comps = list(PLANE_INDICES) if d == 2 else list(range(6))
    B1 = np.zeros((len(quads), 6, 6))
    B2 = np.zeros((len(quads), 6, 6))
    eye = np.eye(3)
    for I in comps:
        i, j = MANDEL_PAIRS[I]
        for J in comps:
            k, ll = MANDEL_PAIRS[J]
            scale = w[I] * w[J]
            B2[index[tuple(sorted((i, j, k, ll)))], I, J] += scale
            for delta, a, b in ((eye[j, k], i, ll), (eye[j, ll], i, k),
                                (eye[i, k], j, ll), (eye[i, ll], j, k)):
                if delta:
                    for c in range(d):
                        B1[index[tuple(sorted((a, b, c, c)))], I, J] += 0.25 * scale
    sel = np.ix_(range(len(quads)), comps, comps)
    return B1[sel], B2[sel]


def interaction_parts(
    cluster_labels: Any,
    n_clusters: int,
    *,
    lengths: Any = None,
    discretization: str = "willot",
    backend: Any = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Material-independent parts (D1, D2), each (K, K, m, m) Mandel, of the interaction tensors.

    ``cluster_labels``: int grid of cluster ids 0..K−1 (every id present). Returns numpy arrays;
    D(λ0, μ0) = a D1 − c D2 (:func:`interaction_tensors`). The FFTs and the GEMMs run on the
    threads the library's policy gives K·N numbers (:mod:`kernels.threads`); on the CPU the
    GEMMs are split over Python threads by frequency chunks, each on one BLAS thread.
    """
    backend = get_backend(backend)
    K, N = int(n_clusters), int(np.prod(cluster_labels.shape))
    threads = backend.threads_for(K * N)
    with thread_policy.limit(threads):
        return _interaction_parts(cluster_labels, K, lengths, discretization, backend,
                                  threads if backend.xp is np else 1)


def _interaction_parts(cluster_labels: Any, K: int, lengths: Any, discretization: str,
                       backend: Any, workers: int) -> tuple[np.ndarray, np.ndarray]:
    xp = backend.xp
    shape = tuple(cluster_labels.shape)
    d, N = len(shape), int(np.prod(shape))
    nh = int(np.prod(spectrum_shape((1,) + shape)[1:]))
    check_memory(K * nh * 16 + 4 * N + d * nh * 8 + _CHUNK_BYTES * (workers + 1), xp,
                 f"interaction tensors of {K} clusters on a {'x'.join(map(str, shape))} grid")
    host = np.asarray(to_numpy(cluster_labels)).reshape(-1)
    counts = np.bincount(host, minlength=K)
    if counts.size != K or np.any(counts == 0):
        raise ValueError(f"cluster labels must use every id 0..{K - 1} at least once")
    labels = xp.asarray(host.reshape(shape).astype(np.int32))
    grid = frequency_grid(shape, lengths, discretization, xp)
    # spectra of all cluster indicators, (K, nh) complex, in batches of clusters through one
    # planned transform (ids past K in the last batch give zero indicators)
    spectra = xp.empty((K, nh), dtype=np.complex128)
    batch = min(K, max(1, _CHUNK_BYTES // (8 * N)))
    indicators = backend.empty_real((batch,) + shape)
    plan = backend.plan(indicators, backend.empty_spectrum(indicators.shape))
    for start in range(0, K, batch):
        ids = xp.arange(start, start + batch, dtype=np.int32)
        indicators[...] = labels[None] == ids.reshape((-1,) + (1,) * d)
        count = min(batch, K - start)
        spectra[start:start + count] = plan.forward()[:count].reshape(count, nh)
    real = spectra.view(np.float64)  # (K, 2 nh): Re(conj a · b) summed = dot of interleaved rows
    n = grid.directions.reshape(d, -1)
    weight = xp.full((nh, 2), 2.0)
    last = shape[-1] // 2 + 1
    weight.reshape(-1, last, 2)[:, 0] = 1.0
    if shape[-1] % 2 == 0:
        weight.reshape(-1, last, 2)[:, -1] = 1.0
    weight = weight.reshape(-1)
    quads = quartic_monomials(d)
    # frequency chunks whose K × step block stays in cache: the weighted copy of the block is
    # then written and read there rather than in memory (interaction_parts at 600², 18
    # clusters: 0.25 → 0.17–0.20 s against the 16 MB blocks used before; 64³, 20 clusters:
    # 0.46 → 0.27 s; benchmarks/RESULTS.md)
    step = max(_PRODUCT_COLUMNS, (_PRODUCT_BYTES // (8 * K)) // 2 * 2)
    starts = list(range(0, 2 * nh, step))

    def products(chunk_starts: list[int]) -> Any:
        """Σ over the given frequency chunks of the weighted K×K products, per monomial."""
        S = xp.zeros((len(quads), K, K))
        block, w = xp.empty((K, step)), xp.empty(step)
        for start in chunk_starts:
            c = slice(start, min(start + step, 2 * nh))
            width = c.stop - c.start
            Xc, wm, Yc = real[:, c], w[:width], block[:, :width]
            nc = xp.repeat(n[:, c.start // 2:c.stop // 2], 2, axis=1)  # one n per re/im column
            for m, (a, b, e, f) in enumerate(quads):
                xp.multiply(weight[c], nc[a], out=wm)
                for axis in (b, e, f):
                    wm *= nc[axis]
                xp.multiply(Xc, wm, out=Yc)
                S[m] += Xc @ Yc.T
        return S

    if workers == 1:
        S = products(starts)
    else:  # Python threads over the chunks, one BLAS thread each (kernels.threads.blas_threads)
        with ThreadPoolExecutor(workers) as pool:
            S = sum(pool.map(products, [starts[i::workers] for i in range(workers)]))
    S = to_numpy(S) / (counts[None, :, None] * float(N))
    B1, B2 = monomial_basis(d)
    D1 = np.einsum("mIJ,mab->IJab", S, B1)
    D2 = np.einsum("mIJ,mab->IJab", S, B2)
    return D1, D2


def interaction_tensors(D1: np.ndarray, D2: np.ndarray, lam0: float, mu0: float) -> np.ndarray:
    """D_IJ(λ0, μ0) = a D1 − c D2, shape (K, K, m, m), for the reference medium (λ0, μ0)."""
    a, c = green_coefficients(lam0, mu0)
    return a * D1 - c * D2
