"""The Optuna study of a search, as both sides of a sweep reach it: the sweeper
(hydra_plugins/mnist_exp_optuna_sweeper) asks it for trials and tells it their
results; a job of a pruned search reports its objective to its trial after every
epoch and asks whether to stop.

Every job must reach the study, in whatever process its launcher runs it, so a
search always keeps its study in a storage. By default that is a journal file in
the sweep directory (`optuna.journal`): Optuna's JournalStorage appends each change
to a file under a lock, so parallel jobs on one machine report at once without
SQLite's "database is locked", it needs no database library, and optuna-dashboard
opens it. `storage=` takes any other Optuna storage URL (sqlite:///PATH.db,
postgresql+psycopg://USER@HOST/DB: sweeps/database.py) or a journal file's path.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from mnist_exp.adapters.optuna import study_id, trial_id
from mnist_exp.config.targets import TARGETS, instantiate_allowed
from mnist_exp.errors import ConfigError, first_line
from mnist_exp.results.files import sqlite_path
from mnist_exp.sweeps import database

STORAGE_FILE = "optuna.journal"  # the default storage, in the sweep directory
TRIAL_ENV = "MNIST_EXP_OPTUNA_TRIAL"  # a job's trial id, set by the sweeper through env_set
SAMPLERS = TARGETS["hydra.sweeper.sampler"]
PRUNERS = TARGETS["hydra.sweeper.pruner"]

log = logging.getLogger(__name__)


def storage(spec: Any, sweep_dir: str | Path):
    """The Optuna storage `spec` names (None: the sweep directory's journal file)."""
    spec = None if spec is None else str(spec)
    if spec is not None and "://" in spec:
        database = sqlite_path(spec)
        if database is not None:  # SQLite creates the file but not its folder
            database.parent.mkdir(parents=True, exist_ok=True)
        return spec
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = Path(spec).expanduser() if spec else Path(sweep_dir) / STORAGE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def open_storage(spec: Any, sweep_dir: str | Path):
    """The storage `spec` names, ready: a database's reached (sweeps/database.py), so a
    missing driver or a server that refuses is one line before any trial."""
    kept = storage(spec, sweep_dir)
    return database.connect(kept) if isinstance(kept, str) else kept


def kept(spec: Any, sweep_dir: str | Path):
    """A context for the part of a sweep that talks to its study: a database that stops
    answering there ends the sweep in one line (StorageLost)."""
    if spec is None or "://" not in str(spec):
        return contextlib.nullcontext()
    return database.kept_in(str(spec), Path(sweep_dir))


def describe_storage(spec: Any, sweep_dir: str | Path) -> str:
    """Where the study is kept, as a user would name it again (a URL's password hidden)."""
    if spec is None:
        return str(Path(sweep_dir) / STORAGE_FILE)
    return database.shown(str(spec)) if "://" in str(spec) else str(spec)


def pruner(node: Any):
    """The configured pruner; NopPruner for hydra/sweeper/optuna_pruner=none."""
    return instantiate_allowed(node, "hydra.sweeper.pruner", PRUNERS)


def prunes(node: Any) -> bool:
    """Whether a pruner config is one that can stop trials (not none / NopPruner)."""
    target = node.get("_target_") if node is not None else None
    return target is not None and not str(target).endswith(".NopPruner")


def trial_key(trial) -> str:
    """What a job is told of its trial (TRIAL_ENV): study id and trial id, "3-17"."""
    return f"{study_id(trial.study)}-{trial_id(trial)}"


def job_trial(hydra_cfg: Any):
    """In a job of a pruned search: its Optuna trial (reports go to the study); else None.

    `hydra_cfg` is the job's HydraConfig: its sweeper's storage and pruner, and its
    sweep directory, as the sweeper saw them.
    """
    key = os.environ.get(TRIAL_ENV)
    if not key:
        return None
    import optuna

    sweeper = hydra_cfg.sweeper
    try:
        study_id, trial_id = (int(part) for part in key.split("-"))
        kept = open_storage(sweeper.storage, hydra_cfg.sweep.dir)
        name = kept.get_study_name_from_id(study_id)
        study = optuna.load_study(study_name=name, storage=kept, pruner=pruner(sweeper.pruner))
    except (ValueError, KeyError, OSError, RuntimeError) as exc:  # a ConfigError among them
        raise ConfigError(
            f"{TRIAL_ENV}={key}: the trial's study cannot be read ({first_line(exc)})"
        ) from exc
    return optuna.trial.Trial(study, trial_id)


def importances(sweep_dir: Path, record: dict) -> dict[str, float] | None:
    """Optuna's parameter importances (its default evaluator) for the first objective of
    the study an Optuna sweep in `sweep_dir` kept; `record` is its multirun.yaml. None
    for other sweeps, and where Optuna cannot tell (fewer than two finished trials,
    nothing varied, a storage gone)."""
    sweeper = (record.get("hydra") or {}).get("sweeper") or {}
    if "optuna" not in str(sweeper.get("_target_", "")):
        return None
    spec = sweeper.get("storage")
    if spec is None and not (Path(sweep_dir) / STORAGE_FILE).is_file():
        return None  # reading must not create the journal
    import optuna

    try:
        kept = storage(spec, sweep_dir)
        job = (record.get("hydra") or {}).get("job") or {}
        name = sweeper.get("study_name") or job.get("name")  # the sweeper's default
        study = optuna.load_study(study_name=name, storage=kept)
        states = (optuna.trial.TrialState.COMPLETE,)
        if len(study.get_trials(deepcopy=False, states=states)) < 2:
            return None  # Optuna's evaluator would only warn that it cannot tell
        first = (lambda t: t.values[0]) if len(study.directions) > 1 else None
        found = optuna.importance.get_param_importances(study, target=first)
    except Exception as exc:  # the page is drawn without them; say why in the log
        log.info("no parameter importances for %s: %s", sweep_dir, first_line(exc))
        return None
    return {name: float(value) for name, value in found.items()} or None
