"""hydra/launcher=slurm: the sweep as a SLURM job array (submitit), waited on until
every job has ended, whatever ended it.

hydra-submitit-launcher waits on each job in turn through submitit, which asks
`sacct` for their states. Where SLURM keeps no accounting (no slurmdbd, common on
small clusters) every sacct call fails (with three warnings each time), the states
stay UNKNOWN, and a job that ended without a result (cancelled while pending, say)
is waited on forever. Here the states come from `squeue` when sacct cannot answer
(one line says so), a job that SLURM no longer lists has ended, and a job that
ended without a result is recorded as lost: the sweep launches it again or records
it as failed: killed (sweeps/launching.py), and the other jobs' results count.
"""

from __future__ import annotations

import functools
import logging
import math
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from omegaconf import OmegaConf
from submitit.core.utils import FailedJobError, UncompletedJobError
from submitit.slurm.slurm import SlurmInfoWatcher

from mnist_exp.errors import first_line
from mnist_exp.sweeps import launching
from mnist_exp.sweeps.jobs import mark_lost

log = logging.getLogger(__name__)
NOT_LISTED = "NOT_LISTED"  # the state of a job squeue no longer lists: it has ended
POLL_SECONDS = 10  # the longest wait between two looks at the queue


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int):
    """Submit the jobs as one array and return each one's JobReturn; a job that ended
    without a result returns NaN, as a failed job does."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    config = launcher.config
    params = dict(launcher.params)
    executor = submitit.AutoExecutor(
        cluster="slurm",
        folder=params.pop("submitit_folder"),
        slurm_max_num_timeout=params.pop("max_num_timeout"),
    )
    generic = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(
        **{k if k in generic else f"slurm_{k}": v for k, v in params.items()}
    )
    sweep_dir = Path(str(config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    log.info("SLURM sweep output dir: %s", sweep_dir)
    arguments = []
    for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
        log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
        arguments.append(
            (list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}", Singleton.get_state())
        )
    jobs = executor.map_array(launcher, *zip(*arguments, strict=True))
    watcher = QueueWatcher(delay_s=POLL_SECONDS)
    for job in jobs:
        job.watcher = watcher  # this sweep's jobs only: submitit's own watcher is left as it is
        watcher.register_job(job.job_id)
    return [
        result(job, launcher, overrides, num)
        for num, (job, overrides) in enumerate(
            zip(jobs, job_overrides, strict=True), start=initial_job_idx
        )
    ]


def result(job: Any, launcher: Any, overrides: Sequence[str], num: int) -> JobReturn:
    try:
        return job.results()[0]
    except (UncompletedJobError, FailedJobError) as exc:
        state = job.watcher.get_state(job.job_id, mode="cache")
        if state == NOT_LISTED:  # a task cancelled while pending leaves no record
            state = "no longer in SLURM's queue"
        message = f"SLURM job {job.job_id} ended without a result ({state})"
        log.error("%s: %s", message, first_line(exc))
        loader = launcher.hydra_context.config_loader
        job_cfg = launching.compose(loader, launcher.config, overrides, num)
        job_dir = Path(str(job_cfg.hydra.sweep.dir)) / str(job_cfg.hydra.sweep.subdir)
        if not job_dir.is_dir():  # it never started: its overrides for the summary's row
            (job_dir / ".hydra").mkdir(parents=True)
            OmegaConf.save(OmegaConf.create(list(overrides)), job_dir / ".hydra/overrides.yaml")
        mark_lost(job_dir, message)
        ret = JobReturn(
            overrides=list(overrides), working_dir=str(job_dir), status=JobStatus.COMPLETED
        )
        ret.return_value = math.nan
        return ret


class QueueWatcher(SlurmInfoWatcher):
    """Job states from sacct, or from squeue where sacct cannot answer; a job that
    squeue no longer lists has ended (its result file, if any, says how)."""

    def _make_command(self) -> list[str] | None:
        command = super()._make_command()
        if command is None or accounting():
            return command
        self._asked = {job_id.split("_")[0] for job_id in self._registered - self._finished}
        # all of the user's jobs: `--jobs=ID` fails once SLURM has forgotten ID
        return ["squeue", "--me", "--noheader", "--array", "--states=all", "--format=%i|%T"]

    def read_info(self, string: bytes | str) -> dict[str, dict[str, str]]:
        if accounting():
            return super().read_info(string)
        text = string.decode() if isinstance(string, bytes) else string
        info = {}
        for line in text.splitlines():
            job_id, _, state = line.strip().partition("|")
            if job_id and state:
                info[job_id] = {"JobID": job_id, "State": state.split()[0]}
        for job_id in self._registered - self._finished:
            if job_id.split("_")[0] in self._asked and job_id not in info:
                info[job_id] = {"JobID": job_id, "State": NOT_LISTED}
        return info


@functools.cache
def accounting() -> bool:
    """Whether sacct answers here; when it does not, one line says so, once."""
    try:
        found = subprocess.run(
            ["sacct", "--noheader", "--jobs=1", "--format=JobID"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        reason = first_line(exc)
    else:
        if found.returncode == 0:
            return True
        reason = (found.stderr.strip().splitlines() or [f"exit {found.returncode}"])[0]
    log.warning(
        "SLURM job accounting is not available (sacct: %s): job states come from squeue", reason
    )
    return False
