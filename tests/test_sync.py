"""mnist-exp-sync: run directories made without a tracker sent to an MLflow store
afterwards, found again by their id; bad input in one line. (On a real server, after
an outage: tests/test_tracker_outages.py.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mnist_exp.app.sync import sync_command
from mnist_exp.results import files
from mnist_exp.training.callbacks.trackers import mlflow as loggers
from tests.test_tracker_outages import check_run_in_mlflow
from tests.test_trackers import mlflow_client


@pytest.fixture
def copied_run(smoke_run, tmp_path) -> Path:
    """The session's smoke run (made without a tracker), copied: sync writes mlflow.json."""
    run_dir = tmp_path / "copied"
    shutil.copytree(smoke_run[0], run_dir)
    return run_dir


def synced(capsys, *args: str) -> tuple[int, list[str], str]:
    code = sync_command(list(args))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_a_run_made_without_a_tracker_is_sent_once(copied_run, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    db = tmp_path / "store" / "mlflow.db"
    uri = f"sqlite:///{db}"
    code, lines, err = synced(capsys, str(copied_run), "--tracking-uri", uri)
    assert code == 0, err
    assert lines[0].startswith(f"run {copied_run}: created (MLflow run ")
    assert lines[-1] == "1 created"
    client = mlflow_client(db)
    run = client.search_runs([client.get_experiment_by_name("mnist-exp").experiment_id])
    assert len(run) == 1
    check_run_in_mlflow(client, run[0], copied_run)
    metrics = json.loads((copied_run / "metrics.json").read_text())
    assert run[0].data.tags[loggers.RUN_DIR_ID] == metrics["id"]
    assert run[0].data.params["data.name"] == "mnist_5k"
    assert run[0].info.run_name == "+experiment=smoke"

    # again, and from a copy of the directory elsewhere: the same run, nothing added
    moved = shutil.copytree(copied_run, tmp_path / "moved")
    (moved / "mlflow.json").unlink()  # found by its id alone
    for folder in (copied_run, moved):
        code, lines, err = synced(capsys, str(folder), "--tracking-uri", uri)
        assert code == 0 and lines[-1] == "1 up to date", lines + [err]
    again = client.search_runs([client.get_experiment_by_name("mnist-exp").experiment_id])
    assert [r.info.run_id for r in again] == [run[0].info.run_id]
    history = pd.read_csv(copied_run / "history.csv")
    assert len(client.get_metric_history(run[0].info.run_id, "val/loss")) == len(history)


def test_a_run_left_running_by_a_lost_server_is_completed_not_copied(copied_run, tmp_path, capsys):
    """A live run whose server went away after epoch 1: RUNNING, one epoch, no end."""
    db = tmp_path / "mlflow.db"
    uri = f"sqlite:///{db}"
    client = loggers._import_mlflow_client()(tracking_uri=uri)
    experiment = client.create_experiment("mnist-exp", (tmp_path / "artifacts").as_uri())
    tags = {loggers.RUN_DIR_ID: files.run_id(copied_run)}
    live = client.create_run(experiment, tags=tags).info.run_id
    files.write_json(
        copied_run / "mlflow.json",
        {"tracking_uri": uri, "experiment_id": experiment, "run_id": live},
    )
    history = pd.read_csv(copied_run / "history.csv")
    run = loggers.MlflowRun(client, live, loggers.MlflowConfig(tracking_uri=uri), copied_run)
    run.log_metrics({"val/loss": float(history["val/loss"][0])}, step=1)
    assert client.get_run(live).info.status == "RUNNING"

    code, lines, err = synced(capsys, str(copied_run), "--tracking-uri", uri)
    assert code == 0, err
    assert lines[0] == f"run {copied_run}: completed (MLflow run {live} in {uri})"
    runs = client.search_runs([experiment])
    assert [r.info.run_id for r in runs] == [live]
    check_run_in_mlflow(client, runs[0], copied_run)


def test_a_directory_that_is_no_run_is_one_line_and_nothing_is_sent(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, lines, err = synced(capsys, str(empty), "--tracking-uri", f"sqlite:///{tmp_path}/m.db")
    assert code == 2 and lines == []
    assert err.strip() == (
        f"error: {empty} is neither a run directory (metrics.json) nor a sweep directory "
        "(multirun.yaml)"
    )
    assert not (tmp_path / "m.db").exists()


def test_a_server_that_does_not_answer_is_one_line(copied_run, capsys):
    from tests.ray_cluster import free_port

    uri = f"http://127.0.0.1:{free_port()}"
    code, lines, err = synced(capsys, str(copied_run), "--tracking-uri", uri)
    assert code == 1 and lines == []
    assert err.strip() == (
        f"error: {uri} did not answer (connection refused): nothing was sent; "
        "try again when it answers"
    )
    assert not (copied_run / "mlflow.json").exists()
