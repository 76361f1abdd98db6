"""``homog run``: the SCA online stage of a saved ROM on a load path.

    homog run rom.npz --load uniaxial --strain 0.05 --steps 200 -o curve.csv --plot curve.png
"""

from __future__ import annotations

import argparse
import time

from homog.cli._options import (
    add_loading_options,
    add_output_options,
    add_threads_option,
    check_output_options,
    loading_from_args,
    progress_bar,
    write_outputs,
)
from homog.sca.model import load_rom


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a saved reduced-order model on a load path",
                       description="Run the self-consistent SCA online stage of a ROM file.")
    p.add_argument("rom", help="ROM file written by 'homog build'")
    add_loading_options(p)
    add_output_options(p)
    add_threads_option(p)
    p.add_argument("--scs", choices=("regression", "projection"), default="regression",
                   help="self-consistent scheme of the reference medium")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output_options(args)
    path = loading_from_args(args)
    rom = load_rom(args.rom)
    t0 = time.perf_counter()
    response = rom.run(path, scs=args.scs, progress=progress_bar("ROM"))
    print(f"online stage: {time.perf_counter() - t0:.2f} s for {rom.K} clusters")
    write_outputs(response, args, "ROM")
    return 0
