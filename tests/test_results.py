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


def test_every_metric_declares_a_format_and_where_it_is_shown_reads_it_by_name():
    for metric in metrics.METRICS:
        assert metrics.format_value(1.0, metric.name) in ("1", "1.0", "1.0000")
    for metric in (*metrics.METRICS, *metrics.PER_EPOCH):
        assert isinstance(metric.shown, metrics.Place)
        if metric.keras or metric.objective:
            assert metric.direction in metrics.DIRECTIONS
    for metric in metrics.PER_EPOCH:  # the train and val forms of each: history columns
        assert {f"train/{metric.name}", f"val/{metric.name}"} <= set(metrics.HISTORY_COLUMNS)
        assert metric.direction in metrics.DIRECTIONS
        if metrics.Place.PROGRESS in metric.shown:
            assert metric.label  # the live bar names it
    rows = metrics.console_rows()
    assert all(m.label for m in rows)
    assert len({m.console for m in rows}) == len(rows)  # one place each in the table
    # how a sentence shows seconds, and a value without a unit
    assert metrics.display(12.345, "train/seconds") == "12.3 s"
    assert metrics.display(0.97884, "test/accuracy") == "0.9788"


TOP3 = metrics.Metric(
    "top3_accuracy",
    keras="top3",
    label="top3",
    direction=metrics.MAX,
    shown=metrics.Place.CHARTS | metrics.Place.PLOTS | metrics.Place.PROGRESS,
)


@pytest.fixture
def top3(monkeypatch):
    """The vocabulary with one more per-epoch metric: one entry of PER_EPOCH, its val
    and train forms among the metrics as the table places them."""
    from mnist_exp.results import compare

    monkeypatch.setattr(metrics, "PER_EPOCH", (*metrics.PER_EPOCH, TOP3))
    table = (*metrics.METRICS, *metrics.forms("val", (TOP3,)), *metrics.forms("train", (TOP3,)))
    for module in (metrics, compare):
        monkeypatch.setattr(module, "METRICS", table)
        monkeypatch.setattr(module, "BY_NAME", {m.name: m for m in table})
    return TOP3


def test_a_per_epoch_metric_added_to_the_table_gets_its_history_columns_and_forms(top3):
    assert metrics.history_columns() == [
        "epoch",
        "train/loss",
        "train/accuracy",
        "train/top3_accuracy",
        "val/loss",
        "val/accuracy",
        "val/top3_accuracy",
        "lr",
        "seconds",
    ]
    val, train = metrics.forms("val", (top3,))[0], metrics.forms("train", (top3,))[0]
    assert (val.keras, val.summary, val.final) == ("val_top3", "md", "best/val/top3_accuracy")
    assert (train.keras, train.summary, train.objective) == ("top3", "csv", True)
    assert [m.name for m in metrics.per_epoch(metrics.Place.PLOTS, metrics.logged())] == [
        "loss",
        "accuracy",
        "top3_accuracy",
    ]


def test_a_per_epoch_metric_added_to_the_table_is_compared_drawn_and_shown_live(top3, tmp_path):
    import io

    from rich.console import Console

    from mnist_exp.results import compare
    from mnist_exp.sweeps import charts
    from mnist_exp.training.callbacks.progress import RichProgress

    history = pd.DataFrame(
        {name: [0.5, 0.6] for name in metrics.history_columns()} | {"epoch": [1, 2]}
    )
    runs = [
        compare.Run(tmp_path / str(i), str(i), None, {"val/top3_accuracy": v}, history)
        for i, v in enumerate((0.9, 0.95))
    ]
    assert compare.metric_names(runs) == ["val/top3_accuracy"]
    assert [c.text for c in compare.metric_rows(runs)[1]] == [
        "val/top3_accuracy",
        "0.9000",
        "0.9500",
        "+0.0500 better",
    ]
    panels = [ax.get_title() for ax in compare.curves(runs).axes]
    assert panels == ["loss", "accuracy", "top3_accuracy"]
    figure = charts.top_curves({0: history}, pd.Series({0: "0"}))
    assert [ax.get_title() for ax in figure.axes] == [
        "val/accuracy",
        "val/loss",
        "val/top3_accuracy",
    ]
    progress = RichProgress(Console(file=io.StringIO(), force_terminal=True, width=160), 128)
    progress.set_model(type("Model", (), {"stop_training": False})())
    progress.set_params({"epochs": 1, "steps": 2})
    progress.on_train_begin()
    progress.on_epoch_begin(0)
    progress.on_train_batch_end(0, {"loss": 0.5, "accuracy": 0.8, "top3": 0.95})
    progress.progress.stop()
    assert "loss 0.5000  acc 0.8000  top3 0.9500" in progress.console.file.getvalue()


def test_the_run_table_and_the_best_job_box_take_their_rows_from_the_table(monkeypatch):
    import io

    from rich.console import Console

    from mnist_exp.results.console import print_run

    extra = metrics.Metric(
        "test/top3_accuracy",
        label="test top-3",
        console=8,
        shown=metrics.Place.COMPARE | metrics.Place.BEST,
        direction=metrics.MAX,
    )
    monkeypatch.setattr(metrics, "METRICS", (*metrics.METRICS, extra))
    monkeypatch.setattr(metrics, "BY_NAME", {m.name: m for m in metrics.METRICS})
    assert metrics.shown_in(metrics.Place.BEST) == (
        "test/accuracy",
        "test/loss",
        "test/top3_accuracy",
    )
    run = {"status": "completed", "test/accuracy": 0.9, "test/loss": 0.3, "test/correct": 9}
    run |= {"test/incorrect": 1, "val/accuracy": 0.8, "val/best_epoch": 2, "epochs": 2}
    run |= {"train/seconds": 4.0, "train/samples_per_second": 1234.5, "wall_seconds": 5.0}
    run |= {"test/top3_accuracy": 0.97}
    console = Console(file=io.StringIO(), width=100)
    print_run(console, run, Path("/runs/1"))
    lines = [" ".join(line.strip("│ ").split()) for line in console.file.getvalue().splitlines()]
    assert [line for line in lines if line and line[0].isalpha()] == [
        "mnist-exp run",
        "status │ completed",
        "test accuracy │ 0.9000",
        "correct / incorrect │ 9 / 1 of 10",
        "test loss │ 0.3000",
        "best val accuracy │ 0.8000 (epoch 2)",
        "epochs │ 2",
        "fit time │ 4.0 s (1,234 samples/s)",
        "wall time │ 5.0 s",
        "test top-3 │ 0.9700",
        "run directory │ /runs/1",
    ]


def test_compile_measures_the_vocabularys_metrics_by_name_or_by_their_builder(monkeypatch):
    from mnist_exp.training import compile

    assert compile.compiled_metrics(one_hot=False) == ["accuracy"]
    monkeypatch.setitem(compile.BUILDERS, "accuracy", lambda one_hot: ("built", one_hot))
    assert compile.compiled_metrics(one_hot=True) == [("built", True)]
