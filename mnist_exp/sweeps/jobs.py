"""What a sweep job's directory says of it: finished, lost, resumable; and jobs whose
process died without a word, recorded as failed, reason killed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from mnist_exp.results import files
from mnist_exp.results.metrics import checked_objectives
from mnist_exp.results.status import FINISHED, Status

KILLED = "killed"  # metrics.json reason of a job whose process died without a word
LOST = (
    "the job's process ended without a result: killed (kill -9, out of memory), "
    "or ended with the sweep or with its worker pool"
)


def objective(config: DictConfig) -> Any:
    """The sweep's optimized_metric where its jobs are mnist-exp's, which write the
    metrics.json this module reads; None for another Hydra app's jobs, which our
    sweepers launch as Hydra's own sweepers do (no retries, no resume, no sweep line).
    A metric outside the vocabulary's objectives is refused before any job starts."""
    found = OmegaConf.select(config, "optimized_metric")
    if found is not None:
        checked_objectives(found)
    return found


def status(job_dir: Path) -> tuple[str | None, str | None]:
    """metrics.json's status and reason (None, None: no metrics.json yet)."""
    found = files.read_json_or_empty(job_dir / files.METRICS)
    return found.get("status"), found.get("reason")


def message(job_dir: Path) -> str | None:
    return files.read_json_or_empty(job_dir / files.METRICS).get("message")


def finished(job_dir: Path) -> bool:
    return status(job_dir)[0] in FINISHED


def started(job_dir: Path) -> bool:
    """Hydra made the job's directory: its process got as far as run_job."""
    return job_dir.is_dir()


def lost(job_dir: Path) -> bool:
    """The job started and its process died: it still says running (or never wrote
    metrics.json), or it was recorded as failed: killed."""
    if not started(job_dir):
        return False
    state, reason = status(job_dir)
    return state in (None, Status.RUNNING) or (state == Status.FAILED and reason == KILLED)


def resumable(job_dir: Path) -> bool:
    """The job has a checkpoint to continue from (an unfinished run keeps one per epoch)."""
    return (job_dir / files.CHECKPOINTS / files.CHECKPOINT_STATE).is_file()


def mark_lost(job_dir: Path, message: str = LOST) -> bool:
    """Record the job as failed: killed, if its metrics.json still says running (or it
    never wrote one). Returns whether it did."""
    if status(job_dir)[0] not in (None, Status.RUNNING):
        return False
    files.record_status(job_dir, Status.FAILED, reason=KILLED, message=message)
    return True


def footprint(sweep_dir: Path) -> dict[str, tuple[int, int] | None]:
    """Each job directory's metrics.json as it stands (inode and modification time; None:
    none yet). Two footprints of a sweep differ once a job has started or written."""
    from mnist_exp.sweeps.summary import find_jobs

    def stamp(job: Path) -> tuple[int, int] | None:
        try:
            found = (job / files.METRICS).stat()
        except OSError:
            return None
        return found.st_ino, found.st_mtime_ns

    if not sweep_dir.is_dir():
        return {}
    return {str(job): stamp(job) for job in find_jobs(sweep_dir)}


def mark_lost_jobs(sweep_dir: Path) -> list[Path]:
    """mark_lost for every job of an ended sweep: those still running have lost their
    process (kill -9, out of memory, or the worker pool went down with another job's)."""
    from mnist_exp.sweeps.summary import find_jobs

    return [job for job in find_jobs(sweep_dir) if mark_lost(job)]
