"""The sweep's own runs in the trackers: with logger=mlflow a sweep is one parent MLflow
run and each of its jobs a child run under it (tag mlflow.parentRunId), which MLflow's
UI groups.

The sweep process opens the parent when the sweep starts and records its id in
SWEEP_DIR/mlflow.json, where every job finds it, whatever process or launcher runs it
(training/callbacks/trackers/mlflow.py); `resume=SWEEP_DIR` reopens it. When the sweep ends the
parent gets the best job's metrics and the summary's files. A tracker that fails here
says so in one line (how to send the sweep later included) and never fails the sweep.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

from mnist_exp.training.callbacks.trackers import find
from mnist_exp.training.callbacks.trackers.guard import TrackerState
from mnist_exp.training.callbacks.trackers.mlflow import (
    OUTAGE,
    Mlflow,
    MlflowConfig,
    MlflowRun,
    check_reachable,
)

if TYPE_CHECKING:  # pandas is imported with the summary, not with every run's callbacks
    import pandas as pd

log = logging.getLogger(__name__)


class SweepTracking:
    """The sweep's parent run, if any: `finish(summary)` once the summary is written."""

    def __init__(self, run=None, state: TrackerState | None = None) -> None:
        self.run = run  # an MlflowRun for the sweep directory, or None
        self.state = state  # says, once, that the tracker failed

    def finish(self, summary, interrupted: bool = False) -> None:
        run, self.run = self.run, None
        if run is None or self.state is None:
            return
        # the sweep's own files are written: the line says what the tracker misses
        self.state.call(
            end_parent, run, summary, interrupted, when="could not record the sweep's end"
        )


def end_parent(run: MlflowRun, summary, interrupted: bool = False) -> None:
    """The parent's end: the best job's metrics, the summary's files, its status."""
    check_reachable(run.cfg.tracking_uri)  # seconds, not MLflow's retries, if down
    status = parent_status(summary.table if summary is not None else None, interrupted)
    try:
        if summary is not None:
            log_best_job(run, summary)
            log_sweep_files(run, summary.root)
    finally:
        run.client.set_terminated(run.run_id, status=status)


def start(config: DictConfig) -> SweepTracking:
    """The sweep's parent run when it is tracked with logger=mlflow (a new one, or on
    resume=SWEEP_DIR the one SWEEP_DIR/mlflow.json names); nothing, not even an import
    of mlflow, otherwise. A tracker that fails is one line: the jobs still run (and try
    it again, unnested)."""
    cfg = find(OmegaConf.select(config, "logger"), MlflowConfig)
    if cfg is None:
        return SweepTracking()
    sweep_dir = Path(str(config.hydra.sweep.dir))
    state = TrackerState(cfg.NAME, **Mlflow(**vars(cfg)).on_failure(sweep_dir, "sweep"))
    opened: list[MlflowRun] = []
    state.call(lambda: opened.append(open_parent(config, cfg)), when="")
    if not opened:
        return SweepTracking()
    (sweep_dir / OUTAGE).unlink(missing_ok=True)  # reached: the jobs say a next outage
    return SweepTracking(opened[0], state)


def open_parent(config: DictConfig, cfg: MlflowConfig) -> MlflowRun:
    check_reachable(cfg.tracking_uri)
    sweep_dir = Path(str(config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    overrides = [str(o) for o in OmegaConf.select(config, "hydra.overrides.task") or []]
    tags = {
        "mnist_exp.sweep_dir": str(sweep_dir.resolve()),
        "mnist_exp.overrides": " ".join(overrides)[:5000],
        "mlflow.source.name": "mnist-exp",
    }
    resume = OmegaConf.select(config, "resume") is not None
    name = f"sweep {sweep_dir.name}"
    run = MlflowRun.open_in(cfg, sweep_dir, resume, name, tags, nest=False)
    run.log_params_or_fail(sweep_params(overrides))
    return run


def sweep_params(overrides: list[str]) -> dict[str, str]:
    """The sweep's overrides that say what it trains, as params: `model.units=16,24` ->
    {"model.units": "16,24"} (MLflow keeps at most 6000 characters of a param)."""
    from mnist_exp.training.callbacks.tracked import what_values

    return {key: value[:6000] for key, value in what_values(overrides).items()}


def parent_status(table: pd.DataFrame | None, interrupted: bool = False) -> str:
    """How the sweep ended in MLflow's words: KILLED when it stopped early, else FINISHED
    when a job ranked (completed or pruned), else FAILED."""
    if interrupted:
        return "KILLED"
    return "FINISHED" if table is not None and best_row(table) is not None else "FAILED"


def best_row(table: pd.DataFrame) -> pd.Series | None:
    """The summary's rank-1 job (its table is ranked best first), or None."""
    import pandas as pd

    if len(table) and pd.notna(table["rank"].iloc[0]):
        return table.iloc[0]
    return None


def log_best_job(run, summary) -> None:
    """The best job's final metrics on the parent, and which job that is."""
    import pandas as pd

    from mnist_exp.results import files
    from mnist_exp.training.callbacks.tracked import final_metrics

    row = best_row(summary.table)
    if row is None:
        return
    metrics = files.read_json_or_empty(Path(summary.root) / row["path"] / files.METRICS)
    run.log_metrics(final_metrics(metrics), step=0)
    job = row["job"]
    run.client.set_tag(run.run_id, "mnist_exp.best_job", str(job if pd.notna(job) else row["path"]))
    run.client.set_tag(run.run_id, "mnist_exp.objective", summary.objective)


def log_sweep_files(run, sweep_dir: Path) -> None:
    """The summary's files that exist (summary.csv, .md, plots/, report.html) and the
    sweep's config, as the parent's artifacts."""
    from mnist_exp.results.files import MULTIRUN
    from mnist_exp.sweeps.page import REPORT_HTML
    from mnist_exp.sweeps.summary import REPEATS_CSV, SUMMARY_CSV, SUMMARY_MD, SWEEP_PLOT

    sweep_dir = Path(sweep_dir)
    if not run.cfg.log_artifacts:
        return
    for name in (SUMMARY_CSV, SUMMARY_MD, REPEATS_CSV, REPORT_HTML):
        if (sweep_dir / name).is_file():
            run.client.log_artifact(run.run_id, str(sweep_dir / name))
    plots = (sweep_dir / SWEEP_PLOT).parent
    if plots.is_dir():
        run.client.log_artifacts(run.run_id, str(plots), plots.name)
    if (sweep_dir / MULTIRUN).is_file():
        run.client.log_artifact(run.run_id, str(sweep_dir / MULTIRUN), "hydra")
