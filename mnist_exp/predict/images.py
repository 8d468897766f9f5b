"""Images in MNIST's form, from any image: pure functions, pixels in, pixels out.

Images are normalised the way MNIST's digits were: grayscale, light digit on a dark
background, the digit fitted into a 20x20 box keeping its aspect ratio and centred
by its centre of mass in 28x28. An image that is already 28x28 is only made
grayscale and light-on-dark.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_exp.errors import UserError

SIZE = 28  # MNIST's images: 28x28 ...
BOX = 20  # ... with the digit fitted into 20x20, keeping its aspect ratio
INK = 0.1  # after normalising, pixels above this fraction of the brightest are the digit
MIN_CONTRAST = 24  # grey levels between background and ink; less is a blank image


class InputError(UserError):
    """One input that cannot be predicted: the message says why, in one line."""

    reason = "input_error"


@dataclass
class Item:
    """One image to predict: its name in the table, and its pixels 0-255 (28, 28)."""

    name: str
    pixels: np.ndarray


def to_gray(rgb: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
    """(h, w[, 3]) 0-255 -> (h, w) float gray; transparent pixels take the colour that
    contrasts with the ink, so a digit on a transparent background stays visible."""
    gray = rgb.astype(np.float64)
    if gray.ndim == 3:
        gray = gray[..., :3] @ np.array([0.299, 0.587, 0.114])  # ITU-R 601-2, as Pillow's L
    if alpha is None:
        return gray
    a = alpha.astype(np.float64) / 255.0
    opaque = a > 0.5
    ink_is_dark = not opaque.any() or gray[opaque].mean() < 128
    background = 255.0 if ink_is_dark else 0.0
    return gray * a + background * (1.0 - a)


def normalise(gray: np.ndarray) -> np.ndarray:
    """Any-size grayscale 0-255 -> uint8 (28, 28), light digit on dark, MNIST style.

    The background is the median of the border pixels: a light one is inverted.
    Then background -> 0 and the brightest ink -> 255. A 28x28 image stays where
    it is; any other is cropped to its digit, fitted into 20x20 keeping the aspect
    ratio and placed with its centre of mass at the centre, as MNIST's digits were.
    Raises InputError for a blank image.
    """
    from PIL import Image

    g = np.asarray(gray, dtype=np.float64)
    if g.ndim != 2 or min(g.shape) < 1:
        raise InputError(f"expected a 2-D grayscale image, got shape {g.shape}")
    if np.median(border(g)) > 127:  # dark ink on light paper
        g = 255.0 - g
    g = np.clip(g - np.median(border(g)), 0, None)
    peak = g.max()
    if peak < MIN_CONTRAST:
        raise InputError("blank image: no digit found")
    g = g * (255.0 / peak)
    if g.shape == (SIZE, SIZE):
        return np.round(g).astype(np.uint8)

    rows, cols = np.nonzero(g > INK * 255)
    crop = g[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # Pillow: (width, height)
    small = Image.fromarray(np.round(crop).astype(np.uint8)).resize(
        size, Image.Resampling.LANCZOS, reducing_gap=3.0
    )
    digit = np.asarray(small, dtype=np.float64)
    return np.round(center_of_mass_paste(digit)).astype(np.uint8)


def center_of_mass_paste(digit: np.ndarray) -> np.ndarray:
    """Place a digit of at most 20x20 in 28x28 with its centre of mass at the centre."""
    h, w = digit.shape
    total = digit.sum()
    ys, xs = np.indices(digit.shape)
    cy = (ys * digit).sum() / total if total else (h - 1) / 2
    cx = (xs * digit).sum() / total if total else (w - 1) / 2
    top = int(np.clip(round(SIZE / 2 - cy), 0, SIZE - h))
    left = int(np.clip(round(SIZE / 2 - cx), 0, SIZE - w))
    canvas = np.zeros((SIZE, SIZE))
    canvas[top : top + h, left : left + w] = digit
    return canvas


def border(g: np.ndarray) -> np.ndarray:
    return np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])


def from_array(array: np.ndarray, name: str) -> list[Item]:
    """Images already in MNIST form: (28, 28), (n, 28, 28), (n, 28, 28, 1) or (n, 784);
    uint8 0-255 or floats 0-1 (or 0-255). Taken as they are: light digits on dark."""
    a = np.asarray(array)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise InputError(f"holds {a.dtype} values, not pixels")
    if a.shape == (SIZE, SIZE):
        a = a[None]
    if a.ndim == 4 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 2 and a.shape[1] == SIZE * SIZE:
        a = a.reshape(-1, SIZE, SIZE)
    if a.ndim != 3 or a.shape[1:] != (SIZE, SIZE):
        raise InputError(f"has shape {a.shape}; expected (n, 28, 28), (n, 784) or (28, 28)")
    if len(a) == 0:
        raise InputError("holds no images")
    a = a.astype(np.float64)
    if not np.isfinite(a).all() or a.min() < 0:
        raise InputError("holds negative or non-finite values; pixels are 0-255 or 0-1")
    if a.max() <= 1.0 and array.dtype != np.uint8:
        a = a * 255.0
    if a.max() > 255:
        raise InputError(f"holds values up to {a.max():g}; pixels are 0-255 or 0-1")
    pixels = np.round(a).astype(np.uint8)
    if len(pixels) == 1:
        return [Item(name, pixels[0])]
    return [Item(f"{name}[{i}]", p) for i, p in enumerate(pixels)]
