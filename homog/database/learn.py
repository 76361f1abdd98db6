"""Gaussian-process surrogates of a database output, with cross-validated error.

Inputs are the design variables' coordinates in the unit design box (each variable's range
mapped to [0, 1], log-scale ranges in log space, a discrete variable by the centre of its
choice's slice), so one set of kernel bounds suits every database. The kernel is

    k(x, x') = c · ρ(x, x'; ℓ_1..ℓ_d) + σ_n² δ(x, x'),

with ρ an anisotropic Matérn (ν = 5/2 by default) or squared-exponential (RBF) correlation,
one length scale per input (small ℓ: a relevant input), and a white-noise term that absorbs the
scatter of the outputs between RVE realizations; targets are normalized (``normalize_y``).
Hyperparameters maximize the log marginal likelihood (Rasmussen & Williams, Gaussian Processes
for Machine Learning, MIT Press 2006, §5.4), with restarts. The predictive standard deviation
includes σ_n, so ±2σ should cover about 95 % of unseen samples.

Learning the response of RVE databases with Gaussian processes: Bessa et al., CMAME 320
(2017) 633–667, §5.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern, WhiteKernel
from sklearn.model_selection import KFold

from homog.database.variables import Variable, unit_points
from homog.files import atomic_open
from homog.text import counted

KERNELS = ("matern", "rbf")


class GaussianProcessSurrogate:
    """A Gaussian process on the unit design box (see the module docstring).

    Parameters
    ----------
    kernel : "matern" (ν = ``nu``) or "rbf".
    nu : smoothness of the Matérn kernel (0.5, 1.5, 2.5 or inf).
    restarts : extra optimizer starts of the hyperparameters.
    seed : random state of those starts.

    After :meth:`fit`: ``model`` (the fitted :class:`GaussianProcessRegressor`), ``points_``
    and ``y_`` (the training data), ``length_scales`` ``(d,)``, ``noise`` (σ_n² relative to
    the normalized target).
    """

    def __init__(self, kernel: str = "matern", *, nu: float = 2.5, restarts: int = 1,
                 seed: int = 0) -> None:
        if kernel not in KERNELS:
            raise ValueError(f"kernel = {kernel!r}; allowed: {list(KERNELS)}")
        self.kernel = kernel
        self.nu = nu
        self.restarts = restarts
        self.seed = seed
        self.model: GaussianProcessRegressor | None = None

    def _kernel(self, d: int):
        scales = dict(length_scale=np.full(d, 0.3), length_scale_bounds=(1e-2, 1e2))
        shape = Matern(nu=self.nu, **scales) if self.kernel == "matern" else RBF(**scales)
        return (ConstantKernel(1.0, (1e-3, 1e3)) * shape
                + WhiteKernel(1e-3, noise_level_bounds=(1e-8, 1.0)))

    def fit(self, points: np.ndarray, y: np.ndarray) -> GaussianProcessSurrogate:
        """Fit to unit points ``(n, d)`` and targets ``(n,)``; returns self."""
        points, y = _checked(points, y)
        self.points_, self.y_ = points, y
        self.model = GaussianProcessRegressor(
            self._kernel(points.shape[1]), normalize_y=True,
            n_restarts_optimizer=self.restarts, random_state=self.seed)
        with warnings.catch_warnings():  # hyperparameters at a bound: still a usable model
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model.fit(points, y)
        return self

    def predict(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean and standard deviation ``(n,)`` at unit points ``(n, d)``."""
        if self.model is None:
            raise ValueError("fit the surrogate before predicting")
        mean, std = self.model.predict(np.atleast_2d(points), return_std=True)
        return mean, std

    def believe(self, points: np.ndarray) -> GaussianProcessSurrogate:
        """A copy conditioned on pseudo-observations: its own mean at ``points``.

        The *kriging believer* of batch selection (Ginsbourger, Le Riche & Carraro, in
        Computational Intelligence in Expensive Optimization Problems, Springer 2010): the
        hyperparameters are kept, so only the predictive variance near ``points`` changes.
        """
        if self.model is None:
            raise ValueError("fit the surrogate before conditioning it")
        mean, _ = self.predict(points)
        other = GaussianProcessSurrogate(self.kernel, nu=self.nu, restarts=0, seed=self.seed)
        other.model = GaussianProcessRegressor(self.model.kernel_, normalize_y=True,
                                               optimizer=None)
        other.points_ = np.vstack([self.points_, points])
        other.y_ = np.concatenate([self.y_, mean])
        other.model.fit(other.points_, other.y_)
        return other

    @property
    def length_scales(self) -> np.ndarray:
        """Fitted length scale of every input ``(d,)`` (unit-box units)."""
        if self.model is None:
            raise ValueError("fit the surrogate first")
        return np.atleast_1d(self.model.kernel_.k1.k2.length_scale).astype(float)

    @property
    def noise(self) -> float:
        """Fitted white-noise variance, relative to the normalized target."""
        if self.model is None:
            raise ValueError("fit the surrogate first")
        return float(self.model.kernel_.k2.noise_level)


