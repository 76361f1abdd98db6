"""Green operator: closed form, projection property, reference-medium identity."""

import numpy as np
import pytest

from kernels import frequency_grid, green_coefficients, green_parts
from kernels.green import apply_green, apply_projection, equilibrium_residual
from kernels.tensors import PLANE_INDICES, isotropic_stiffness


def _full_green(xi, lam0, mu0):
    """Γ̂0_ijkl(ξ) of DESIGN.md §3 by explicit index sums (3D)."""
    d = np.eye(3)
    x2 = xi @ xi
    G = np.zeros((3, 3, 3, 3))
    for i in range(3):
        for j in range(3):
            for k in range(3):
                for ll in range(3):
                    G[i, j, k, ll] = (
                        d[k, i] * xi[ll] * xi[j] + d[ll, i] * xi[k] * xi[j]
                        + d[k, j] * xi[ll] * xi[i] + d[ll, j] * xi[k] * xi[i]
                    ) / (4 * mu0 * x2) - (lam0 + mu0) / (mu0 * (lam0 + 2 * mu0)) * (
                        xi[i] * xi[j] * xi[k] * xi[ll]) / x2**2
    return G


def test_green_parts_match_the_index_formula():
    from kernels.tensors import MANDEL_PAIRS, SQRT2
    w = np.array([1, 1, 1, SQRT2, SQRT2, SQRT2])
    xi = np.array([0.3, -1.2, 0.7])
    lam0, mu0 = 2.0, 0.8
    G4 = _full_green(xi, lam0, mu0)
    ref = np.array([[G4[i, j, k, ll] for (k, ll) in MANDEL_PAIRS] for (i, j) in MANDEL_PAIRS])
    ref = ref * np.outer(w, w)
    p1, p2 = green_parts((xi / np.linalg.norm(xi))[:, None])
    a, c = green_coefficients(lam0, mu0)
    np.testing.assert_allclose(a * p1[0] - c * p2[0], ref, atol=1e-14)


@pytest.mark.parametrize("d", [2, 3])
def test_apply_green_equals_dense_parts_and_is_idempotent_with_reference(d):
    rng = np.random.default_rng(d)
    n = rng.normal(size=(d, 4, 3, 5))
    n /= np.linalg.norm(n, axis=0)
    nc = 6 if d == 3 else 3
    tau = rng.normal(size=(nc, 4, 3, 5)) + 1j * rng.normal(size=(nc, 4, 3, 5))
    lam0, mu0 = 1.7, 0.4
    p1, p2 = green_parts(n)
    a, c = green_coefficients(lam0, mu0)
    G = a * p1 - c * p2
    np.testing.assert_allclose(apply_green(tau.copy(), n, lam0, mu0),
                               np.einsum("...ij,j...->i...", G, tau), atol=1e-13)
    C0 = isotropic_stiffness(lam=lam0, mu=mu0)
    if d == 2:
        C0 = C0[np.ix_(PLANE_INDICES, PLANE_INDICES)]
    # Γ̂0 C0 Γ̂0 = Γ̂0 for every ξ: the reason a converged solution ignores the reference medium
    np.testing.assert_allclose(G @ C0 @ G, G, atol=1e-13)
    # G (C0 = I) is an orthogonal projection
    once = apply_projection(tau.copy(), n)
    np.testing.assert_allclose(apply_projection(once.copy(), n), once, atol=1e-13)


