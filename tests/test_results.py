"""results/: the files every stage writes through, and the one metric vocabulary."""

from __future__ import annotations

from pathlib import Path

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
