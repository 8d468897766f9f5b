"""What MNIST-style arrays must look like before anything trains on them."""

from __future__ import annotations

import numpy as np

from mnist_exp.errors import DataError

IMAGE_SHAPE = (28, 28)


def check_arrays(
    images: np.ndarray, labels: np.ndarray, part: str, source: str, n_classes: int
) -> None:
    """Refuse arrays that are not 28x28 uint8 images with labels 0..n_classes-1."""
    if images.ndim == 2 and images.shape[1] == np.prod(IMAGE_SHAPE):
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
        raise DataError(
            f"{source}: {part} labels are {labels.dtype}; expected integers 0-{n_classes - 1}"
        )
    if len(images) != len(labels):
        raise DataError(f"{source}: {len(images)} {part} images but {len(labels)} labels")
    if len(labels) == 0:
        raise DataError(f"{source}: the {part} set is empty")
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= n_classes:
        raise DataError(f"{source}: {part} labels span {low}..{high}; expected 0..{n_classes - 1}")
