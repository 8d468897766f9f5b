"""`mnist-exp resume=SWEEP_DIR`: what the sweepers share to resume a sweep.

The command line is rebuilt from the sweep's multirun.yaml (app/resume.py), so
Hydra composes the sweep as it started; `resume=SWEEP_DIR` reaches the sweeper
among its arguments, and the sweeper takes it out of the jobs' overrides. A
resumed sweep launches only the jobs that did not finish (sweeps/launching.py),
in the same directory, and refuses to run when its configuration is not the one
its jobs ran with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf, open_dict

from mnist_exp.errors import ConfigError
from mnist_exp.results.files import MULTIRUN
from mnist_exp.results.status import Status
from mnist_exp.sweeps import jobs

# Keys a resumed job may differ in: how it is shown, and that it resumes.
FREE_KEYS = ("resume", "training.progress")
# Sweeper fields a resumed sweep may change: how many jobs run at once, how many
# trials in all, how often a dead job is retried.
FREE_SWEEPER_KEYS = ("n_jobs", "n_trials", "retries", "max_batch_size")
SWEEPERS = (
    "hydra_plugins.mnist_exp_grid_sweeper.grid_sweeper.GridSweeper",
    "hydra_plugins.mnist_exp_optuna_sweeper.optuna_sweeper.OptunaSweeper",
)


def take_resume(arguments: list[str]) -> tuple[list[str], bool]:
    """The sweep's arguments without `resume=`, and whether the sweep resumes."""
    kept = [a for a in arguments if not a.startswith("resume=")]
    return kept, len(kept) != len(arguments)


def refusal(config: DictConfig) -> str | None:
    """Why this sweep may not start in its directory, or None."""
    sweep_dir = Path(str(config.hydra.sweep.dir))
    resume = OmegaConf.select(config, "resume")
    if resume is None:
        if (sweep_dir / MULTIRUN).exists():
            return (
                f"hydra.sweep.dir={sweep_dir} already holds a sweep; choose another directory, "
                f"or continue it with resume={sweep_dir}"
            )
        return None
    if Path(str(resume)).resolve() != sweep_dir.resolve():
        return f"resume={resume}: a sweep resumes in its own directory, not {sweep_dir}"
    if not (sweep_dir / MULTIRUN).exists():
        return f"resume={resume}: not a sweep directory (no {MULTIRUN})"
    target = OmegaConf.select(config, "hydra.sweeper._target_")
    if target not in SWEEPERS:
        return (
            f"resume={resume}: the sweeper {target} cannot resume a sweep; "
            "hydra/sweeper=grid (the default) and +hparams_search=optuna can"
        )
    return None


def check_sweeper_unchanged(config: DictConfig, sweep_dir: Path) -> None:
    """Refuse a resume whose sweeper config (search space, sampler, ...) has changed."""
    stored = OmegaConf.load(sweep_dir / MULTIRUN)
    was = _plain(OmegaConf.select(stored, "hydra.sweeper"))
    now = _plain(OmegaConf.select(config, "hydra.sweeper"))
    for key in FREE_SWEEPER_KEYS:
        was.pop(key, None)
        now.pop(key, None)
    difference = first_difference(was, now, "hydra.sweeper")
    if difference:
        raise ConfigError(f"resume={sweep_dir}: {difference}; {_KEEP}")


def check_job_unchanged(job_cfg: DictConfig, job_dir: Path, num: int, sweep_dir: Path) -> None:
    """Refuse a resume whose job `num` would now compose to another config than the one
    it ran with (its .hydra/config.yaml): a config file changed since."""
    saved = job_dir / ".hydra" / "config.yaml"
    if not saved.is_file():
        return
    was = _plain(OmegaConf.load(saved))
    task = job_cfg.copy()
    with open_dict(task):
        del task["hydra"]
    now = _plain(task)
    for tree in (was, now):
        for key in FREE_KEYS:
            *parents, last = key.split(".")
            node = tree
            for part in parents:
                node = node.get(part) or {}
            node.pop(last, None)
    difference = first_difference(was, now)
    if difference:
        raise ConfigError(f"resume={sweep_dir}: job {num}'s {difference}; {_KEEP}")


