"""logger=mlflow: each run (and each sweep job) is one MLflow run.

Its params are the flattened config, its metrics history.csv's rows and
metrics.json's final values, read back from the run directory (the contract every
other piece reads too), with its plots and model as files. mlflow is optional
(`pip install 'mnist-exp[tracking]'`) and imported only when this logger is chosen.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from mnist_exp.config.schema import Config
from mnist_exp.config.trackers import TrackerConfig
from mnist_exp.errors import ConfigError, UserError, first_line, require
from mnist_exp.results import files
from mnist_exp.results.files import sqlite_path
from mnist_exp.results.metrics import HISTORY_COLUMNS
from mnist_exp.results.status import Status
from mnist_exp.training.callbacks.tracked import final_metrics, task_overrides, what_overrides
from mnist_exp.training.callbacks.trackers import Finisher

log = logging.getLogger(__name__)

# In the run directory: which MLflow run it is (for resume); in a sweep's directory: the
# sweep's own run, which its jobs' runs are nested under (sweeps/tracking.py).
MLFLOW_RUN = "mlflow.json"
PARENT_TAG = "mlflow.parentRunId"  # MLflow's nested runs: the UI groups a sweep's jobs
# The run (or sweep) directory's id (results/files.py's run_id): mnist-exp-sync finds
# the MLflow run of a directory by it, wherever the directory was copied.
RUN_DIR_ID = "mnist_exp.run_dir_id"
# A tracking server is a side channel: one that is down or slow costs a run seconds,
# not MLflow's minutes (7 retries with backoff, 120 s timeouts). MLflow's own
# environment variables, when set, win.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
}
OUTAGE = ".mlflow-unreachable"  # in a sweep directory: its jobs have said the server is down
PROBE_S = 3.0  # a server that has not answered /health in this time is taken as down
# Words in a failure that mean the server could not be reached, and how to say it.
UNREACHABLE = (
    (("connection refused", "newconnectionerror"), "connection refused"),
    (("timed out", "timeout"), "timed out"),
    (("name or service not known", "nameresolution", "getaddrinfo"), "unknown host"),
    (("connectionerror", "connection aborted", "remotedisconnected", "max retries"),
     "connection lost"),
    (("error code 5", "status code 5", "too many 5"), "server error"),
)  # fmt: skip
# How a run ended (metrics.json's status) in MLflow's words; a pruned trial finished
# what it was allowed to do (its tag mnist_exp.status says pruned).
MLFLOW_STATUS = {
    Status.COMPLETED: "FINISHED",
    Status.PRUNED: "FINISHED",
    Status.FAILED: "FAILED",
    Status.INTERRUPTED: "KILLED",
}


@dataclass
class MlflowConfig(TrackerConfig):
    """logger=mlflow: each run (and each sweep job) is one MLflow run."""

    NAME = "mlflow"
    PACKAGE, DISTRIBUTION = "mlflow", "mlflow-skinny"
    _target_: str = f"{__name__}.Mlflow"
    # A local sqlite store (relative paths from the directory mnist-exp runs in), or a server.
    tracking_uri: str = "sqlite:///outputs/mlflow.db"
    experiment: str = "mnist-exp"
    run_name: Optional[str] = None  # null: the run's overrides, else its directory's name
    # Where new experiments keep artifacts; null: beside a sqlite store (mlartifacts/),
    # else the tracking server's default.
    artifact_location: Optional[str] = None
    log_artifacts: bool = True  # plots/, metrics.json, history.csv, the .hydra/ configs
    log_model: bool = True  # model.keras (and model.h5): a few MB a run

    def __post_init__(self) -> None:
        super().__post_init__()
        require(bool(self.experiment), self.key("experiment"), self.experiment, "a name")


SCHEMA = MlflowConfig


class Mlflow:
    """The tracker: the run's MLflow run, sent each epoch and closed when the run ends."""

    def __init__(self, **fields) -> None:
        self.cfg = MlflowConfig(**fields)

    def start(self, config: Config, run_dir: Path, resume: bool) -> tuple[list, Finisher]:
        run = open_run(self.cfg, config, run_dir, resume)
        return [run.epoch_callback()], run.finish

    def on_failure(self, run_dir: Path, what: str = "run") -> dict:
        """How a failure of this tracker is said (guard.TrackerState): the server and why
        in a few words, and the command that sends the run (a sweep job: its whole sweep)
        afterwards. In a sweep, the first job (or the sweep itself) to meet an outage says
        it; the others log it at debug, until a job reaches the server again."""
        sweep_dir = run_dir if what == "sweep" else current_sweep_dir()
        return {
            "describe": lambda exc: unreachable(exc, self.cfg.tracking_uri) or first_line(exc),
            "later": f"mnist-exp-sync {sweep_dir or run_dir} sends it later",
            "first": (lambda: outage_begins(sweep_dir)) if sweep_dir else (lambda: True),
            "what": what,
        }


