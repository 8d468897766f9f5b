"""Optuna's storage ids (Optuna 4 and 5), which its public API does not show.

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
