"""Hydra callbacks that guard the output directories before anything is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class ProtectOutputs(Callback):
    """A run never writes over another run's files.

    Run directories are unique to the microsecond; this catches the rest: an
    explicit hydra.run.dir / hydra.sweep.dir that already holds results. Hydra
    turns exceptions raised in callbacks into warnings and goes on, so a refusal
    exits here, before Hydra creates or writes anything.
    """

    def _refuse(self, message: str) -> None:
        from mnist_exp.cli import print_error

        print_error(message)
        raise SystemExit(2)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        run_dir = Path(config.hydra.run.dir)
        if config.get("resume") is None and (run_dir / "metrics.json").exists():
            self._refuse(
                f"hydra.run.dir={run_dir} already holds a run; choose another directory, "
                f"or continue it with resume={run_dir}"
            )

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if (sweep_dir / "multirun.yaml").exists():
            self._refuse(
                f"hydra.sweep.dir={sweep_dir} already holds a sweep; choose another directory"
            )
