"""logger=tensorboard and logger=mlflow: what a run sends them, read back with their own readers."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pandas as pd
import pytest

from mnist_exp.errors import ConfigError, MissingPackageError
from mnist_exp.sweeps import tracking as sweep_tracking
from mnist_exp.training.callbacks import tracked, trackers
from mnist_exp.training.callbacks.trackers import mlflow as loggers
from mnist_exp.training.callbacks.trackers import tensorboard as board
from mnist_exp.training.callbacks.trackers.guard import TrackerState
from mnist_exp.training.callbacks.trackers.mlflow import MlflowConfig
from mnist_exp.training.callbacks.trackers.tensorboard import TensorBoardConfig
from tests.helpers import run_cli, run_in_process, start_and_signal

EPOCHS = 3
# Keras' TensorBoard callback: run folder and tag for each history.csv column.
TENSORBOARD_TAGS = {
    "train/loss": ("train", "epoch_loss"),
    "train/accuracy": ("train", "epoch_accuracy"),
    "val/loss": ("validation", "epoch_loss"),
    "val/accuracy": ("validation", "epoch_accuracy"),
    "lr": ("train", "epoch_learning_rate"),
}


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory) -> tuple[Path, Path]:
    """One smoke run with both loggers; MLflow's store in its default place."""
    tmp = tmp_path_factory.mktemp("tracked")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)  # the default: outputs/mlflow.db
        result = run_cli(
            tmp,
            "+experiment=smoke",
            f"training.epochs={EPOCHS}",
            "training.progress=false",
            "logger=[tensorboard,mlflow]",
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mlflow.store" not in result.stderr, "MLflow's INFO lines should be quiet"
    return tmp / "run", tmp / "outputs" / "mlflow.db"


@pytest.fixture(scope="module")
def tracked_sweep(tmp_path_factory) -> tuple[Path, Path]:
    """One 2-job sweep with both loggers (the jobs differ in model.units)."""
    tmp = tmp_path_factory.mktemp("tracked_sweep")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        result = run_cli(
            tmp,
            "-m",
            "+experiment=smoke",
            "training.epochs=2",
            "training.progress=false",
            "model.units=16,24",
            "logger=[mlflow,tensorboard]",
            f"hydra.sweep.dir={tmp / 'sweep'}",
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "could not" not in result.stderr, result.stderr
    return tmp / "sweep", tmp / "outputs" / "mlflow.db"


def mlflow_client(db: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{db}")


def only_run(client):
    experiment = client.get_experiment_by_name("mnist-exp")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    return runs[0]


def artifact_paths(client, run_id: str, path: str | None = None) -> set[str]:
    found = set()
    for item in client.list_artifacts(run_id, path):
        found |= artifact_paths(client, run_id, item.path) if item.is_dir else {item.path}
    return found


def test_mlflow_run_holds_params_history_final_metrics_and_artifacts(tracked_run):
    run_dir, db = tracked_run
    assert db.is_file(), "the sqlite store is created in outputs/ of the working directory"
    client = mlflow_client(db)
    run = only_run(client)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    history = pd.read_csv(run_dir / "history.csv")

    assert run.info.status == "FINISHED"
    assert json.loads((run_dir / "mlflow.json").read_text())["run_id"] == run.info.run_id
    assert run.data.tags["mnist_exp.run_dir"] == str(run_dir.resolve())
    assert run.data.tags["mnist_exp.status"] == "completed"
    # The run's name: the overrides that say what is trained, not how it is logged.
    assert run.info.run_name == f"+experiment=smoke,training.epochs={EPOCHS}"

    params = run.data.params
    assert params["data.name"] == "mnist_5k"
    assert params["model.units"] == "[512]"
    assert params["optimizer.name"] == "rmsprop"
    assert params["optimizer.learning_rate"] == "0.001"
    assert params["training.epochs"] == str(EPOCHS)
    assert not [k for k in params if k.startswith(("logger", "resume"))]

    for column in ("train/loss", "train/accuracy", "val/loss", "val/accuracy", "lr", "seconds"):
        series = client.get_metric_history(run.info.run_id, column)
        assert [m.step for m in sorted(series, key=lambda m: m.step)] == list(
            range(1, EPOCHS + 1)
        ), column
        assert [m.value for m in sorted(series, key=lambda m: m.step)] == pytest.approx(
            history[column].tolist(), rel=1e-12
        ), column

    final = run.data.metrics
    assert final["test/accuracy"] == pytest.approx(metrics["test/accuracy"])
    assert final["test/loss"] == pytest.approx(metrics["test/loss"])
    assert final["test/correct"] == metrics["test/correct"]
    assert final["best/val/accuracy"] == pytest.approx(metrics["val/accuracy"])
    assert final["val/best_epoch"] == metrics["val/best_epoch"]
    assert final["params"] == metrics["params"]

    listed = artifact_paths(client, run.info.run_id)
    expected = {f"plots/{p.name}" for p in (run_dir / "plots").glob("*.png")}
    expected |= {"model/model.keras", "metrics.json", "history.csv", "hydra/config.yaml"}
    assert len(expected) >= 9
    assert expected <= listed, expected - listed
    # Artifacts live beside the store, not in the directory the command ran in.
    artifact_uri = run.info.artifact_uri
    assert artifact_uri.startswith((db.parent / "mlartifacts").as_uri()), artifact_uri


@pytest.mark.slow  # a sweep of two jobs in a process of its own
def test_a_sweep_in_mlflow_is_a_parent_run_with_each_job_nested_under_it(tracked_sweep):
    sweep_dir, db = tracked_sweep
    client = mlflow_client(db)
    experiment = client.get_experiment_by_name("mnist-exp")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if loggers.PARENT_TAG not in r.data.tags]
    assert len(runs) == 3 and len(parents) == 1
    parent = parents[0]
    assert json.loads((sweep_dir / "mlflow.json").read_text())["run_id"] == parent.info.run_id
    assert parent.info.run_name == f"sweep {sweep_dir.name}"
    assert parent.data.tags["mnist_exp.sweep_dir"] == str(sweep_dir.resolve())
    assert parent.data.params["model.units"] == "16,24"
    assert "logger" not in parent.data.params  # how the sweep is run, not what it varies

    children = {r.data.tags["mnist_exp.job"]: r for r in runs if r is not parent}
    assert sorted(children) == ["0", "1"]
    for job, child in children.items():
        metrics = json.loads((sweep_dir / job / "metrics.json").read_text())
        assert child.data.tags[loggers.PARENT_TAG] == parent.info.run_id
        assert child.info.status == "FINISHED"
        assert child.data.metrics["best/val/accuracy"] == pytest.approx(metrics["val/accuracy"])
        assert child.data.metrics["test/accuracy"] == pytest.approx(metrics["test/accuracy"])

    # The parent: the best job's metrics (the summary's rank 1), and the summary's files.
    summary = pd.read_csv(sweep_dir / "summary.csv")
    best = summary.loc[summary["rank"] == 1, "job"].item()
    assert {16, 24} == set(summary["model.units"])
    best_metrics = json.loads((sweep_dir / str(best) / "metrics.json").read_text())
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["mnist_exp.best_job"] == str(best)
    assert parent.data.metrics["best/val/accuracy"] == pytest.approx(best_metrics["val/accuracy"])
    assert parent.data.metrics["test/accuracy"] == pytest.approx(best_metrics["test/accuracy"])
    listed = artifact_paths(client, parent.info.run_id)
    found = {n for n in ("summary.csv", "summary.md", "report.html") if (sweep_dir / n).is_file()}
    expected = found | {"plots/sweep.png", "hydra/multirun.yaml"}
    assert {"summary.csv", "summary.md"} <= found
    assert expected <= listed, expected - listed


@pytest.mark.slow  # the same sweep
def test_a_sweep_in_tensorboard_has_an_hparams_session_per_job(tracked_sweep):
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer
    from tensorboard.plugins.hparams import api_pb2
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData
    from tensorboard.util import tensor_util

    sweep_dir, _ = tracked_sweep
    multiplexer = EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(sweep_dir))
    multiplexer.Reload()
    sessions = {}
    for run, tags in multiplexer.PluginRunToTagToContent("hparams").items():
        data = {tag: HParamsPluginData.FromString(content) for tag, content in tags.items()}
        sessions[run] = data
    assert sorted(sessions) == ["0/tensorboard", "1/tensorboard"]
    for job, units in (("0", 16), ("1", 24)):
        data = sessions[f"{job}/tensorboard"]
        start = data["_hparams_/session_start_info"].session_start_info
        assert start.hparams["model.units"].number_value == units
        assert start.hparams["model.name"].string_value == "one_hidden"
        assert start.hparams["experiment"].string_value == "smoke"
        assert not [k for k in start.hparams if k.startswith(tracked.HOW_KEYS)]
        end = data["_hparams_/session_end_info"].session_end_info
        assert end.status == api_pb2.Status.STATUS_SUCCESS
        metrics = json.loads((sweep_dir / job / "metrics.json").read_text())
        for name, key in (
            ("test/accuracy", "test/accuracy"),
            ("best/val/accuracy", "val/accuracy"),
        ):
            (event,) = multiplexer.Tensors(f"{job}/tensorboard", name)
            assert event.step == metrics["epochs"] == 2
            value = float(tensor_util.make_ndarray(event.tensor_proto))
            assert value == pytest.approx(metrics[key], rel=1e-6), name


def test_tensorboard_event_files_hold_the_history(tracked_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    run_dir, _ = tracked_run
    history = pd.read_csv(run_dir / "history.csv")
    events = {}
    for folder in ("train", "validation"):
        files = list((run_dir / "tensorboard" / folder).glob("events.out.tfevents.*"))
        assert files, f"no event file in tensorboard/{folder}"
        accumulator = EventAccumulator(str(run_dir / "tensorboard" / folder), {"tensors": 0})
        accumulator.Reload()
        events[folder] = accumulator
    for column, (folder, tag) in TENSORBOARD_TAGS.items():
        scalars = events[folder].Tensors(tag)
        steps = [event.step + 1 for event in scalars]  # Keras counts epochs from 0
        values = [float(tensor_util.make_ndarray(event.tensor_proto)) for event in scalars]
        assert steps == history["epoch"].tolist(), column
        assert values == pytest.approx(history[column].tolist(), rel=1e-6), column
    # The model graph: Keras' model summary, which TensorBoard's Graphs tab draws.
    assert "keras" in events["train"].Tags()["tensors"]


def test_loggers_do_not_change_training(tracked_run, tmp_path):
    run_dir, _ = tracked_run
    plain = run_in_process(
        tmp_path, "+experiment=smoke", f"training.epochs={EPOCHS}", "training.progress=false"
    )
    assert plain.returncode == 0, plain.stderr
    columns = ["train/loss", "train/accuracy", "val/loss", "val/accuracy"]
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "run" / "history.csv")[columns],
        pd.read_csv(run_dir / "history.csv")[columns],
    )
    assert not (tmp_path / "outputs").exists(), "no logger: no store, nothing beside the run"
    assert not (tmp_path / "run" / "tensorboard").exists()


