"""Stratified splits and subsamples: every class in its share of each part."""

from __future__ import annotations

import math

import numpy as np

from mnist_exp.errors import ConfigError, DataError


def split(x, y, size: float, seed: int, key: str):
    """Stratified split (x_a, x_b, y_a, y_b); size is a fraction or a count of part b."""
    n, n_classes = len(y), len(np.unique(y))
    n_b = math.ceil(n * size) if 0 < size < 1 else int(size)  # a fraction rounds up
    if n_b >= n or n - n_b < n_classes or n_b < n_classes:
        raise ConfigError(
            f"{key}={size!r} leaves {n - n_b} of {n} examples on one side; each side needs "
            f"at least one per class"
        )
    a, b = stratified_indices(y, n - n_b, n_b, seed, key)
    return x[a], x[b], y[a], y[b]


def subsample(x, y, limit: int, seed: int, key: str):
    if limit >= len(y):
        return x, y
    if limit < len(np.unique(y)):
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