@dataclass
class CrossValidation:
    """Out-of-fold predictions and their errors.

    ``mean``/``std``: ``(n,)`` prediction of every sample by the model that did not see it;
    ``rmse``; ``nrmse`` (RMSE over the standard deviation of the targets); ``r2`` (1 − SS_res
    / SS_tot); ``coverage``: fraction of samples within mean ± 2 std; ``folds``.
    """

    mean: np.ndarray
    std: np.ndarray
    rmse: float
    nrmse: float
    r2: float
    coverage: float
    folds: int


def errors(y: np.ndarray, mean: np.ndarray, std: np.ndarray | None = None) -> dict[str, float]:
    """RMSE, normalized RMSE, R² and (with ``std``) the ±2σ coverage of predictions."""
    y, mean = np.asarray(y, dtype=float), np.asarray(mean, dtype=float)
    residual = y - mean
    rmse = float(np.sqrt(np.mean(residual**2)))
    spread = float(np.std(y))
    out = {"rmse": rmse, "nrmse": rmse / spread if spread > 0 else float("nan"),
           "r2": 1.0 - float(np.sum(residual**2)) / max(float(np.sum((y - y.mean())**2)),
                                                       1e-300)}
    if std is not None:
        out["coverage"] = float(np.mean(np.abs(residual) <= 2.0 * np.asarray(std)))
    return out


