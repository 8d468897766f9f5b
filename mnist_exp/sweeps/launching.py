"""Launching a sweep's jobs through any Hydra launcher, so that a dead job process
costs that job alone.

Both of our sweepers (hydra/sweeper=grid, mnist-exp's default, and the Optuna one)
launch mnist-exp's jobs through `launch`: each job keeps its own number (and
directory) whatever is launched again, and after every launch each job's directory
says what became of it (sweeps/jobs.py). A job whose process died (kill -9, the
kernel's out-of-memory killer) is launched again from its last checkpoint, up to
`retries` times, then recorded as failed: killed; the jobs beside it and behind it in
the queue go on.

Launchers lose jobs in two ways. Ray and the basic launcher report each job on
its own. joblib's process pool (loky) goes down as a whole when one worker dies: it
kills its other workers and raises, so the jobs running beside the dead one are
lost with it, and nothing says which one died. Those are launched again too; a
job whose retries are spent on such shared losses runs once more alone, where a
loss is surely its own, before it is recorded as killed. So a job that kills its
worker every time (out of memory) ends as killed, and the others complete.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.utils import (
    JobReturn,
    JobStatus,
    configure_log,
    filter_overrides,
    run_job,
    setup_globals,
)
from omegaconf import DictConfig, OmegaConf, open_dict

from mnist_exp.adapters import hydra as hydra_internals
from mnist_exp.errors import first_line
from mnist_exp.results import files
from mnist_exp.results.metrics import finite
from mnist_exp.results.status import FINISHED, Status
from mnist_exp.sweeps import jobs
from mnist_exp.sweeps.progress import SweepProgress

log = logging.getLogger(__name__)


@dataclass(eq=False)  # a job is itself, whatever its fields say
class Job:
    num: int
    overrides: list[str]
    dir: Path
    losses: int = 0  # times its process died under it
    lost_alone: bool = False  # one of those losses was surely its own
    config: DictConfig | None = None  # as composed for it, before launching


def plan(config_loader, config: DictConfig, batch: Sequence[Sequence[str]], first: int):
    """The jobs of a batch, numbered from `first`, each composed once: a config that
    cannot be composed fails here, before any job starts (as Hydra's own sweeper
    checks), and each job's directory is the one its launcher will give it."""
    planned = []
    for num, overrides in enumerate(batch, start=first):
        job_cfg = compose(config_loader, config, overrides, num)
        job_dir = Path(str(job_cfg.hydra.sweep.dir)) / str(job_cfg.hydra.sweep.subdir)
        planned.append(Job(num, list(overrides), job_dir, config=job_cfg))
    return planned


def compose(config_loader, config: DictConfig, overrides: Sequence[str], num: int) -> DictConfig:
    job_cfg = config_loader.load_sweep_config(master_config=config, sweep_overrides=list(overrides))
    with open_dict(job_cfg):
        job_cfg.hydra.job.num = num
    return job_cfg


def launch_overrides(job: Job) -> list[str]:
    """What a job is launched with: from its checkpoint when its process died or it
    was interrupted (its .hydra/ files kept as they are), else afresh."""
    state, reason = jobs.status(job.dir)
    failed_on_its_own = state == Status.FAILED and reason != jobs.KILLED
    if jobs.resumable(job.dir) and not failed_on_its_own:
        return [*job.overrides, f"resume={job.dir}", "hydra.output_subdir=null"]
    return list(job.overrides)


def runs(nums: Sequence[int]) -> list[list[int]]:
    """Sorted job numbers in runs of consecutive ones: a launcher numbers the jobs of
    one launch consecutively from its first."""
    grouped: list[list[int]] = []
    for num in sorted(nums):
        if grouped and grouped[-1][-1] == num - 1:
            grouped[-1].append(num)
        else:
            grouped.append([num])
    return grouped


