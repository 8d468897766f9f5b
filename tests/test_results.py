"""results/: the files every stage writes through, and the one metric vocabulary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mnist_exp.results import files, metrics


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("sqlite:///outputs/mlflow.db", Path("outputs/mlflow.db")),  # relative
        ("sqlite:////abs/m.db", Path("/abs/m.db")),
        ("sqlite:///:memory:", None),
        ("sqlite:///", None),
        ("http://127.0.0.1:5000", None),
        ("file:///tmp/mlruns", None),
        ("mysql://host/db", None),
        (None, None),  # Optuna's storage: null keeps the study in memory
    ],
)
def test_sqlite_path_of_a_tracking_uri_or_a_study_storage(uri, path):
    assert files.sqlite_path(uri) == path


def test_the_vocabulary_names_keras_logs_and_ranks_by_direction():
    assert metrics.from_keras({"loss": 1, "val_accuracy": 0.5, "lr": 0.1}) == {
        "train/loss": 1.0,
        "val/accuracy": 0.5,
    }
    assert metrics.to_keras("val/loss") == "val_loss"
    assert metrics.direction("test/loss") == "minimize"
    assert metrics.direction("val/accuracy") == "maximize"
    assert set(metrics.EPOCH_NAMES) == {"train/loss", "train/accuracy", "val/loss", "val/accuracy"}
    assert metrics.DEFAULT_OBJECTIVE in metrics.OBJECTIVES
    assert set(metrics.HISTORY_COLUMNS) >= set(metrics.EPOCH_NAMES)
    # what compile asks Keras to measure: the per-epoch metrics beside the loss
    assert metrics.COMPILED == ("accuracy",)


@pytest.mark.parametrize(
    ("value", "name", "text"),
    [
        (0.97884, "test/accuracy", "0.9788"),
        (12.345, "train/seconds", "12.3"),
        (5.0, "epochs", "5"),
        (42123.4, "train/samples_per_second", "42,123"),
        (0.0003, "optimizer.learning_rate", "0.0003"),  # not a metric: 3 significant digits
    ],
)
def test_each_metric_is_printed_in_its_own_format(value, name, text):
    assert metrics.format_value(value, name) == text


def test_the_best_epoch_is_the_objectives_best_and_val_loss_its_lowest_when_optimized():
    from mnist_exp.training.run import Evaluation, best_epoch_metric, run_metrics

    history = pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            "train/loss": [0.9, 0.5, 0.3],
            "train/accuracy": [0.7, 0.8, 0.9],
            "val/loss": [0.8, 0.4, 0.6],  # lowest at epoch 2
            "val/accuracy": [0.6, 0.7, 0.8],  # highest at epoch 3
        }
    )
    evaluation = Evaluation(0.5, np.zeros(4), np.ones(4), correct=3, incorrect=1)
    assert best_epoch_metric("val/accuracy") == "val/accuracy"
    assert best_epoch_metric(["val/loss", "train/seconds"]) == "val/loss"
    assert best_epoch_metric("test/accuracy") == "val/accuracy"  # not measured every epoch
    assert best_epoch_metric("train/loss") == "val/accuracy"  # not a validation metric
    by_accuracy = run_metrics(history, evaluation, 100, 2.0)
    assert (by_accuracy["val/best_epoch"], by_accuracy["val/loss"]) == (3, 0.6)
    by_loss = run_metrics(history, evaluation, 100, 2.0, best_by="val/loss")
    assert (by_loss["val/best_epoch"], by_loss["val/loss"], by_loss["val/accuracy"]) == (
        2,
        0.4,
        0.7,
    )


def test_statuses_are_one_vocabulary_written_as_plain_strings(tmp_path):
    from mnist_exp.results.status import ENDED, FINISHED, Status

    assert [s.value for s in Status] == ["running", "completed", "failed", "interrupted", "pruned"]
    assert set(ENDED) == set(Status) - {Status.RUNNING} and set(FINISHED) < set(ENDED)
    files.write_json(tmp_path / "metrics.json", {"status": Status.PRUNED})
    assert (tmp_path / "metrics.json").read_text().count('"pruned"') == 1
    read = files.read_json_or_empty(tmp_path / "metrics.json")["status"]
    assert read == Status.PRUNED and read in FINISHED and Status(read) is Status.PRUNED


def test_directions_are_declared_not_guessed_from_a_names_suffix(monkeypatch):
    from mnist_exp.errors import ConfigError

    # every metric a sweep may rank by, or a monitor watch, says which way is better
    for name in (*metrics.OBJECTIVES, *metrics.EPOCH_NAMES):
        assert metrics.direction(name) in ("maximize", "minimize")
    # a metric whose name ends in neither loss nor seconds, lower being better
    ece = metrics.Metric("val/ece", objective=True, direction="minimize")
    monkeypatch.setitem(metrics.BY_NAME, ece.name, ece)
    assert metrics.direction("val/ece") == "minimize"
    assert metrics.direction(["val/ece", "val/accuracy"]) == ["minimize", "maximize"]
    # an objective without a direction cannot be declared; an unknown name is refused
    with pytest.raises(ValueError, match="declares its direction"):
        metrics.Metric("test/error_rate", objective=True)
    with pytest.raises(ConfigError, match="^test/error_rate: no direction"):
        metrics.direction("test/error_rate")
    with pytest.raises(ConfigError):
        metrics.direction("params")  # a description, nothing to rank by
