"""`mnist-exp-predict RUN_DIR_OR_MODEL INPUT...`: a trained model's digits for images.

An INPUT is an image file (PNG, JPEG, or anything else Pillow reads: any size,
colour or grayscale, dark ink on light paper or light on dark) or a .npy/.npz
of images already in MNIST form. Images are normalised the way MNIST's digits
were: grayscale, light digit on a dark background, the digit fitted into a
20x20 box keeping its aspect ratio and centred by its centre of mass in 28x28.
An image that is already 28x28 is only made grayscale and light-on-dark.

Reading files happens at the edge (`read_input`); `normalise`, `to_gray` and
`ranked` are pure. A bad input is one line on stderr and the others are still
predicted; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_exp.errors import UserError

SIZE = 28  # MNIST's images: 28x28 ...
BOX = 20  # ... with the digit fitted into 20x20, keeping its aspect ratio
INK = 0.1  # after normalising, pixels above this fraction of the brightest are the digit
MIN_CONTRAST = 24  # grey levels between background and ink; less is a blank image
ARRAY_SUFFIXES = (".npy", ".npz")
NPZ_KEYS = ("x_test", "images", "x")  # tried in this order in an npz with several arrays
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2


class InputError(UserError):
    """One input that cannot be predicted: the message says why, in one line."""

    reason = "input_error"


@dataclass
class Item:
    """One image to predict: its name in the table, and its pixels 0-255 (28, 28)."""

    name: str
    pixels: np.ndarray


# --- pure: pixels in, pixels out -------------------------------------------------------


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


def ranked(probabilities: np.ndarray, top: int) -> list[list[tuple[int, float]]]:
    """Per row, the `top` (class, probability) pairs, most probable first."""
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :top]
    return [
        [(int(c), float(row[c])) for c in cols]
        for row, cols in zip(probabilities, order, strict=True)
    ]


# --- the edge: files in -----------------------------------------------------------------


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
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InputError(f"not a readable {path.suffix} file ({first})") from None
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


def model_path(target: Path) -> Path:
    """RUN_DIR -> RUN_DIR/model.keras; a model file as it is."""
    from mnist_exp.artifacts import MODEL

    if target.is_dir():
        path = target / MODEL
        if not path.is_file():
            raise UserError(f"{target} has no {MODEL}: not a completed run directory")
        return path
    if not target.is_file():
        raise UserError(f"{target}: no such run directory or model file")
    return target


def class_names(target: Path, n_classes: int) -> list[str]:
    """The run's class names (metrics.json: data.class_names), else 0..n-1."""
    from mnist_exp.artifacts import METRICS, read_json

    folder = target if target.is_dir() else target.parent
    try:
        names = read_json(folder / METRICS)["data"]["class_names"]
        if isinstance(names, list) and len(names) == n_classes:
            return [str(n) for n in names]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return [str(i) for i in range(n_classes)]


def predict(model, items: list[Item]) -> np.ndarray:
    """(n, classes) probabilities for the items, shaped for the model's input."""
    from mnist_exp.data import prepare
    from mnist_exp.loop import predict as predict_batches

    x = prepare(np.stack([item.pixels for item in items]))
    shape = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else (784,)
    if np.prod(shape) != x.shape[1]:
        raise UserError(f"the model takes inputs of shape {shape}, not 28x28 images")
    return predict_batches(model, x.reshape(-1, *shape))


# --- the command ------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mnist-exp-predict",
        description="Predict the digit in each image with a trained mnist-exp model.",
        epilog=(
            "Images of any size, colour or grayscale, dark-on-light or light-on-dark, are "
            "normalised as MNIST's digits were (grayscale, light on dark, fitted into 20x20 "
            "keeping the aspect ratio, centred by mass in 28x28). A .npy/.npz holds images "
            "already in MNIST form: (n, 28, 28) or (n, 784), 0-255 or 0-1. Exit code: 0, "
            "1 when some inputs could not be read, 2 when nothing could be predicted."
        ),
    )
    parser.add_argument("model", type=Path, help="a run directory, or a .keras/.h5 model file")
    parser.add_argument("inputs", type=Path, nargs="+", metavar="INPUT", help="images, .npy, .npz")
    parser.add_argument("--csv", type=Path, help="also write every prediction to this CSV file")
    parser.add_argument("--top", type=int, default=3, help="classes listed per image (3)")
    parser.add_argument("--rows", type=int, default=50, help="table rows shown; 0: all (50)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = parse_args(argv)
    try:
        sys.exit(run(args))
    except UserError as exc:
        print_error(str(exc))
        sys.exit(EXIT_USAGE)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    if args.top < 1:
        raise UserError(f"--top {args.top}: give 1 or more")
    path = model_path(args.model)
    items, failed = [], 0
    for source in args.inputs:
        try:
            items.extend(read_input(source))
        except InputError as exc:
            print_error(f"{source}: {exc}")
            failed += 1
    if not items:
        raise UserError("no input could be read; nothing to predict")

    from mnist_exp.train import load_model  # imports TensorFlow: only once there is work

    model = load_model(path)
    probabilities = predict(model, items)
    names = class_names(args.model, probabilities.shape[1])
    table = results(items, ranked(probabilities, min(args.top, probabilities.shape[1])), names)
    console = Console()
    print_table(console, table, path, args.rows)
    if args.csv is not None:
        from mnist_exp.artifacts import write_csv

        write_csv(args.csv, table)
        console.print(f"wrote {len(table)} predictions to {args.csv}", highlight=False)
    return EXIT_SOME_FAILED if failed else 0


def results(items: list[Item], top: list[list[tuple[int, float]]], names: list[str]):
    """One row per image: file, predicted, confidence, then the runners-up."""
    import pandas as pd

    rows = []
    for item, ranks in zip(items, top, strict=True):
        row = {"file": item.name, "predicted": names[ranks[0][0]], "confidence": ranks[0][1]}
        for k, (cls, p) in enumerate(ranks[1:], start=2):
            row[f"top{k}"], row[f"top{k}_confidence"] = names[cls], p
        rows.append(row)
    return pd.DataFrame(rows)


def print_table(console, table, model: Path, limit: int) -> None:
    from rich.markup import escape
    from rich.table import Table

    view = Table(title=f"predictions of {model}", title_justify="left")
    view.add_column("file", overflow="fold")
    view.add_column("predicted", justify="center")
    view.add_column("confidence", justify="right")
    view.add_column(f"top {1 + sum(c.endswith('_confidence') for c in table.columns)}")
    shown = table if limit <= 0 else table.head(limit)
    for row in shown.to_dict("records"):
        top = [(row["predicted"], row["confidence"])]
        k = 2
        while f"top{k}" in row:
            top.append((row[f"top{k}"], row[f"top{k}_confidence"]))
            k += 1
        view.add_row(  # escape: file and class names are text, not rich markup
            escape(row["file"]),
            f"[bold]{escape(row['predicted'])}[/]",
            f"{row['confidence']:.3f}",
            escape("  ".join(f"{name} {p:.3f}" for name, p in top)),
        )
    console.print(view)
    if len(shown) < len(table):
        console.print(f"... and {len(table) - len(shown)} more (all of them: --csv FILE)")


def print_error(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True).print(
        f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True
    )


if __name__ == "__main__":
    main()
