"""The figures of a run: what they show, checked on the figure objects."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import to_rgba

from mnist_exp.config.schema import DataConfig
from mnist_exp.results import plots
from tests.helpers import class_names

DIGITS = DataConfig(name="mnist").class_names
FASHION = class_names("fashion_mnist")


def grid_parts(figure):
    (ax,) = figure.axes
    (image,) = ax.images
    labels = [(t.get_text(), to_rgba(t.get_color())) for t in ax.texts]
    return np.ma.filled(image.get_array(), np.nan), labels


def test_digit_grid_shows_each_digit_under_its_true_and_predicted_label():
    images = np.random.default_rng(0).random((9, 784)).astype(np.float32)
    truth = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8])
    predicted = np.array([0, 1, 2, 3, 4, 5, 6, 7, 9])  # the last one wrong
    montage, labels = grid_parts(plots.digit_grid(images, truth, predicted, "t", DIGITS))
    tiles = [
        montage[row * 37 + 9 : row * 37 + 37, col * 34 : col * 34 + 28]
        for row in range(3)
        for col in range(3)
    ]
    for tile, image in zip(tiles, images, strict=True):
        np.testing.assert_array_equal(tile, image.reshape(28, 28))
    assert [text for text, _ in labels] == [
        f"true {t}\npred {p}" for t, p in zip(truth, predicted, strict=True)
    ]
    assert [color for _, color in labels] == [to_rgba("tab:green")] * 8 + [to_rgba("tab:red")]
    # between and around the tiles: blank (NaN, drawn white), never a digit's pixels
    filled = sum(np.isfinite(tile).sum() for tile in tiles)
    assert np.isfinite(montage).sum() == filled == 9 * 784


def test_digit_grid_with_fewer_digits_leaves_the_rest_blank_and_says_none_when_empty():
    images = np.ones((2, 784), np.float32)
    montage, labels = grid_parts(plots.digit_grid(images, [9, 0], [0, 9], "t", FASHION))
    assert np.isfinite(montage).sum() == 2 * 784
    assert [text for text, _ in labels] == [
        "true Ankle boot\npred T-shirt/top",
        "true T-shirt/top\npred Ankle boot",
    ]
    empty = plots.digit_grid(np.zeros((0, 784), np.float32), [], [], "t", FASHION)
    assert [t.get_text() for t in empty.axes[0].texts] == ["none"]


def test_confusion_matrix_counts_true_against_predicted():
    truth = np.array([0, 0, 1, 2, 2, 2])
    predicted = np.array([0, 1, 1, 2, 2, 0])
    ax = plots.confusion_matrix(truth, predicted, DIGITS).axes[0]
    counts = np.asarray(ax.images[0].get_array())
    assert counts.shape == (10, 10)
    assert counts[0, 0] == 1 and counts[0, 1] == 1 and counts[1, 1] == 1
    assert counts[2, 2] == 2 and counts[2, 0] == 1 and counts.sum() == len(truth)
    assert ax.texts[2 * 10 + 2].get_text() == "2"  # the count written in its cell
    assert plots.long_names(FASHION) and not plots.long_names(DIGITS)
