"""``homog database``: build, tabulate and learn from RVE databases (docs/database.md).

    homog database run config.toml --store db.zarr [--workers N | --scheduler ADDRESS]
    homog database summary db.zarr [-o table.csv|table.parquet]
    homog database train db.zarr --target toughness [--plots PREFIX]
    homog database explore config.toml --store db.zarr --rounds R --batch B
    homog database example fibres [-o fibres.toml]
"""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from homog.text import counted


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("database", help="RVE databases: design, run on Dask, Zarr store, learn",
                       description="Databases of reduced-order RVE simulations run to failure "
                       "over a design of experiments (Bessa et al., CMAME 320, 2017).")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    q = actions.add_parser("run", help="run (or resume) the design of a configuration",
                           description="Label every design point of CONFIG with the ROM and "
                           "store it; a rerun resumes, skipping stored samples, and a larger "
                           "`samples` grows a Sobol design. One driver per store at a time. "
                           "Exit status 1 (and one line) when samples of the design failed.")
    q.add_argument("config", help="database configuration (TOML, see docs/database.md)")
    _add_execution(q)
    q.add_argument("--retry-failed", action="store_true",
                   help="run the failed samples once more, whatever their attempts")
    q.set_defaults(func=run)

    q = actions.add_parser("summary", help="table of inputs and outputs per sample")
    q.add_argument("store", help="database store (.zarr)")
    q.add_argument("-o", "--output", help="write the table to .csv or .parquet")
    q.set_defaults(func=summary)

    q = actions.add_parser("train", help="fit a Gaussian process to an output, cross-validated")
    q.add_argument("store", help="database store (.zarr)")
    q.add_argument("--target", default="toughness", help="output to learn")
    q.add_argument("--kernel", choices=("matern", "rbf"), default="matern",
                   help="covariance of the Gaussian process")
    q.add_argument("--folds", type=int, default=5, help="cross-validation folds")
    q.add_argument("--origin", action="append",
                   help="learn from samples of this origin only (doe, explore, sobol, ...; "
                   "repeatable; default all but the held-out test set)")
    q.add_argument("--plots", metavar="PREFIX",
                   help="write PREFIX_cv.png (predicted vs true) and PREFIX_inputs.png; a "
                   "folder as PREFIX: TARGET_cv.png and TARGET_inputs.png in it")
    q.set_defaults(func=train)

    q = actions.add_parser("explore", help="concurrent learning: label where the GP is unsure",
                           description="Complete the base design and a held-out test set, "
                           "then per round fit a GP, label the BATCH most uncertain candidates "
                           "and as many baseline points; report test error per round.")
    q.add_argument("config", help="database configuration (TOML)")
    _add_execution(q)
    q.add_argument("--rounds", type=int, required=True, help="rounds of exploration")
    q.add_argument("--batch", type=int, required=True, help="samples per round")
    q.add_argument("--target", default="toughness", help="output to learn")
    q.add_argument("--pool", type=int, default=2048, help="Sobol candidates per round")
    q.add_argument("--test", type=int, default=32, help="held-out test samples")
    q.add_argument("--baseline", choices=("sobol", "random", "none"), default="sobol",
                   help="plain sampling labelled alongside for comparison")
    q.add_argument("--kernel", choices=("matern", "rbf"), default="matern",
                   help="covariance of the Gaussian process")
    q.add_argument("-o", "--output", help="CSV of the learning curve")
    q.add_argument("--plot", help="PNG of the learning curve")
    q.set_defaults(func=explore)

    q = actions.add_parser("example", help="print or write a shipped example configuration",
                           description="The example configurations of docs/database.md, to "
                           "start from in any folder.")
    q.add_argument("name", nargs="?", default="fibres", help="example name")
    q.add_argument("-o", "--output", help="write it to this file instead of printing it")
    q.set_defaults(func=example)


