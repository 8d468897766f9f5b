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
from mnist_exp.errors import UserError
from mnist_exp.training.callbacks.trackers.guard import (
    TrackerState,
    abandon_on_signal,
    guarded,
)

log = logging.getLogger(__name__)

Finisher = Callable[[str], None]  # called once with the run's status when it ends
Spec = TypeVar("Spec", bound=TrackerConfig)


class Tracker(Protocol):
    """What a logger spec's `_target_` builds."""

    def start(self, config: Config, run_dir: Path, resume: bool) -> tuple[list, Finisher]: ...

    # Optional: `on_failure(run_dir) -> dict`, TrackerState's fields that say a failure:
    # describe (what failed, in a few words), later (how to send the run afterwards),
    # first (whether this process is the one to say it).


@dataclasses.dataclass
class Tracking:
    """The trackers of one run: callbacks for fit, then one finish() call. A tracker
    that fails says so in one line and is off for the rest of the run (guard.py)."""

    callbacks: list = dataclasses.field(default_factory=list)
    finishers: list[tuple[TrackerState, Finisher]] = dataclasses.field(default_factory=list)

    def finish(self, status: str) -> None:
        """Close every tracker that is still on; none masks the run's result."""
        for state, finisher in self.finishers:
            state.call(finisher, status, when=f"could not record the run's end ({status})")
        self.finishers = []


def start(cfg: Config, run_dir: Path, resume: bool = False) -> Tracking:
    """The configured trackers for the run in run_dir (none by default), in the order
    the config lists them. A config error stops the run; a tracker that cannot take it
    now (a server that does not answer) is one line, and the run goes on without it."""
    tracking = Tracking()
    for name, spec in configured(cfg.logger):
        tracker: Tracker = instantiate_allowed(spec, f"logger.{name}", TARGETS["logger"])
        said = tracker.on_failure(run_dir) if hasattr(tracker, "on_failure") else {}
        state = TrackerState(name, **said)
        try:
            with abandon_on_signal():
                callbacks, finisher = tracker.start(cfg, run_dir, resume)
        except UserError:
            raise
        except Exception as exc:
            state.fail(exc)
            continue
        tracking.callbacks.extend(guarded(c, state) for c in callbacks)
        tracking.finishers.append((state, finisher))
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
