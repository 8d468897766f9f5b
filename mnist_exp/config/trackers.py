"""Typed schemas of the logger group: the trackers beside a run's own files."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Optional

from mnist_exp.errors import MissingPackageError, require


@dataclass
class TensorBoardConfig:
    """logger=tensorboard: Keras' TensorBoard callback, event files in the run directory."""

    log_dir: str = "tensorboard"  # relative to the run directory
    graph: bool = True  # the model's graph for the Graphs tab: written once, costs little
    histogram_freq: int = 0  # weight histograms every N epochs; 0: none

    def __post_init__(self) -> None:
        require_package("tensorboard", "logger=tensorboard", "tensorboard")
        require(
            self.histogram_freq >= 0,
            "logger.tensorboard.histogram_freq",
            self.histogram_freq,
            "an integer >= 0",
        )


@dataclass
class MlflowConfig:
    """logger=mlflow: each run (and each sweep job) is one MLflow run."""

    # A local sqlite store (relative paths from the directory mnist-exp runs in), or a server.
    tracking_uri: str = "sqlite:///outputs/mlflow.db"
    experiment: str = "mnist-exp"
    run_name: Optional[str] = None  # null: the run's overrides, else its directory's name
    # Where new experiments keep artifacts; null: beside a sqlite store (mlartifacts/),
    # else the tracking server's default.
    artifact_location: Optional[str] = None
    log_artifacts: bool = True  # plots/, metrics.json, history.csv, the .hydra/ configs
    log_model: bool = True  # model.keras (and model.h5): a few MB a run

    def __post_init__(self) -> None:
        require_package("mlflow", "logger=mlflow", "mlflow-skinny")
        require(bool(self.experiment), "logger.mlflow.experiment", self.experiment, "a name")


@dataclass
class LoggerConfig:
    """Experiment trackers beside the run directory's own CSV/JSON files; null: off."""

    tensorboard: Optional[TensorBoardConfig] = None
    mlflow: Optional[MlflowConfig] = None


def require_package(module: str, option: str, package: str) -> None:
    """An optional tracker chosen without its package: say what to install."""
    if importlib.util.find_spec(module) is None:
        raise MissingPackageError(
            f"{option} needs the {module} package, which is not installed: "
            f"pip install 'mnist-exp[tracking]' (or pip install {package})"
        )
