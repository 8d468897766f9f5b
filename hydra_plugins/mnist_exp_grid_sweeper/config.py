"""hydra/sweeper=basic, the default sweeper, is ours: Hydra's basic sweeper's config
(params, max_batch_size), and how often a job whose process died is launched
again. Hydra finds it when it scans the hydra_plugins package, which imports this
module (without registering it in sys.modules: no `from __future__ import
annotations` here, dataclasses need it). Hydra scans its own core plugins first
(hydra/core/plugins.py, Plugins._initialize), so this entry replaces theirs, and
every config that names hydra/sweeper=basic, Hydra's own default included, gets it.
"""

from dataclasses import dataclass
from typing import Optional

from hydra.core.config_store import ConfigStore


@dataclass
class GridSweeperConf:
    _target_: str = "hydra_plugins.mnist_exp_grid_sweeper.grid_sweeper.GridSweeper"
    max_batch_size: Optional[int] = None  # jobs per launch; null: the whole grid at once
    params: Optional[dict[str, str]] = None
    # A job whose process dies (kill -9, out of memory) is launched again this many
    # times, from its last checkpoint, then recorded as failed: killed.
    retries: int = 1


ConfigStore.instance().store(
    group="hydra/sweeper", name="basic", node=GridSweeperConf, provider="mnist_exp"
)
