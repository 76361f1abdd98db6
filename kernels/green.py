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
3 (11, 22, √2·12) in 2D plane strain. Γ̂0 is applied in place, slab by slab along the first grid
axis, so no 6×6 matrix is ever stored per frequency and temporaries stay small. Since n is
real, Γ̂0 acts on real and imaginary parts alike: the expressions run in real arithmetic on the
spectrum viewed as interleaved float64, with n given duplicated the same way
(:attr:`kernels.frequency.FrequencyGrid.interleaved`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kernels.arraymodule import array_module
from kernels.fused import evaluate
from kernels.tensors import MANDEL_PAIRS, PLANE_INDICES, SQRT2

_Q3 = {
    "q1": "t0*n1 + s*(t5*n2 + t4*n3)",
    "q2": "t1*n2 + s*(t5*n1 + t3*n3)",
    "q3": "t2*n3 + s*(t4*n1 + t3*n2)",
}
_OUT3 = (
    "a*n1*q1 - c*nq*n1*n1",
    "a*n2*q2 - c*nq*n2*n2",
    "a*n3*q3 - c*nq*n3*n3",
    "r*(0.5*a*(n2*q3 + n3*q2) - c*nq*n2*n3)",
    "r*(0.5*a*(n1*q3 + n3*q1) - c*nq*n1*n3)",
    "r*(0.5*a*(n1*q2 + n2*q1) - c*nq*n1*n2)",
)
_Q2 = {"q1": "t0*n1 + s*t2*n2", "q2": "t1*n2 + s*t2*n1"}
_OUT2 = (
    "a*n1*q1 - c*nq*n1*n1",
    "a*n2*q2 - c*nq*n2*n2",
    "r*(0.5*a*(n1*q2 + n2*q1) - c*nq*n1*n2)",
)
#: Elements per slab on the CPU: temporaries stay in cache-friendly sizes.
_CPU_SLAB_ELEMENTS = 1 << 18


def green_coefficients(lam0: float, mu0: float) -> tuple[float, float]:
    """Coefficients (a, c) of Γ̂0 = a Φ1 − c Φ2 for the reference medium (λ0, μ0)."""
    if not (np.isfinite(lam0) and np.isfinite(mu0)) or mu0 <= 0 or lam0 + 2.0 * mu0 <= 0:
        raise ValueError(
            f"reference medium lam0={lam0}, mu0={mu0} is not admissible: need mu0 > 0 and "
            "lam0 + 2 mu0 > 0"
        )
    return 1.0 / mu0, (lam0 + mu0) / (mu0 * (lam0 + 2.0 * mu0))


def apply_green(tau_hat: Any, interleaved: Any, lam0: float, mu0: float) -> Any:
    """Overwrite ``tau_hat`` (ncomp, *half_grid), complex, with Γ̂0 : τ̂ for (λ0, μ0).

    ``interleaved`` (d, *half_grid, 2) are the duplicated unit directions of a
    :class:`~kernels.frequency.FrequencyGrid`; where they are zero the result is zero
    (including ξ = 0: the caller sets the mean).
    """
    a, c = green_coefficients(lam0, mu0)
    tau = _real_view(tau_hat, interleaved)
    q_exprs, out_exprs = (_Q3, _OUT3) if interleaved.shape[0] == 3 else (_Q2, _OUT2)
    _apply_slabs(tau, interleaved, q_exprs, out_exprs, {"s": 1.0 / SQRT2, "r": SQRT2,
                                                        "a": a, "c": c})
    return tau_hat


def _real_view(tau_hat: Any, interleaved: Any) -> Any:
    """The complex (ncomp, *half) spectrum as float64 (ncomp, *half, 2), checked against n."""
    d, ncomp = interleaved.shape[0], tau_hat.shape[0]
    if (d, ncomp) not in ((3, 6), (2, 3)) or tau_hat.shape[1:] != interleaved.shape[1:-1]:
        raise ValueError(
            f"polarization of shape {tau_hat.shape} does not match frequency directions of "
            f"shape {interleaved.shape}: expected (6, *grid) in 3D or (3, *grid) in 2D"
        )
    if not tau_hat.flags.c_contiguous:
        raise ValueError("the spectrum must be C-contiguous to be viewed as interleaved floats")
    return tau_hat.view(tau_hat.real.dtype).reshape(tau_hat.shape + (2,))


def _apply_slabs(tau: Any, directions: Any, q_exprs: dict, out_exprs: tuple,
                 consts: dict) -> None:
    """Run the q- and output expressions slab by slab, writing the outputs into ``tau``."""
    xp = array_module(tau)
    d = directions.shape[0]
    ncomp = tau.shape[0]
    nslab = tau.shape[1]
    step = _slab_step(xp, tau.shape)
    tmp_shape = (len(q_exprs) + 1, min(step, nslab)) + tuple(tau.shape[2:])
    tmp = xp.empty(tmp_shape, dtype=tau.dtype)
    for start in range(0, nslab, step):
        sl = slice(start, min(start + step, nslab))
        m = sl.stop - sl.start
        names = {f"t{k}": tau[k, sl] for k in range(ncomp)}
        names.update({f"n{k + 1}": directions[k, sl] for k in range(d)})
        for j, (qname, expr) in enumerate(q_exprs.items()):
            names[qname] = evaluate(expr, tmp[j, :m], **names, **consts)
        nq = " + ".join(f"n{k + 1}*q{k + 1}" for k in range(d))
        names["nq"] = evaluate(nq, tmp[-1, :m], **names)
        for k, expr in enumerate(out_exprs):
            evaluate(expr, tau[k, sl], **names, **consts)


def apply_projection(tau_hat: Any, interleaved: Any) -> Any:
    """Overwrite ``tau_hat`` with G : τ̂, the projection onto compatible fields (C0 = I)."""
    return apply_green(tau_hat, interleaved, 0.0, 0.5)


def _slab_step(xp: Any, shape: tuple[int, ...]) -> int:
    """Slab thickness along axis 1: bounded temporaries on the CPU, one slab on a GPU."""
    if xp is not np:
        return shape[1]
    return max(1, _CPU_SLAB_ELEMENTS // max(int(np.prod(shape[2:])), 1))


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


def equilibrium_residual(sigma_hat: Any, interleaved: Any, real_last_size: int) -> float:
    """Σ_x |G:σ(x)|², the squared L2 norm of the compatible projection of a stress field.

    From the half spectrum σ̂ (ncomp, *half_grid) of an unnormalised real FFT, by Parseval:
    Σ_x |Gσ|² = (1/N) Σ_ξ w_ξ |G:σ̂(ξ)|², with w_ξ = 2 on the half-spectrum planes that stand
    for two mirrored frequencies and 1 on the self-mirrored ones (first and, for an even last
    size, Nyquist). With q = σ̂·n, |G:σ̂|² = 2|q|² − |n·q|² (real and imaginary parts summed).
    Zero iff σ is in equilibrium (div σ = 0 in the grid's discretization); the mean is
    excluded (n = 0 at ξ = 0).
    """
    sigma = _real_view(sigma_hat, interleaved)
    xp = array_module(sigma)
    d = interleaved.shape[0]
    q_exprs = _Q3 if d == 3 else _Q2
    nh = sigma.shape[-2]
    weight = xp.full((nh, 2), 2.0)
    weight[0] = 1.0
    if real_last_size % 2 == 0:
        weight[-1] = 1.0
    weight = weight.reshape(-1)
    nslab = sigma.shape[1]
    step = _slab_step(xp, sigma.shape)
    tmp = xp.empty((len(q_exprs) + 2, min(step, nslab)) + tuple(sigma.shape[2:]))
    qq = " + ".join(f"q{k + 1}*q{k + 1}" for k in range(d))
    nq = " + ".join(f"n{k + 1}*q{k + 1}" for k in range(d))
    total = 0.0
    for start in range(0, nslab, step):
        sl = slice(start, min(start + step, nslab))
        m = sl.stop - sl.start
        names = {f"t{k}": sigma[k, sl] for k in range(sigma.shape[0])}
        names.update({f"n{k + 1}": interleaved[k, sl] for k in range(d)})
        for j, (qname, expr) in enumerate(q_exprs.items()):
            names[qname] = evaluate(expr, tmp[j, :m], **names, s=1.0 / SQRT2)
        names["nq"] = evaluate(nq, tmp[-2, :m], **names)
        dens = evaluate(f"2.0*({qq}) - nq*nq", tmp[-1, :m], **names)
        total += float(xp.sum(dens.reshape(-1, 2 * nh) @ weight))
    return total / float(np.prod(interleaved.shape[1:-2]) * real_last_size)
