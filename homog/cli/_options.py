"""Options shared by the sub-commands that load an RVE or run a load path."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from homog import loading
from homog.loading import LoadPath

LOADS = ("uniaxial", "uniaxial-strain", "shear", "cyclic")


def reference_materials_path() -> Path:
    """The shipped TOML of the reference materials (von Mises matrix, elastic inclusions)."""
    return Path(str(resources.files("homog.data").joinpath("reference_materials.toml")))


def add_loading_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--load", choices=LOADS, default="uniaxial",
                   help="uniaxial: ε_axis prescribed, other stresses zero; uniaxial-strain: "
                   "all other strains zero; shear: ε12 with other stresses zero; cyclic: "
                   "uniaxial tension-compression (default uniaxial)")
    p.add_argument("--strain", type=float, default=0.05, help="strain amplitude (default 0.05)")
    p.add_argument("--steps", type=int, default=200, help="increments (default 200)")
    p.add_argument("--axis", type=int, default=0, choices=(0, 1, 2), help="loading axis")
    p.add_argument("--cycles", type=int, default=1, help="cycles of --load cyclic")


def loading_from_args(args: argparse.Namespace) -> LoadPath:
    """The LoadPath the loading options describe."""
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
    p.add_argument("--plot", help="PNG file of the stress-strain curve")


def write_outputs(response, args: argparse.Namespace, label: str) -> None:
    """Write the CSV/PNG the output options ask for and print the final state."""
    comp = args.axis if args.load != "shear" else 5
    if args.output:
        response.to_csv(args.output)
        print(f"curve written to {args.output}")
    if args.plot:
        response.plot(args.plot, component=comp, label=label)
        print(f"plot written to {args.plot}")
    print(f"final strain {response.strain[-1, comp]:.6g}, stress {response.stress[-1, comp]:.6g} "
          f"(Mandel component {comp}), {len(response.iterations)} increments, "
          f"{int(response.iterations.sum())} Newton iterations")


def progress_bar(label: str):
    """A callable(done, total) drawing a one-line progress bar on stderr (terminals only)."""
    import sys
    import time

    start = time.perf_counter()
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        rate = done / max(time.perf_counter() - start, 1e-9)
        eta = (total - done) / rate if rate > 0 else 0.0
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                         f"{rate:.1f}/s eta {eta:.0f}s{end}")
        sys.stderr.flush()

    return show