def cross_validate(points: np.ndarray, y: np.ndarray, *, folds: int = 5, seed: int = 0,
                   kernel: str = "matern", nu: float = 2.5,
                   restarts: int = 1) -> CrossValidation:
    """k-fold cross-validation (shuffled, seeded) of :class:`GaussianProcessSurrogate`."""
    points, y = _checked(points, y)
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"folds = {folds!r} must be an integer >= 2")
    smallest = y.size - -(-y.size // folds)  # each fit leaves out one fold, the largest
    if y.size < folds or smallest < 2:
        raise ValueError(f"{folds}-fold cross-validation of {counted(y.size, 'sample')} fits "
                         f"each Gaussian process on {max(smallest, 0)} of them; it needs at "
                         f"least 2 samples per fit, so at least {_least_samples(folds)} samples "
                         f"for {folds} folds: label more samples or use fewer folds")
    mean, std = np.empty_like(y), np.empty_like(y)
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(points):
        gp = GaussianProcessSurrogate(kernel, nu=nu, restarts=restarts, seed=seed)
        mean[test], std[test] = gp.fit(points[train], y[train]).predict(points[test])
    e = errors(y, mean, std)
    return CrossValidation(mean, std, e["rmse"], e["nrmse"], e["r2"], e["coverage"], folds)


def _least_samples(folds: int) -> int:
    """Fewest samples whose ``folds``-fold split leaves at least 2 in every training set."""
    return next(n for n in range(folds, folds + 4) if n - -(-n // folds) >= 2)


@dataclass
class Training:
    """What :func:`train` learned: the surrogate fitted to all samples, its cross-validation,
    the variable names, the samples' ``values`` ``(n, d)`` and ``y`` ``(n,)``, the ids, and the
    ids of the samples left out because their target is censored (they did not fail, or,
    for the peak stress, their stress had not peaked)."""

    surrogate: GaussianProcessSurrogate
    cv: CrossValidation
    names: list[str]
    values: np.ndarray
    y: np.ndarray
    ids: list[str]
    censored: list[str]


def train(store: Any, target: str = "toughness", *, folds: int = 5, kernel: str = "matern",
          origins: Sequence[str] | None = None, seed: int = 0) -> Training:
    """Fit a surrogate of ``target`` to the complete samples of a store and cross-validate it.

    ``store``: path or :class:`~homog.database.store.SampleStore`; ``origins``: the sample
    origins to learn from (e.g. ``("doe", "explore")``; default all). Samples that did not
    fail by the end of their path are left out of a toughness or failure-strain target, and
    those whose stress had not peaked out of a peak-stress or strain-at-peak target
    (``Training.censored``): their value bounds the material's from below. Warns when the
    target is a softening material's toughness or failure strain labelled by the reduced model
    (:func:`~homog.database.summary.unvalidated_target`).
    """
    from homog.database.store import SampleStore
    from homog.database.summary import (
        censored,
        summary_table,
        training_data,
        unvalidated_target,
    )

    if not isinstance(store, SampleStore):
        store = SampleStore.open(store)
    config = store.config
    caution = unvalidated_target(config, target)
    if caution:
        warnings.warn(caution, stacklevel=2)
    table = summary_table(store)
    rows, y = training_data(table, config.names, target,
                            None if origins is None else tuple(origins))
    left_out = list(censored(table, target).index)
    if y.size < 3:
        raise ValueError(f"training needs at least 3 complete samples with a finite {target!r} "
                         f"(cross-validation fits each Gaussian process on all samples but one "
                         f"fold, and a fit needs 2); {store.path} has {y.size}: label more "
                         "samples")
    if np.ptp(y) == 0.0:
        raise ValueError(f"{target!r} takes one value ({y[0]:g}) over the {y.size} samples: "
                         "there is nothing to learn (a flag such as 'failed' is constant "
                         "where every sample behaved alike); choose another target")
    records = rows[config.names].to_dict("records")
    points = unit_points(config.variables, records)
    cv = cross_validate(points, y, folds=min(folds, y.size), seed=seed, kernel=kernel)
    surrogate = GaussianProcessSurrogate(kernel, seed=seed).fit(points, y)
    values = np.array([[_numeric(v, row[v.path]) for v in config.variables]
                       for row in records], dtype=float).reshape(len(records), -1)
    return Training(surrogate, cv, config.names, values, y, list(rows.index), left_out)


def _numeric(variable: Variable, value: Any) -> float:
    """A plottable number for a variable's value (a text choice by its index)."""
    if variable.discrete and isinstance(value, str):
        return float(variable.choices.index(value))
    return float(value)


def plot_predictions(y: np.ndarray, cv: CrossValidation, path: str | os.PathLike,
                     target: str) -> None:
    """PNG of cross-validated prediction (±2σ error bars) against the true value."""
    figure, axes = _figure((4.8, 4.4))
    axes[0].errorbar(y, cv.mean, yerr=2 * cv.std, fmt="o", ms=3, lw=0.8, alpha=0.7,
                     label="prediction ± 2σ")
    lo, hi = float(min(y.min(), cv.mean.min())), float(max(y.max(), cv.mean.max()))
    axes[0].plot([lo, hi], [lo, hi], "k--", lw=0.8, label="exact")
    axes[0].set_xlabel(f"{target} (database)")
    axes[0].set_ylabel(f"{target} ({cv.folds}-fold cross-validated GP)")
    axes[0].set_title(f"RMSE {cv.rmse:.3g}, R² {cv.r2:.3f}, ±2σ covers {100 * cv.coverage:.0f}%",
                      fontsize=9)
    axes[0].legend(fontsize=8)
    _save(figure, path)


def plot_inputs(values: np.ndarray, y: np.ndarray, names: Sequence[str],
                relevance: np.ndarray, path: str | os.PathLike, target: str,
                top: int = 4) -> list[str]:
    """PNG of ``target`` against the ``top`` most relevant inputs (shortest length scales).

    ``values``: ``(n, d)`` physical input values (numbers; discrete text choices by index).
    Returns the names plotted, most relevant first.
    """
    order = np.argsort(-np.asarray(relevance))[: min(top, len(names))]
    figure, axes = _figure((3.2 * len(order), 3.2), len(order))
    for ax, k in zip(axes, order):
        ax.scatter(values[:, k], y, s=10, alpha=0.7)
        ax.set_xlabel(names[k], fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(target)
    _save(figure, path)
    return [names[k] for k in order]


def _figure(size: tuple[float, float], n: int = 1):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, [figure.add_subplot(1, n, k + 1) for k in range(n)]


def _save(figure, path: str | os.PathLike) -> None:
    with atomic_open(Path(path), "wb") as file:
        figure.savefig(file, format="png", dpi=120)


def _checked(points: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    points = np.atleast_2d(np.asarray(points, dtype=float))
    y = np.asarray(y, dtype=float).reshape(-1)
    if points.shape[0] != y.size:
        raise ValueError(f"{points.shape[0]} points but {y.size} targets")
    if y.size < 2:
        raise ValueError(f"a Gaussian process needs at least 2 labelled samples, got {y.size}")
    if not np.all(np.isfinite(points)) or not np.all(np.isfinite(y)):
        raise ValueError("points and targets must be finite")
    return points, y
