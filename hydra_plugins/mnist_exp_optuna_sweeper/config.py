"""The Optuna sweeper's config: hydra/sweeper=optuna_search, with the groups
hydra/sweeper/optuna_sampler (tpe, random, grid, nsgaii) and hydra/sweeper/optuna_pruner
(none, median, hyperband, successive_halving), which fill hydra.sweeper.sampler and
hydra.sweeper.pruner. Names of their own: hydra-optuna-sweeper's hydra/sweeper=optuna
and its hydra/sweeper/sampler group stay its own for every app in the environment.

The fields a search file sets are hydra-optuna-sweeper 1.3's (params, n_trials,
n_jobs, direction, study_name, storage, sampler, max_failure_rate), so its search
files run unchanged; pruner and repeats are new. Hydra finds these when it scans
the hydra_plugins package, which imports this module (without registering it in
sys.modules: no `from __future__ import annotations` here, dataclasses need it).
"""

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING

from mnist_exp.adapters.hydra import store

GROUP, PACKAGE = "hydra/sweeper", "hydra.sweeper"
SAMPLERS = f"{GROUP}/optuna_sampler"  # its options fill hydra.sweeper.sampler
PRUNERS = f"{GROUP}/optuna_pruner"  # and hydra.sweeper.pruner


@dataclass
class TPESamplerConfig:
    """https://optuna.readthedocs.io/en/stable/reference/samplers/generated/optuna.samplers.TPESampler.html"""

    _target_: str = "optuna.samplers.TPESampler"
    seed: Optional[int] = None
    n_startup_trials: int = 10
    n_ei_candidates: int = 24
    multivariate: bool = False
    constant_liar: bool = True  # trials asked at once (n_jobs > 1) spread out
    # hydra-optuna-sweeper 1.3's fields; None: Optuna's own default
    consider_prior: Optional[bool] = None
    prior_weight: Optional[float] = None
    consider_magic_clip: Optional[bool] = None
    consider_endpoints: Optional[bool] = None
    warn_independent_sampling: Optional[bool] = None


@dataclass
class RandomSamplerConfig:
    _target_: str = "optuna.samplers.RandomSampler"
    seed: Optional[int] = None


@dataclass
class GridSamplerConfig:
    """Every combination of the params once (choice, or range with a step); the
    search space is filled in from hydra.sweeper.params when the sweep starts."""

    _target_: str = "optuna.samplers.GridSampler"
    seed: Optional[int] = None  # the order the grid is walked in


@dataclass
class NSGAIISamplerConfig:
    """For several objectives (optimized_metric=[a,b], direction=[maximize,minimize])."""

    _target_: str = "optuna.samplers.NSGAIISampler"
    seed: Optional[int] = None
    population_size: int = 50
    mutation_prob: Optional[float] = None
    crossover_prob: float = 0.9
    swapping_prob: float = 0.5


@dataclass
class NopPrunerConfig:
    _target_: str = "optuna.pruners.NopPruner"


@dataclass
class MedianPrunerConfig:
    """Stops a trial whose value at an epoch is worse than the median of earlier trials'
    values at that epoch."""

    _target_: str = "optuna.pruners.MedianPruner"
    n_startup_trials: int = 5  # trials that are never pruned, to learn the median from
    n_warmup_steps: int = 0  # epochs of each trial that are never pruned
    interval_steps: int = 1
    n_min_trials: int = 1


@dataclass
class HyperbandPrunerConfig:
    _target_: str = "optuna.pruners.HyperbandPruner"
    min_resource: int = 1
    max_resource: Any = "auto"  # "auto": the epochs of the first completed trial
    reduction_factor: int = 3


@dataclass
class SuccessiveHalvingPrunerConfig:
    _target_: str = "optuna.pruners.SuccessiveHalvingPruner"
    min_resource: Any = "auto"
    reduction_factor: int = 4
    min_early_stopping_rate: int = 0


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.mnist_exp_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    # Hydra leaves sampler and pruner as configs: the sweeper builds them, from Optuna's
    # classes only (their _target_ is checked first).
    _recursive_: bool = False
    defaults: list[Any] = field(
        default_factory=lambda: [{"optuna_sampler": "tpe"}, {"optuna_pruner": "none"}]
    )

    sampler: Any = MISSING
    pruner: Any = MISSING
    # "maximize" / "minimize", or a list of them for a list of optimized metrics; null:
    # what mnist-exp's vocabulary says of optimized_metric (maximize an accuracy), and
    # hydra-optuna-sweeper's minimize for another Hydra app's task.
    direction: Any = None
    # None: a journal file in the sweep directory; or an Optuna storage URL
    # (sqlite:///PATH.db) or a journal file's path. A stored study continues.
    storage: Optional[Any] = None
    study_name: Optional[str] = None  # null: the app's job name (hydra.job.name)
    n_trials: int = 20  # finished trials in the study, counting those of earlier sweeps
    # Trials launched at once; null: as many as the launcher runs jobs at once (joblib's
    # n_jobs, submitit's array_parallelism; divided by repeats), else 1.
    n_jobs: Optional[int] = None
    max_failure_rate: float = 1.0  # failed trials are recorded and the search goes on
    # Each proposed configuration is run with this many seeds (training.seed, +1, ...);
    # the trial's value is their mean.
    repeats: int = 1
    # A job whose process dies (kill -9, out of memory) is launched again this many
    # times, from its last checkpoint, then its trial is recorded as failed.
    retries: int = 1
    params: Optional[dict[str, str]] = None
    # hydra-optuna-sweeper's hook that imports a function by name: refused when set (a
    # config never runs code it names); use params.
    custom_search_space: Optional[str] = None


def register() -> None:
    store(group=GROUP, name="optuna_search", node=OptunaSweeperConf)
    for name, node in {
        "tpe": TPESamplerConfig,
        "random": RandomSamplerConfig,
        "grid": GridSamplerConfig,
        "nsgaii": NSGAIISamplerConfig,
    }.items():
        store(name, node, group=SAMPLERS, package=f"{PACKAGE}.sampler")
    for name, node in {
        "none": NopPrunerConfig,
        "median": MedianPrunerConfig,
        "hyperband": HyperbandPrunerConfig,
        "successive_halving": SuccessiveHalvingPrunerConfig,
    }.items():
        store(name, node, group=PRUNERS, package=f"{PACKAGE}.pruner")


register()