def flatten(tree: dict, prefix: str = "") -> dict[str, str]:
    """{"model": {"units": 512}} -> {"model.units": "512"}: MLflow's params are flat strings."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def params(cfg: Config) -> dict[str, str]:
    """The run's config as MLflow params; `logger` and `resume` say how it is run, not what."""
    tree = dataclasses.asdict(cfg)
    for key in ("logger", "resume"):
        tree.pop(key, None)
    return flatten(tree)


def absolute_uri(uri: str) -> str:
    """A relative sqlite path made absolute, so that every record names the same file."""
    path = sqlite_path(uri)
    return f"sqlite:///{path.expanduser().resolve()}" if path is not None else uri


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Parallel sweep jobs must not create the sqlite store's tables at the same time."""
    path = sqlite_path(uri)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def open_run(cfg: MlflowConfig, config: Config, run_dir: Path, resume: bool) -> MlflowRun:
    """The run's MLflow run. A server that does not answer is TrackerUnavailable (the
    run goes on without it); MLflow's other errors (an unknown scheme, a bad database)
    are one config error naming the tracking URI."""
    try:
        check_reachable(cfg.tracking_uri)
        run = MlflowRun.open(cfg, config, run_dir, resume)
        sweep_dir = current_sweep_dir()
        if sweep_dir is not None:
            (sweep_dir / OUTAGE).unlink(missing_ok=True)  # reached: a next outage is said
        return run
    except (UserError, TrackerUnavailable):
        raise
    except Exception as exc:
        if unreachable(exc, cfg.tracking_uri):
            raise TrackerUnavailable(unreachable(exc, cfg.tracking_uri)) from exc
        if isinstance(exc, OSError):
            raise
        raise ConfigError(
            f"{cfg.key('tracking_uri')}={cfg.tracking_uri}: {first_line(exc)}"
        ) from exc


class TrackerUnavailable(Exception):
    """The tracking server does not answer now: the run goes on without it."""


