"""The Hydra callback that ends every sweep with its summary.

Configured under hydra.callbacks in conf/config.yaml, so it runs with any
sweeper (basic, Optuna) and any launcher (basic, joblib).
"""

from __future__ import annotations

import atexit
import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

KILLED = "killed"  # metrics.json reason of a job whose process died without a word


class SweepSummary(Callback):
    """Writes summary.csv, summary.md and plots/sweep.png in the sweep directory, prints
    the ranked table, and exits non-zero when any job did not complete.

    Jobs never stop a sweep (a failed job returns NaN), so this is where a sweep
    with failures gets its non-zero exit: SystemExit passes through Hydra's error
    handling, which turns exceptions from callbacks into warnings.

    A sweep that ends early (Ctrl-C, SIGTERM, a crash, joblib's pool broken by a
    killed worker) gets its summary too, when the process exits; a job still
    "running" then has lost its process, and is recorded as failed: killed.
    """

    def __init__(self, exit_on_failure: bool = True) -> None:
        self.exit_on_failure = exit_on_failure
        self._unfinished: Path | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # SQLite creates the study's file but not its folder (Optuna's storage=sqlite:///...).
        folder = sqlite_folder(OmegaConf.select(config, "hydra.sweeper.storage", default=None))
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        sweep_dir = Path(config.hydra.sweep.dir)
        if (sweep_dir / "multirun.yaml").exists():
            return  # another sweep's directory (refused): its jobs are none of ours to mark
        self._unfinished = sweep_dir
        # Imported now: at exit, an import that registers its own atexit hook fails.
        import matplotlib.backends.backend_agg  # noqa: F401

        from mnist_exp import plots, report, summary  # noqa: F401

        atexit.register(self._summarize_at_exit)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._unfinished = None
        sweep_dir = Path(config.hydra.sweep.dir)
        summary = summarize(sweep_dir)
        failed = summary.failed
        if len(failed) and self.exit_on_failure:
            from rich.console import Console

            jobs = ", ".join(str(job) for job in failed["job"])
            Console(stderr=True).print(
                f"[bold red]error:[/] {len(failed)} of {len(summary.table)} jobs did not "
                f"complete (job {jobs}); see {sweep_dir / 'summary.md'}",
                highlight=False,
                soft_wrap=True,
            )
            raise SystemExit(1)

    def _summarize_at_exit(self) -> None:
        sweep_dir, self._unfinished = self._unfinished, None
        if sweep_dir is None or not sweep_dir.is_dir():
            return
        try:
            mark_lost_jobs(sweep_dir)
            summarize(sweep_dir)
        except Exception as exc:  # the process is ending: say it, never raise
            log.warning("could not write the summary of %s: %s", sweep_dir, exc)


def summarize(sweep_dir: Path):
    """Write the sweep's summary files and print its ranked table; return the Summary."""
    from rich.console import Console

    from mnist_exp import summary as sweep_summary
    from mnist_exp.report import print_sweep

    summary = sweep_summary.build(sweep_dir)
    sweep_summary.write(summary, sweep_dir)
    console = Console()
    print_sweep(console, summary)
    console.print(f"summary: {sweep_dir / sweep_summary.SUMMARY_MD}", highlight=False)
    return summary


def mark_lost_jobs(sweep_dir: Path) -> list[Path]:
    """Record as failed the jobs of an ended sweep whose metrics.json still says running
    (or that never wrote one): their process died without a word (kill -9, out of
    memory, or the worker pool went down with another job's process)."""
    from mnist_exp import artifacts
    from mnist_exp import summary as sweep_summary

    lost = []
    for job_dir in sweep_summary.find_jobs(sweep_dir):
        try:
            status = artifacts.read_json(job_dir / artifacts.METRICS).get("status")
        except (OSError, ValueError):
            status = None
        if status in (None, "running"):
            artifacts.record_status(
                job_dir,
                "failed",
                reason=KILLED,
                message="the job's process ended without a result: killed (kill -9, out of "
                "memory), or ended with the sweep or with its worker pool",
            )
            lost.append(job_dir)
    return lost


def sqlite_folder(storage: Any) -> Path | None:
    """The folder of a sqlite:///PATH storage URL (relative or absolute), else None."""
    prefix = "sqlite:///"
    if not isinstance(storage, str) or not storage.startswith(prefix):
        return None
    path = storage[len(prefix) :]
    if not path or path.startswith(":memory:"):
        return None
    return Path(path).parent
