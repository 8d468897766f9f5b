"""Images as the models take them: flat float32 rows in [0, 1], in aligned memory."""

from __future__ import annotations

import numpy as np


def prepare(images: np.ndarray) -> np.ndarray:
    """Flatten 28x28 to 784 and scale 0-255 to 0-1, as float32.

    The array starts on a 64-byte boundary, so that TensorFlow can train from this
    memory instead of a copy of it (training/tensors.py).
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
