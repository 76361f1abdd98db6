"""Import of segmented images (PNG/JPEG/BMP, TIFF stacks, .npy/.npz, arrays) as microstructures.

Grey levels or colours become phase labels, either explicitly (``phases``: value -> label),
by thresholds (``threshold``: grey level -> label by ``numpy.digitize``), or by their sorted
unique values (label k for the k-th smallest value or colour). An image with many distinct
values (anti-aliased edges, noise, an unsegmented scan) is refused with a hint to threshold it.
Axis 0 of the image array is x1 (image rows, TIFF pages).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from rve_gen.microstructure import Microstructure

#: More distinct values than this without ``phases`` or ``threshold`` is ambiguous.
MAX_PHASES = 16

RASTER = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
SUPPORTED = RASTER + (".tif", ".tiff", ".npy", ".npz")


def read_array(path: str | os.PathLike) -> tuple[np.ndarray, bool, tuple | None]:
    """The pixel array of an image file, whether its last axis holds colour channels, and the
    lengths stored by rve_gen (if any)."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in SUPPORTED:
        raise ValueError(
            f"unknown image type {ext or '(no extension)'!r} for {str(path)!r}: use one of "
            f"{', '.join(SUPPORTED)}."
        )
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    if ext in (".npy", ".npz") or (ext in (".png", ".tif", ".tiff") and _ours(path)):
        from rve_gen.io import read

        ms = read(path)
        return ms.labels, False, ms.lengths
    if ext in (".tif", ".tiff"):
        import tifffile

        with tifffile.TiffFile(path) as tif:
            return tif.asarray(), tif.pages[0].samplesperpixel > 1, None
    import imageio.v3 as iio

    array = iio.imread(path)
    return array, array.ndim == 3 and array.shape[-1] in (3, 4), None


def _ours(path: Path) -> bool:
    """Whether a PNG/TIFF carries rve_gen metadata."""
    from rve_gen.io import _metadata

    if path.suffix.lower() == ".png":
        from PIL import Image

        with Image.open(path) as image:
            return _metadata.KEY in getattr(image, "text", {})
    import tifffile

    with tifffile.TiffFile(path) as tif:
        return f'"format": "{_metadata.KEY}"' in (tif.pages[0].description or "")


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
        ``.npy``, ``.npz``) or an array ``(n1, n2)`` / ``(n1, n2, n3)`` (arrays are never read
        as colour).
    phases : ``{value: label}`` (a value is a grey level or an RGB(A) tuple), or a sequence of
        values, the k-th getting label k. Every pixel value must be listed.
    threshold : grey level(s) ``t_0 < t_1 < ...``: label = number of thresholds ``<=`` the
        grey value (colour images are converted to luminance first).
    lengths : RVE side lengths (default: those stored by rve_gen, else 1 per axis).
    phase_names : names of the labels 0, 1, ...
    """
    stored = None
    if isinstance(source, (str, os.PathLike)):
        array, colour, stored = read_array(source)
    else:
        array, colour = np.asarray(source), False
    if colour and array.shape[-1] == 4 and np.all(array[..., 3] == array[..., 3].flat[0]):
        array, colour = array[..., :3], True
    if colour and np.all(array[..., :3] == array[..., :1]):
        array, colour = array[..., 0], False
    if array.ndim - colour not in (2, 3) or array.size == 0:
        raise ValueError(f"image of shape {array.shape} is not a 2D image or 3D stack.")
    if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
        raise ValueError("the image contains NaN, infinity or non-numeric values: clean it first.")
    if phases is not None and threshold is not None:
        raise ValueError("give either phases or threshold, not both.")
    if threshold is not None:
        cuts = np.atleast_1d(np.asarray(threshold, dtype=float))
        if not np.all(np.isfinite(cuts)) or np.any(np.diff(cuts) <= 0):
            raise ValueError(f"threshold={threshold!r} must be finite and strictly increasing.")
        labels = np.digitize(_grey(array, colour), cuts)
    else:
        labels = _map_values(array, colour, phases)
    return Microstructure(labels, lengths if lengths is not None else stored, phase_names)


def _map_values(array: np.ndarray, colour: bool, phases) -> np.ndarray:
    """Labels from explicit or sorted unique pixel values (grey levels or colours)."""
    flat = array.reshape(-1, array.shape[-1]) if colour else array.reshape(-1, 1)
    values, inverse = np.unique(flat, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    shape = array.shape[:-1] if colour else array.shape
    if phases is None:
        if len(values) > MAX_PHASES:
            kind = "colours" if colour else "grey levels"
            raise ValueError(
                f"the image has {len(values)} distinct {kind} (more than {MAX_PHASES}): it "
                "looks anti-aliased, noisy or unsegmented. Pass threshold=... (e.g. "
                "threshold=128 for a two-phase 8-bit image) or phases={value: label}."
            )
        return inverse.reshape(shape)
    mapping = dict(phases) if isinstance(phases, Mapping) else {v: k for k, v in enumerate(phases)}
    keys = [tuple(np.atleast_1d(np.asarray(k, dtype=float))) for k in mapping]
    lookup = dict(zip(keys, mapping.values()))
    table = np.empty(len(values), dtype=np.int64)
    for row, value in enumerate(values):
        key = tuple(value.astype(float))
        if key not in lookup:
            if colour and len(key) == 4 and key[:3] in lookup:
                key = key[:3]
            else:
                shown = tuple(int(v) if float(v).is_integer() else float(v) for v in key)
                raise ValueError(
                    f"pixel value {shown[0] if len(shown) == 1 else shown} is not in phases; "
                    f"the image holds {len(values)} distinct values: list every one of them "
                    "(or use threshold=...)."
                )
        table[row] = lookup[key]
    return table[inverse].reshape(shape)
