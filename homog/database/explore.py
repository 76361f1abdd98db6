"""Concurrent learning: label next the samples the surrogate is least certain about.

Each round (explore, examine, label, train): fit a Gaussian process
(:class:`~homog.database.learn.GaussianProcessSurrogate`) to the labelled samples, evaluate
its predictive standard deviation over a large scrambled-Sobol candidate pool, pick a batch
of the most uncertain candidates, label them with the same runner as the base design, and
start again with the enlarged set. The batch is chosen greedily with the *kriging believer*
(Ginsbourger, Le Riche & Carraro 2010): after each pick the model is conditioned on its own
prediction there, which collapses the variance around the pick, so one batch does not hold
near-duplicates. This is the adaptive sampling loop that Bessa et al., CMAME 320 (2017)
633–667 point to beyond a fixed design of experiments.

Sample groups: the base design ``doe-*``; a held-out test set ``test-*`` (i.i.d. uniform,
seeded); explored samples ``explore-*`` with index ``round × batch + k`` and their ``round``;
and the baseline of the comparison, more points of a plain sequence with the same budget:
``sobol-*`` (the scrambled Sobol sequence continued past the base design, index = position)
or ``random-*`` (i.i.d. uniform). Every choice is seeded, so a resumed run regenerates the
same round and skips the samples already stored. The settings (batch, pool, test, baseline)
are recorded in the store; resuming with other settings is an error.
"""

from __future__ import annotations

import os
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from homog.database.config import DatabaseConfig, sample_id
from homog.database.design import sobol_points, uniform_points
from homog.database.learn import GaussianProcessSurrogate, _figure, _save, errors
from homog.database.runner import Progress, RunReport, base_specs, pending, run_specs
from homog.database.sample import Labeller, simulate
from homog.database.store import SampleStore
from homog.database.summary import summary_table, training_data, unvalidated_target
from homog.database.variables import unit_points

BASELINES = ("sobol", "random")