@pytest.mark.slow
def test_interrupted_mlflow_run_is_killed_then_resumed_into_the_same_run(tmp_path):
    """Ctrl-C marks the MLflow run KILLED; resume= reopens it and completes its history."""
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    args = ["+experiment=smoke", "training.epochs=4", "training.batch_size=16", "logger=mlflow"]
    args.append(f"logger.mlflow.tracking_uri={uri}")
    run_dir, code = start_and_signal(tmp_path, args, signal.SIGINT)
    assert code == 130

    client = mlflow_client(tmp_path / "store" / "mlflow.db")
    killed = only_run(client)
    assert killed.info.status == "KILLED"
    assert killed.data.tags["mnist_exp.status"] == "interrupted"
    done = len(pd.read_csv(run_dir / "history.csv"))
    assert len(client.get_metric_history(killed.info.run_id, "val/accuracy")) == done < 4

    result = run_cli(tmp_path, f"resume={run_dir}", "training.progress=false")
    assert result.returncode == 0, result.stderr
    resumed = only_run(client)  # the same MLflow run, not a second one
    assert resumed.info.run_id == killed.info.run_id
    assert resumed.info.status == "FINISHED"
    history = pd.read_csv(run_dir / "history.csv")
    series = sorted(
        client.get_metric_history(resumed.info.run_id, "val/accuracy"), key=lambda m: m.step
    )
    assert [m.step for m in series] == [1, 2, 3, 4]
    assert [m.value for m in series] == pytest.approx(history["val/accuracy"].tolist())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert resumed.data.metrics["test/accuracy"] == pytest.approx(metrics["test/accuracy"])


