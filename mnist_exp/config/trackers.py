"""What every tracker's schema shares (the logger group).

Each tracker is a module of training/callbacks/trackers/ whose SCHEMA subclasses
TrackerConfig, and a YAML in conf/logger/ that extends it: `logger` maps each chosen
tracker's name to its spec (logger.mlflow.tracking_uri, ...).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

from mnist_exp.config.targets import require_own
from mnist_exp.errors import MissingPackageError


@dataclass
class TrackerConfig:
    """Fields are the keyword arguments of the tracker class `_target_` names."""

    NAME = ""  # its key under logger and its option: logger=NAME, logger.NAME.FIELD
    PACKAGE = ""  # the module it imports, and the distribution that installs it
    DISTRIBUTION = ""

    _target_: str = MISSING

    def key(self, field: str) -> str:
        return f"logger.{self.NAME}.{field}"

    def __post_init__(self) -> None:
        require_own(
            self,
            f"logger.{self.NAME}",
            ("_target_",),
            "a tracker comes with its fields: logger=NAME",
        )
        if self.PACKAGE:
            require_package(self.PACKAGE, f"logger={self.NAME}", self.DISTRIBUTION)


def configured(logger: Any) -> Iterator[tuple[str, Any]]:
    """(name, spec) of each tracker in a `logger` mapping; a null spec is one turned off."""
    for name, spec in (logger or {}).items():
        if spec is not None:
            yield str(name), spec


def require_package(module: str, option: str, package: str) -> None:
    """An optional tracker chosen without its package: say what to install."""
    if importlib.util.find_spec(module) is None:
        raise MissingPackageError(
            f"{option} needs the {module} package, which is not installed: "
            f"pip install 'mnist-exp[tracking]' (or pip install {package})"
        )
