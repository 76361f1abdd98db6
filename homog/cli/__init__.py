"""The ``homog`` command line: a thin layer over the Python API.

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (a callable taking the
parsed arguments and returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from homog.cli._options import DefaultsFormatter
from homog.text import counted

#: Sub-command modules, in the order ``homog --help`` lists them.
SUBCOMMANDS = ("demo", "homogenize", "build", "run", "dns", "rve", "database")


#: What to change when a command's solver does not converge.
CONVERGENCE_HINTS = {
    "homogenize": "use a looser --tol (double precision reaches about 1e-13), or --solver cg "
                  "if --solver basic was given (it is slow at high contrast)",
    "build": "check the materials' moduli (a very high contrast slows the elastic solves)",
    "run": "use more increments (--steps), a smaller --strain or a looser --tol",
    "dns": "use more increments (--steps), a smaller --strain, a looser --tol, or "
           "--krylov gmres for softening materials",
}


class Parser(argparse.ArgumentParser):
    """An argument parser whose ``--help`` shows every option's default (sub-command parsers
    are of this class too: argparse gives sub-parsers the class of their parent)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)


def version() -> str:
    """The installed version of homog."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("homog")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every sub-command registered."""
    parser = Parser(
        prog="homog",
        description="Multiscale homogenization of heterogeneous materials "
        "(FFT full-field solvers, Self-consistent Clustering Analysis).",
    )
    parser.add_argument("--version", action="version", version=f"homog {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"homog.cli.{name}").register(sub)
    return parser


def set_threads_option(value: str) -> None:
    """Apply ``--threads`` (:func:`kernels.threads.set_threads`), with an error naming it."""
    from kernels.threads import set_threads

    try:
        set_threads(value)
    except ValueError:
        raise ValueError(f"--threads {value!r}: give a positive integer or 'auto'") from None


def _warning_printer(command: str):
    """A ``warnings.showwarning`` that prints ``homog COMMAND: warning: message`` on stderr, as
    errors are printed: a user of the command line has no use for the library's source line."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"homog {command}: warning: {message}", file=sys.stderr if file is None else file)

    return show


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``homog`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from kernels import ConvergenceError

    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_printer(args.command)
            if getattr(args, "threads", None) is not None:
                set_threads_option(args.threads)
            return int(args.func(args) or 0)
    except ConvergenceError as exc:
        print(f"homog {args.command}: error: the solver did not converge ({exc}; "
              f"{counted(exc.iterations, 'iteration')}, residual {exc.residual:.3e}): "
              f"{CONVERGENCE_HINTS.get(args.command, CONVERGENCE_HINTS['run'])}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, OSError, MemoryError) as exc:  # user errors: bad input, unwritable path
        print(f"homog {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"homog {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
