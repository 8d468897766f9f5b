"""Jobs whose process died without a word: recorded as failed, reason killed."""

from __future__ import annotations

from pathlib import Path

from mnist_exp.results import files

KILLED = "killed"  # metrics.json reason of a job whose process died without a word
LOST = (
    "the job's process ended without a result: killed (kill -9, out of memory), "
    "or ended with the sweep or with its worker pool"
)


def mark_lost(job_dir: Path, message: str = LOST) -> bool:
    """Record the job as failed: killed, if its metrics.json still says running (or it
    never wrote one). Returns whether it did."""
    status = files.read_json_or_empty(job_dir / files.METRICS).get("status")
    if status not in (None, "running"):
        return False
    files.record_status(job_dir, "failed", reason=KILLED, message=message)
    return True


def mark_lost_jobs(sweep_dir: Path) -> list[Path]:
    """mark_lost for every job of an ended sweep: those still running have lost their
    process (kill -9, out of memory, or the worker pool went down with another job's)."""
    from mnist_exp.sweeps.summary import find_jobs

    return [job for job in find_jobs(sweep_dir) if mark_lost(job)]