def select_batch(surrogate: GaussianProcessSurrogate, candidates: np.ndarray,
                 batch: int) -> np.ndarray:
    """Indices of ``batch`` candidates ``(m, d)`` of largest predictive std, kriging believer.

    Pick the candidate of largest standard deviation, condition the model on its predicted
    mean there (:meth:`GaussianProcessSurrogate.believe`), repeat.
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= len(candidates):
        raise ValueError(f"batch = {batch!r} must be an integer in 1..{len(candidates)} (the "
                         "candidate pool)")
    chosen: list[int] = []
    for _ in range(batch):
        _, std = surrogate.predict(candidates)
        std[chosen] = -np.inf
        k = int(np.argmax(std))
        chosen.append(k)
        surrogate = surrogate.believe(candidates[[k]])
    return np.array(chosen)


def check_settings(rounds: int, batch: int, pool: int, test: int,
                   baseline: str | None) -> None:
    """ValueError for settings :func:`explore` cannot run (checked before any store opens)."""
    for name, value, least in (("rounds", rounds, 1), ("batch", batch, 1),
                               ("pool", pool, batch), ("test", test, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} = {value!r} must be an integer >= {least}")
    if baseline not in BASELINES + (None,):
        raise ValueError(f"baseline = {baseline!r}; allowed: {list(BASELINES)} or None")


def explore(config: DatabaseConfig, store: str | os.PathLike | SampleStore, *, rounds: int,
            batch: int, target: str = "toughness", labeller: Labeller = simulate,
            client: Any = None, pool: int = 2048, test: int = 32, baseline: str | None = "sobol",
            kernel: str = "matern", restarts: int = 1, max_attempts: int = 1,
            threads: int = 1, progress: Progress | None = None,
            log: Callable[[str], None] | None = None,
            report: RunReport | None = None) -> pd.DataFrame:
    """Run (or resume) ``rounds`` rounds of ``batch`` uncertainty-driven samples.

    First completes the base design and the ``test`` held-out samples, then per round labels
    ``batch`` explored samples and, with ``baseline`` ("sobol", "random" or None), ``batch``
    baseline samples. ``kernel`` and ``restarts``: of the
    :class:`~homog.database.learn.GaussianProcessSurrogate` fitted every round; ``labeller``,
    ``client``, ``threads``, ``progress`` and ``max_attempts`` as in
    :func:`homog.database.runner.run_database`; ``log`` receives one line per stage.
    ``report``, if given, adds up what every stage did (:class:`RunReport`): its
    ``unfinished`` counts the samples left failed, which the learning curve leaves out.

    Returns :func:`learning_curve` of the store.
    """
    check_settings(rounds, batch, pool, test, baseline)
    caution = unvalidated_target(config, target)
    if caution:
        warnings.warn(caution, stacklevel=2)
    owned = not isinstance(store, SampleStore)  # opened (and locked) here: closed here
    store = SampleStore.of(store, config)
    try:
        settings = {"batch": batch, "pool": pool, "test": test, "baseline": baseline,
                    "kernel": kernel, "target": target}
        recorded = store.root.attrs.get("explore")
        if recorded is not None and recorded != settings:
            raise ValueError(f"store {store.path} was explored with {recorded}; resume with the "
                             f"same settings (got {settings}) or use a new store")
        store.set_attrs(explore=settings)
        say = log or (lambda line: None)

        def label(specs: list[dict[str, Any]], what: str) -> None:
            stage = RunReport()
            todo = pending(store, specs, max_attempts=max_attempts, report=stage)
            if todo:
                say(f"{what}: labelling {len(todo)} sample(s)")
                run_specs(store, todo, labeller=labeller, client=client, threads=threads,
                          progress=progress, report=stage)
            if stage.failed:
                say(f"{what}: {stage.failed} sample(s) failed; first: {stage.first_error}")
            if report is not None:
                _add_report(report, stage)

        store.remove_incomplete()
        d, n0 = len(config.variables), config.samples
        label(base_specs(config), "base design")
        label(_specs(config, "test", uniform_points(d, test, _seed(config, "test"))), "test set")
        for r in range(rounds):
            start = r * batch
            if baseline is not None:
                points = _baseline_points(config, baseline, n0 + start, batch)
                label(_specs(config, baseline, points, first=n0 + start),
                      f"round {r + 1}/{rounds} {baseline} baseline")
            done = set(store.ids())
            if all(sample_id("explore", start + k) in done for k in range(batch)):
                continue  # this round is labelled (complete or failed for good)
            points, y = _labelled(store, config, target, explore_before=r)
            surrogate = GaussianProcessSurrogate(kernel, restarts=restarts,
                                                 seed=config.seed).fit(points, y)
            candidates = sobol_points(d, pool, _seed(config, "pool", r))
            picks = candidates[select_batch(surrogate, candidates, batch)]
            specs = _specs(config, "explore", picks, first=start)
            for spec in specs:
                spec["round"] = r
            label(specs, f"round {r + 1}/{rounds} explore")
        return learning_curve(store, target, rounds=rounds, kernel=kernel, restarts=restarts)
    finally:
        if owned:
            store.close()


def _add_report(total: RunReport, stage: RunReport) -> None:
    """Add the counts and times of one stage's report to ``total``."""
    for name in ("complete", "failed", "skipped_complete", "skipped_failed", "elapsed_s",
                 "sample_s"):
        setattr(total, name, getattr(total, name) + getattr(stage, name))
    total.removed += stage.removed
    total.notes += stage.notes
    total.first_error = total.first_error or stage.first_error


