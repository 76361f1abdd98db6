"""Options shared by the sub-commands that load an RVE or run a load path."""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from homog import loading
from homog.loading import LoadPath
from homog.materials import from_config, reference_materials_path
from homog.response import plot_format
from homog.text import counted

LOADS = ("uniaxial", "uniaxial-strain", "shear", "cyclic")


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with each option's default, except where there is none to show (None, an
    unset flag)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


class RawDefaultsFormatter(DefaultsFormatter, argparse.RawDescriptionHelpFormatter):
    """:class:`DefaultsFormatter` keeping the line breaks of the description."""


def add_microstructure_options(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    """IMAGE and the options that turn it into phase labels (one rule for every command)."""
    p.add_argument("image", nargs=None if required else "?",
                   help="microstructure file: a label array (.npy/.npz; labels kept), an "
                   "image (.png/.tif/.jpg/.bmp/.gif; grey levels are the labels, colours are "
                   "numbered in sorted order) or a file written by 'homog rve'")
    p.add_argument("--lengths", type=float, nargs="+",
                   help="RVE side lengths per axis (default: stored in the file, else 1)")
    p.add_argument("--threshold", type=float, nargs="+", metavar="GREY",
                   help="segment the image: label = number of thresholds <= the grey level "
                   "(colours by luminance), e.g. --threshold 128")
    p.add_argument("--phases", action="append", metavar="VALUE=LABEL",
                   help="segment the image: map a grey level (or R,G,B colour) to a label, "
                   "e.g. --phases 255=1 --phases 0=0 (repeat for every value in the image)")


def parse_value_labels(items: list[str]) -> dict:
    """['255=1', '0,0,255=2'] -> {255.0: 1, (0.0, 0.0, 255.0): 2}, clear errors otherwise."""
    out: dict = {}
    for item in items:
        try:
            value, label = item.split("=")
            numbers = tuple(float(v) for v in value.split(","))
            key = numbers[0] if len(numbers) == 1 else numbers
            out_label = int(label)
        except ValueError:
            raise ValueError(
                f"--phases {item!r}: expected VALUE=LABEL with a grey level or an R,G,B colour "
                "and an integer label, e.g. --phases 255=1 or --phases 0,0,255=2"
            ) from None
        if key in out:
            raise ValueError(f"--phases {item!r}: value {value} is given twice: give one "
                             "--phases per grey level or colour")
        out[key] = out_label
    return out


def microstructure_from_args(args: argparse.Namespace):
    """The microstructure IMAGE and the segmentation options describe (rve_gen.from_image)."""
    import rve_gen

    phases = parse_value_labels(args.phases) if args.phases else None
    try:
        return rve_gen.from_image(args.image, phases=phases, threshold=args.threshold,
                                  lengths=args.lengths)
    except rve_gen.ParameterError as exc:  # the API names its keywords; the CLI its options
        raise option_error(exc, args) from None


def option_error(exc: Any, args: argparse.Namespace) -> ValueError:
    """A bad keyword argument of the API (``rve_gen.ParameterError``: ``name=value reason``)
    as a bad option of the command line: ``--name`` and the value as typed, and the keywords
    its reason names as ``keyword=`` written as the options they are. A keyword that is no
    option of the command keeps the API's wording."""
    options = vars(args)
    if exc.name not in options:
        return exc

    def option(match: re.Match) -> str:
        name = match.group(1)
        return f"--{name.replace('_', '-')} " if name in options else match.group(0)

    given = options[exc.name]
    typed = (" ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in given)
             if isinstance(given, list | tuple) else repr(exc.value) if given is None
             else f"{given:g}" if isinstance(given, float) else str(given))
    reason = re.sub(r"\b([a-z][a-z_]*)=", option, exc.reason)
    return ValueError(f"--{exc.name.replace('_', '-')} {typed} {reason}")


def materials_from_args(args: argparse.Namespace, ms: Any) -> Any:
    """The materials of ``--materials`` (read with :func:`homog.materials.from_config`), checked
    to name no phase that the microstructure ``ms`` lacks, or without the option the path of
    the reference materials (whatever phases of theirs ``ms`` has)."""
    if args.materials is None:
        return reference_materials_path()
    materials = from_config(args.materials)
    present = np.flatnonzero(ms.volume_fractions).tolist()
    extra = sorted(set(materials) - set(present))
    if extra:
        tables = ", ".join(f"[phases.{label}]" for label in extra)
        raise ValueError(f"--materials {args.materials!r} has {tables} but the microstructure "
                         f"{args.image!r} has no phase {' or '.join(map(str, extra))}; its "
                         f"labels are {present} (integer arrays keep their labels, images "
                         "their grey levels): remove the table, or segment the image with "
                         "--threshold / --phases VALUE=LABEL")
    return materials


def check_output(path: str | os.PathLike | None, option: str = "-o/--output") -> None:
    """Refuse an output path that cannot be written, before any computation.

    A directory, a path under an existing file and a folder where no file can be made (no
    permission, a read-only or virtual file system such as /proc) are refused: a temporary
    file is made and removed in the folder, as an atomic write will. Missing parent folders
    are fine (:func:`make_output_folder` makes them; the probe goes to the nearest existing
    one).
    """
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{option} {str(path)!r} is a directory: give a file name inside it, "
                         f"e.g. {str(path / 'out')!r} with the right extension")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{option} {str(path)!r} lies under {str(parent)!r}, which is a file, "
                         "not a folder: choose another output path")
    try:  # the test that counts: a file made and removed where the output (or its folder) goes
        fd, probe = tempfile.mkstemp(dir=parent, prefix=".homog-", suffix=".tmp")
    except OSError as exc:
        raise ValueError(f"{option} {str(path)!r}: cannot write in {str(parent)!r} "
                         f"({exc.strerror}); choose a folder you can write to") from None
    os.close(fd)
    os.unlink(probe)


