"""The `mnist-exp` command: a thin Hydra entry around train.run.

TensorFlow is imported only once a run really starts, so `--help`, `--cfg job`
and config errors answer at once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ banner quiet
os.environ.setdefault("MPLBACKEND", "Agg")  # plots are files; no display needed

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from rich.console import Console  # noqa: E402

from mnist_exp.config import register, to_settings  # noqa: E402
from mnist_exp.errors import UserError  # noqa: E402

register()


@hydra.main(version_base="1.3", config_path="pkg://mnist_exp.conf", config_name="config")
def main(cfg: DictConfig) -> float:
    console = Console()
    try:
        settings = to_settings(cfg)
        from mnist_exp.train import run

        metrics = run(settings, Path(HydraConfig.get().runtime.output_dir), console)
    except UserError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    return metrics[settings.optimized_metric]
