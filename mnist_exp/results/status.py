"""How a run ended, as metrics.json's `status` says it: one vocabulary for every writer
and reader (summary, page, trackers, resume). Each member is its string, so files
written before and after read the same."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    RUNNING = "running"  # alive, or its process died without a word (see sweeps/jobs.py)
    COMPLETED = "completed"
    FAILED = "failed"  # with a reason code and message
    INTERRUPTED = "interrupted"  # a signal stopped it after a checkpoint: resume= continues
    PRUNED = "pruned"  # a search's pruner stopped it: finished what it was allowed to do


FINISHED = (Status.COMPLETED, Status.PRUNED)  # ranked, and left as they are on resume
ENDED = (*FINISHED, Status.FAILED, Status.INTERRUPTED)
