"""Experiment trackers beside the run directory: TensorBoard and MLflow.

`start(cfg, run_dir)` turns the `logger` config into a :class:`Tracking`: the
Keras callbacks that log each epoch, and `finish(status)`, which closes the
trackers when the run has completed, failed or been interrupted. MLflow's final
metrics and artifacts are read back from the run directory (metrics.json,
plots/, model.keras), the contract every other piece reads too.

mlflow and tensorboard are optional (`pip install 'mnist-exp[tracking]'`) and
imported only when their logger is chosen.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from mnist_exp import artifacts
from mnist_exp.config import Config, MlflowConfig, TensorBoardConfig
from mnist_exp.errors import ConfigError, UserError
from mnist_exp.metrics import HISTORY_COLUMNS

log = logging.getLogger(__name__)

MLFLOW_RUN = "mlflow.json"  # in the run directory: which MLflow run it is (for resume)
# How a run ended (metrics.json's status) in MLflow's words.
MLFLOW_STATUS = {"completed": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
# metrics.json's best-epoch values under names that do not clash with the per-epoch
# series (whose last value is the last epoch's, not the best one's).
FINAL_RENAMES = {"val/accuracy": "best/val/accuracy", "val/loss": "best/val/loss"}
NOT_METRICS = {"seed", "threads"}  # numbers in metrics.json that describe, not measure
# Overrides that say how a run is run, not what it trains: left out of its MLflow name.
HOW_KEYS = ("logger", "training.progress", "training.threads", "resume", "hydra.")


@dataclasses.dataclass
class Tracking:
    """The trackers of one run: callbacks for fit, then one finish() call."""

    callbacks: list = dataclasses.field(default_factory=list)
    finishers: list[Callable[[str], None]] = dataclasses.field(default_factory=list)

    def finish(self, status: str) -> None:
        """Close every tracker; a tracker that fails warns and never masks the run's result."""
        for finisher in self.finishers:
            try:
                finisher(status)
            except Exception as exc:  # the run's own files are written; say what is missing
                log.warning("logger could not record the run's end (%s): %s", status, exc)
        self.finishers = []


def start(cfg: Config, run_dir: Path, resume: bool = False) -> Tracking:
    """The configured trackers for the run in run_dir (none by default)."""
    tracking = Tracking()
    if cfg.logger.tensorboard is not None:
        tracking.callbacks.append(tensorboard_callback(cfg.logger.tensorboard, run_dir))
    if cfg.logger.mlflow is not None:
        try:
            run = MlflowRun.open(cfg.logger.mlflow, cfg, run_dir, resume)
        except (UserError, OSError):
            raise
        except Exception as exc:  # MLflow's own errors: an unknown scheme, a bad database
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0].strip()
            raise ConfigError(
                f"logger.mlflow.tracking_uri={cfg.logger.mlflow.tracking_uri}: {first}"
            ) from exc
        tracking.callbacks.append(run.epoch_callback())
        tracking.finishers.append(run.finish)
    return tracking


def tensorboard_callback(cfg: TensorBoardConfig, run_dir: Path):
    """Keras' own TensorBoard callback: RUN_DIR/tensorboard/{train,validation} event files
    with epoch_loss, epoch_accuracy (and epoch_learning_rate for train) at step epoch - 1."""
    import keras

    return keras.callbacks.TensorBoard(
        log_dir=str(run_dir / cfg.log_dir),
        write_graph=cfg.graph,
        histogram_freq=cfg.histogram_freq,
        update_freq="epoch",
        profile_batch=0,
    )


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


def final_metrics(metrics: dict) -> dict[str, float]:
    """metrics.json's numbers, less the per-epoch series MLflow already has."""
    per_epoch = set(HISTORY_COLUMNS) - {"epoch"}
    final = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or key in NOT_METRICS:
            continue
        if not math.isfinite(value):
            continue
        if key in FINAL_RENAMES:
            final[FINAL_RENAMES[key]] = float(value)
        elif key not in per_epoch:
            final[key] = float(value)
    return final


