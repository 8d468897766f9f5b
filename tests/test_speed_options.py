"""The speed options (training.steps_per_execution, jit_compile, sparse_labels) change
how fast a run trains, not what it learns. Timings live in benchmarks/, not here."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mnist_exp import speed
from mnist_exp.config import LossConfig, TrainingConfig
from mnist_exp.data import aligned_empty, prepare
from tests.helpers import run_cli

VALUES = ["train/loss", "train/accuracy", "val/loss", "val/accuracy"]
SMOKE = ["+experiment=smoke", "training.epochs=2", "training.progress=false"]
KERAS_DEFAULTS = [
    "training.loop=keras",
    "training.steps_per_execution=1",
    "training.jit_compile=false",
    "training.sparse_labels=false",
]


def run(tmp_path, name: str, *overrides: str) -> tuple[pd.DataFrame, dict]:
    folder = tmp_path / name
    folder.mkdir()
    result = run_cli(folder, *SMOKE, *overrides)
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


def test_one_step_per_call_under_a_distribute_strategy():
    assert speed.steps_per_execution(TrainingConfig()) == 32
    assert speed.steps_per_execution(TrainingConfig(strategy="mirrored")) == 1


def test_categorical_loss_trains_on_class_ids_unless_asked_for_one_hot():
    categorical = LossConfig(name="categorical_crossentropy")
    sparse = LossConfig(name="sparse_categorical_crossentropy")
    assert speed.one_hot_labels(categorical, TrainingConfig()) is False
    assert speed.one_hot_labels(categorical, TrainingConfig(sparse_labels=False)) is True
    assert speed.one_hot_labels(sparse, TrainingConfig(sparse_labels=False)) is False


def test_bad_steps_per_execution_fails_naming_the_key(tmp_path):
    result = run_cli(tmp_path, "+experiment=smoke", "training.steps_per_execution=0")
    assert result.returncode == 2
    assert "training.steps_per_execution=0" in result.stderr


def test_prepared_images_are_aligned_and_handed_to_tensorflow_without_a_copy():
    images = np.arange(5 * 28 * 28, dtype=np.uint8).reshape(5, 28, 28)
    x = prepare(images)
    assert x.ctypes.data % 64 == 0 and x.dtype == np.float32 and x.shape == (5, 784)
    np.testing.assert_allclose(x, images.reshape(5, 784) / 255, rtol=1e-6)
    tensor = speed.as_tensor(x)
    x[0, 0] = 42.0  # the tensor shares the array's memory
    assert float(tensor[0, 0]) == 42.0
    assert tensor.shape == (5, 784)


def test_arrays_tensorflow_cannot_share_are_left_for_keras_to_copy():
    unaligned = aligned_empty((4 * 784 + 1,), np.float32)[1:].reshape(4, 784)
    assert unaligned.ctypes.data % 64 != 0
    assert speed.as_tensor(unaligned) is unaligned
    ids = np.arange(4)
    assert speed.as_tensor(ids) is ids


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
    from mnist_exp.loop import epoch_order

    first = epoch_order(1000, 0, seed=42, shuffle=True)
    assert sorted(first) == list(range(1000))
    np.testing.assert_array_equal(first, epoch_order(1000, 0, seed=42, shuffle=True))
    assert not np.array_equal(first, epoch_order(1000, 1, seed=42, shuffle=True))
    assert not np.array_equal(first, epoch_order(1000, 0, seed=7, shuffle=True))
    np.testing.assert_array_equal(epoch_order(5, 3, seed=42, shuffle=False), np.arange(5))


def test_unknown_loop_fails_naming_the_choices(tmp_path):
    result = run_cli(tmp_path, "+experiment=smoke", "training.loop=fastest")
    assert result.returncode == 2
    assert "training.loop='fastest'" in result.stderr or "training.loop=fastest" in result.stderr
    assert "tensors" in result.stderr and "keras" in result.stderr


@pytest.mark.slow
def test_xla_runs_are_deterministic(tmp_path):
    first, a = run(tmp_path, "first", "training.jit_compile=true")
    second, b = run(tmp_path, "second", "training.jit_compile=true")
    pd.testing.assert_frame_equal(first[VALUES], second[VALUES], atol=0, rtol=0)
    assert a["test/correct"] == b["test/correct"]


def test_importing_on_a_thread_leaves_other_threads_their_modules():
    # The background import refuses Keras' optional extras to itself only: the main
    # thread, loading data meanwhile, may still import any of them.
    import sys
    import threading

    refuse = speed._Refuse(["json"])
    sys.meta_path.insert(0, refuse)
    try:
        with pytest.raises(ModuleNotFoundError):
            refuse.find_spec("json.decoder")
        seen = []
        other = threading.Thread(target=lambda: seen.append(refuse.find_spec("json.decoder")))
        other.start()
        other.join()
        assert seen == [None]  # not refused: Python's own finders go on to find it
    finally:
        sys.meta_path.remove(refuse)


XLA_CACHE_SCRIPT = """
import json, os, sys
from pathlib import Path
from mnist_exp import speed
own = speed.use_xla_cache(True)
linked = sorted(p.name for p in own.glob("*.pb"))
import tensorflow as tf
step = tf.function(lambda x: tf.nn.relu(x @ tf.transpose(x)) * 2.0, jit_compile=True)
value = float(tf.reduce_sum(step(tf.ones((64, 64)))))
print(json.dumps({"own": str(own), "linked": linked, "value": value,
                  "flags": os.environ["TF_XLA_FLAGS"]}))
