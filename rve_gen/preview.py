"""PNG preview of a microstructure (matplotlib, Agg canvas; no global backend change)."""

from __future__ import annotations

import os

import numpy as np

from rve_gen.microstructure import Microstructure


def preview(ms: Microstructure, path: str | os.PathLike) -> None:
    """Write a PNG: the label image in 2D, the three mid-slices (x1, x2, x3 normal) in 3D.

    Axis 0 (x1) is drawn horizontally, x2 vertically upwards; one colour per phase.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if ms.ndim == 2:
        panels = [("", ms.labels, ms.lengths)]
    else:
        mid = [n // 2 for n in ms.shape]
        L = ms.lengths
        panels = [
            (f"x1 = {L[0] / 2:.3g}", ms.labels[mid[0]], (L[1], L[2])),
            (f"x2 = {L[1] / 2:.3g}", ms.labels[:, mid[1]], (L[0], L[2])),
            (f"x3 = {L[2] / 2:.3g}", ms.labels[:, :, mid[2]], (L[0], L[1])),
        ]
    fig = Figure(figsize=(4 * len(panels), 4), dpi=100)
    FigureCanvasAgg(fig)
    vmax = max(ms.nphases - 1, 1)
    for k, (title, image, (w, h)) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        ax.imshow(
            np.asarray(image).T,
            origin="lower",
            extent=(0, w, 0, h),
            cmap="viridis",
            vmin=0,
            vmax=vmax,
            interpolation="nearest",
        )
        ax.set_title(title)
    fractions = ", ".join(f"{p} {f:.3f}" for p, f in zip(ms.phases, ms.volume_fractions))
    fig.suptitle(f"{'x'.join(map(str, ms.shape))} voxels: {fractions}", fontsize=9)
    fig.savefig(os.fspath(path), format="png")