def sqlite_path(uri: str) -> Path | None:
    """The database file of a sqlite:///PATH tracking URI, else None."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or uri[len(prefix) :] in ("", ":memory:"):
        return None
    return Path(uri[len(prefix) :])


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


def _import_mlflow_client():
    """MlflowClient, without MLflow's INFO lines (creating its tables, alembic's steps)
    and without usage telemetry: a local, offline tracker sends nothing unless asked."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow.tracking import MlflowClient  # configures the mlflow logger: quiet it after

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
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
        """Create the run (or, on resume, reopen the one the run directory names)."""
        MlflowClient = _import_mlflow_client()

        uri = absolute_uri(cfg.tracking_uri)
        with store_lock(uri):
            client = MlflowClient(tracking_uri=uri)
            run_id = cls._previous_run(client, run_dir) if resume else None
            if run_id is not None:
                client.update_run(run_id, status="RUNNING")
            else:
                experiment_id = cls._experiment(client, cfg, uri)
                run_id = client.create_run(
                    experiment_id, run_name=run_name(cfg, run_dir), tags=run_tags(run_dir, config)
                ).info.run_id
                artifacts.write_json(
                    run_dir / MLFLOW_RUN,
                    {"tracking_uri": uri, "experiment_id": experiment_id, "run_id": run_id},
                )
        run = cls(client, run_id, cfg, run_dir)
        try:
            run.log_params(params(config))
        except Exception:
            client.set_terminated(run_id, status="FAILED")
            raise
        return run

    @staticmethod
    def _previous_run(client, run_dir: Path) -> str | None:
        try:
            run_id = artifacts.read_json(run_dir / MLFLOW_RUN)["run_id"]
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

        path = self.run_dir / artifacts.HISTORY
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
        try:
            metrics = artifacts.read_json(self.run_dir / artifacts.METRICS)
        except (OSError, ValueError):
            metrics = {}
        try:
            self.log_history()
            self.log_metrics(final_metrics(metrics), step=int(metrics.get("epochs") or 0))
            for key in ("reason", "message"):
                if metrics.get(key):
                    self.client.set_tag(self.run_id, f"mnist_exp.{key}", str(metrics[key])[:5000])
            self.client.set_tag(self.run_id, "mnist_exp.status", status)
            self.log_artifacts()
        finally:
            self.client.set_terminated(self.run_id, status=MLFLOW_STATUS.get(status, "FAILED"))

    def log_artifacts(self) -> None:
        run_dir = self.run_dir
        if self.cfg.log_artifacts:
            if (run_dir / artifacts.PLOTS).is_dir():
                self.client.log_artifacts(self.run_id, str(run_dir / artifacts.PLOTS), "plots")
            for name in (artifacts.METRICS, artifacts.HISTORY):
                if (run_dir / name).is_file():
                    self.client.log_artifact(self.run_id, str(run_dir / name))
            for path in sorted((run_dir / ".hydra").glob("*.yaml")):
                self.client.log_artifact(self.run_id, str(path), "hydra")
        if self.cfg.log_model:
            for name in (artifacts.MODEL, artifacts.MODEL_H5):
                if (run_dir / name).is_file():
                    self.client.log_artifact(self.run_id, str(run_dir / name), "model")


def run_name(cfg: MlflowConfig, run_dir: Path) -> str:
    """The configured name, else the job's overrides that change what is trained
    (model=two_hidden,optimizer=adam), else the run directory's name."""
    if cfg.run_name:
        return cfg.run_name
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        what = [
            o for o in HydraConfig.get().overrides.task if not o.lstrip("+~").startswith(HOW_KEYS)
        ]
        if what:
            return ",".join(what)[:250]
    return run_dir.name


def run_tags(run_dir: Path, cfg: Config) -> dict[str, str]:
    """Where the run lives, so that MLflow and the run directory lead to each other."""
    tags = {
        "mnist_exp.run_dir": str(run_dir.resolve()),
        "mnist_exp.optimized_metric": cfg.optimized_metric,
        "mlflow.source.name": "mnist-exp",
    }
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        hydra = HydraConfig.get()
        tags["mnist_exp.overrides"] = " ".join(hydra.overrides.task)[:5000]
        if hydra.mode is not None and hydra.mode.name == "MULTIRUN":
            tags["mnist_exp.sweep_dir"] = str(Path(hydra.sweep.dir).resolve())
            tags["mnist_exp.job"] = str(hydra.job.num)
    return tags
