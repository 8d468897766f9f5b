"""The images in an INPUT path: an image file, or a .npy/.npz of images in MNIST form.

Reading files happens here, at the edge; images.py turns pixels into MNIST's form.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist_exp.errors import first_line
from mnist_exp.predict.images import InputError, Item, from_array, normalise, to_gray

ARRAY_SUFFIXES = (".npy", ".npz")
NPZ_KEYS = ("x_test", "images", "x")  # tried in this order in an npz with several arrays


def read_input(path: Path) -> list[Item]:
    """The images in one INPUT path; raises InputError with the reason in one line."""
    if path.is_dir():
        raise InputError("is a directory, not an image")
    if not path.exists():
        raise InputError("no such file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read it ({exc.strerror})") from None
    if size == 0:
        raise InputError("empty file")
    if path.suffix.lower() in ARRAY_SUFFIXES:
        return from_array(read_array(path), path.name)
    return [Item(path.name, normalise(read_image(path)))]


def read_image(path: Path) -> np.ndarray:
    """An image file's pixels as (h, w) gray 0-255, upright (EXIF), alpha flattened."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            rgba = np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
    except UnidentifiedImageError:
        raise InputError("not an image (PNG or JPEG expected)") from None
    except Image.DecompressionBombError as exc:
        raise InputError(f"image too large ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise InputError(f"cannot decode the image ({exc})") from None
    if has_alpha:
        return to_gray(rgba[..., :3], rgba[..., 3])
    return to_gray(rgba)


def read_array(path: Path) -> np.ndarray:
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"not a readable {path.suffix} file ({first_line(exc)})") from None
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        keys = list(loaded.keys())
        if len(keys) == 1:
            return loaded[keys[0]]
        for key in NPZ_KEYS:
            if key in keys:
                return loaded[key]
    raise InputError(f"has arrays {', '.join(keys) or '(none)'}; expected one, or x_test")