def add_loading_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--load", choices=LOADS, default="uniaxial",
                   help="uniaxial: ε_axis prescribed, other stresses zero; uniaxial-strain: "
                   "all other strains zero; shear: ε12 with other stresses zero; cyclic: "
                   "uniaxial tension-compression")
    p.add_argument("--strain", type=float, default=0.05, help="strain amplitude")
    p.add_argument("--steps", type=int, default=200, help="increments")
    p.add_argument("--axis", type=int, default=0, choices=(0, 1, 2), help="loading axis")
    p.add_argument("--cycles", type=int, default=1, help="cycles of --load cyclic")


def loading_from_args(args: argparse.Namespace, option: str = "--") -> LoadPath:
    """The LoadPath the loading options describe; options that would do nothing (a zero
    strain, --cycles without --load cyclic, --axis under shear) are refused. ``option``: the
    prefix of the options' names in the messages (``"--probe-"`` for homog build's probe)."""
    if args.strain == 0.0:
        raise ValueError(f"{option}strain 0 loads nothing: give the strain amplitude")
    loading.check_strain(args.strain, f"{option}strain")
    if args.load != "cyclic" and args.cycles != 1:
        raise ValueError(f"{option}cycles {args.cycles} is for {option}load cyclic (here "
                         f"{option}load {args.load})")
    if args.load == "shear" and args.axis != 0:
        raise ValueError(f"{option}axis is for the uniaxial and cyclic loads: {option}load shear "
                         "is ε12")
    if args.load == "uniaxial":
        return loading.uniaxial_stress(args.strain, args.steps, args.axis)
    if args.load == "uniaxial-strain":
        return loading.uniaxial_strain(args.strain, args.steps, args.axis)
    if args.load == "shear":
        return loading.pure_shear(args.strain, args.steps)
    return loading.cyclic(args.strain, cycles=args.cycles, steps=args.steps, axis=args.axis)


def add_threads_option(p: argparse.ArgumentParser) -> None:
    """``--threads N|auto``: the most threads of every CPU pool (:mod:`kernels.threads`)."""
    p.add_argument("--threads", default=None, metavar="N|auto",
                   help="most threads of the FFT, numba, BLAS and OpenMP pools; 'auto' "
                   "(default, or $HOMOG_NUM_THREADS): every core, for grids where threads pay")


def add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", help="CSV file of the macroscopic curve")
    p.add_argument("--plot", help="file of the stress-strain plot, in the format of its "
                   "extension (.png, .pdf, .svg...)")


def make_output_folder(path: str | os.PathLike) -> None:
    """Create the missing folders above an output path that :func:`check_output` accepted
    (after the computation, so that a failed run leaves no empty folders)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)


def check_output_options(args: argparse.Namespace) -> None:
    """Refuse unwritable ``-o``/``--plot`` paths, and a plot name without a known format,
    before the computation."""
    check_output(args.output, "-o/--output")
    check_output(args.plot, "--plot")
    if args.plot:
        plot_format(args.plot)


def write_outputs(response, args: argparse.Namespace, label: str) -> None:
    """Write the CSV/plot the output options ask for and print the final state."""
    comp = args.axis if args.load != "shear" else 5
    for path in (args.output, args.plot):
        if path:
            make_output_folder(path)
    if args.output:
        response.to_csv(args.output)
        print(f"curve written to {args.output}")
    if args.plot:
        response.plot(args.plot, component=comp, label=label)
        print(f"plot written to {args.plot}")
    print(f"final strain {response.strain[-1, comp]:.6g}, stress {response.stress[-1, comp]:.6g} "
          f"(Mandel component {comp}), {counted(len(response.iterations), 'increment')}, "
          f"{counted(int(response.iterations.sum()), 'Newton iteration')}")


class Progress:
    """The one progress reporter of the command line: ``progress(done, total, note="")``.

    On a terminal it redraws a one-line bar (count, rate, ETA). Elsewhere (a log file, a batch
    job, a pipe) it writes whole lines: the first update, then one whenever another tenth of
    the work is done and ``min_interval`` seconds have passed, or ``max_interval`` seconds have
    passed, and always the last one; a long job logs a few dozen lines, not thousands.
    """

    def __init__(self, label: str, stream: Any = None, *, interactive: bool | None = None,
                 min_interval: float = 1.0, max_interval: float = 30.0,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.label = label
        self.stream = sys.stderr if stream is None else stream
        self.interactive = (self.stream.isatty() if interactive is None else interactive)
        self.min_interval, self.max_interval, self.clock = min_interval, max_interval, clock
        self.start = clock()
        self.last_time, self.last_done = None, 0

    def __call__(self, done: int, total: int, note: str = "") -> None:
        now = self.clock()
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = f"eta {(total - done) / rate:.0f}s" if rate > 0 else "eta ?"
        text = f"{done}/{total} {rate:.1f}/s {eta}" + (f" {note}" if note else "")
        if self.interactive:
            filled = int(30 * done / max(total, 1))
            end = "\n" if done >= total else ""
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {text}{end}")
        else:
            since = None if self.last_time is None else now - self.last_time
            step = (done - self.last_done) / max(total, 1)
            if not (since is None or done >= total or since >= self.max_interval
                    or (step >= 0.1 and since >= self.min_interval)):
                return
            percent = 100.0 * done / max(total, 1)
            self.stream.write(f"{self.label}: {percent:.0f}% {text}, {elapsed:.0f}s elapsed\n")
            self.last_time, self.last_done = now, done
        self.stream.flush()


def progress_bar(label: str) -> Progress:
    """The progress reporter of a command (:class:`Progress` on stderr)."""
    return Progress(label)