def test_projection_kills_equilibrated_fields_and_keeps_compatible_ones():
    """G keeps a compatible strain (sym grad of a periodic u); div σ = 0 has zero residual."""
    shape = (8, 6, 10)
    grid = frequency_grid(shape, (1.0, 0.75, 1.25), discretization="spectral")
    rng = np.random.default_rng(3)
    # a single-frequency displacement u = a sin(ξ·x): strain ∝ sym(a ⊗ ξ)
    k = np.array([1, 2, 1])
    xi = 2 * np.pi * k / np.array(grid.lengths)
    a = rng.normal(size=3)
    x = [np.arange(s) * L / s for s, L in zip(shape, grid.lengths)]
    X = np.meshgrid(*x, indexing="ij")
    phase = sum(xi[i] * X[i] for i in range(3))
    from kernels.tensors import tensor_to_mandel
    eps_t = 0.5 * (np.outer(a, xi) + np.outer(xi, a))
    eps = np.moveaxis(tensor_to_mandel(eps_t)[None, None, None, :] * np.cos(phase)[..., None],
                      -1, 0)
    spec = np.ascontiguousarray(np.fft.rfftn(eps, axes=(1, 2, 3)))
    out = np.fft.irfftn(apply_projection(spec, grid.directions), s=shape, axes=(1, 2, 3))
    np.testing.assert_allclose(out, eps, atol=1e-12)
    # stress with zero divergence: σ = polarization orthogonal to ξ
    b = np.cross(xi, rng.normal(size=3))
    sig_t = np.outer(b, b)  # σ·ξ = b (b·ξ) = 0
    sig = np.moveaxis(tensor_to_mandel(sig_t)[None, None, None, :] * np.cos(phase)[..., None],
                      -1, 0)
    sig_hat = np.ascontiguousarray(np.fft.rfftn(sig, axes=(1, 2, 3)))
    res = equilibrium_residual(sig_hat, grid.directions, shape[-1])
    assert res == pytest.approx(0.0, abs=1e-20)
    # and a non-equilibrated one has |Gσ|² equal to the direct real-space sum
    sig2 = np.moveaxis(tensor_to_mandel(eps_t)[None, None, None, :] * np.cos(phase)[..., None],
                       -1, 0)
    s2 = np.ascontiguousarray(np.fft.rfftn(sig2, axes=(1, 2, 3)))
    direct = np.fft.irfftn(apply_projection(s2.copy(), grid.directions), s=shape,
                           axes=(1, 2, 3))
    assert equilibrium_residual(s2, grid.directions, shape[-1]) == pytest.approx(
        np.sum(direct**2), rel=1e-12)


def test_bad_reference_medium_is_rejected():
    with pytest.raises(ValueError, match="reference medium"):
        green_coefficients(1.0, 0.0)


@pytest.mark.parametrize("disc", ["willot", "spectral"])
def test_frequency_directions_are_unit_or_zero(disc):
    g = frequency_grid((6, 7, 8), discretization=disc)
    norm = np.sqrt(np.sum(g.directions**2, axis=0))
    assert np.all((np.abs(norm - 1) < 1e-12) | (norm == 0))
    assert norm[0, 0, 0] == 0
    if disc == "spectral":  # Nyquist planes of the even axes are zeroed
        assert np.all(norm[3] == 0) and np.all(norm[..., 4] == 0)


@pytest.mark.parametrize("d", [2, 3])
def test_compiled_and_array_paths_of_the_point_formulas_agree(d, monkeypatch):
    """The numba loop (CPU) and the whole-array evaluation (GPU path) run the same formulas."""
    from kernels import pointwise
    grid = frequency_grid((6, 5, 8)[:d] if d == 3 else (7, 6))
    rng = np.random.default_rng(5)
    nc = 6 if d == 3 else 3
    shape = (nc,) + grid.directions.shape[1:]
    tau = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    compiled = apply_green(tau.copy(), grid.directions, 1.1, 0.9)
    res_compiled = equilibrium_residual(tau, grid.directions, 8 if d == 3 else 6)
    monkeypatch.setattr(pointwise, "compiled", lambda *a: False)
    arrays = apply_green(tau.copy(), grid.directions, 1.1, 0.9)
    res_arrays = equilibrium_residual(tau, grid.directions, 8 if d == 3 else 6)
    np.testing.assert_allclose(compiled, arrays, atol=1e-14)
    assert res_compiled == pytest.approx(res_arrays, rel=1e-12)
