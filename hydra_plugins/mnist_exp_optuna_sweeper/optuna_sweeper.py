# mnist-exp's Optuna sweeper. Hydra instantiates plugins only from the hydra_plugins
# namespace package, so the class lives here, not in mnist_exp/.
"""hydra/sweeper=optuna_search (+hparams_search=optuna): an Optuna search, each trial a job.

Written for Optuna 5 from the design of hydra-optuna-sweeper (whose release for
hydra-core 1.3 runs on Optuna 2 only), with its user-facing config, and with what it
lacks:

- the study is always stored (by default a journal file in the sweep directory,
  mnist_exp/sweeps/study.py), so a stored study continues: the same command with
  the same storage runs until `n_trials` trials are finished in total;
- a pruner (hydra/sweeper/optuna_pruner=median, ...): each job reports its objective to
  its trial after every epoch, in whatever process its launcher runs it, and stops
  when the pruner says so; the trial is recorded as pruned;
- several objectives (optimized_metric as a list; sampler=nsgaii), whose Pareto
  front optimization_results.yaml lists and the sweep summary marks;
- repeats=N: each proposed configuration runs with N seeds, and the trial's value
  is their mean;
- a failed job (it returns NaN) is a failed trial, and the search goes on;
- `mnist-exp resume=SWEEP_DIR` reloads the study, launches again the jobs of the
  trials that were running when the sweep stopped (from their checkpoints), and
  runs new trials until n_trials are finished; a job whose process dies is
  launched again (mnist_exp/sweeps/launching.py).

Another Hydra app's task is searched as hydra-optuna-sweeper searches it: each trial's
value is what its job returns (no pruning, no resume: those read mnist-exp's run
directories).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, ListConfig, OmegaConf

# Stores hydra/sweeper=optuna_search and its sampler and pruner groups in Hydra's
# ConfigStore, where Hydra 1.4 finds this class by its entry point and does not scan.
from hydra_plugins.mnist_exp_optuna_sweeper import config as _config  # noqa: F401
from mnist_exp.adapters.optuna import trial_id
from mnist_exp.config.targets import instantiate_allowed
from mnist_exp.errors import ConfigError
from mnist_exp.results.files import METRICS, read_json_or_empty
from mnist_exp.results.metrics import EPOCH_NAMES, objectives
from mnist_exp.results.metrics import direction as metric_direction
from mnist_exp.results.status import Status
from mnist_exp.sweeps import jobs, launching, resuming
from mnist_exp.sweeps import study as studies
from mnist_exp.sweeps.progress import SweepProgress

log = logging.getLogger(__name__)
GRID = "optuna.samplers.GridSampler"


class OptunaSweeper(Sweeper):
    def __init__(
        self,
        sampler: Any,
        pruner: Any,
        direction: Any,
        storage: Any,
        study_name: str | None,
        n_trials: int,
        n_jobs: int | None,
        max_failure_rate: float,
        repeats: int,
        params: DictConfig | None,
        retries: int = 1,
        custom_search_space: str | None = None,
    ) -> None:
        self.custom_search_space = custom_search_space
        # A name given as the value (hydra.sweeper.pruner=median) reaches here on Hydra 1.4,
        # where 1.3 refuses it while composing: checked in sweep().
        self.sampler_cfg = _container(sampler)
        self.pruner_cfg = _container(pruner)
        self.direction = direction  # checked in sweep(): errors raised here lose their text
        self.storage = storage
        self.study_name = study_name
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.max_failure_rate = max_failure_rate
        self.repeats = repeats
        self.retries = retries
        self.params = params or {}
        self.job_idx = 0

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.config_loader = hydra_context.config_loader
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )
        self.sweep_dir = Path(config.hydra.sweep.dir)

    def sweep(self, arguments: list[str]) -> None:
        from mnist_exp.sweeps.space import search_space

        self.metric = jobs.objective(self.config)
        resume = False
        if self.metric is not None:
            arguments, resume = resuming.take_resume(arguments)
        self.directions = _directions(self.direction, self.metric)
        for key, node in (("sampler", self.sampler_cfg), ("pruner", self.pruner_cfg)):
            if not isinstance(node, dict):
                raise ConfigError(f"hydra.sweeper.{key}: a config is needed, not {node!r}")
        space, fixed = search_space([f"{k}={v}" for k, v in self.params.items()] + arguments)
        self.check(space, fixed)
        if resume:
            resuming.check_sweeper_unchanged(self.config, self.sweep_dir)
        sampler = self.build_sampler(space)
        pruner = studies.pruner(self.pruner_cfg)
        # A database is reached here, before the sweep directory is made or a job runs.
        storage = studies.open_storage(self.storage, self.sweep_dir)
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            self.job_idx = resuming.next_free_num(self.sweep_dir)
        else:
            OmegaConf.save(self.config, self.sweep_dir / resuming.MULTIRUN)
        with studies.kept(self.storage, self.sweep_dir):  # the database lost: one line
            study = self.create_study(storage, sampler, pruner)
            self.search(study, space, fixed, resume)

    def create_study(self, storage, sampler, pruner):
        """The study, created or found again in `storage`."""
        import optuna

        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # search() says it in a line
        try:
            study = optuna.create_study(
                # null: the app's job name (mnist-exp's, say), found again by a later sweep
                study_name=self.study_name or self.config.hydra.job.name,
                storage=storage,
                sampler=sampler,
                pruner=pruner,
                directions=self.directions,
                load_if_exists=True,
            )
        finally:
            optuna.logging.set_verbosity(verbosity)
        if [d.name.lower() for d in study.directions] != self.directions:
            raise ConfigError(
                f"hydra.sweeper.direction={self.directions}: the stored study "
                f"{study.study_name!r} optimizes {[d.name.lower() for d in study.directions]}"
            )
        return study

    def search(self, study, space: dict, fixed: list[str], resume: bool) -> None:
        """Run trials until the study has n_trials finished, then write the results."""
        import optuna

        from mnist_exp.sweeps.space import grid

        running = _running(study) if resume else []
        finished = _finished(study)
        to_go = self.n_trials - finished - len(running)
        if self.sampler_cfg["_target_"] == GRID:
            to_go = min(to_go, math.prod(len(v) for v in grid(space).values()) - finished)
        log.info(
            "study %s in %s: %d finished trials found, %d to go (n_trials=%d)",
            study.study_name,
            studies.describe_storage(self.storage, self.sweep_dir),
            finished,
            max(to_go, 0) + len(running),
            self.n_trials,
        )
        trials = finished + len(running) + max(to_go, 0)
        self.progress = None
        if self.metric is not None:
            self.progress = SweepProgress(self.sweep_dir, trials * self.repeats, self.metric)
        if running:
            log.info(
                "retrying the %d trials that were running when the sweep stopped: %s",
                len(running),
                ", ".join(f"trial {t.number} (jobs {t.user_attrs.get('jobs')})" for t in running),
            )
            self.run_trials(study, [optuna.trial.Trial(study, trial_id(t)) for t in running], fixed)
        at_once = self.trials_at_once()
        while to_go > 0:
            batch = min(at_once, to_go)
            self.run_trials(study, [study.ask(space) for _ in range(batch)], fixed)
            to_go -= batch
        self.save_results(study)

    def run_trials(self, study, trials: list, fixed: list[str]) -> None:
        """Launch the trials' jobs (again, for a trial that has its job numbers) and tell
        the study their results."""
        planned = []
        for trial in trials:
            overrides = self.job_overrides(trial, fixed)
            nums = trial.user_attrs.get("jobs") or []
            if len(nums) != len(overrides):  # a new trial: the next numbers
                nums = list(range(self.job_idx, self.job_idx + len(overrides)))
                self.job_idx += len(overrides)
                trial.set_user_attr("jobs", nums)
            for num, job in zip(nums, overrides, strict=True):
                planned += launching.plan(self.config_loader, self.config, [job], num)
        for job in planned:
            resuming.check_job_unchanged(job.config, job.dir, job.num, self.sweep_dir)
        metric = self.metric
        if metric is None:  # another app's jobs: what they return
            returns = launching.launch_once(self.launcher, planned)
        else:
            # A job that finished before the sweep stopped (its trial not told yet) is read back.
            todo = [job for job in planned if not jobs.finished(job.dir)]
            launched = launching.launch(self.launcher, todo, self.retries, metric, self.progress)
            returns = [
                launched.get(job.num) or launching.stored_return(job, metric) for job in planned
            ]
        failures = 0
        for i, trial in enumerate(trials):
            group = returns[i * self.repeats : (i + 1) * self.repeats]
            failures += not self.tell(study, trial, group)
        if failures / len(trials) > self.max_failure_rate:
            for ret in returns:
                _ = ret.return_value  # raises the first failed job's error

    def check(self, space: dict, fixed: list[str]) -> None:
        """Refuse, before any trial, what the search cannot do."""
        if self.custom_search_space:
            raise ConfigError(
                f"hydra.sweeper.custom_search_space={self.custom_search_space}: not supported "
                "(a config names no code to run); describe the space in hydra.sweeper.params"
            )
        metrics = objectives(self.metric or [])
        if studies.prunes(self.pruner_cfg) and not metrics:
            raise ConfigError(
                "hydra.sweeper.pruner: pruning needs jobs that report every epoch "
                "(mnist-exp's, with optimized_metric)"
            )
        if metrics and len(metrics) != len(self.directions):
            raise ConfigError(
                f"hydra.sweeper.direction={self.directions}: one direction per "
                f"optimized_metric ({metrics})"
            )
        if studies.prunes(self.pruner_cfg):
            if len(metrics) > 1:
                raise ConfigError("hydra.sweeper.pruner: Optuna prunes single-objective searches")
            if metrics[0] not in EPOCH_NAMES:
                raise ConfigError(
                    f"hydra.sweeper.pruner: optimized_metric={metrics[0]} is not measured every "
                    f"epoch; prune on one that is: {', '.join(EPOCH_NAMES)}"
                )
            if self.repeats > 1:
                raise ConfigError("hydra.sweeper.repeats > 1 and a pruner: choose one")
        for key in ("repeats", "n_jobs"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
                raise ConfigError(f"hydra.sweeper.{key}={getattr(self, key)}: at least 1")
        if self.retries < 0:
            raise ConfigError(f"hydra.sweeper.retries={self.retries}: 0 or more")
        seeded = "training.seed" in space or any(f.startswith("training.seed=") for f in fixed)
        if self.repeats > 1 and seeded:
            raise ConfigError("hydra.sweeper.repeats sets training.seed; do not sweep or fix it")

    def trials_at_once(self) -> int:
        """hydra.sweeper.n_jobs, or what the launcher runs at once (jobs_at_once) in
        trials of `repeats` jobs; where both are given and differ, one line says so."""
        from mnist_exp.training.threads import jobs_at_once

        jobs = jobs_at_once(OmegaConf.to_container(self.config.hydra.launcher, resolve=True))
        follows = max(1, jobs // self.repeats) if jobs else 1
        if self.n_jobs is None:
            return follows
        if jobs and self.n_jobs * self.repeats != jobs:
            log.warning(
                "hydra.sweeper.n_jobs=%d hands %d jobs at a time to a launcher that runs %d "
                "at once; leave hydra.sweeper.n_jobs unset to follow the launcher",
                self.n_jobs,
                self.n_jobs * self.repeats,
                jobs,
            )
        return self.n_jobs

    def build_sampler(self, space: dict):
        if self.sampler_cfg.get("_target_") == GRID:
            import optuna

            from mnist_exp.sweeps.space import grid

            return optuna.samplers.GridSampler(grid(space), seed=self.sampler_cfg.get("seed"))
        return instantiate_allowed(self.sampler_cfg, "hydra.sweeper.sampler", studies.SAMPLERS)

    def job_overrides(self, trial, fixed: list[str]) -> list[list[str]]:
        """The overrides of the trial's jobs: one, or one per seed with repeats."""
        overrides = [f"{key}={value}" for key, value in trial.params.items()] + fixed
        if studies.prunes(self.pruner_cfg):
            overrides.append(f"++hydra.job.env_set.{studies.TRIAL_ENV}={studies.trial_key(trial)}")
        if self.repeats == 1:
            return [overrides]
        seed = int(OmegaConf.select(self.config, "training.seed", default=0))
        return [[*overrides, f"training.seed={seed + r}"] for r in range(self.repeats)]

    def tell(self, study, trial, returns: Sequence[JobReturn]) -> bool:
        """Record the trial's result in the study; False when it failed."""
        from optuna.trial import TrialState

        values = []
        for ret in returns:
            if _status(ret) == Status.PRUNED:
                study.tell(trial, state=TrialState.PRUNED)
                return True
            value = _values(ret, len(self.directions))
            if value is None:
                log.warning("trial %d failed: job %s", trial.number, _job_dir(ret))
                study.tell(trial, state=TrialState.FAIL)
                return False
            values.append(value)
        means = [sum(v[i] for v in values) / len(values) for i in range(len(self.directions))]
        try:
            study.tell(trial, values=means)
        except RuntimeError as exc:  # the grid sampler stopping the study, outside optimize
            if "Study.stop" not in str(exc):
                raise
        return True

    def save_results(self, study) -> None:
        """optimization_results.yaml, as hydra-optuna-sweeper writes it."""
        from optuna.trial import TrialState

        if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            log.error("no trial completed, so Optuna has no best value")
            return
        if len(self.directions) == 1:
            best = study.best_trial
            results = {"name": "optuna", "best_params": best.params, "best_value": best.value}
            log.info("Best parameters: %s", best.params)
            log.info("Best value: %s", best.value)
        else:
            front = [{"params": t.params, "values": t.values} for t in study.best_trials]
            results = {"name": "optuna", "solutions": front}
            log.info("Pareto front: %d trials", len(front))
        OmegaConf.save(OmegaConf.create(results), self.sweep_dir / "optimization_results.yaml")


