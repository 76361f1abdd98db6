"""Import of images (PNG/JPEG/BMP/GIF, TIFF stacks, .npy/.npz, arrays) as microstructures.

Without segmentation, the labels follow the one rule every command uses
(:mod:`rve_gen.io._pixels`): integer arrays keep their labels, grey-level images their grey
levels, colour images number their distinct colours in sorted order; an image with more than
16 distinct values is refused with a hint to threshold it. To segment, map pixel values
explicitly (``phases``: value -> label) or by thresholds (``threshold``: grey level -> label by
``numpy.digitize``). Axis 0 of the image array is x1 (image rows, TIFF pages).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from rve_gen._checks import ParameterError
from rve_gen.io._pixels import MAX_PHASES, Pixels, check_shape, labels_of, without_alpha
from rve_gen.microstructure import Microstructure

__all__ = ["MAX_PHASES", "from_image"]


def _grey(array: np.ndarray, colour: bool) -> np.ndarray:
    """Luminance (ITU-R BT.601) of a colour image, the array itself otherwise."""
    if not colour:
        return array.astype(float)
    rgb = array[..., :3].astype(float)
    return rgb @ np.array([0.299, 0.587, 0.114])


def from_image(
    source: str | os.PathLike | np.ndarray,
    phases: Mapping | Sequence | None = None,
    threshold: float | Sequence[float] | None = None,
    lengths: Sequence[float] | float | None = None,
    phase_names: Sequence[str] | None = None,
) -> Microstructure:
    """Microstructure from an image file or array.

    Parameters
    ----------
    source : path (``.png``, ``.jpg``, ``.bmp``, ``.gif``, ``.tif``/``.tiff`` incl. 3D stacks,
        ``.npy``, ``.npz``; without ``phases``/``threshold`` also any format of
        :mod:`rve_gen.io`) or an array ``(n1, n2)`` / ``(n1, n2, n3)`` (arrays are never read
        as colour).
    phases : ``{value: label}`` (a value is a grey level or an RGB(A) tuple), or a sequence of
        values, the k-th getting label k. Every pixel value must be listed.
    threshold : grey level(s) ``t_0 < t_1 < ...``: label = number of thresholds ``<=`` the
        grey value (colour images are converted to luminance first); a threshold outside
        the range of an integer image's dtype (e.g. 300 for 8 bits) is a ValueError.
    lengths : RVE side lengths (default: those stored by rve_gen, else 1 per axis).
    phase_names : names of the labels 0, 1, ... (default: those stored by rve_gen; defaults
        after a segmentation, whose labels are new).

    Without ``phases`` and ``threshold`` this is :func:`rve_gen.load` (same labels).
    """
    if phases is not None and threshold is not None:
        raise ValueError("give either phases or threshold, not both.")
    if isinstance(source, (str, os.PathLike)):
        from rve_gen import io

        if phases is None and threshold is None:
            ms = io.read(source)
            return Microstructure(ms.labels, lengths if lengths is not None else ms.lengths,
                                  phase_names if phase_names is not None else ms.phases)
        pixels, name = io.pixels(source), os.fspath(source)
    else:
        pixels, name = Pixels(np.asarray(source)), "the array"
    if phases is None and threshold is None:
        labels = labels_of(pixels, name)
    else:
        pixels = without_alpha(pixels)
        check_shape(pixels, name)
        if threshold is not None:
            cuts = np.atleast_1d(np.asarray(threshold, dtype=float))
            if cuts.size == 0 or not np.all(np.isfinite(cuts)) or np.any(np.diff(cuts) <= 0):
                raise ParameterError(
                    "threshold", threshold, "must be one or more finite, strictly increasing "
                    "grey levels, e.g. 128."
                )
            if np.issubdtype(pixels.array.dtype, np.integer):
                info = np.iinfo(pixels.array.dtype)
                outside = cuts[(cuts <= info.min) | (cuts > info.max)]
                if outside.size:
                    which = "lies" if cuts.size == 1 else f"has {outside[0]:g}, which lies"
                    raise ParameterError(
                        "threshold", threshold, f"{which} outside the grey levels a "
                        f"{pixels.array.dtype} image can hold ({info.min}..{info.max}), so a "
                        "phase could never have a pixel: give thresholds in that range."
                    )
            labels = np.digitize(_grey(pixels.array, pixels.colour), cuts)
        else:
            labels = _map_values(pixels.array, pixels.colour, phases)
    return Microstructure(labels, lengths if lengths is not None else pixels.lengths, phase_names)


def _map_values(array: np.ndarray, colour: bool, phases: Mapping | Sequence) -> np.ndarray:
    """Labels from an explicit map of pixel values (grey levels or colours) to labels."""
    flat = array.reshape(-1, array.shape[-1]) if colour else array.reshape(-1, 1)
    values, inverse = np.unique(flat, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    shape = array.shape[:-1] if colour else array.shape
    mapping = dict(phases) if isinstance(phases, Mapping) else {v: k for k, v in enumerate(phases)}
    keys = [tuple(np.atleast_1d(np.asarray(k, dtype=float))) for k in mapping]
    lookup = dict(zip(keys, mapping.values()))
    bad = [v for v in lookup.values() if isinstance(v, bool) or not isinstance(v, int | np.integer)
           or v < 0]
    if bad:
        raise ParameterError(
            "phases", phases, f"maps a pixel value to {bad[0]!r}: labels are integers 0, 1, 2, ..."
        )
    table = np.empty(len(values), dtype=np.int64)
    for row, value in enumerate(values):
        key = tuple(value.astype(float))
        if key not in lookup:
            if colour and len(key) == 4 and key[:3] in lookup:
                key = key[:3]
            else:
                shown = tuple(int(v) if float(v).is_integer() else float(v) for v in key)
                present = ", ".join(
                    str(tuple(int(x) for x in v) if colour else int(v[0])) for v in values[:8]
                ) + (", ..." if len(values) > 8 else "")
                raise ParameterError(
                    "phases", phases, "does not list pixel value "
                    f"{shown[0] if len(shown) == 1 else shown}; the image holds {len(values)} "
                    f"distinct values ({present}): list every one of them (or use "
                    "threshold=...)."
                )
        table[row] = lookup[key]
    return table[inverse].reshape(shape)