def learning_curve(store: str | os.PathLike | SampleStore, target: str = "toughness", *,
                   rounds: int | None = None, kernel: str = "matern",
                   restarts: int = 1) -> pd.DataFrame:
    """Test error of the surrogate against the number of labelled samples, per round.

    Row r (0..rounds): the model trained on the base design plus the explored samples of
    rounds < r (``*_explore`` columns), and on the base design plus the first r batches of
    the baseline (``*_sobol`` or ``*_random``), both scored on the ``test-*`` samples: RMSE,
    normalized RMSE (over the test targets' standard deviation), R² and ±2σ coverage.
    """
    if not isinstance(store, SampleStore):
        store = SampleStore.open(store)
    settings = store.root.attrs.get("explore")
    if settings is None:
        raise ValueError(f"store {store.path} has no exploration; run 'homog database "
                         "explore' first")
    config, batch, baseline = store.config, settings["batch"], settings["baseline"]
    table = summary_table(store)
    tests, y_test = training_data(table, config.names, target, ("test",))
    if y_test.size < 2:
        raise ValueError("fewer than 2 test samples completed: no error to report")
    x_test = unit_points(config.variables, tests[config.names].to_dict("records"))
    if rounds is None:
        rounds = int(table["round"].max()) + 1 if table["round"].notna().any() else 0
    rows = []
    for r in range(rounds + 1):
        row: dict[str, Any] = {"round": r}
        arms = {"explore": _labelled(store, config, target, explore_before=r, table=table)}
        if baseline is not None:
            arms[baseline] = _labelled(store, config, target, table=table, baseline=baseline,
                                       baseline_end=config.samples + r * batch)
        for arm, (points, y) in arms.items():
            gp = GaussianProcessSurrogate(kernel, restarts=restarts,
                                          seed=config.seed).fit(points, y)
            mean, std = gp.predict(x_test)
            row[f"labelled_{arm}"] = int(y.size)
            row.update({f"{key}_{arm}": value
                        for key, value in errors(y_test, mean, std).items()})
        rows.append(row)
    return pd.DataFrame(rows).set_index("round")


def plot_learning_curve(curve: pd.DataFrame, path: str | os.PathLike, target: str) -> None:
    """PNG of the normalized test RMSE against the number of labelled samples."""
    figure, axes = _figure((4.8, 3.8))
    for arm in ("explore",) + BASELINES:
        if f"nrmse_{arm}" in curve:
            label = "uncertainty sampling" if arm == "explore" else f"plain {arm}"
            axes[0].plot(curve[f"labelled_{arm}"], curve[f"nrmse_{arm}"], "o-", label=label)
    axes[0].set_xlabel("labelled samples")
    axes[0].set_ylabel(f"test RMSE / std of {target}")
    axes[0].set_yscale("log")
    axes[0].grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8)
    _save(figure, Path(path))


def _labelled(store: SampleStore, config: DatabaseConfig, target: str, *,
              explore_before: int | None = None, baseline: str | None = None,
              baseline_end: int = 0, table: pd.DataFrame | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """Unit points and targets of the base design plus explored rounds or a baseline."""
    table = summary_table(store) if table is None else table
    rows, y = training_data(table, config.names, target)
    keep = rows["origin"] == "doe"
    if explore_before is not None:
        keep |= (rows["origin"] == "explore") & (rows["round"] < explore_before)
    if baseline is not None:
        keep |= (rows["origin"] == baseline) & (rows["index"] < baseline_end)
    keep = keep.fillna(False).to_numpy(dtype=bool)
    if keep.sum() < 2:
        raise ValueError(f"fewer than 2 labelled samples with a finite {target!r}: the base "
                         "design failed; see 'homog database summary'")
    points = unit_points(config.variables, rows[keep][config.names].to_dict("records"))
    return points, y[keep]


def _specs(config: DatabaseConfig, origin: str, points: np.ndarray,
           first: int = 0) -> list[dict[str, Any]]:
    return [config.sample_spec(p, origin, first + k) for k, p in enumerate(points)]


def _baseline_points(config: DatabaseConfig, baseline: str, start: int, n: int) -> np.ndarray:
    d = len(config.variables)
    if baseline == "sobol":
        return sobol_points(d, n, config.seed, start=start)
    return uniform_points(d, n, _seed(config, "random"), start=start)


def _seed(config: DatabaseConfig, purpose: str, *more: int) -> int:
    sequence = np.random.SeedSequence([config.seed, zlib.crc32(purpose.encode()), *more])
    return int(sequence.generate_state(1, dtype=np.uint32)[0])