# --- units ------------------------------------------------------------------------------


def test_missing_package_is_one_line_saying_what_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    with pytest.raises(MissingPackageError) as caught:
        MlflowConfig()
    message = str(caught.value)
    assert "\n" not in message
    assert "logger=mlflow" in message and "pip install 'mnist-exp[tracking]'" in message
    assert isinstance(caught.value, ConfigError) and caught.value.reason == "missing_package"
    TensorBoardConfig()  # installed: no complaint


def test_params_are_the_config_flattened_to_strings():
    tree = {
        "model": {"units": 64, "layers": 2},
        "data": {"local_paths": ["/a"], "path": None},
        "optimized_metric": "val/accuracy",
    }
    assert loggers.flatten(tree) == {
        "model.units": "64",
        "model.layers": "2",
        "data.local_paths": "['/a']",
        "data.path": "None",
        "optimized_metric": "val/accuracy",
    }


def test_final_metrics_leave_the_per_epoch_series_alone():
    metrics = {
        "status": "completed",
        "test/accuracy": 0.9,
        "test/correct": 900,
        "val/accuracy": 0.91,  # the best epoch's: logged as best/val/accuracy
        "val/loss": 0.3,
        "train/loss": 0.2,  # the last epoch's: already the last point of the series
        "seed": 42,
        "threads": 2,
        "train/seconds": float("nan"),
        "data": {"train": 10},
        "deterministic": True,
        "stopped_epoch": 7,  # early stopping ended the run: a final value of its own
        "stop_reason": "early_stopping",  # text: a tag, not a metric
    }
    assert tracked.final_metrics(metrics) == {
        "test/accuracy": 0.9,
        "test/correct": 900.0,
        "best/val/accuracy": 0.91,
        "best/val/loss": 0.3,
        "stopped_epoch": 7.0,
    }