_KEEP = "a resumed sweep keeps the config it started with (start a new sweep to change it)"


def _plain(node: Any) -> dict:
    """A config as plain data, through YAML as Hydra saves it, so that a saved file and
    a composed config compare equal when they say the same."""
    if node is None:
        return {}
    if not isinstance(node, DictConfig):
        node = OmegaConf.create(node)
    return yaml.safe_load(OmegaConf.to_yaml(node)) or {}


def first_difference(was: Any, now: Any, prefix: str = "") -> str | None:
    """The first key where two plain configs differ, said as 'KEY is NOW, it was WAS'.

    Two differences say the same and are passed over, so that a sweep started by an
    earlier mnist-exp resumes: a `_target_` that a config now states (it names what
    the option built before), and a null that is now left out (an entry that was off).
    """
    if isinstance(was, dict) and isinstance(now, dict):
        for key in [*was, *(k for k in now if k not in was)]:
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in now:
                if was[key] is None:
                    continue
                return f"{path} is gone (it was {was[key]!r})"
            if key not in was:
                if key == "_target_":
                    continue
                return f"{path} is new ({now[key]!r})"
            found = first_difference(was[key], now[key], path)
            if found:
                return found
        return None
    if was != now:
        return f"{prefix} is {now!r}, it was {was!r}"
    return None


def next_free_num(sweep_dir: Path) -> int:
    """The number after the highest job directory's (0 for none)."""
    nums = [int(p.name) for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()]
    return max(nums, default=-1) + 1


def describe_pending(sweep_dir: Path) -> str | None:
    """What `resume=SWEEP_DIR` would launch again, in one line (None: not a sweep)."""
    record = sweep_dir / MULTIRUN
    if not record.is_file():
        return None
    stored = OmegaConf.load(record)
    if OmegaConf.select(stored, "hydra.sweeper._target_") == SWEEPERS[1]:
        return _describe_search(sweep_dir, stored)
    planned = grid_jobs(stored)
    pending = {}
    for num in range(planned):
        job_dir = sweep_dir / str(num)
        if not jobs.finished(job_dir):
            pending[num] = jobs.status(job_dir)[0] or (
                "lost" if jobs.started(job_dir) else "not started"
            )
    if not pending:
        return f"every one of the {planned} jobs finished: resume={sweep_dir} has nothing to do"
    listed = ", ".join(f"{num} ({why})" for num, why in pending.items())
    return f"resume={sweep_dir} would launch {len(pending)} of {planned} jobs again: {listed}"


def grid_jobs(stored: DictConfig) -> int:
    """How many jobs a grid sweep's multirun.yaml plans."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from mnist_exp.adapters.hydra import BasicSweeper

    params = OmegaConf.select(stored, "hydra.sweeper.params") or {}
    arguments = [f"{k}={v}" for k, v in params.items()]
    arguments += [a for a in OmegaConf.select(stored, "hydra.overrides.task") or []]
    parsed = OverridesParser.create().parse_overrides(arguments)
    return sum(len(batch) for batch in BasicSweeper.split_arguments(parsed, None))


def _describe_search(sweep_dir: Path, stored: DictConfig) -> str:
    n_trials = OmegaConf.select(stored, "hydra.sweeper.n_trials")
    unfinished = [
        str(num)
        for num in range(next_free_num(sweep_dir))
        if jobs.lost(sweep_dir / str(num))
        or jobs.status(sweep_dir / str(num))[0] == Status.INTERRUPTED
    ]
    retried = f"retry the trials of jobs {', '.join(unfinished)} and " if unfinished else ""
    return (
        f"resume={sweep_dir} would {retried}run trials until the study has n_trials={n_trials} "
        "finished"
    )