def _directions(direction: Any, metric: Any) -> list[str]:
    if direction is None:  # see OptunaSweeperConf.direction
        direction = "minimize" if metric is None else metric_direction(metric)
    if isinstance(direction, (list, tuple, ListConfig)):
        found = [str(d) for d in direction]
    else:
        found = [str(direction)]
    for d in found:
        if d not in ("maximize", "minimize"):
            raise ConfigError(f"hydra.sweeper.direction={d}: maximize or minimize")
    return found


def _running(study) -> list:
    """Trials that were running when the sweep stopped (their jobs lost or interrupted)."""
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))


def _finished(study) -> int:
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    return len(study.get_trials(deepcopy=False, states=states))


def _job_dir(ret: JobReturn) -> Path | None:
    run_dir = OmegaConf.select(ret.hydra_cfg or {}, "hydra.runtime.output_dir")
    return Path(str(run_dir)) if run_dir else None


def _status(ret: JobReturn) -> str | None:
    """The job's metrics.json status (pruned, completed, ...)."""
    job_dir = _job_dir(ret)
    return read_json_or_empty(job_dir / METRICS).get("status") if job_dir else None


def _values(ret: JobReturn, count: int) -> list[float] | None:
    """The job's objective values, or None when it failed (an error, NaN, wrong count)."""
    if ret.status != JobStatus.COMPLETED:
        return None
    value = ret.return_value
    value = list(value) if isinstance(value, (list, tuple, ListConfig)) else [value]
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    if len(numbers) != count or any(math.isnan(v) for v in numbers):
        return None
    return numbers


def _container(node: Any) -> Any:
    """A config node as plain values; anything else as it is."""
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node
