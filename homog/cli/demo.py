"""``homog demo``: the whole chain on a built-in 2D fibre composite, ROM against DNS.

Generates a periodic RVE of 30 % fibres, builds its SCA reduced-order model, runs it and the
full-field FFT reference on uniaxial stress, and writes into the output folder: both curves
(CSV) and their plot (PNG), the cluster map (PNG), a ParaView file of the RVE with phases,
clusters and the final equivalent plastic strain of the DNS (.vtu), the ROM (.npz) and the
materials (.toml). It prints the ROM's error and its speed-up over the DNS.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np

from homog.cli._options import RawDefaultsFormatter, add_threads_option, progress_bar
from homog.cli.build import parse_clusters
from homog.dns import dns
from homog.files import atomic_open
from homog.loading import check_strain, uniaxial_stress
from homog.materials import reference_materials_path
from homog.sca.model import build_rom
from homog.text import counted
from kernels.fft import BACKENDS

#: Smallest --size: fibres of radius 0.05 (of the RVE) are then ~2 voxels across.
MIN_SIZE = 16


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="RVE -> ROM -> run, against the full-field DNS",
                       description=__doc__, formatter_class=RawDefaultsFormatter)
    p.add_argument("-o", "--output", default="homog-demo", help="output folder")
    p.add_argument("--size", type=int, default=128, help="grid size N of the N×N RVE")
    p.add_argument("--clusters", default="0=12,1=6", help="clusters per phase (matrix, fibres)")
    p.add_argument("--strain", type=float, default=0.05, help="final ε11")
    p.add_argument("--steps", type=int, default=100, help="increments")
    p.add_argument("--seed", type=int, default=0, help="RVE and k-means random state")
    p.add_argument("--no-dns", action="store_true", help="skip the full-field reference")
    p.add_argument("--backend", choices=BACKENDS, default="auto", help="FFT/array backend")
    add_threads_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import rve_gen

    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise ValueError(f"-o {args.output!r} is a file; the demo writes several files into a "
                         "folder: give a folder name (it is created if missing)")
    # every option checked before anything is written
    if args.size < MIN_SIZE:
        raise ValueError(f"--size {args.size}: give at least {MIN_SIZE} (voxels across the RVE; "
                         "its fibres have a radius of 5 % of it)")
    if args.seed < 0:
        raise ValueError(f"--seed {args.seed}: give an integer >= 0")
    if args.steps < 1:
        raise ValueError(f"--steps {args.steps}: give at least 1 increment")
    clusters = parse_clusters(args.clusters)  # its errors name --clusters
    if not (np.isfinite(args.strain) and args.strain != 0.0):
        raise ValueError(f"--strain {args.strain!r}: give the final ε11, finite and non-zero")
    check_strain(args.strain, "--strain")
    path = uniaxial_stress(args.strain, args.steps)
    if set(clusters) != {0, 1}:
        raise ValueError(f"--clusters {args.clusters!r}: give the counts of the matrix (0) and "
                         "the fibres (1), e.g. 0=12,1=6")
    out.mkdir(parents=True, exist_ok=True)
    materials = reference_materials_path()
    shutil.copyfile(materials, out / "materials.toml")

    print(f"[1/4] RVE: 30 % fibres, {args.size}x{args.size} voxels (rve_gen.circles)")
    pack = rve_gen.circles(volume_fraction=0.3, radius=0.05, seed=args.seed)
    ms = pack.voxelize((args.size, args.size))
    ms.save(out / "rve.npz")

    print(f"[2/4] ROM offline stage, clusters {args.clusters}")
    t0 = time.perf_counter()
    rom = build_rom(ms, materials, clusters, backend=args.backend,
                    seed=args.seed, progress=lambda stage: print(f"      {stage}", flush=True))
    offline = time.perf_counter() - t0
    rom.save(out / "rom.npz")

    print(f"[3/4] ROM online stage, uniaxial stress to {args.strain:g} in {args.steps} "
          "increments")
    t0 = time.perf_counter()
    rom_curve = rom.run(path, progress=progress_bar("      ROM"))
    online = time.perf_counter() - t0
    rom_curve.to_csv(out / "rom.csv")

    dns_curve, dns_time = None, None
    if not args.no_dns:
        print("[4/4] full-field FFT reference (DNS)")
        t0 = time.perf_counter()
        dns_curve = dns(ms, materials, path, backend=args.backend, save_fields="last",
                        progress=progress_bar("      DNS"))
        dns_time = time.perf_counter() - t0
        dns_curve.to_csv(out / "dns.csv")

    _plot_curves(out / "curves.png", rom_curve, dns_curve)
    _plot_clusters(out / "clusters.png", rom.cluster_labels, rom.cluster_phases)
    _write_paraview(out / "rve.vtu", ms, rom.cluster_labels, dns_curve)

    print(f"\noffline {offline:.2f} s, online {online:.2f} s "
          f"({1e3 * online / args.steps:.1f} ms per increment, {counted(rom.K, 'cluster')})")
    if dns_curve is not None:
        final = rom_curve.stress[-1, 0] / dns_curve.stress[-1, 0] - 1
        scale = np.abs(dns_curve.stress[:, 0]).max()
        worst = np.abs(rom_curve.stress[:, 0] - dns_curve.stress[:, 0]).max() / scale
        print(f"DNS {dns_time:.1f} s: ROM final-stress error {100 * final:+.2f} %, largest "
              f"deviation along the curve {100 * worst:.2f} % of the peak")
        print(f"speed-up: {dns_time / online:.0f}x online, {dns_time / (online + offline):.0f}x "
              "offline + online")
    print(f"files written to {out}/: rve.npz rom.npz rom.csv"
          + (" dns.csv" if dns_curve is not None else "")
          + " curves.png clusters.png rve.vtu materials.toml")
    return 0


def _plot_curves(path: Path, rom_curve, dns_curve) -> None:
    if dns_curve is None:
        rom_curve.plot(path, label="ROM (SCA)")
    else:
        dns_curve.plot(path, other=rom_curve, label="DNS (FFT)", other_label="ROM (SCA)")


def _plot_clusters(path: Path, cluster_labels: np.ndarray, cluster_phases: np.ndarray) -> None:
    """The cluster map with the phases apart: each phase in its own colour family (its
    clusters from light to dark), phase boundaries drawn in black, a legend per phase."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    families = ("Blues", "Oranges", "Greens", "Purples", "Reds", "Greys")
    colours = np.empty((cluster_phases.size, 4))
    handles = []
    for k, phase in enumerate(np.unique(cluster_phases)):
        members = np.flatnonzero(cluster_phases == phase)
        cmap = colormaps[families[k % len(families)]]
        colours[members] = cmap(np.linspace(0.35, 0.95, members.size))
        handles.append(Patch(color=cmap(0.7),
                             label=f"phase {phase}: {counted(members.size, 'cluster')}"))
    figure = Figure(figsize=(5, 5.4), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.imshow(colours[cluster_labels].transpose(1, 0, 2), origin="lower",
                interpolation="nearest")
    phase_map = cluster_phases[cluster_labels].T
    if np.unique(phase_map).size > 1:
        axes.contour(phase_map, levels=np.unique(phase_map)[:-1] + 0.5, colors="black",
                     linewidths=0.6)
    axes.set_title(counted(cluster_phases.size, "cluster"))
    axes.set_xlabel("x1")
    axes.set_ylabel("x2")
    axes.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2,
                frameon=False)
    with atomic_open(path, "wb") as file:
        figure.savefig(file, format="png", dpi=120)


def _write_paraview(path: Path, ms, cluster_labels: np.ndarray, dns_curve) -> None:
    from rve_gen.io import write

    fields = {"cluster": cluster_labels.astype(np.int32)}
    if dns_curve is not None and "eqps" in dns_curve.fields:
        fields["eqps_dns_final"] = dns_curve.fields["eqps"][-1]
    write(path, ms, cell_data=fields)
