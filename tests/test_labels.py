"""Label encodings and the guard that keeps one-hot rows and class ids apart."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_exp.data.labels import check_class_ids, count_correct, decode, encode
from mnist_exp.errors import LabelEncodingError, UserError

IDS = np.array([3, 0, 9, 3, 1, 7, 7, 2, 5, 4, 6, 8], dtype=np.uint8)


# --- encode -----------------------------------------------------------------------------------


def test_encode_sparse_returns_int64_class_ids():
    encoded = encode(IDS, one_hot=False, n_classes=10)
    assert encoded.dtype == np.int64
    assert encoded.shape == IDS.shape
    np.testing.assert_array_equal(encoded, IDS)


def test_encode_one_hot_rows():
    encoded = encode(IDS, one_hot=True, n_classes=10)
    assert encoded.dtype == np.float32
    assert encoded.shape == (len(IDS), 10)
    np.testing.assert_array_equal(encoded.sum(axis=1), np.ones(len(IDS)))
    np.testing.assert_array_equal(encoded.argmax(axis=1), IDS)
    assert set(np.unique(encoded).tolist()) == {0.0, 1.0}
    np.testing.assert_array_equal(encoded[0], [0, 0, 0, 1, 0, 0, 0, 0, 0, 0])


def test_encode_respects_n_classes():
    encoded = encode(np.array([0, 2, 1]), one_hot=True, n_classes=3)
    np.testing.assert_array_equal(encoded, np.eye(3, dtype=np.float32)[[0, 2, 1]])


def test_encode_accepts_whole_floats():
    np.testing.assert_array_equal(encode(np.array([1.0, 4.0]), False, 10), [1, 4])


def test_encode_refuses_labels_that_are_already_one_hot():
    once = encode(IDS, one_hot=True, n_classes=10)
    with pytest.raises(LabelEncodingError, match="one-hot rows"):
        encode(once, one_hot=True, n_classes=10)


def test_encode_refuses_out_of_range_ids():
    with pytest.raises(LabelEncodingError, match=r"labels span 0\.\.10; class ids are 0\.\.9"):
        encode(np.array([0, 10]), one_hot=True, n_classes=10)


def test_encode_empty():
    assert encode(np.array([], dtype=np.int64), one_hot=True, n_classes=10).shape == (0, 10)
    assert encode(np.array([], dtype=np.int64), one_hot=False, n_classes=10).shape == (0,)


# --- decode -----------------------------------------------------------------------------------


def test_decode_returns_argmax_and_confidence():
    probabilities = np.array(
        [[0.1, 0.7, 0.2], [0.5, 0.25, 0.25], [0.0, 0.01, 0.99]], dtype=np.float32
    )
    ids, confidence = decode(probabilities)
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, [1, 0, 2])
    np.testing.assert_allclose(confidence, [0.7, 0.5, 0.99])


def test_decode_undoes_one_hot_encoding():
    ids, confidence = decode(encode(IDS, one_hot=True, n_classes=10))
    np.testing.assert_array_equal(ids, IDS)
    np.testing.assert_array_equal(confidence, np.ones(len(IDS)))


@pytest.mark.parametrize("shape", [(10,), (2, 5, 10), ()])
def test_decode_refuses_other_shapes(shape):
    with pytest.raises(LabelEncodingError, match="expected \\(n, n_classes\\) probabilities"):
        decode(np.zeros(shape))


# --- count_correct ----------------------------------------------------------------------------


def test_count_correct_counts_matching_ids():
    predicted = IDS.copy()
    predicted[[0, 5, 11]] = [4, 0, 0]  # three mistakes
    assert count_correct(IDS, predicted, 10) == (9, 3)
    assert count_correct(IDS, IDS, 10) == (12, 0)
    assert count_correct(IDS, (IDS.astype(int) + 1) % 10, 10) == (0, 12)


def test_count_correct_returns_python_ints():
    correct, incorrect = count_correct(IDS, IDS, 10)
    assert type(correct) is int and type(incorrect) is int


def test_count_correct_mixed_integer_dtypes_and_whole_floats():
    assert count_correct(IDS.astype(np.uint8), IDS.astype(np.int64), 10) == (12, 0)
    assert count_correct(IDS.astype(np.float64), IDS.astype(np.int32), 10) == (12, 0)
    assert count_correct(list(IDS), tuple(IDS), 10) == (12, 0)


def test_count_correct_empty():
    assert count_correct(np.array([], np.int64), np.array([], np.int64), 10) == (0, 0)


def test_count_correct_after_decoding_predictions():
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(10), size=len(IDS))
    probabilities[np.arange(len(IDS)), IDS] += 1.0  # the true class always wins
    predicted, _ = decode(probabilities)
    assert count_correct(IDS, predicted, 10) == (len(IDS), 0)


# --- the tutorial's bug: one-hot test labels vs predicted class ids ------------------------


def test_one_hot_truth_against_class_ids_is_refused():
    y_test = encode(IDS, one_hot=True, n_classes=10)  # (12, 10), as the tutorial keeps it
    predicted = IDS.astype(np.int64)  # (12,), from argmax / predict_classes
    with pytest.raises(LabelEncodingError) as info:
        count_correct(y_test, predicted, 10)
    message = str(info.value)
    assert message.startswith("true labels have shape (12, 10)")
    assert "one-hot" in message
    assert "argmax" in message
    assert isinstance(info.value, UserError) and isinstance(info.value, ValueError)


def test_one_hot_predictions_against_class_ids_are_refused():
    probabilities = encode(IDS, one_hot=True, n_classes=10)
    with pytest.raises(LabelEncodingError, match=r"^predicted labels .*one-hot.*argmax"):
        count_correct(IDS, probabilities, 10)


def test_naive_numpy_comparison_gives_nonsense():
    """Why the guard exists: numpy broadcasts or refuses, but never counts right."""
    # Ten test digits, all "3", all predicted correctly.
    truth = np.full(10, 3)
    y_test = encode(truth, one_hot=True, n_classes=10)  # (10, 10)
    predicted = truth.copy()  # (10,)

    naive = predicted == y_test  # broadcasts to (10, 10): row i compared with predicted[i]?
    assert naive.shape == (10, 10)  # 100 "comparisons" for 10 digits
    # The one-hot entries are 0 or 1, never 3: zero correct out of ten right answers.
    assert np.count_nonzero(naive) == 0
    assert len(np.nonzero(naive)[0]) == 0
    # The guarded comparison, after decoding the one-hot rows, gets it right.
    assert count_correct(y_test.argmax(axis=1), predicted, 10) == (10, 0)


def test_naive_numpy_comparison_with_another_length_does_not_even_run():
    y_test = encode(IDS, one_hot=True, n_classes=10)  # (12, 10)
    with pytest.raises(ValueError, match="broadcast"):
        _ = IDS == y_test  # older numpy returned a scalar False: "0 correct"
    with pytest.raises(LabelEncodingError, match="one-hot"):
        count_correct(y_test, IDS, 10)


# --- other mistakes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values", [np.array([0.0, 1.5, 2.0]), np.array([0.2, 0.8, 0.0]), np.array([1.0, np.nan, 0.0])]
)
def test_float_labels_with_fractions(values):
    with pytest.raises(LabelEncodingError, match="float64 with fractions, not class ids"):
        count_correct(values, np.array([0, 1, 2]), 10)


@pytest.mark.parametrize(
    ("values", "span"),
    [([0, 10, 3], r"0\.\.10"), ([-1, 2, 3], r"-1\.\.3"), ([255, 0, 0], r"0\.\.255")],
)
def test_out_of_range_ids(values, span):
    with pytest.raises(LabelEncodingError, match=rf"predicted labels span {span}"):
        count_correct(np.array([0, 1, 2]), np.array(values), 10)


def test_out_of_range_for_fewer_classes():
    check_class_ids(np.array([0, 1, 2]), "labels", 3)
    with pytest.raises(LabelEncodingError, match=r"class ids are 0\.\.2"):
        check_class_ids(np.array([0, 3]), "labels", 3)


def test_length_mismatch():
    with pytest.raises(LabelEncodingError, match="12 true labels but 11 predictions"):
        count_correct(IDS, IDS[:-1], 10)


@pytest.mark.parametrize("shape", [(12, 1), (12, 5), (3, 4, 10)])
def test_other_shapes_are_not_class_ids(shape):
    with pytest.raises(LabelEncodingError, match=r"expected class ids \(n,\)"):
        check_class_ids(np.zeros(shape, dtype=np.int64), "labels", 10)


def test_check_class_ids_names_what_it_checks():
    with pytest.raises(LabelEncodingError, match="^my labels "):
        check_class_ids(np.array([11]), "my labels", 10)
