"""The speed options (training.steps_per_execution, jit_compile, sparse_labels) change
how fast a run trains, not what it learns. Timings live in benchmarks/, not here."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mnist_exp.config.schema import LossConfig, TrainingConfig
from mnist_exp.data.labels import one_hot_labels
from mnist_exp.data.prepare import aligned_empty, prepare
from mnist_exp.models.catalog import build_model
from mnist_exp.models.cnn import CNNConfig
from mnist_exp.models.mlp import MLPConfig
from mnist_exp.training import speed
from mnist_exp.training.tensors import as_tensor
from tests.helpers import run_cli, run_in_process

VALUES = ["train/loss", "train/accuracy", "val/loss", "val/accuracy"]
SMOKE = ["+experiment=smoke", "training.epochs=2", "training.progress=false"]
KERAS_DEFAULTS = [
    "training.loop=keras",
    "training.steps_per_execution=1",
    "training.jit_compile=false",
    "training.sparse_labels=false",
]


def run(tmp_path, name: str, *overrides: str, runner=run_in_process) -> tuple[pd.DataFrame, dict]:
    """A smoke run in the folder `name`: in this process, or (runner=run_cli) in its own."""
    folder = tmp_path / name
    folder.mkdir()
    result = runner(folder, *SMOKE, *overrides)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((folder / "run" / "metrics.json").read_text())
    return pd.read_csv(folder / "run" / "history.csv"), metrics


def test_defaults_and_their_reasons():
    training = TrainingConfig()
    assert training.loop == "tensors"
    assert training.steps_per_execution == 32
    assert training.jit_compile is None  # automatic
    assert training.sparse_labels is True


@pytest.mark.parametrize(
    ("jit_compile", "strategy", "steps", "expected"),
    [
        (None, "default", speed.XLA_MIN_STEPS, True),  # long enough to pay for compiling
        (None, "default", speed.XLA_MIN_STEPS - 1, False),  # a smoke run: not worth it
        (None, "mirrored", 10 * speed.XLA_MIN_STEPS, False),  # as Keras' "auto"
        (True, "default", 1, True),
        (False, "default", 10 * speed.XLA_MIN_STEPS, False),
    ],
)
def test_when_xla_is_used(jit_compile, strategy, steps, expected):
    training = TrainingConfig(jit_compile=jit_compile, strategy=strategy)
    assert speed.use_xla(training, steps) is expected


@pytest.mark.parametrize(
    ("model", "kinds", "automatic"),
    [
        (MLPConfig(name="one_hidden", units=[512]), set(), True),
        (MLPConfig(name="two_hidden", units=[512, 512], dropout=0.2), {"dropout"}, False),
        (CNNConfig(name="cnn"), {"conv", "pool", "dropout"}, False),  # keras-io: Dropout(0.5)
    ],
)
def test_xla_is_automatic_only_for_models_without_its_slow_layers(model, kinds, automatic):
    built = build_model(model, (28, 28), 10)
    assert speed.layer_kinds(built) == kinds
    steps = 10 * speed.XLA_MIN_STEPS
    assert speed.use_xla(TrainingConfig(), steps, speed.layer_kinds(built)) is automatic
    assert speed.use_xla(TrainingConfig(jit_compile=True), steps, speed.layer_kinds(built))


def test_one_step_per_call_under_a_distribute_strategy():
    assert speed.steps_per_execution(TrainingConfig()) == 32
    assert speed.steps_per_execution(TrainingConfig(strategy="mirrored")) == 1


def test_categorical_loss_trains_on_class_ids_unless_asked_for_one_hot():
    categorical = LossConfig(name="categorical_crossentropy")
    sparse = LossConfig(name="sparse_categorical_crossentropy")
    assert one_hot_labels(categorical, TrainingConfig()) is False
    assert one_hot_labels(categorical, TrainingConfig(sparse_labels=False)) is True
    assert one_hot_labels(sparse, TrainingConfig(sparse_labels=False)) is False


def test_bad_steps_per_execution_fails_naming_the_key(tmp_path):
    result = run_in_process(tmp_path, "+experiment=smoke", "training.steps_per_execution=0")
    assert result.returncode == 2
    assert "training.steps_per_execution=0" in result.stderr


def test_prepared_images_are_aligned_and_handed_to_tensorflow_without_a_copy():
    images = np.arange(5 * 28 * 28, dtype=np.uint8).reshape(5, 28, 28)
    x = prepare(images)
    assert x.ctypes.data % 64 == 0 and x.dtype == np.float32 and x.shape == (5, 784)
    np.testing.assert_allclose(x, images.reshape(5, 784) / 255, rtol=1e-6)
    tensor = as_tensor(x)
    x[0, 0] = 42.0  # the tensor shares the array's memory
    assert float(tensor[0, 0]) == 42.0
    assert tensor.shape == (5, 784)


def test_arrays_tensorflow_cannot_share_are_left_for_keras_to_copy():
    unaligned = aligned_empty((4 * 784 + 1,), np.float32)[1:].reshape(4, 784)
    assert unaligned.ctypes.data % 64 != 0
    assert as_tensor(unaligned) is unaligned
    ids = np.arange(4)
    assert as_tensor(ids) is ids


def test_speed_options_learn_what_keras_defaults_learn(tmp_path):
    fast, fast_metrics = run(tmp_path, "keras_fast", "training.loop=keras")
    plain, plain_metrics = run(tmp_path, "keras_defaults", *KERAS_DEFAULTS)
    xla, xla_metrics = run(tmp_path, "xla", "training.loop=keras", "training.jit_compile=true")
    # Same data order, same arithmetic up to float rounding (sparse vs one-hot loss, XLA's
    # fused kernels): the same history, the same test predictions, near enough.
    pd.testing.assert_frame_equal(fast[VALUES], plain[VALUES], atol=1e-5)
    pd.testing.assert_frame_equal(xla[VALUES], plain[VALUES], atol=1e-4)
    for metrics in (fast_metrics, xla_metrics):
        assert abs(metrics["test/correct"] - plain_metrics["test/correct"]) <= 2
        assert metrics["status"] == "completed"


def test_tensor_loop_learns_what_keras_fit_learns_from_the_same_batches(tmp_path):
    # Unshuffled, both loops see the same batches in the same order (the last one
    # partial: 2,000 examples in batches of 128): the same history, XLA or not.
    same_order = ("training.shuffle=false", "training.steps_per_execution=5")
    keras_fit, keras_metrics = run(tmp_path, "keras", "training.loop=keras", *same_order)
    tensors, tensor_metrics = run(tmp_path, "tensors", *same_order)
    xla, xla_metrics = run(tmp_path, "tensors_xla", *same_order, "training.jit_compile=true")
    pd.testing.assert_frame_equal(tensors[VALUES], keras_fit[VALUES], atol=1e-5)
    pd.testing.assert_frame_equal(xla[VALUES], keras_fit[VALUES], atol=1e-4)
    for metrics in (tensor_metrics, xla_metrics):
        assert abs(metrics["test/correct"] - keras_metrics["test/correct"]) <= 2
        assert abs(metrics["test/loss"] - keras_metrics["test/loss"]) < 1e-4


def test_each_epoch_order_is_a_permutation_fixed_by_seed_and_epoch():
    from mnist_exp.training.tensor_loop import epoch_order

    first = epoch_order(1000, 0, seed=42, shuffle=True)
    assert sorted(first) == list(range(1000))
    np.testing.assert_array_equal(first, epoch_order(1000, 0, seed=42, shuffle=True))
    assert not np.array_equal(first, epoch_order(1000, 1, seed=42, shuffle=True))
    assert not np.array_equal(first, epoch_order(1000, 0, seed=7, shuffle=True))
    np.testing.assert_array_equal(epoch_order(5, 3, seed=42, shuffle=False), np.arange(5))


def test_unknown_loop_fails_naming_the_choices(tmp_path):
    result = run_in_process(tmp_path, "+experiment=smoke", "training.loop=fastest")
    assert result.returncode == 2
    assert "training.loop='fastest'" in result.stderr or "training.loop=fastest" in result.stderr
    assert "tensors" in result.stderr and "keras" in result.stderr


@pytest.mark.slow
def test_xla_runs_are_deterministic(tmp_path):
    # each in its own process: nothing compiled by the first is at hand to the second
    first, a = run(tmp_path, "first", "training.jit_compile=true", runner=run_cli)
    second, b = run(tmp_path, "second", "training.jit_compile=true", runner=run_cli)
    pd.testing.assert_frame_equal(first[VALUES], second[VALUES], atol=0, rtol=0)
    assert a["test/correct"] == b["test/correct"]


def test_predict_gives_keras_predict_output_for_any_batch_count():
    import keras

    from mnist_exp.models.inference import EVAL_BATCH, predict

    model = keras.Sequential(
        [keras.Input((784,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)]
    )
    x = np.random.default_rng(0).random((2 * EVAL_BATCH + 5, 784), dtype=np.float32)
    for rows in (len(x), EVAL_BATCH, 3):  # a partial last batch, whole batches, one small
        expected = model.predict(x[:rows], batch_size=EVAL_BATCH, verbose=0)
        got = predict(model, x[:rows])
        assert got.shape == (rows, 10)
        np.testing.assert_array_equal(got, expected)