def is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def check_reachable(uri: str) -> None:
    """A tracking server that does not answer within PROBE_S is TrackerUnavailable, at
    once, before MLflow's own calls (each with its timeout and retries) meet it. Any
    HTTP answer, even an error, means it is there."""
    if not is_server(uri):
        return
    import requests  # MLflow's HTTP client: the same proxies and certificates

    timeout = min(PROBE_S, float(os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT") or PROBE_S))
    try:
        requests.get(f"{uri.rstrip('/')}/health", timeout=timeout).close()
    except requests.RequestException as exc:
        raise TrackerUnavailable(unreachable(exc, uri) or first_line(exc)) from exc


def unreachable(exc: BaseException, uri: str) -> str | None:
    """ "URI did not answer (REASON)" when exc, or one it was raised from, says that a
    tracking server could not be reached or did not answer in time; else None."""
    if not is_server(uri):
        return None
    text = ""
    seen = exc
    while seen is not None:
        text += f" {type(seen).__name__}: {seen}"
        seen = seen.__cause__ or seen.__context__
    lowered = text.lower()
    for words, reason in UNREACHABLE:
        if any(w in lowered for w in words):
            return f"{uri} did not answer ({reason})"
    return None


def _import_mlflow_client():
    """MlflowClient, without MLflow's INFO lines (creating its tables, alembic's steps),
    without usage telemetry (a local, offline tracker sends nothing unless asked), and
    with HTTP timeouts and retries for a side channel (HTTP_DEFAULTS)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # "🏃 View run ... at: URL" on stdout for every run a server ends: our lines say it
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    for name, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
    from mlflow.tracking import MlflowClient  # configures the mlflow logger: quiet it after

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # urllib3 logs each retry of a request (300 characters); the one line that says the
    # tracker is off is ours.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    return MlflowClient


class MlflowRun:
    """One MLflow run for one mnist-exp run, through MlflowClient (no global active run,
    so sweep jobs in one process never log into each other's runs)."""

    def __init__(self, client, run_id: str, cfg: MlflowConfig, run_dir: Path) -> None:
        self.client = client
        self.run_id = run_id
        self.cfg = cfg
        self.run_dir = run_dir
        # The last epoch MLflow has (a resumed run has the epochs before the interruption).
        steps = [m.step for m in client.get_metric_history(run_id, HISTORY_COLUMNS[1])]
        self.logged_epoch = max(steps, default=0)

    @classmethod
    def open(cls, cfg: MlflowConfig, config: Config, run_dir: Path, resume: bool) -> MlflowRun:
        """Create the run (or, on resume, reopen the one the run directory names); a
        sweep job's run is nested under the sweep's."""
        tags = run_tags(run_dir, config)
        run = cls.open_in(cfg, run_dir, resume, run_name(cfg, run_dir), tags, nest=True)
        run.log_params_or_fail(params(config))
        return run

    @classmethod
    def open_in(
        cls, cfg: MlflowConfig, folder: Path, resume: bool, name: str, tags: dict, nest: bool
    ) -> MlflowRun:
        """The run that folder/mlflow.json names, reopened (resume), else a new one recorded
        there; with `nest`, a child of the sweep's run when the tags name a sweep."""
        MlflowClient = _import_mlflow_client()

        uri = absolute_uri(cfg.tracking_uri)
        with store_lock(uri):
            client = MlflowClient(tracking_uri=uri)
            run_id = cls._previous_run(client, folder) if resume else None
            if run_id is not None:
                client.update_run(run_id, status="RUNNING")
            else:
                experiment_id = cls._experiment(client, cfg, uri)
                record = {"tracking_uri": uri, "experiment_id": experiment_id}
                parent = sweep_run(tags, record) if nest else None
                if parent:
                    tags = {**tags, PARENT_TAG: parent}
                run_id = client.create_run(experiment_id, run_name=name, tags=tags).info.run_id
                files.write_json(folder / MLFLOW_RUN, {**record, "run_id": run_id})
        return cls(client, run_id, cfg, folder)

    def log_params_or_fail(self, values: dict[str, str]) -> None:
        """log_params; a run whose params MLflow refuses ends FAILED, not RUNNING."""
        try:
            self.log_params(values)
        except Exception:
            self.client.set_terminated(self.run_id, status="FAILED")
            raise

    @staticmethod
    def _previous_run(client, run_dir: Path) -> str | None:
        try:
            run_id = files.read_json(run_dir / MLFLOW_RUN)["run_id"]
            client.get_run(run_id)
        except Exception:  # no record, or a run the store no longer has: start a new one
            return None
        return run_id

    @staticmethod
    def _experiment(client, cfg: MlflowConfig, uri: str) -> str:
        experiment = client.get_experiment_by_name(cfg.experiment)
        if experiment is not None:
            return experiment.experiment_id
        location = cfg.artifact_location
        db = sqlite_path(uri)
        if location is None and db is not None:
            location = (db.parent / "mlartifacts").as_uri()
        return client.create_experiment(cfg.experiment, artifact_location=location)

    def log_params(self, values: dict[str, str]) -> None:
        """Params are write-once in MLflow: a resumed run (which may change only
        training.progress) keeps those it has."""
        from mlflow.entities import Param

        have = self.client.get_run(self.run_id).data.params
        items = [Param(k, v) for k, v in values.items() if k not in have]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 params a batch
            self.client.log_batch(self.run_id, params=items[i : i + 100])

    def log_metrics(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step) for k, v in values.items() if math.isfinite(v)]
        if items:
            self.client.log_batch(self.run_id, metrics=items)

    def log_history(self) -> None:
        """history.csv's rows that MLflow does not have yet, each at step = epoch: the
        same names and the same values as the file."""
        import pandas as pd

        path = self.run_dir / files.HISTORY
        if not path.is_file():
            return
        for row in pd.read_csv(path).to_dict("records"):
            epoch = int(row.pop("epoch"))
            if epoch > self.logged_epoch:
                self.log_metrics(row, step=epoch)
                self.logged_epoch = epoch

    def epoch_callback(self):
        """A Keras callback that sends each epoch to MLflow once the run has written its
        row (the checkpointer writes history.csv at the end of every completed epoch)."""
        import keras

        run = self

        class MlflowEpochs(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                run.log_history()

        return MlflowEpochs()

    def finish(self, status: str) -> None:
        """Final metrics, artifacts, and how the run ended (FINISHED, FAILED, KILLED)."""
        check_reachable(self.cfg.tracking_uri)  # a server gone since: seconds, not retries
        metrics = files.read_json_or_empty(self.run_dir / files.METRICS)
        try:
            self.log_history()
            self.log_metrics(final_metrics(metrics), step=int(metrics.get("epochs") or 0))
            for key in ("reason", "message", "stop_reason"):
                if metrics.get(key):
                    self.client.set_tag(self.run_id, f"mnist_exp.{key}", str(metrics[key])[:5000])
            self.client.set_tag(self.run_id, "mnist_exp.status", status)
            self.log_artifacts()
        finally:
            self.client.set_terminated(self.run_id, status=MLFLOW_STATUS.get(status, "FAILED"))

    def log_artifacts(self) -> None:
        run_dir = self.run_dir
        if self.cfg.log_artifacts:
            if (run_dir / files.PLOTS).is_dir():
                self.client.log_artifacts(self.run_id, str(run_dir / files.PLOTS), "plots")
            for name in (files.METRICS, files.HISTORY):
                if (run_dir / name).is_file():
                    self.client.log_artifact(self.run_id, str(run_dir / name))
            for path in sorted((run_dir / ".hydra").glob("*.yaml")):
                self.client.log_artifact(self.run_id, str(path), "hydra")
        if self.cfg.log_model:
            for name in (files.MODEL, files.MODEL_H5):
                if (run_dir / name).is_file():
                    self.client.log_artifact(self.run_id, str(run_dir / name), "model")


def run_name(cfg: MlflowConfig, run_dir: Path, overrides: list[str] | None = None) -> str:
    """The configured name, else the job's overrides (this process's, unless given) that
    change what is trained (model=two_hidden,optimizer=adam), else the run directory's name."""
    if cfg.run_name:
        return cfg.run_name
    what = what_overrides(task_overrides() if overrides is None else overrides)
    return ",".join(what)[:250] if what else run_dir.name


def run_tags(run_dir: Path, cfg: Config) -> dict[str, str]:
    """Where the run lives, so that MLflow and the run directory lead to each other."""
    tags = {
        "mnist_exp.run_dir": str(run_dir.resolve()),
        RUN_DIR_ID: files.run_id(run_dir),
        "mnist_exp.optimized_metric": cfg.optimized_metric,
        "mlflow.source.name": "mnist-exp",
    }
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        hydra = HydraConfig.get()
        tags["mnist_exp.overrides"] = " ".join(hydra.overrides.task)[:5000]
        sweep_dir = current_sweep_dir()
        if sweep_dir is not None:
            tags["mnist_exp.sweep_dir"] = str(sweep_dir)
            tags["mnist_exp.job"] = str(hydra.job.num)
    return tags


def current_sweep_dir() -> Path | None:
    """The sweep directory of the job running in this process; None outside a sweep."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        hydra = HydraConfig.get()
        if hydra.mode is not None and hydra.mode.name == "MULTIRUN":
            return Path(hydra.sweep.dir).resolve()
    return None


def outage_begins(sweep_dir: Path) -> bool:
    """True for the first of a sweep's processes to meet the tracker down (it creates
    SWEEP_DIR/OUTAGE); open_run removes the mark when a job reaches it again."""
    try:
        sweep_dir.mkdir(parents=True, exist_ok=True)
        (sweep_dir / OUTAGE).open("x").close()
    except FileExistsError:
        return False
    except OSError:
        return True
    return True


def sweep_run(tags: dict[str, str], store: dict[str, str]) -> str | None:
    """The id of the sweep's own run (SWEEP_DIR/mlflow.json) for a job whose tags name a
    sweep, when that run is in the job's store and experiment (`store`); else None."""
    sweep_dir = tags.get("mnist_exp.sweep_dir")
    if sweep_dir is None:
        return None
    record = files.read_json_or_empty(Path(sweep_dir) / MLFLOW_RUN)
    if any(record.get(key) != value for key, value in store.items()):
        return None
    return record.get("run_id")
