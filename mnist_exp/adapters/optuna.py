"""Optuna's storage ids (Optuna 4 and 5), which its public API does not show, and how
its database storage says that the database cannot be reached.

A pruned search's job runs in another process (a launcher's worker, a SLURM task) and
reports to its trial there: it is told the study's and the trial's storage ids
(`trial_key`), which storages accept (`get_study_name_from_id`, `optuna.trial.Trial`),
where a study name and a trial number would need a search per report.
"""

from __future__ import annotations


def study_id(study) -> int:
    return study._study_id


def trial_id(trial) -> int:
    """A Trial's or FrozenTrial's id in its storage."""
    return trial._trial_id


def storage_failure(exc: BaseException) -> BaseException | None:
    """The driver's error in `exc`'s chain where a database storage could not be reached
    (no server, the connection lost, a database or user it refuses); None for any other
    error. RDBStorage raises SQLAlchemy's OperationalError while it connects, and wraps
    it in its StorageInternalError ("...invalid data in the commit...") afterwards."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (OperationalError, InterfaceError)):
            return exc.orig if exc.orig is not None else exc
        exc = exc.__cause__ or exc.__context__
    return None
