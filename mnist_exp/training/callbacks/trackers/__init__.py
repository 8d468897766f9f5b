"""Experiment trackers beside the run directory: one module here per tracker.

A tracker's module defines its schema (`SCHEMA`, a config.trackers.TrackerConfig whose
`_target_` names the tracker's class) and that class, whose `start(config, run_dir,
resume)` gives the Keras callbacks that log each epoch and a finisher that closes the
tracker with the run's status; its YAML in conf/logger/ extends the schema. Nothing
else lists the trackers. `start(cfg, run_dir)` builds those the `logger` config names
into a :class:`Tracking`. What every tracker is sent beside its own series is chosen in
callbacks/tracked.py. Modules here import their tracker's package only when it starts.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from mnist_exp.config.schema import Config
from mnist_exp.config.targets import TARGETS, as_dict, instantiate_allowed
from mnist_exp.config.trackers import TrackerConfig, configured

log = logging.getLogger(__name__)

Finisher = Callable[[str], None]  # called once with the run's status when it ends
Spec = TypeVar("Spec", bound=TrackerConfig)


class Tracker(Protocol):
    """What a logger spec's `_target_` builds."""

    def start(self, config: Config, run_dir: Path, resume: bool) -> tuple[list, Finisher]: ...


@dataclasses.dataclass
class Tracking:
    """The trackers of one run: callbacks for fit, then one finish() call."""

    callbacks: list = dataclasses.field(default_factory=list)
    finishers: list[Finisher] = dataclasses.field(default_factory=list)

    def finish(self, status: str) -> None:
        """Close every tracker; a tracker that fails warns and never masks the run's result."""
        for finisher in self.finishers:
            try:
                finisher(status)
            except Exception as exc:  # the run's own files are written; say what is missing
                log.warning("logger could not record the run's end (%s): %s", status, exc)
        self.finishers = []


def start(cfg: Config, run_dir: Path, resume: bool = False) -> Tracking:
    """The configured trackers for the run in run_dir (none by default), in the order
    the config lists them."""
    tracking = Tracking()
    for name, spec in configured(cfg.logger):
        tracker: Tracker = instantiate_allowed(spec, f"logger.{name}", TARGETS["logger"])
        callbacks, finisher = tracker.start(cfg, run_dir, resume)
        tracking.callbacks.extend(callbacks)
        tracking.finishers.append(finisher)
    return tracking


def find(logger: Any, schema: type[Spec]) -> Spec | None:
    """The spec in a `logger` mapping (settings or a composed config) whose `_target_` is
    the schema's, as that schema; None when that tracker is not chosen."""
    for _, spec in configured(logger):
        fields = as_dict(spec)
        if isinstance(fields, dict) and fields.get("_target_") == schema._target_:
            return schema(**fields)
    return None


def modules() -> dict[str, Any]:
    """Each tracker's module by its name: the modules here that define `SCHEMA`."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "SCHEMA"):
            found[info.name] = module
    return found


def schemas() -> dict[str, type]:
    """Where each tracker's schema goes in Hydra's ConfigStore: schema/logger/<name>."""
    return {f"schema/logger/{m.SCHEMA.NAME}": m.SCHEMA for m in modules().values()}
