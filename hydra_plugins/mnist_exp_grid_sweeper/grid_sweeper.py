"""hydra/sweeper=grid (mnist-exp's default): every combination of the sweep's values, one
job each, as Hydra's basic sweeper runs them, each job's config composed once; and for
mnist-exp's jobs, which write the run directory contract (mnist_exp/sweeps/jobs.py):

- `mnist-exp resume=SWEEP_DIR` launches only the jobs that did not finish, under
  their own numbers, after checking that the sweep's config is the one they ran
  with (mnist_exp/sweeps/resuming.py);
- a job whose process dies is launched again from its last checkpoint, and the
  other jobs go on (mnist_exp/sweeps/launching.py);
- the sweep's line, as jobs end (mnist_exp/sweeps/progress.py).

Another Hydra app's jobs are swept as Hydra's basic sweeper sweeps them: each
returns what its task returns, and a job that raised fails the sweep.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

# Stores hydra/sweeper=grid in Hydra's ConfigStore, where Hydra 1.4 finds this class by
# its entry point and does not scan the package.
from hydra_plugins.mnist_exp_grid_sweeper import config as _config  # noqa: F401
from mnist_exp.adapters.hydra import BasicSweeper
from mnist_exp.errors import ConfigError
from mnist_exp.sweeps import jobs, launching, resuming
from mnist_exp.sweeps.progress import SweepProgress

log = logging.getLogger(__name__)


class GridSweeper(BasicSweeper):
    def __init__(self, max_batch_size: int | None, params=None, retries: int = 1) -> None:
        super().__init__(max_batch_size=max_batch_size, params=params)
        self.retries = retries

    def sweep(self, arguments: list[str]) -> list:
        if self.retries < 0:
            raise ConfigError(f"hydra.sweeper.retries={self.retries}: 0 or more")
        loader = self.hydra_context.config_loader
        sweep_dir = Path(self.config.hydra.sweep.dir)
        metric = jobs.objective(self.config)
        resume = False
        if metric is not None:
            arguments, resume = resuming.take_resume(arguments)
        parser = OverridesParser.create(config_loader=loader)
        params = [f"{key}={value}" for key, value in self.params.items()]
        overrides = parser.parse_overrides([*params, *arguments])
        self.overrides = self.split_arguments(overrides, self.max_batch_size)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            resuming.check_sweeper_unchanged(self.config, sweep_dir)
        else:
            OmegaConf.save(self.config, sweep_dir / resuming.MULTIRUN)
        total = sum(len(b) for b in self.overrides)
        progress = None if metric is None else SweepProgress(sweep_dir, total, metric)
        returns, first = [], 0
        while not self.is_done():
            batch = launching.plan(loader, self.config, self.get_job_batch(), first)
            first += len(batch)
            if metric is None:
                launched = launching.launch_once(self.launcher, batch)
                for ret in launched:
                    _ = ret.return_value  # a job that raised fails the sweep, as in Hydra's
                returns.append(launched)
                continue
            todo = batch
            if resume:
                for job in batch:
                    resuming.check_job_unchanged(job.config, job.dir, job.num, sweep_dir)
                todo = [job for job in batch if not jobs.finished(job.dir)]
                log.info(
                    "resuming %s: jobs %d-%d, %d finished, %d to launch",
                    sweep_dir,
                    batch[0].num,
                    batch[-1].num,
                    len(batch) - len(todo),
                    len(todo),
                )
            launched = launching.launch(self.launcher, todo, self.retries, metric, progress)
            returns.append(
                [launched.get(job.num) or launching.stored_return(job, metric) for job in batch]
            )
        return returns