def test_relative_sqlite_uri_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert loggers.absolute_uri("sqlite:///outputs/m.db") == f"sqlite:///{tmp_path}/outputs/m.db"
    assert loggers.absolute_uri("http://host:5000") == "http://host:5000"


def test_a_failing_tracker_warns_and_never_masks_the_run(caplog):
    calls = []

    def broken(status):
        calls.append(status)
        raise RuntimeError("store gone")

    states = [TrackerState("broken"), TrackerState("fine")]
    tracking = trackers.Tracking(finishers=list(zip(states, [broken, calls.append], strict=True)))
    tracking.finish("completed")
    tracking.finish("completed")  # finishing twice closes once
    assert calls == ["completed", "completed"]
    assert [s.down for s in states] == [True, False]
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "logger=broken: could not record the run's end (completed): store gone; "
        "everything is in its directory"
    ]


def test_an_unusable_tracking_uri_is_one_config_error(tmp_path):
    from types import SimpleNamespace

    cfg = SimpleNamespace(
        logger={"tensorboard": None, "mlflow": MlflowConfig(tracking_uri="foo://bar")}
    )
    with pytest.raises(ConfigError, match=r"^logger.mlflow.tracking_uri=foo://bar: ") as caught:
        trackers.start(cfg, tmp_path)
    assert "\n" not in str(caught.value)


def test_both_trackers_start_in_the_order_the_config_gives(settings, tmp_path):
    db = tmp_path / "mlflow.db"
    cfg = settings(
        "+experiment=smoke",
        "logger=[tensorboard,mlflow]",
        f"logger.mlflow.tracking_uri=sqlite:///{db}",
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    tracking = trackers.start(cfg, run_dir)
    assert [type(c.callback).__name__ for c in tracking.callbacks] == [
        "TensorBoard",
        "MlflowEpochs",
    ]
    tracking.finish("failed")
    run = only_run(mlflow_client(db))
    assert run.info.status == "FAILED" and run.data.tags["mnist_exp.status"] == "failed"
    assert run.data.params["data.name"] == "mnist_5k"
    assert len(list((run_dir / "tensorboard").glob(f"*{board.HPARAMS_SUFFIX}"))) == 1


def test_a_null_tracker_starts_nothing(tmp_path):
    from types import SimpleNamespace

    tracking = trackers.start(SimpleNamespace(logger={"mlflow": None}), tmp_path)
    assert tracking.callbacks == [] and tracking.finishers == []


def test_a_tracker_target_outside_the_list_is_refused_when_built(tmp_path):
    """The second check, where a tracker is built: a spec that never went through
    to_settings is refused too, before anything is called."""
    from types import SimpleNamespace

    spec = {"_target_": "os.system", "command": f"touch {tmp_path / 'PWNED'}"}
    with pytest.raises(ConfigError) as caught:
        trackers.start(SimpleNamespace(logger={"mine": spec}), tmp_path)
    assert str(caught.value).startswith("logger.mine._target_='os.system' is not allowed")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "PWNED").exists()