"""


def test_compiled_xla_steps_are_kept_for_the_next_run(tmp_path):
    # Each process gives TensorFlow a private folder of links to the shared entries;
    # what it compiles reaches the shared folder whole, at exit.
    import subprocess

    env = {**os.environ, "MNIST_EXP_CACHE": str(tmp_path / "cache"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_XLA_FLAGS", None)

    def run_once() -> dict:
        result = subprocess.run(
            [sys.executable, "-c", XLA_CACHE_SCRIPT], env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.strip().splitlines()[-1])

    first = run_once()
    (shared,) = (tmp_path / "cache" / "xla").iterdir()  # one folder: this CPU and TensorFlow
    entries = sorted(p.name for p in shared.glob("*.pb"))
    assert first["linked"] == [] and len(entries) == 1
    assert first["flags"].endswith(f"--tf_xla_persistent_cache_directory={first['own']}")
    assert Path(first["own"]).parent == shared and not Path(first["own"]).exists()
    second = run_once()
    assert second["linked"] == entries  # the first run's step, offered to the second
    assert second["value"] == first["value"] == 64 * 64 * 128.0
    assert sorted(p.name for p in shared.iterdir()) == entries  # no private folder left


def test_no_xla_cache_when_switched_off_set_by_the_user_or_too_late(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_EXP_CACHE", str(tmp_path))
    monkeypatch.setenv("TF_XLA_FLAGS", "--tf_xla_auto_jit=0")
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)  # as before the import
    assert speed.use_xla_cache(False) is None
    own = speed.use_xla_cache(True)
    assert own is not None and own.parent.parent == tmp_path / "xla"
    assert os.environ["TF_XLA_FLAGS"] == f"--tf_xla_auto_jit=0 {speed.XLA_CACHE_FLAG}={own}"
    # The user's own cache folder stands; and TensorFlow, once imported, reads no more.
    monkeypatch.setenv("TF_XLA_FLAGS", f"{speed.XLA_CACHE_FLAG}=/elsewhere")
    assert speed.use_xla_cache(True) is None
    monkeypatch.delenv("TF_XLA_FLAGS")
    monkeypatch.setitem(sys.modules, "tensorflow", object())
    assert speed.use_xla_cache(True) is None
    assert "TF_XLA_FLAGS" not in os.environ


def test_keras_is_imported_without_its_extras_and_with_the_collector_back_on():
    # In a fresh process: the extras stay unloaded (the time they cost is the point),
    # later imports of them work, and the garbage collector runs again, with what
    # the import made frozen out of its collections.
    import subprocess
    import sys

    script = (
        "import gc, json, sys\n"
        "from mnist_exp import speed\n"
        "speed.import_keras()\n"
        "loaded = [name for name in speed.KERAS_EXTRAS if name in sys.modules]\n"
        "import scipy.sparse, sklearn.model_selection\n"
        "print(json.dumps({'loaded': loaded, 'gc': gc.isenabled(),"
        " 'frozen': gc.get_freeze_count()}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads(result.stdout.strip().splitlines()[-1])
    assert state["loaded"] == []
    assert state["gc"] is True
    assert state["frozen"] > 100_000  # TensorFlow's and Keras' modules, classes, functions


def test_predict_gives_keras_predict_output_for_any_batch_count():
    import keras

    from mnist_exp.loop import EVAL_BATCH, predict

    model = keras.Sequential(
        [keras.Input((784,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)]
    )
    x = np.random.default_rng(0).random((2 * EVAL_BATCH + 5, 784), dtype=np.float32)
    for rows in (len(x), EVAL_BATCH, 3):  # a partial last batch, whole batches, one small
        expected = model.predict(x[:rows], batch_size=EVAL_BATCH, verbose=0)
        got = predict(model, x[:rows])
        assert got.shape == (rows, 10)
        np.testing.assert_array_equal(got, expected)
