"""``homog run``: the SCA online stage of a saved ROM on a load path.

    homog run rom.npz --load uniaxial --strain 0.05 --steps 200 -o curve.csv --plot curve.png
    homog run rom.npz --strain 0.1 --steps 300 --to-failure     # and print the failure metrics
    homog run rom.npz --load cyclic --strain 0.02 --rewind 1    # refined clusters from the start
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
from homog.failure import failure_metrics, run_to_failure
from homog.sca.adaptive import Adaptivity
from homog.sca.model import load_rom
from homog.text import counted


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a saved reduced-order model on a load path",
                       description="Run the self-consistent SCA online stage of a ROM file.")
    p.add_argument("rom", help="ROM file written by 'homog build'")
    add_loading_options(p)
    add_output_options(p)
    add_threads_option(p)
    p.add_argument("--scs", choices=("regression", "projection"), default="regression",
                   help="self-consistent scheme of the reference medium")
    p.add_argument("--to-failure", action="store_true",
                   help="stop when the stress falls below --drop × its peak and print the "
                   "failure metrics (toughness, peak, strain at peak, failure strain)")
    p.add_argument("--drop", type=float, default=0.5,
                   help="fraction of the peak that defines failure, with --to-failure")
    p.add_argument("--rewind", type=int, default=0, metavar="N",
                   help="a model with adaptive clusters starts the path again on its refined "
                   "clusters after each of the first N increments where they split, so that "
                   "their history is their own (symmetric cyclic loops; monotonic curves "
                   "about a point lower: docs/adaptive.md)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output_options(args)
    if args.drop != 0.5 and not args.to_failure:
        raise ValueError(f"--drop {args.drop:g} sets the failure point of --to-failure, which "
                         "is not given")
    if args.rewind < 0:
        raise ValueError(f"--rewind {args.rewind}: give 0 or more rewinds")
    path = loading_from_args(args)
    adaptivity = Adaptivity(rewind=args.rewind) if args.rewind else "auto"
    rom = load_rom(args.rom)
    if args.rewind and rom.hierarchy is None:
        raise ValueError(f"--rewind {args.rewind}: {args.rom} has static clusters (built with "
                         "--static, or no inelastic phase), which never split")
    t0 = time.perf_counter()
    if args.to_failure:
        response = run_to_failure(rom, path, drop=args.drop, scs=args.scs,
                                  adaptivity=adaptivity, progress=progress_bar("ROM"))
    else:
        response = rom.run(path, scs=args.scs, adaptivity=adaptivity,
                           progress=progress_bar("ROM"))
    final = sum(response.info["clusters"].values())
    refined = f", refined to {final}" if final != rom.K else ""
    rewound = response.info.get("rewinds")
    rewound = f", started again at increment {', '.join(map(str, rewound))}" if rewound else ""
    print(f"online stage: {time.perf_counter() - t0:.2f} s for "
          f"{counted(rom.K, 'cluster')}{refined}{rewound}")
    write_outputs(response, args, "ROM")
    if args.to_failure:
        m = failure_metrics(response, drop=args.drop)
        state = (f"failed at strain {m.failure_strain:.6g} ({m.failure_mode})" if m.failed else
                 "did not fail by the end of the path: lengthen it (--strain); the toughness "
                 "below only bounds the material's" + (
                     "" if m.peaked else ", and so does the peak stress (still rising)"))
        print(f"{state}\ntoughness {m.toughness:.6g}, peak stress {m.peak_stress:.6g} at "
              f"strain {m.strain_at_peak:.6g}, initial stiffness {m.initial_stiffness:.6g} "
              f"(measure {m.measure})")
    return 0
