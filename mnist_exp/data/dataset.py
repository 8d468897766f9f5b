"""The data a run trains on: read, checked, split, and prepared, with its description.

Labels stay integer class ids here; the encoding the loss needs is applied in
labels.py, so no stage can confuse one-hot rows with class ids.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnist_exp.config.schema import DataConfig, ValidationConfig
from mnist_exp.config.targets import TARGETS, locate_allowed
from mnist_exp.data.checks import IMAGE_SHAPE, check_arrays
from mnist_exp.data.prepare import prepare
from mnist_exp.data.sources import Raw
from mnist_exp.data.split import split, subsample


@dataclass(frozen=True)
class Dataset:
    """Prepared arrays: x float32 (n, 784) in [0, 1], y int64 class ids (n,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def image_shape(self) -> tuple[int, int]:
        return IMAGE_SHAPE

    @property
    def n_classes(self) -> int:
        return len(self.meta["class_names"])


# Sweep jobs that run in one process (the basic launcher's, each joblib or Ray
# worker's) mostly load the same data: the last dataset loaded is kept and handed out
# again, to be read only (nothing in a run writes into its arrays). Held once: the
# previous one is let go before another loads.
_kept: tuple[tuple, Dataset] | None = None


def load(cfg: DataConfig, validation: ValidationConfig, seed: int) -> Dataset:
    """Read the configured source and return train / validation / test arrays (the
    same Dataset as the last call's when config, seed and source files are the same)."""
    global _kept
    key = (repr(cfg), repr(validation), seed, _stamp(cfg.path))
    if _kept is not None and _kept[0] == key:
        return _kept[1]
    _kept = None
    dataset = _load(cfg, validation, seed)
    _kept = (key, dataset)
    return dataset


def _stamp(path: str | None) -> tuple:
    """What changes when a data file or folder given by path is written again."""
    if not path:
        return ()
    found = Path(path).expanduser()
    entries = [found, *sorted(found.iterdir())] if found.is_dir() else [found]
    try:
        return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in entries)
    except OSError:
        return (str(found),)  # missing: the read says so


def _load(cfg: DataConfig, validation: ValidationConfig, seed: int) -> Dataset:
    n_classes = len(cfg.class_names)
    (x_train, y_train, x_test, y_test), source = read(cfg, seed)
    check_arrays(x_train, y_train, "train", source, n_classes)
    check_arrays(x_test, y_test, "test", source, n_classes)
    checksum = _checksum(x_train, y_train, x_test, y_test)
    if cfg.limit_train is not None:
        x_train, y_train = subsample(x_train, y_train, cfg.limit_train, seed, "data.limit_train")
    if cfg.limit_test is not None:
        x_test, y_test = subsample(x_test, y_test, cfg.limit_test, seed, "data.limit_test")

    if validation.split == "test":
        x_val, y_val = x_test, y_test
    else:
        x_train, x_val, y_train, y_val = split(
            x_train, y_train, validation.size, seed, "validation.size"
        )
    meta = {
        "name": cfg.name,
        "source": source,
        "train": len(y_train),
        "val": len(y_val),
        "test": len(y_test),
        "validation": validation.split,
        "sha256": checksum,
        "class_names": list(cfg.class_names),
    }
    y_train, y_val, y_test = (np.asarray(y, dtype=np.int64) for y in (y_train, y_val, y_test))
    return Dataset(prepare(x_train), y_train, prepare(x_val), y_val, prepare(x_test), y_test, meta)


def read(cfg: DataConfig, seed: int) -> tuple[Raw, str]:
    """Raw arrays and a description of where they came from, by the reader that
    data._target_ names (a function of data/sources.py)."""
    reader = locate_allowed(cfg._target_, "data", TARGETS["data"])
    return reader(cfg, seed)


def _checksum(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
