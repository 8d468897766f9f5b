"""Run and sweep directories sent to MLflow afterwards (`mnist-exp-sync DIR`): what a
tracker missed (a server that was down, runs made offline or on a cluster without a
network) is all in the directories, the contract every reader uses.

A run is sent as the live path sends it (training/callbacks/trackers/mlflow.py): its
config as params, history.csv's epochs at step = epoch, metrics.json's final metrics,
its status and artifacts; a sweep as its parent run with its jobs nested under it
(sweeps/tracking.py). A directory's MLflow run is found again by the tag that holds its
id (results/files.py's run_id), or by the run its mlflow.json names in the same store:
a run logged live is completed, not copied, and a second sync adds nothing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mnist_exp.errors import UserError
from mnist_exp.results import files
from mnist_exp.sweeps import summary as sweep_summary
from mnist_exp.sweeps.tracking import end_parent, sweep_params
from mnist_exp.training.callbacks.trackers.mlflow import (
    MLFLOW_RUN,
    MLFLOW_STATUS,
    PARENT_TAG,
    RUN_DIR_ID,
    MlflowConfig,
    MlflowRun,
    TrackerUnavailable,
    _import_mlflow_client,
    absolute_uri,
    check_reachable,
    flatten,
    run_name,
)

CONFIG = Path(".hydra") / "config.yaml"
OVERRIDES = Path(".hydra") / "overrides.yaml"
# What a second sync of a directory says, and what the first says
CREATED, COMPLETED, UP_TO_DATE, SKIPPED = "created", "completed", "up to date", "skipped"


class SyncError(UserError):
    """A directory that is neither a run's nor a sweep's (exit 2)."""


class StoreUnreachable(UserError):
    """The tracking server does not answer: the same command works later (exit 1)."""

    exit_code = 1


@dataclass
class Store:
    """Where runs are sent: an MLflow client on one tracking URI, one experiment."""

    cfg: MlflowConfig
    uri: str
    client: object
    experiment_id: str

    @classmethod
    def open(cls, cfg: MlflowConfig) -> Store:
        uri = absolute_uri(cfg.tracking_uri)
        try:
            check_reachable(uri)
        except TrackerUnavailable as exc:
            raise StoreUnreachable(f"{exc}: nothing was sent; try again when it answers") from exc
        client = _import_mlflow_client()(tracking_uri=uri)
        return cls(cfg, uri, client, MlflowRun._experiment(client, cfg, uri))

    def find(self, folder: Path, dir_id: str) -> str | None:
        """The active MLflow run of `folder`: the one its mlflow.json names in this store,
        else the one tagged with its id."""
        record = files.read_json_or_empty(folder / MLFLOW_RUN)
        if record.get("tracking_uri") == self.uri and record.get("run_id"):
            try:
                if self.client.get_run(record["run_id"]).info.lifecycle_stage == "active":
                    return record["run_id"]
            except Exception:  # a run this store no longer has: look for it by its tag
                pass
        found = self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.`{RUN_DIR_ID}` = '{dir_id}'", max_results=1
        )
        return found[0].info.run_id if found else None

    def open_run(
        self, folder: Path, dir_id: str, name: str, tags: dict[str, str]
    ) -> tuple[MlflowRun, bool]:
        """(the folder's run, whether it was created now); its tags set either way."""
        run_id = self.find(folder, dir_id)
        created = run_id is None
        if created:
            run_id = self.client.create_run(self.experiment_id, run_name=name, tags=tags)
            run_id = run_id.info.run_id
            record = files.read_json_or_empty(folder / MLFLOW_RUN)
            if not record or record.get("tracking_uri") == self.uri:  # never another store's
                files.write_json(
                    folder / MLFLOW_RUN,
                    {
                        "tracking_uri": self.uri,
                        "experiment_id": self.experiment_id,
                        "run_id": run_id,
                    },
                )
        else:
            have = self.client.get_run(run_id).data.tags
            for key, value in tags.items():
                if have.get(key) != value:
                    self.client.set_tag(run_id, key, value)
        return MlflowRun(self.client, run_id, self.cfg, folder), created


def config_of(run_dir: Path) -> dict:
    return files.read_yaml_or_empty(run_dir / CONFIG, dict)


def mlflow_config(run_dir: Path, uri: str | None, experiment: str | None) -> MlflowConfig:
    """The store a directory goes to: the options given, else MLFLOW_TRACKING_URI, else
    what its run was configured with (logger.mlflow), else logger=mlflow's defaults."""
    spec = (config_of(run_dir).get("logger") or {}).get("mlflow") or {}
    given = {
        key: value
        for key, value in spec.items()
        if key in ("tracking_uri", "experiment", "artifact_location", "log_artifacts", "log_model")
        and not (isinstance(value, str) and "${" in value)  # saved unresolved: not ours to read
    }
    given["tracking_uri"] = (
        uri
        or os.environ.get("MLFLOW_TRACKING_URI")
        or given.get("tracking_uri", MlflowConfig.tracking_uri)
    )
    if experiment:
        given["experiment"] = experiment
    return MlflowConfig(**given)


def kind(path: Path) -> str:
    """ "run" or "sweep"; a SyncError for anything else."""
    if (path / files.METRICS).is_file():
        return "run"
    if (path / files.MULTIRUN).is_file():  # not any folder of runs: they share no parent
        return "sweep"
    raise SyncError(
        f"{path} is neither a run directory (metrics.json) nor a sweep directory (multirun.yaml)"
    )


def jobs_of(sweep_dir: Path) -> list[Path]:
    return [job for job in sweep_summary.find_jobs(sweep_dir) if job != sweep_dir]


def sweep_id(sweep_dir: Path) -> str:
    """A sweep's id: the directory Hydra made it in (multirun.yaml keeps it, so a copy
    keeps the id), else where it is now."""
    record = files.read_yaml_or_empty(sweep_dir / files.MULTIRUN, dict)
    made_at = str(((record.get("hydra") or {}).get("sweep") or {}).get("dir") or "")
    made_at = made_at or str(sweep_dir.resolve())
    return hashlib.sha256(f"sweep:{made_at}".encode()).hexdigest()[:32]


def run_params(run_dir: Path) -> dict[str, str]:
    """The run's config as MLflow params, as the live path sends them: flat strings,
    without `logger` and `resume` (how it is run, not what)."""
    config = config_of(run_dir)
    for key in ("logger", "resume", "hydra"):
        config.pop(key, None)
    return flatten(config)


def sync_run(store: Store, run_dir: Path, parent: str | None = None) -> tuple[str, str]:
    """Send one run directory: (what was done, the MLflow run's id)."""
    metrics = files.read_json(run_dir / files.METRICS)
    status = metrics.get("status")
    overrides = [str(o) for o in files.read_yaml_or_empty(run_dir / OVERRIDES, list)]
    tags = {
        "mnist_exp.run_dir": str(run_dir.resolve()),
        RUN_DIR_ID: files.run_id(run_dir),
        "mnist_exp.overrides": " ".join(overrides)[:5000],
        "mlflow.source.name": "mnist-exp",
    }
    if config_of(run_dir).get("optimized_metric") is not None:
        tags["mnist_exp.optimized_metric"] = str(config_of(run_dir)["optimized_metric"])
    if parent is not None:
        tags |= {
            "mnist_exp.sweep_dir": str(run_dir.parent.resolve()),
            "mnist_exp.job": run_dir.name,
            PARENT_TAG: parent,
        }
    if status not in MLFLOW_STATUS:  # still running, or its process was lost
        return SKIPPED, ""
    run, created = store.open_run(
        run_dir, tags[RUN_DIR_ID], run_name(store.cfg, run_dir, overrides), tags
    )
    if not created and up_to_date(run, status):
        return UP_TO_DATE, run.run_id
    run.log_params(run_params(run_dir))
    run.finish(status)
    return (CREATED if created else COMPLETED), run.run_id


def up_to_date(run: MlflowRun, status: str) -> bool:
    """The MLflow run ended as the directory says, with every epoch of history.csv."""
    info = run.client.get_run(run.run_id)
    import pandas as pd

    path = run.run_dir / files.HISTORY
    last = int(max(pd.read_csv(path)["epoch"], default=0)) if path.is_file() else 0
    return (
        info.info.status == MLFLOW_STATUS[status]
        and info.data.tags.get("mnist_exp.status") == status
        and run.logged_epoch >= last
    )


def sync_sweep(store: Store, sweep_dir: Path, say: Callable[[str], None]) -> list[str]:
    """Send a sweep: its parent run, then each job nested under it, then the parent's end
    (the best job, the summary's files, its status) when anything changed."""
    record = files.read_yaml_or_empty(sweep_dir / files.MULTIRUN, dict)
    task = [str(o) for o in ((record.get("hydra") or {}).get("overrides") or {}).get("task") or []]
    tags = {
        "mnist_exp.sweep_dir": str(sweep_dir.resolve()),
        RUN_DIR_ID: sweep_id(sweep_dir),
        "mnist_exp.overrides": " ".join(task)[:5000],
        "mlflow.source.name": "mnist-exp",
    }
    parent, created = store.open_run(sweep_dir, tags[RUN_DIR_ID], f"sweep {sweep_dir.name}", tags)
    parent.log_params(sweep_params(task))
    done = []
    for job in jobs_of(sweep_dir):
        word, run_id = sync_run(store, job, parent=parent.run_id)
        say(line(word, "job", job, run_id, store))
        done.append(word)
    ended = store.client.get_run(parent.run_id).info.status != "RUNNING"
    if created or not ended or any(w in (CREATED, COMPLETED) for w in done):
        summary = sweep_summary.build(sweep_dir)
        unfinished = any(s not in MLFLOW_STATUS for s in summary.table["status"])
        end_parent(parent, summary, interrupted=unfinished)
        return [CREATED if created else COMPLETED, *done]
    return [UP_TO_DATE, *done]


def line(word: str, what: str, folder: Path, run_id: str, store: Store) -> str:
    if word == SKIPPED:
        return f"{what} {folder}: skipped (still running, or its process was lost)"
    return f"{what} {folder}: {word} (MLflow run {run_id} in {store.uri})"


def sync(
    paths: list[Path],
    tracking_uri: str | None = None,
    experiment: str | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, int]:
    """Send each run or sweep directory; how many runs each word applies to."""
    kinds = [(Path(path), kind(Path(path))) for path in paths]  # every path checked first
    counts = dict.fromkeys((CREATED, COMPLETED, UP_TO_DATE, SKIPPED), 0)
    stores: dict[tuple, Store] = {}
    for path, what in kinds:
        first = path if what == "run" else next(iter(jobs_of(path)), path)
        cfg = mlflow_config(first, tracking_uri, experiment)
        key = (absolute_uri(cfg.tracking_uri), cfg.experiment)
        store = stores.get(key) or stores.setdefault(key, Store.open(cfg))
        if what == "run":
            word, run_id = sync_run(store, path)
            say(line(word, "run", path, run_id, store))
            words = [word]
        else:
            words = sync_sweep(store, path, say)
            say(line(words[0], "sweep", path, store.find(path, sweep_id(path)) or "", store))
        for word in words:
            counts[word] += 1
    return counts
