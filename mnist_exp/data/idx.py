"""IDX files (the format MNIST and Fashion-MNIST are published in), gzipped or raw."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from mnist_exp.errors import DataError, first_line

IDX_STEMS = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
# IDX type codes -> numpy dtypes (big-endian on disk).
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def find_idx_files(folder: Path) -> dict[str, Path]:
    """The four IDX files in a folder, gzipped or raw, '-idx3-' or '.idx3-' spelling."""
    found: dict[str, Path] = {}
    for key, stem in IDX_STEMS.items():
        dotted = stem.replace("-idx", ".idx")
        for name in (stem, f"{stem}.gz", dotted, f"{dotted}.gz"):
            if (folder / name).is_file():
                found[key] = folder / name
                break
    return found


def holds_idx_files(folder: Path) -> bool:
    return len(find_idx_files(folder)) == len(IDX_STEMS)


def read_idx_dir(folder: Path) -> tuple[np.ndarray, ...]:
    """x_train, y_train, x_test, y_test from the folder's four IDX files."""
    files = find_idx_files(folder)
    missing = [IDX_STEMS[key] for key in IDX_STEMS if key not in files]
    if missing:
        raise DataError(f"{folder} lacks the IDX files {missing} (raw or .gz)")
    return tuple(read_idx(files[key]) for key in IDX_STEMS)


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (http://yann.lecun.com/exdb/mnist/ format), gzipped or raw."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path} cannot be read ({first_line(exc)})") from exc
    if len(data) < 4:
        raise DataError(f"{path} is empty or too short to be an IDX file")
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code not in IDX_DTYPES or ndim == 0:
        raise DataError(f"{path} is not an IDX file (bad magic number)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path} is truncated (header incomplete)")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(IDX_DTYPES[type_code])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise DataError(
            f"{path} holds {len(data) - header} bytes of data; its header {shape} needs {expected}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)
