"""The one rule that turns the pixels of a file into phase labels, for every format and command.

- Integer arrays (``.npy``, ``.npz``, files written by rve_gen) keep their labels.
- Grey-level images keep their grey levels as labels: a 0/255 PNG has the labels 0 and 255
  (a palette image: its palette indices). Only the values present are phases.
- Colour images have no numbers to keep: label k is the k-th distinct colour in sorted
  (R, G, B) order. Pass ``phases={colour: label}`` to choose.
- An image (not an array) with more than :data:`MAX_PHASES` distinct values is not segmented
  (anti-aliasing, noise, a raw scan) and is refused with a hint to threshold it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rve_gen.microstructure import Microstructure


class LabelError(ValueError):
    """A file was read but its values are not usable as phase labels (the message says why)."""


#: More distinct values than this in an image without ``phases`` or ``threshold`` is ambiguous.
MAX_PHASES = 16


@dataclass
class Pixels:
    """The raw content of an image or array file.

    array : pixel values, ``(n1, n2[, n3])`` or, with ``colour``, ``(..., channels)``.
    colour : whether the last axis holds colour channels (RGB or RGBA).
    image : whether the values are those of a picture (grey levels, colours) rather than
        labels written as labels (arrays, files written by rve_gen).
    lengths, phases : stored by rve_gen in the file, or None.
    """

    array: np.ndarray
    colour: bool = False
    image: bool = False
    lengths: tuple | None = None
    phases: tuple | None = None


def without_alpha(pixels: Pixels) -> Pixels:
    """Drop a constant alpha channel and turn grey images stored as RGB into grey levels."""
    array, colour = pixels.array, pixels.colour
    if array.dtype == bool:
        array = array.astype(np.uint8)
    if colour and array.shape[-1] in (2, 4) and np.all(array[..., -1] == array[..., -1].flat[0]):
        array = array[..., :-1]
    if colour and np.all(array == array[..., :1]):
        array, colour = array[..., 0], False
    return Pixels(array, colour, pixels.image, pixels.lengths, pixels.phases)


def check_shape(pixels: Pixels, source: str) -> None:
    """A 2D image or 3D stack of finite numbers."""
    array = pixels.array
    if array.ndim - pixels.colour not in (2, 3) or array.size == 0:
        raise LabelError(
            f"{source} holds an array of shape {array.shape}, not a 2D image or a 3D stack: "
            "give one label per pixel/voxel, e.g. shape (256, 256) or (64, 64, 64)."
        )
    if array.dtype.kind not in "biuf" or not np.all(np.isfinite(array)):
        raise LabelError(
            f"{source} contains NaN, infinity or non-numeric values: clean the image first "
            "(phase labels are whole numbers 0, 1, 2, ...)."
        )


def labels_of(pixels: Pixels, source: str) -> np.ndarray:
    """Integer labels of ``pixels`` by the module's rule (see the module docstring)."""
    pixels = without_alpha(pixels)
    check_shape(pixels, source)
    array = pixels.array
    if pixels.colour:
        values, inverse = np.unique(array.reshape(-1, array.shape[-1]), axis=0,
                                    return_inverse=True)
        _check_count(len(values), "colours", source)
        return inverse.reshape(array.shape[:-1]).astype(np.int32)
    whole = np.issubdtype(array.dtype, np.integer) or bool(np.all(array == np.round(array)))
    if pixels.image:
        _check_count(np.unique(array).size, "grey levels", source)
    if not whole:
        raise LabelError(
            f"{source} holds non-integer values (e.g. {array[array != np.round(array)].flat[0]!r}):"
            " phase labels are whole numbers. Segment it with threshold=... (CLI: --threshold) "
            "or phases={value: label} (CLI: --phases VALUE=LABEL)."
        )
    if array.min() < 0:
        raise LabelError(
            f"{source} holds negative values ({array.min()}): phase labels are 0, 1, 2, ...; "
            "shift them or map them with phases={value: label} (CLI: --phases VALUE=LABEL)."
        )
    if array.max() > np.iinfo(np.int32).max:
        raise LabelError(
            f"{source} holds labels up to {array.max()}, beyond the int32 range of phase "
            "labels: number the phases 0, 1, 2, ... or map them with phases={value: label} "
            "(CLI: --phases VALUE=LABEL)."
        )
    return array.astype(np.int32)


def _check_count(count: int, kind: str, source: str) -> None:
    if count > MAX_PHASES:
        raise LabelError(
            f"{source} has {count} distinct {kind} (more than {MAX_PHASES}): it looks "
            "anti-aliased, noisy or unsegmented. Segment it with threshold=... (e.g. "
            "threshold=128 for a two-phase 8-bit image; CLI: --threshold 128) or "
            "phases={value: label} (CLI: --phases VALUE=LABEL)."
        )


def microstructure(pixels: Pixels, source: str) -> Microstructure:
    """The microstructure of a file's pixels: labels by :func:`labels_of`, stored metadata."""
    return Microstructure(labels_of(pixels, source), pixels.lengths, pixels.phases)
