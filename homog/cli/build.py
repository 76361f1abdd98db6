"""``homog build``: the SCA offline stage, from an image (or saved microstructure) to a ROM file.

    homog build IMAGE --materials mats.toml --clusters 0=12,1=6 -o rom.npz
"""

from __future__ import annotations

import argparse
import time

from homog.cli._options import add_threads_option, reference_materials_path
from homog.rom import build_rom
from kernels.fft import BACKENDS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help="build an SCA reduced-order model (offline stage)",
                       description="Elastic FFT strain concentration, k-means clustering per "
                       "phase and interaction tensors of an RVE image; writes one .npz file.")
    p.add_argument("image", help="label image (.npy/.npz/.tif/.png) or saved microstructure")
    p.add_argument("--materials", help="TOML file with a [phases.LABEL] table per phase "
                   "(default: the reference von Mises matrix / elastic inclusion materials)")
    p.add_argument("--clusters", required=True, metavar="LABEL=K,...",
                   help="clusters per phase, e.g. 0=12,1=6")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    add_threads_option(p)
    p.add_argument("-o", "--output", required=True, help="ROM file (.npz)")
    p.set_defaults(func=run)


def parse_clusters(text: str) -> dict[int, int]:
    """'0=12,1=6' -> {0: 12, 1: 6}, with a clear error otherwise."""
    try:
        pairs = (item.split("=") for item in text.split(","))
        return {int(label): int(count) for label, count in pairs}
    except ValueError:
        raise ValueError(f"--clusters {text!r}: expected LABEL=COUNT,..., e.g. 0=12,1=6") from None


def load_microstructure(path: str):
    """A saved microstructure (rve_gen.load) or an image (rve_gen.from_image)."""
    import rve_gen

    try:
        return rve_gen.load(path)
    except ValueError:
        return rve_gen.from_image(path)


def run(args: argparse.Namespace) -> int:
    ms = load_microstructure(args.image)
    materials = args.materials or reference_materials_path()
    t0 = time.perf_counter()
    rom = build_rom(ms, materials, parse_clusters(args.clusters), backend=args.backend,
                    seed=args.seed, progress=lambda stage: print(f"... {stage}", flush=True))
    rom.save(args.output)
    timings = ", ".join(f"{k[:-2]} {v:.2f} s" for k, v in rom.info["timings"].items())
    print(f"ROM with {rom.K} clusters {rom.n_clusters} written to {args.output} "
          f"({time.perf_counter() - t0:.2f} s: {timings})")
    return 0
