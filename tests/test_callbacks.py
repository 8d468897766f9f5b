"""The callbacks and schedule groups: early stopping, best weights, reduce-on-plateau and
learning-rate schedules, on real runs over the bundled digits, and resumed exactly."""

from __future__ import annotations

import json
import math
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers import run_cli, run_dataset, run_in_process, start_and_signal

FAST = ["data=mnist_5k", "data.limit_train=1500", "training.progress=false"]
VALUES = ["train/loss", "train/accuracy", "val/loss", "val/accuracy", "lr"]


def run(tmp_path: Path, *overrides: str) -> tuple[pd.DataFrame, dict, Path]:
    result = run_in_process(tmp_path, *FAST, *overrides)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    run_dir = tmp_path / "run"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return pd.read_csv(run_dir / "history.csv"), metrics, run_dir


def expected_stop(values: list[float], patience: int, min_delta: float) -> int | None:
    """Keras' rule for a loss: the 1-based epoch after which it stops, else None."""
    best, wait = None, 0
    for epoch, value in enumerate(values):
        wait += 1
        if best is None or value - (-min_delta) < best:  # improved by more than min_delta
            best, wait = value, 0
            continue
        if wait >= patience and epoch > 0:
            return epoch + 1
    return None


def test_early_stopping_ends_a_completed_run_before_the_epoch_limit(tmp_path):
    history, metrics, _ = run(
        tmp_path,
        "training.epochs=30",
        "callbacks=[early_stopping]",
        "callbacks.early_stopping.patience=2",
        "callbacks.early_stopping.min_delta=0.02",
    )
    stop = expected_stop(history["val/loss"].tolist(), patience=2, min_delta=0.02)
    assert stop is not None and stop < 30
    assert metrics["status"] == "completed"
    assert metrics["stopped_epoch"] == stop == metrics["epochs"] == len(history)
    assert metrics["stop_reason"] == "early_stopping"
    assert "weights_epoch" not in metrics  # restore_best_weights is off by default


def validation_loss_of_the_saved_model(run_dir: Path) -> float:
    """The saved model.keras scored on the run's own validation split."""
    import keras

    dataset = run_dataset(run_dir)
    model = keras.models.load_model(run_dir / "model.keras", safe_mode=True)
    loss, _ = model.evaluate(dataset.x_val, dataset.y_val, batch_size=1024, verbose=0)
    return loss


def test_best_weights_make_the_best_epoch_the_saved_model(tmp_path):
    # On 1,350 digits the validation loss goes up and down over 12 epochs: here its
    # lowest is epoch 11's, and epoch 12 is worse.
    history, metrics, run_dir = run(
        tmp_path,
        "training.epochs=12",
        "callbacks=[best_weights]",
        "callbacks.best_weights.monitor=val/loss",
    )
    best = int(history["val/loss"].idxmin())
    assert metrics["weights_epoch"] == best + 1
    assert "stopped_epoch" not in metrics and metrics["epochs"] == 12
    saved = validation_loss_of_the_saved_model(run_dir)
    assert saved == pytest.approx(history["val/loss"][best], abs=1e-5)
    if best + 1 < len(history):  # the last epoch's weights would score otherwise
        assert saved != pytest.approx(history["val/loss"].iloc[-1], abs=1e-5)


def test_reduce_lr_on_plateau_lowers_the_rate_after_patience(tmp_path):
    history, _, _ = run(
        tmp_path,
        "training.epochs=6",
        "callbacks=[reduce_lr_on_plateau]",
        "callbacks.reduce_lr_on_plateau.patience=1",
        "callbacks.reduce_lr_on_plateau.min_delta=0.05",
        "callbacks.reduce_lr_on_plateau.factor=0.5",
    )
    rates = history["lr"].tolist()
    assert rates[0] == pytest.approx(1e-3)
    assert rates[-1] < rates[0]  # lowered at least once
    for before, after in zip(rates, rates[1:], strict=False):  # halved, or kept
        assert after == pytest.approx(before) or after == pytest.approx(before / 2)


def schedule_formula(name: str, lr: float, epoch: int, steps: int, epochs: int) -> float:
    """The rate of epoch `epoch`'s (0-based) first step, as each schedule defines it."""
    step = epoch * steps
    if name == "cosine":  # warm-up of 1 epoch from 0, then a cosine to 0
        warmup = steps
        if step < warmup:
            return lr * step / warmup
        return lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (epochs * steps - warmup)))
    if name == "exponential":  # decay_rate 0.5 per epoch
        return lr * 0.5**epoch
    if name == "step":  # gamma 0.1 every 2 epochs
        return lr * 0.1 ** (epoch // 2)
    return lr


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("constant", []),
        ("cosine", ["schedule.warmup_epochs=1"]),
        ("exponential", ["schedule.decay_rate=0.5"]),
        ("step", ["schedule.step_epochs=2", "schedule.gamma=0.1"]),
    ],
)
def test_each_epochs_learning_rate_follows_its_schedule(tmp_path, name, overrides):
    epochs = 4
    history, metrics, _ = run(tmp_path, f"training.epochs={epochs}", f"schedule={name}", *overrides)
    steps = math.ceil(metrics["data"]["train"] / 128)
    expected = [schedule_formula(name, 1e-3, e, steps, epochs) for e in range(epochs)]
    np.testing.assert_allclose(history["lr"], expected, rtol=1e-5, atol=1e-9)