def test_overrides_become_hparams_of_their_own_types():
    from types import SimpleNamespace as NS

    config = NS(
        data=NS(name="mnist_5k"),
        model=NS(name="mlp"),
        optimizer=NS(name="adam", learning_rate=0.01),
        training=NS(epochs=5, batch_size=64),
    )
    overrides = [
        "model.units=16",
        "optimizer.learning_rate=3e-4",
        "model.batch_norm=true",
        "model=two_hidden",
        "+experiment=smoke",
        "model.units_list=[16,32]",
        "~callbacks",  # a deletion: no value
        "training.progress=false",  # how a run is run: left out
        "logger=[tensorboard,mlflow]",
        "training.dropout=nan",
    ]
    assert board.hparams(config, overrides) == {
        "data.name": "mnist_5k",
        "model.name": "mlp",
        "optimizer.name": "adam",
        "optimizer.learning_rate": 3e-4,  # the override's, over the config's
        "training.epochs": 5,
        "training.batch_size": 64,
        "model.units": 16,
        "model.batch_norm": True,
        "model": "two_hidden",
        "experiment": "smoke",
        "model.units_list": "[16,32]",
        "training.dropout": "nan",
    }
    assert isinstance(board.typed("16"), int) and isinstance(board.typed("0.5"), float)


def test_a_resumed_run_replaces_its_hparams_session(tmp_path):
    """TensorBoard keeps the first session it reads in a directory: a resumed run's
    session must replace the interrupted one, with its status and final metrics."""
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer
    from tensorboard.plugins.hparams import api_pb2
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    values = {"model.units": 16}
    board.write_session(tmp_path, "t", values, {"test/loss": 2.0}, "interrupted", step=1)
    board.write_session(tmp_path, "t", values, {"test/loss": 1.0}, "completed", step=3)
    multiplexer = EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(tmp_path))
    multiplexer.Reload()
    (content,) = [
        tags["_hparams_/session_end_info"]
        for tags in multiplexer.PluginRunToTagToContent("hparams").values()
    ]
    status = HParamsPluginData.FromString(content).session_end_info.status
    assert status == api_pb2.Status.STATUS_SUCCESS
    assert [e.step for e in multiplexer.Tensors(".", "test/loss")] == [3]


@pytest.mark.parametrize(
    ("ranks", "interrupted", "expected"),
    [
        ([1, 2], False, "FINISHED"),
        ([1, None], False, "FINISHED"),  # a failed job beside a completed one
        ([None, None], False, "FAILED"),  # no job completed
        ([], False, "FAILED"),
        ([1, None], True, "KILLED"),  # the sweep stopped early
    ],
)
def test_the_sweeps_run_ends_as_its_jobs_did(ranks, interrupted, expected):
    table = pd.DataFrame({"rank": pd.array(ranks, dtype="Int64"), "job": range(len(ranks))})
    assert sweep_tracking.parent_status(table, interrupted) == expected


def test_a_sweep_without_mlflow_opens_no_run():
    from omegaconf import OmegaConf

    logger = {"tensorboard": {"_target_": TensorBoardConfig._target_}, "mlflow": None}
    config = OmegaConf.create({"logger": logger, "hydra": {"sweep": {"dir": "x"}}})
    tracked = sweep_tracking.start(config)
    assert tracked.run is None
    tracked.finish(None)  # nothing to end


def test_sweep_overrides_become_the_parents_params():
    overrides = ["model.units=16,24", "+experiment=smoke", "~callbacks"]
    assert sweep_tracking.sweep_params(overrides) == {"model.units": "16,24", "experiment": "smoke"}


def test_mlflow_http_settings_are_ours_unless_mlflow_variables_are_set(monkeypatch):
    for name in loggers.HTTP_DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "42")
    loggers._import_mlflow_client()
    from mlflow.environment_variables import (
        MLFLOW_HTTP_REQUEST_MAX_RETRIES,
        MLFLOW_HTTP_REQUEST_TIMEOUT,
    )

    assert MLFLOW_HTTP_REQUEST_TIMEOUT.get() == 42  # the user's
    assert MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() == 1  # ours, not MLflow's 7


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "did not answer (connection refused)"),
        (TimeoutError("timed out"), "did not answer (timed out)"),
        (RuntimeError("API request to http://h:5000/x failed with error code 503 != 200"),
         "did not answer (server error)"),
        (RuntimeError("RESOURCE_DOES_NOT_EXIST: no such run"), None),
    ],
)  # fmt: skip
def test_what_an_unreachable_server_is(error, said):
    found = loggers.unreachable(error, "http://h:5000")
    assert found == (f"http://h:5000 {said}" if said else None)
    assert loggers.unreachable(error, "sqlite:///x.db") is None  # a file store is not a server
