"""The Hydra callbacks of every run and sweep (hydra.callbacks in conf/config.yaml):
outputs are never written over, and every sweep ends with its summary, whatever
its sweeper and launcher."""

from __future__ import annotations

import atexit
import logging
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from mnist_exp.results.console import print_error
from mnist_exp.results.files import METRICS
from mnist_exp.sweeps import resuming, tracking
from mnist_exp.sweeps.jobs import footprint, mark_lost_jobs

log = logging.getLogger(__name__)


class ProtectOutputs(Callback):
    """A run never writes over another run's files.

    Run directories are unique to the microsecond; this catches the rest: an
    explicit hydra.run.dir / hydra.sweep.dir that already holds results. Hydra
    turns exceptions raised in callbacks into warnings and goes on, so a refusal
    exits here, before Hydra creates or writes anything.
    """

    def _refuse(self, message: str) -> None:
        print_error(message)
        raise SystemExit(2)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        run_dir = Path(config.hydra.run.dir)
        if config.get("resume") is None and (run_dir / METRICS).exists():
            self._refuse(
                f"hydra.run.dir={run_dir} already holds a run; choose another directory, "
                f"or continue it with resume={run_dir}"
            )

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        why = resuming.refusal(config)  # a sweep's directory, unless resumed
        if why:
            self._refuse(why)


class SweepSummary(Callback):
    """Writes summary.csv, summary.md, plots/sweep.png and report.html in the sweep
    directory (and ends its MLflow parent run, with logger=mlflow), prints
    the ranked table, and exits non-zero when any job did not complete.

    Jobs never stop a sweep (a failed job returns NaN), so this is where a sweep
    with failures gets its non-zero exit: SystemExit passes through Hydra's error
    handling, which turns exceptions from callbacks into warnings.

    A sweep that ends early (Ctrl-C, SIGTERM, a crash, joblib's pool broken by a
    killed worker) gets its summary too, when the process exits; a job still
    "running" then has lost its process, and is recorded as failed: killed. One that
    ends before any of its jobs started (a storage that cannot be reached) has none:
    its one line is all it prints, and a resumed sweep's files stay as they were.
    """

    def __init__(self, exit_on_failure: bool = True) -> None:
        self.exit_on_failure = exit_on_failure
        self._unfinished: Path | None = None
        self._before: dict = {}  # the jobs' footprint when the sweep started
        self._tracking = tracking.SweepTracking()  # logger=mlflow: the sweep's own run

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if resuming.refusal(config):
            return  # refused (ProtectOutputs): the directory's jobs are none of ours to mark
        self._unfinished = Path(config.hydra.sweep.dir)
        self._before = footprint(self._unfinished)
        # Imported now: at exit, an import that registers its own atexit hook fails.
        import matplotlib.backends.backend_agg  # noqa: F401
        import matplotlib.backends.backend_svg  # noqa: F401

        from mnist_exp.results import plots  # noqa: F401
        from mnist_exp.sweeps import console, page, summary  # noqa: F401

        atexit.register(self._summarize_at_exit)
        self._tracking = tracking.start(config)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self._unfinished is None:
            return  # never started (refused): Hydra 1.4 ends a sweep whose start failed
        if sys.exc_info()[1] is not None:
            # Ending by an exception (SIGTERM, Ctrl-C), where Hydra 1.4 calls this too: the
            # summary is written at exit, as on 1.3, and the exit code stays the signal's.
            return
        self._unfinished = None
        sweep_dir = Path(config.hydra.sweep.dir)
        summary = summarize(sweep_dir)
        self._tracking.finish(summary)
        failed = summary.failed
        if len(failed) and self.exit_on_failure:
            jobs = ", ".join(str(job) for job in failed["job"])
            print_error(
                f"{len(failed)} of {len(summary.table)} jobs did not complete (job {jobs}); "
                f"see {sweep_dir / 'summary.md'}"
            )
            raise SystemExit(1)

    def _summarize_at_exit(self) -> None:
        sweep_dir, self._unfinished = self._unfinished, None
        if sweep_dir is None:
            return
        try:
            if footprint(sweep_dir) == self._before:  # no job started: nothing to sum up
                self._tracking.finish(None, interrupted=True)
                return
            mark_lost_jobs(sweep_dir)
            self._tracking.finish(summarize(sweep_dir), interrupted=True)
        except Exception as exc:  # the process is ending: say it, never raise
            log.warning("could not write the summary of %s: %s", sweep_dir, exc)


def summarize(sweep_dir: Path):
    """Write the sweep's summary files and print its ranked table; return the Summary."""
    from rich.console import Console

    from mnist_exp.sweeps import summary as sweep_summary
    from mnist_exp.sweeps.console import print_sweep

    summary = sweep_summary.build(sweep_dir)
    sweep_summary.write(summary, sweep_dir)
    console = Console()
    print_sweep(console, summary)
    console.print(f"summary: {sweep_dir / sweep_summary.SUMMARY_MD}", highlight=False)
    return summary