RESUMED = [
    # a CNN, whose checkpoints hold its convolutions' weights and their optimizer state
    ["model=cnn", "optimizer=adam"],
    # early stopping with its best weights, over a cosine schedule: stops after epoch 3
    [
        "schedule=cosine",
        "callbacks=[early_stopping]",
        "callbacks.early_stopping.patience=2",
        "callbacks.early_stopping.min_delta=0.5",
        "callbacks.early_stopping.restore_best_weights=true",
    ],
    # reduce-on-plateau's counters: the rate halves after every epoch without a big gain
    [
        "callbacks=[reduce_lr_on_plateau]",
        "callbacks.reduce_lr_on_plateau.patience=2",
        "callbacks.reduce_lr_on_plateau.min_delta=0.5",
    ],
]


@pytest.mark.slow
@pytest.mark.parametrize("callbacks", RESUMED, ids=["cnn", "early_stopping+cosine", "reduce_lr"])
def test_an_interrupted_run_resumes_to_the_straight_runs_result(tmp_path, callbacks):
    # Small batches: epochs long enough (about a second) to be interrupted inside.
    # Interrupted after epoch 2, when the callbacks have counted an epoch without gain.
    args = [*FAST, "data.limit_train=2000", "training.epochs=5", "training.batch_size=16"]
    args += callbacks
    (tmp_path / "straight").mkdir()
    straight, expected, _ = run(tmp_path / "straight", *args[len(FAST) :])
    run_dir, code = start_and_signal(tmp_path, args, signal.SIGTERM, after_epoch=2)
    assert code == 143
    result = run_cli(tmp_path, f"resume={run_dir}", "training.progress=false")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    history = pd.read_csv(run_dir / "history.csv")
    pd.testing.assert_frame_equal(history[VALUES], straight[VALUES], atol=1e-6)
    for key in ("epochs", "stopped_epoch", "stop_reason", "weights_epoch", "test/correct"):
        assert metrics.get(key) == expected.get(key), key
    assert metrics["resumed_after_epoch"] >= 2


# --- units: the allow-list, the monitors, the schemas ---------------------------------


@pytest.mark.parametrize(
    ("target", "ok"),
    [
        ("keras.callbacks.EarlyStopping", True),
        ("mnist_exp.training.callbacks.early_stopping.EarlyStopping", True),
        ("os.system", False),
        ("keras.callbacksX.Foo", False),  # a prefix of a name is not the module
        ("keras.callbacks", False),  # the module itself, no class
        ("builtins.eval", False),
        ("mnist_exp.training.callbacks.x;import os", False),
        (None, False),
    ],
)
def test_only_keras_and_mnist_exp_callbacks_may_be_targets(target, ok):
    from mnist_exp.config.targets import allowed

    assert allowed(target) is ok


def test_a_target_anywhere_in_a_callbacks_arguments_is_checked():
    from mnist_exp.config.targets import check_targets
    from mnist_exp.errors import ConfigError

    spec = {"_target_": "keras.callbacks.History", "a": [{"b": {"_target_": "os.remove"}}]}
    with pytest.raises(ConfigError, match=r"^callbacks\.x\.a\[0\]\.b\._target_='os\.remove'"):
        check_targets(spec, "callbacks.x")


def test_keras_callbacks_get_the_monitors_keras_name_and_its_direction():
    from mnist_exp.training.callbacks.from_config import build

    stopping = build("es", {"_target_": "keras.callbacks.EarlyStopping", "monitor": "val/accuracy"})
    assert (stopping.monitor, stopping.mode) == ("val_accuracy", "max")
    ours = build("es", {"_target_": "mnist_exp.training.callbacks.reduce_lr.ReduceLROnPlateau"})
    assert ours.monitor == "val_loss"  # Keras' default, where the config names none
    loss = build(
        "es",
        {
            "_target_": "mnist_exp.training.callbacks.early_stopping.EarlyStopping",
            "monitor": "train/loss",
        },
    )
    assert (loss.monitor, loss.mode) == ("loss", "min")


def test_a_target_that_is_not_a_callback_is_refused_before_it_is_called():
    from mnist_exp.errors import ConfigError
    from mnist_exp.training.callbacks.from_config import build

    with pytest.raises(ConfigError, match="is not a Keras callback"):
        build("x", {"_target_": "mnist_exp.training.callbacks.from_config.build"})
    with pytest.raises(ConfigError, match=r"^callbacks\.x\._target_='keras\.callbacks\.Nope'"):
        build("x", {"_target_": "keras.callbacks.Nope"})


def test_building_a_callback_leaves_its_config_as_it_was():
    from mnist_exp.training.callbacks.from_config import build

    spec = {"_target_": "keras.callbacks.EarlyStopping", "monitor": "val/loss"}
    build("es", spec)
    assert spec == {"_target_": "keras.callbacks.EarlyStopping", "monitor": "val/loss"}


@pytest.mark.parametrize(
    ("schedule", "steps", "expected"),
    [
        ("constant", [0, 50, 99], [1e-3, 1e-3, 1e-3]),
        ("exponential", [0, 9, 10, 25], [1e-3, 1e-3, 0.9e-3, 0.81e-3]),
        ("step", [0, 49, 50, 99], [1e-3, 1e-3, 1e-4, 1e-4]),
        ("cosine", [0, 50, 100], [1e-3, 0.5e-3, 0.0]),
    ],
)
def test_each_schedule_as_keras_computes_it(schedule, steps, expected):
    from mnist_exp.training import schedules

    cfg = {
        "constant": schedules.ConstantConfig(),
        "exponential": schedules.ExponentialConfig(decay_rate=0.9),
        "step": schedules.StepConfig(step_epochs=5, gamma=0.1),
        "cosine": schedules.CosineConfig(),
    }[schedule]
    rate = schedules.build(cfg, 1e-3, steps_per_epoch=10, epochs=10)
    got = [float(rate(step)) if callable(rate) else rate for step in steps]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-9)