def launch(
    launcher, todo: Sequence[Job], retries: int, metric: Any, progress: SweepProgress | None = None
) -> dict[int, JobReturn]:
    """Launch `todo`, and again each job whose process died, until every one has
    ended; returns each job's JobReturn by number. `metric` is optimized_metric,
    the value a job reports (for jobs whose launcher lost their JobReturn);
    `progress` shows the sweep's line as jobs start and end."""
    pending = {job.num: job for job in todo}
    results: dict[int, JobReturn] = {}
    while pending:
        alone = [n for n, job in pending.items() if job.losses > retries]
        groups = [[n] for n in alone] + runs([n for n in pending if n not in alone])
        for group in sorted(groups):
            batch = [pending[n] for n in group]
            returns = _launch(launcher, batch, progress)
            if progress is not None:
                progress.show()
            lost = [job for job in batch if jobs.lost(job.dir)]
            for i, job in enumerate(batch):
                if job in lost:
                    continue
                if returns is not None:
                    results[job.num] = returns[i]
                elif jobs.started(job.dir):  # it ended before its pool went down
                    results[job.num] = stored_return(job, metric)
                else:
                    continue  # never started: launched with the rest
                del pending[job.num]
            for job in lost:
                job.losses += 1
                job.lost_alone |= returns is not None or len(lost) == 1
                start = " from its last checkpoint" if jobs.resumable(job.dir) else ""
                if job.losses <= retries:
                    log.warning(
                        "job %d lost its process; launching it again%s (retry %d of %d)",
                        *(job.num, start, job.losses, retries),
                    )
                    continue
                if not job.lost_alone:
                    log.warning(
                        "job %d lost its process again, with other jobs beside it; launching "
                        "it alone%s, where a loss is surely its own",
                        *(job.num, start),
                    )
                    continue
                message = f"its process died {job.losses} times (hydra.sweeper.retries={retries})"
                said = jobs.message(job.dir)  # what the launcher knew of the last death
                if said and said != jobs.LOST:
                    message += f"; the last: {said}"
                files.record_status(job.dir, Status.FAILED, reason=jobs.KILLED, message=message)
                log.error("job %d: %s; recorded as failed: killed", job.num, message)
                results[job.num] = stored_return(job, metric)
                del pending[job.num]
    return results


def _launch(
    launcher, batch: Sequence[Job], progress: SweepProgress | None
) -> Sequence[JobReturn] | None:
    """The batch's JobReturns; None when the launcher raised because job processes died
    (joblib's pool going down), which the caller reads from the jobs' directories."""
    try:
        return launch_once(launcher, batch, [launch_overrides(job) for job in batch], progress)
    except Exception as exc:
        if not any(jobs.lost(job.dir) for job in batch):
            raise
        log.warning("the launcher lost job processes: %s", first_line(exc))
        return None


def launch_once(
    launcher,
    batch: Sequence[Job],
    overrides: Sequence[Sequence[str]] | None = None,
    progress: SweepProgress | None = None,
) -> Sequence[JobReturn]:
    """The batch's JobReturns from one launch with `overrides` (default: the jobs' own):
    the basic launcher runs jobs launched with their own overrides here, with the
    configs composed for them; any other launcher is given the overrides."""
    overrides = [job.overrides for job in batch] if overrides is None else overrides
    if isinstance(launcher, hydra_internals.BasicLauncher) and all(
        job.config is not None and job.overrides == again
        for job, again in zip(batch, overrides, strict=True)
    ):
        return run_here(launcher, batch, progress)
    with progress.watching() if progress is not None else contextlib.nullcontext():
        return launcher.launch(overrides, batch[0].num)


def run_here(
    launcher: Any, batch: Sequence[Job], progress: SweepProgress | None = None
) -> list[JobReturn]:
    """The jobs one after another in this process, as Hydra's basic launcher runs them,
    with the configs composed for them already (composing a job takes a good part of
    its overhead on small data)."""
    setup_globals()
    configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    Path(str(launcher.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    log.info("Launching %d jobs locally", len(batch))
    returns = []
    for job in batch:
        if progress is not None:
            progress.show()  # above the job's own output
        log.info("\t#%d : %s", job.num, " ".join(filter_overrides(job.overrides)))
        with open_dict(job.config):
            job.config.hydra.job.id = str(job.num)  # a str field: Hydra 1.4 warns of an int
        returns.append(
            run_job(
                hydra_context=launcher.hydra_context,
                task_function=launcher.task_function,
                config=job.config,
                job_dir_key="hydra.sweep.dir",
                job_subdir_key="hydra.sweep.subdir",
            )
        )
        configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    return returns


def stored_return(job: Job, metric: Any) -> JobReturn:
    """A JobReturn rebuilt from the job's metrics.json: its objective (NaN if it failed),
    as the job returned it."""
    found = files.read_json_or_empty(job.dir / files.METRICS)
    ok = found.get("status") in FINISHED

    def value(name: str) -> float:
        number = finite(found.get(name)) if ok else None
        return math.nan if number is None else number

    names = [metric] if isinstance(metric, str) else list(metric)
    values = [value(name) for name in names]
    hydra_cfg = OmegaConf.create({"hydra": {"runtime": {"output_dir": str(job.dir)}}})
    ret = JobReturn(
        overrides=job.overrides,
        cfg=None,
        hydra_cfg=hydra_cfg,
        working_dir=str(job.dir),
        task_name="mnist-exp",
        status=JobStatus.COMPLETED,
    )
    ret.return_value = values[0] if isinstance(metric, str) else values  # as run_job sets it
    return ret
