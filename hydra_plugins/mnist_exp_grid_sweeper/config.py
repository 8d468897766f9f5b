# mnist-exp's grid sweeper. Hydra instantiates plugins only from the hydra_plugins
# namespace package, so the class lives here, not in mnist_exp/.
"""hydra/sweeper=grid: Hydra's basic sweeper's config (params, max_batch_size), and how
often a job whose process died is launched again. A name of its own: Hydra's `basic`
stays Hydra's for every other app in the environment; mnist-exp chooses `grid` in
conf/config.yaml. Hydra finds this when it scans the hydra_plugins package, which
imports this module (without registering it in sys.modules: no `from __future__
import annotations` here, dataclasses need it).
"""

from dataclasses import dataclass
from typing import Optional

from mnist_exp.adapters.hydra import store


@dataclass
class GridSweeperConf:
    _target_: str = "hydra_plugins.mnist_exp_grid_sweeper.grid_sweeper.GridSweeper"
    max_batch_size: Optional[int] = None  # jobs per launch; null: the whole grid at once
    params: Optional[dict[str, str]] = None
    # A job whose process dies (kill -9, out of memory) is launched again this many
    # times, from its last checkpoint, then recorded as failed: killed (mnist-exp jobs).
    retries: int = 1


store(group="hydra/sweeper", name="grid", node=GridSweeperConf)
