"""Green operator of an isotropic reference medium (λ0, μ0), applied on the fly.

For a frequency ξ ≠ 0 with unit direction n = ξ/|ξ| and a symmetric polarization τ̂, with
q = τ̂·n (DESIGN.md §3; Moulinec & Suquet, CMAME 157, 1998, eq. 12):

    Γ̂0 : τ̂ = a · sym(n ⊗ q) − c · (n·q) n ⊗ n,    a = 1/μ0,  c = (λ0 + μ0) / (μ0 (λ0 + 2μ0)),

and Γ̂0(0) = 0. Equivalently Γ̂0 = a Φ1(n) − c Φ2(n) with the material-independent
fourth-order tensors Φ1_ijkl = ¼(δ_jk n_i n_l + δ_jl n_i n_k + δ_ik n_j n_l + δ_il n_j n_k) and
Φ2_ijkl = n_i n_j n_k n_l (:func:`green_parts`), so that geometry is computed once and reused
for any reference medium. With λ0 = 0, μ0 = ½ (C0 = I) Γ̂0 is the orthogonal projection G onto
compatible zero-mean strain fields (Zeman et al., J. Comput. Phys. 229, 2010; de Geus et al.,
CMAME 318, 2017): ``apply_projection``.

Fields are Mandel, component-first: τ̂ has shape (ncomp, *half_grid) with ncomp = 6 in 3D and
3 (11, 22, √2·12) in 2D plane strain. Γ̂0 is applied in place, frequency by frequency: the
point formulas below (:func:`green_point_3d`, :func:`green_point_2d`) are the single source of
the equations. On the CPU they are compiled with numba into one multi-threaded pass over the
spectrum (:mod:`kernels.pointwise`); on a GPU (or without numba) the same functions run on
whole cupy/numpy arrays. Since n is real, Γ̂0 acts on real and imaginary parts alike, so the
spectrum is processed as interleaved float64. No 6×6 matrix is ever stored per frequency.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kernels import pointwise
from kernels.arraymodule import array_module
from kernels.tensors import MANDEL_PAIRS, PLANE_INDICES, SQRT2

_S = 1.0 / SQRT2


def green_point_3d(t0, t1, t2, t3, t4, t5, n1, n2, n3, a, c):
    """Γ̂0:τ at one frequency (3D Mandel): a·sym(n⊗q) − c·(n·q) n⊗n with q = τ·n."""
    q1 = t0 * n1 + _S * (t5 * n2 + t4 * n3)
    q2 = t1 * n2 + _S * (t5 * n1 + t3 * n3)
    q3 = t2 * n3 + _S * (t4 * n1 + t3 * n2)
    nq = n1 * q1 + n2 * q2 + n3 * q3
    return (a * n1 * q1 - c * nq * n1 * n1,
            a * n2 * q2 - c * nq * n2 * n2,
            a * n3 * q3 - c * nq * n3 * n3,
            SQRT2 * (0.5 * a * (n2 * q3 + n3 * q2) - c * nq * n2 * n3),
            SQRT2 * (0.5 * a * (n1 * q3 + n3 * q1) - c * nq * n1 * n3),
            SQRT2 * (0.5 * a * (n1 * q2 + n2 * q1) - c * nq * n1 * n2))


def green_point_2d(t0, t1, t2, n1, n2, a, c):
    """Γ̂0:τ at one frequency in plane strain (components 11, 22, √2·12)."""
    q1 = t0 * n1 + _S * t2 * n2
    q2 = t1 * n2 + _S * t2 * n1
    nq = n1 * q1 + n2 * q2
    return (a * n1 * q1 - c * nq * n1 * n1,
            a * n2 * q2 - c * nq * n2 * n2,
            SQRT2 * (0.5 * a * (n1 * q2 + n2 * q1) - c * nq * n1 * n2))


def equilibrium_point_3d(t0, t1, t2, t3, t4, t5, n1, n2, n3):
    """|G:σ̂|² at one frequency (3D): 2|q|² − (n·q)² with q = σ̂·n (per real part)."""
    q1 = t0 * n1 + _S * (t5 * n2 + t4 * n3)
    q2 = t1 * n2 + _S * (t5 * n1 + t3 * n3)
    q3 = t2 * n3 + _S * (t4 * n1 + t3 * n2)
    nq = n1 * q1 + n2 * q2 + n3 * q3
    return 2.0 * (q1 * q1 + q2 * q2 + q3 * q3) - nq * nq


def equilibrium_point_2d(t0, t1, t2, n1, n2):
    """|G:σ̂|² at one frequency in plane strain."""
    q1 = t0 * n1 + _S * t2 * n2
    q2 = t1 * n2 + _S * t2 * n1
    nq = n1 * q1 + n2 * q2
    return 2.0 * (q1 * q1 + q2 * q2) - nq * nq


def green_coefficients(lam0: Any, mu0: Any) -> tuple[Any, Any]:
    """Coefficients (a, c) of Γ̂0 = a Φ1 − c Φ2 for the reference medium (λ0, μ0).

    a = 1/μ0, c = (λ0 + μ0) / (μ0 (λ0 + 2μ0)); elementwise for arrays of reference media.
    """
    xp = array_module(lam0, mu0)
    admissible = xp.isfinite(lam0) & xp.isfinite(mu0) & (mu0 > 0) & (lam0 + 2.0 * mu0 > 0)
    if not bool(xp.all(admissible)):
        raise ValueError(
            f"reference medium lam0={lam0}, mu0={mu0} is not admissible: need mu0 > 0 and "
            "lam0 + 2 mu0 > 0"
        )
    return 1.0 / mu0, (lam0 + mu0) / (mu0 * (lam0 + 2.0 * mu0))


def apply_green(tau_hat: Any, directions: Any, lam0: float, mu0: float) -> Any:
    """Overwrite ``tau_hat`` (ncomp, *half_grid), complex, with Γ̂0 : τ̂ for (λ0, μ0).

    ``directions`` (d, *half_grid) are the unit vectors of a
    :class:`~kernels.frequency.FrequencyGrid`; where they are zero the result is zero
    (including ξ = 0: the caller sets the mean).
    """
    a, c = green_coefficients(lam0, mu0)
    tau = _real_view(tau_hat, directions)
    d, ncomp = directions.shape[0], tau.shape[0]
    if pointwise.compiled(tau):
        loop = _green_loop_3d if d == 3 else _green_loop_2d
        loop(tau.reshape(ncomp, -1, 2), np.ascontiguousarray(directions).reshape(d, -1), a, c)
        return tau_hat
    point = green_point_3d if d == 3 else green_point_2d
    n = [directions[k][..., None] for k in range(d)]
    out = point(*[tau[k] for k in range(ncomp)], *n, a, c)
    for k in range(ncomp):
        tau[k] = out[k]
    return tau_hat


def apply_projection(tau_hat: Any, directions: Any) -> Any:
    """Overwrite ``tau_hat`` with G : τ̂, the projection onto compatible fields (C0 = I)."""
    return apply_green(tau_hat, directions, 0.0, 0.5)


def equilibrium_residual(sigma_hat: Any, directions: Any, real_last_size: int) -> float:
    """Σ_x |G:σ(x)|², the squared L2 norm of the compatible projection of a stress field.

    From the half spectrum σ̂ (ncomp, *half_grid) of an unnormalised real FFT, by Parseval:
    Σ_x |Gσ|² = (1/N) Σ_ξ w_ξ |G:σ̂(ξ)|², with w_ξ = 2 on the half-spectrum planes that stand
    for two mirrored frequencies and 1 on the self-mirrored ones (first and, for an even last
    size, Nyquist). With q = σ̂·n, |G:σ̂|² = 2|q|² − |n·q|² (real and imaginary parts summed).
    Zero iff σ is in equilibrium (div σ = 0 in the grid's discretization); the mean is
    excluded (n = 0 at ξ = 0).
    """
    sigma = _real_view(sigma_hat, directions)
    d, ncomp, nh = directions.shape[0], sigma.shape[0], sigma.shape[-2]
    weight = np.full(nh, 2.0)
    weight[0] = 1.0
    if real_last_size % 2 == 0:
        weight[-1] = 1.0
    if pointwise.compiled(sigma):
        loop = _equilibrium_loop_3d if d == 3 else _equilibrium_loop_2d
        total = loop(sigma.reshape(ncomp, -1, 2), np.ascontiguousarray(directions).reshape(d, -1),
                     weight)
    else:
        xp = array_module(sigma)
        point = equilibrium_point_3d if d == 3 else equilibrium_point_2d
        density = point(*[sigma[k] for k in range(ncomp)],
                        *[directions[k][..., None] for k in range(d)])
        total = xp.sum(density.sum(axis=-1) * xp.asarray(weight))
    return float(total) / float(np.prod(directions.shape[1:-1]) * real_last_size)


def _real_view(tau_hat: Any, directions: Any) -> Any:
    """The complex (ncomp, *half) spectrum as float64 (ncomp, *half, 2), checked against n."""
    d, ncomp = directions.shape[0], tau_hat.shape[0]
    if (d, ncomp) not in ((3, 6), (2, 3)) or tau_hat.shape[1:] != directions.shape[1:]:
        raise ValueError(
            f"polarization of shape {tau_hat.shape} does not match frequency directions of "
            f"shape {directions.shape}: expected (6, *grid) in 3D or (3, *grid) in 2D"
        )
    if not tau_hat.flags.c_contiguous:
        raise ValueError("the spectrum must be C-contiguous to be viewed as interleaved floats")
    return tau_hat.view(tau_hat.real.dtype).reshape(tau_hat.shape + (2,))


def green_parts(directions: Any) -> tuple[Any, Any]:
    """Material-independent parts Φ1, Φ2 of Γ̂0 as Mandel matrices per direction.

    ``directions`` has shape (d, ...) with d = 3 (returns (..., 6, 6) each) or d = 2 (plane
    strain: the in-plane (11, 22, √2·12) blocks, (..., 3, 3)). Γ̂0(λ0, μ0) = a Φ1 − c Φ2 with
    (a, c) from :func:`green_coefficients`. Meant for chunks of frequencies (e.g. the
    interaction tensors of the SCA); the solvers never build these per voxel.
    """
    xp = array_module(directions)
    d = directions.shape[0]
    n = xp.moveaxis(directions, 0, -1)
    if d == 2:
        n = xp.concatenate([n, xp.zeros(n.shape[:-1] + (1,), dtype=n.dtype)], axis=-1)
    eye = xp.eye(3, dtype=n.dtype)
    nn = n[..., :, None] * n[..., None, :]
    i, j = (xp.asarray(v) for v in zip(*MANDEL_PAIRS))
    w = xp.asarray([1.0, 1.0, 1.0, SQRT2, SQRT2, SQRT2], dtype=n.dtype)
    m = nn[..., i, j] * w  # Mandel vector of n ⊗ n
    phi2 = m[..., :, None] * m[..., None, :]
    # Φ1_IJ for I = (i, j), J = (k, l): ¼(δ_jk n_i n_l + δ_jl n_i n_k + δ_ik n_j n_l + δ_il n_j n_k)
    ii, jj = i[:, None], j[:, None]
    kk, ll = i[None, :], j[None, :]
    phi1 = 0.25 * (
        eye[jj, kk] * nn[..., ii, ll]
        + eye[jj, ll] * nn[..., ii, kk]
        + eye[ii, kk] * nn[..., jj, ll]
        + eye[ii, ll] * nn[..., jj, kk]
    )
    phi1 = phi1 * (w[:, None] * w[None, :])
    if d == 2:
        p = xp.asarray(PLANE_INDICES)
        phi1 = phi1[..., p[:, None], p[None, :]]
        phi2 = phi2[..., p[:, None], p[None, :]]
    return phi1, phi2


if pointwise.numba is not None:
    _njit = pointwise.numba.njit
    _prange = pointwise.numba.prange
    _green_3d = _njit(inline="always", cache=True)(green_point_3d)
    _green_2d = _njit(inline="always", cache=True)(green_point_2d)
    _equilibrium_3d = _njit(inline="always", cache=True)(equilibrium_point_3d)
    _equilibrium_2d = _njit(inline="always", cache=True)(equilibrium_point_2d)

    # One pass over the interleaved spectrum (ncomp, nfreq, 2); n is (d, nfreq).
    @_njit(parallel=True, cache=True)
    def _green_loop_3d(tau, n, a, c):
        for f in _prange(tau.shape[1]):
            for r in range(2):
                o = _green_3d(tau[0, f, r], tau[1, f, r], tau[2, f, r], tau[3, f, r],
                              tau[4, f, r], tau[5, f, r], n[0, f], n[1, f], n[2, f], a, c)
                for k in range(6):
                    tau[k, f, r] = o[k]

    @_njit(parallel=True, cache=True)
    def _green_loop_2d(tau, n, a, c):
        for f in _prange(tau.shape[1]):
            for r in range(2):
                o = _green_2d(tau[0, f, r], tau[1, f, r], tau[2, f, r], n[0, f], n[1, f], a, c)
                for k in range(3):
                    tau[k, f, r] = o[k]

    @_njit(parallel=True, cache=True)
    def _equilibrium_loop_3d(tau, n, w):
        nh, total = w.size, 0.0
        for f in _prange(tau.shape[1]):
            for r in range(2):
                total += w[f % nh] * _equilibrium_3d(
                    tau[0, f, r], tau[1, f, r], tau[2, f, r], tau[3, f, r], tau[4, f, r],
                    tau[5, f, r], n[0, f], n[1, f], n[2, f])
        return total

    @_njit(parallel=True, cache=True)
    def _equilibrium_loop_2d(tau, n, w):
        nh, total = w.size, 0.0
        for f in _prange(tau.shape[1]):
            for r in range(2):
                total += w[f % nh] * _equilibrium_2d(tau[0, f, r], tau[1, f, r], tau[2, f, r],
                                                     n[0, f], n[1, f])
        return total