def _add_execution(q: argparse.ArgumentParser) -> None:
    q.add_argument("--store", required=True, help="database store (.zarr), created if missing")
    q.add_argument("--workers", type=int, default=2,
                   help="local Dask worker processes, one thread each (0: run in "
                   "this process without Dask)")
    q.add_argument("--scheduler", help="address of a running Dask scheduler to use instead of "
                   "a local cluster (e.g. tcp://host:8786)")
    q.add_argument("--scheduler-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="give up reaching --scheduler after this long")
    q.add_argument("--threads-per-sample", type=int, default=1,
                   help="FFT/BLAS/numba threads of each sample")
    q.add_argument("--max-attempts", type=int, default=1,
                   help="run a failed sample again on resume until it failed this often "
                   "(1: never)")


def run(args: argparse.Namespace) -> int:
    """Run (or resume, or grow) a design; exit status 1 when samples of it stay failed."""
    from homog.database import load_config, run_database

    _check_execution(args)
    config = load_config(args.config)  # every check before the store and the workers
    with _open_store(args.store, config) as store:
        try:
            with _client(args) as client:
                report = run_database(config, store, client=client,
                                      max_attempts=args.max_attempts,
                                      retry_failed=args.retry_failed,
                                      threads=args.threads_per_sample,
                                      progress=progress_bar("samples"))
        except KeyboardInterrupt:
            return _interrupted(args.store)
    _print_report(report, args.store)
    return _failures(report, config.samples, args.store)


def summary(args: argparse.Namespace) -> int:
    from homog.cli._options import check_output, make_output_folder
    from homog.database import export_table, summary_table

    if args.output:  # before the store is read and the table printed
        check_output(args.output)
        if Path(args.output).suffix.lower() not in (".csv", ".parquet"):
            raise ValueError(f"-o {args.output!r}: the table is written as .csv or .parquet; "
                             "end the name in one of them")
    table = summary_table(args.store)
    if args.output:
        make_output_folder(args.output)
        export_table(table, args.output)
    counts = ", ".join(f"{n} {status}" for status, n in table["status"].value_counts().items())
    print(f"{args.store}: {counted(len(table), 'sample')} ({counts})")
    shown = table.drop(columns=["error", "worker"], errors="ignore")
    print(shown.to_string(max_rows=40, max_cols=12, float_format=lambda x: f"{x:.4g}"))
    failed = table[table["status"] == "failed"]
    for name, error in failed["error"].head(5).items():
        print(f"{name}: {error}")
    if args.output:
        print(f"table written to {args.output}")
    return 0


def train(args: argparse.Namespace) -> int:
    from homog.database import SampleStore
    from homog.database.config import sample_origin
    from homog.database.learn import plot_inputs, plot_predictions
    from homog.database.learn import train as fit
    from homog.database.summary import PEAK_TARGETS

    prefix = _plot_prefix(args.plots, args.target) if args.plots else None  # before the fit
    store = SampleStore.open(args.store)
    origins = args.origin or sorted({sample_origin(name) for name in store.ids()} - {"test"})
    result = fit(store, args.target, folds=args.folds, kernel=args.kernel, origins=origins)
    cv, gp = result.cv, result.surrogate
    print(f"Gaussian process of {args.target} on {counted(result.y.size, 'sample')} "
          f"({args.kernel} kernel, inputs scaled to the design box, normalized target)")
    if result.censored:
        why = ("whose stress was still rising at the end of their load path"
               if args.target in PEAK_TARGETS else
               "that did not fail by the end of their load path")
        print(f"left out {counted(len(result.censored), 'sample')} {why} "
              f"(their {args.target} only bounds the material's): "
              f"{', '.join(result.censored[:5])}{' ...' if len(result.censored) > 5 else ''}; "
              "lengthen the path (loading.max_strain) to label them")
    print(f"{cv.folds}-fold cross-validation: RMSE {cv.rmse:.4g} ({100 * cv.nrmse:.1f}% of "
          f"the std), R² {cv.r2:.4f}, ±2σ coverage {100 * cv.coverage:.0f}%")
    print("length scales (unit box; small = relevant):")
    for name, scale in sorted(zip(result.names, gp.length_scales), key=lambda t: t[1]):
        print(f"  {name:45s} {scale:.3g}")
    if prefix:
        plot_predictions(result.y, cv, f"{prefix}_cv.png", args.target)
        plot_inputs(result.values, result.y, result.names, 1.0 / gp.length_scales,
                    f"{prefix}_inputs.png", args.target)
        print(f"plots written to {prefix}_cv.png and {prefix}_inputs.png")
    return 0


def explore(args: argparse.Namespace) -> int:
    """Explore rounds; exit status 1 when samples stay failed (the curve leaves them out)."""
    from homog.database import load_config
    from homog.database.explore import check_settings, plot_learning_curve
    from homog.database.explore import explore as run_rounds
    from homog.database.runner import RunReport
    from homog.database.sample import OUTPUTS

    _check_execution(args)
    config = load_config(args.config)
    baseline = None if args.baseline == "none" else args.baseline
    check_settings(args.rounds, args.batch, args.pool, args.test, baseline)  # before the store
    if args.target not in OUTPUTS:
        raise ValueError(f"--target {args.target!r} is not an output of the samples; outputs: "
                         f"{', '.join(OUTPUTS)}")
    report = RunReport()
    with _open_store(args.store, config) as store:
        try:
            with _client(args) as client:
                curve = run_rounds(config, store, rounds=args.rounds, batch=args.batch,
                                   target=args.target, client=client, pool=args.pool,
                                   test=args.test, baseline=baseline, kernel=args.kernel,
                                   max_attempts=args.max_attempts,
                                   threads=args.threads_per_sample,
                                   progress=progress_bar("samples"),
                                   log=lambda line: print(line, flush=True),
                                   report=report)
        except KeyboardInterrupt:
            return _interrupted(args.store)
    columns = [c for c in curve.columns if c.split("_")[0] in ("labelled", "rmse", "r2")]
    print(f"test error of the GP of {args.target} against labelled samples:")
    print(curve[columns].to_string(float_format=lambda x: f"{x:.4g}"))
    if args.output:
        curve.to_csv(args.output)
        print(f"learning curve written to {args.output}")
    if args.plot:
        plot_learning_curve(curve, args.plot, args.target)
        print(f"plot written to {args.plot}")
    return _failures(report, report.ran + report.skipped_complete + report.skipped_failed,
                     args.store, "explore")


def example(args: argparse.Namespace) -> int:
    """Print (or write with -o) a shipped example configuration."""
    from homog.database.examples import example_config
    from homog.files import atomic_open

    text = example_config(args.name)
    if not args.output:
        sys.stdout.write(text)
        return 0
    if not Path(args.output).parent.is_dir():
        raise FileNotFoundError(f"-o {args.output}: folder {Path(args.output).parent} does not "
                                "exist")
    if Path(args.output).is_dir():
        raise ValueError(f"-o {args.output} is a folder; give a file name, e.g. "
                         f"{Path(args.output) / (args.name + '.toml')}")
    with atomic_open(args.output, "w") as file:
        file.write(text)
    print(f"example configuration {args.name!r} written to {args.output}")
    return 0


def _plot_prefix(prefix: str, target: str) -> str:
    """The --plots prefix, inside it when it names a folder (``/tmp`` wrote ``/tmp_cv.png``
    in the root), its plots' folder checked before any work."""
    from homog.cli._options import check_output, make_output_folder

    if Path(prefix).is_dir() or prefix.endswith(("/", "\\")):
        prefix = str(Path(prefix) / target)
    for suffix in ("_cv.png", "_inputs.png"):
        check_output(prefix + suffix, "--plots")
    make_output_folder(prefix)
    return prefix


def progress_bar(label: str) -> Any:
    """A callable(complete, failed, total) for the runner, drawn by the command line's one
    progress reporter (:class:`homog.cli._options.Progress`: a bar on a terminal, whole log
    lines at a bounded rate elsewhere)."""
    from homog.cli._options import Progress

    report = Progress(label)

    def show(complete: int, failed: int, total: int) -> None:
        report(complete + failed, total, f"({failed} failed)")

    return show


def _check_execution(args: argparse.Namespace) -> None:
    """The execution options, checked before the configuration, the store and the workers."""
    if args.workers < 0:
        raise ValueError(f"--workers {args.workers}: give 0 (run in this process, no Dask) or "
                         "a number of local worker processes")
    if args.threads_per_sample < 1:
        raise ValueError(f"--threads-per-sample {args.threads_per_sample}: give 1 or more "
                         "(the FFT, BLAS and numba threads of each sample)")
    if args.max_attempts < 1:
        raise ValueError(f"--max-attempts {args.max_attempts}: give 1 or more (how often a "
                         "failing sample is tried in all; 1: never again)")
    if not args.scheduler_timeout > 0:
        raise ValueError(f"--scheduler-timeout {args.scheduler_timeout}: give a positive "
                         "number of seconds")


def _open_store(path: str, config: Any) -> Any:
    """The store opened for writing (locked), its repair notes printed, one line each."""
    from homog.database import SampleStore

    store = SampleStore.create(path, config)
    for note in store.notes:
        print(note, file=sys.stderr, flush=True)
    return store


def _failures(report: Any, samples: int, store: str, command: str = "run") -> int:
    """Exit status of a run: 0 if no sample of the design is left failed, else 1 and a line."""
    if not report.unfinished:
        return 0
    first = f"; first this run: {report.first_error.splitlines()[0][:200]}" if (
        report.first_error) else ""
    print(f"homog database {command}: {report.unfinished} of {counted(samples, 'sample')} "
          f"failed{first}; see `homog database summary {store}`, then rerun with "
          "--retry-failed (or a higher --max-attempts)", file=sys.stderr)
    return 1


def _client(args: argparse.Namespace) -> Any:
    from homog.database import dask_client

    if args.scheduler:
        return dask_client(scheduler=args.scheduler, timeout=args.scheduler_timeout)
    return dask_client(args.workers) if args.workers else nullcontext(None)


def _interrupted(store: str) -> int:
    print(f"\ninterrupted: the committed samples stay in {store}; run the same command again "
          "to resume", file=sys.stderr)
    return 130


def _print_report(report: Any, store: str) -> None:
    rate = 3600 * report.ran / report.elapsed_s if report.elapsed_s > 0 else 0.0
    print(f"{store}: {report.complete} complete, {report.failed} failed this run "
          f"({report.ran} in {report.elapsed_s:.1f} s, {rate:.0f} samples/h); skipped "
          f"{report.skipped_complete} complete and {report.skipped_failed} failed samples"
          + (f"; removed {len(report.removed)} unfinished or damaged (run again)"
             if report.removed else ""))
