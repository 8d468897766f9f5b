"""The callbacks of the config's `callbacks` group, built by Hydra's instantiate.

Each entry names its class as `_target_`: one of Keras' callbacks or one of
mnist-exp's (config/targets.py lists the modules allowed), checked again here,
before anything is called. A `monitor` takes the vocabulary's names (val/loss);
Keras' callbacks get the names their logs use (val_loss) and the direction the
vocabulary gives the metric, unless the config sets `mode`.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import keras

from mnist_exp.config.targets import (
    CALLBACK_MODULES,
    as_dict,
    check_targets,
    instantiate_allowed,
    located,
)
from mnist_exp.errors import ConfigError
from mnist_exp.results.metrics import direction, to_keras

MODES = {"maximize": "max", "minimize": "min"}


def configured_callbacks(callbacks: dict[str, Any]) -> dict[str, keras.callbacks.Callback]:
    """The configured callbacks by name, in the order the config lists them."""
    return {name: build(name, spec) for name, spec in callbacks.items()}


def how_it_stopped(callbacks: dict[str, keras.callbacks.Callback]) -> dict:
    """What metrics.json says of the callbacks' work, in 1-based epochs: the epoch after
    which one stopped training and which one (stopped_epoch; stop_reason, its class in
    snake case: early_stopping), and the epoch whose weights were restored as the
    model (weights_epoch). Keras' EarlyStopping and its subclasses keep these (0-based
    stopped_epoch, 0 when it did not stop); a callback may keep a 1-based
    `stopped_after` and name its STOP_REASON instead (training/callbacks/pruning.py)."""
    found = {}
    for callback in callbacks.values():
        stopped = stopped_after(callback)
        if stopped:
            found["stopped_epoch"] = stopped
            found["stop_reason"] = (
                getattr(callback, "STOP_REASON", None)
                or re.sub(r"(?<!^)(?=[A-Z])", "_", type(callback).__name__).lower()
            )
        if getattr(callback, "restore_best_weights", False) and callback.best_weights:
            found["weights_epoch"] = callback.best_epoch + 1
    return found


def stopped_after(callback) -> int:
    """The 1-based epoch after which `callback` stopped training; 0 if it did not."""
    if hasattr(callback, "stopped_after"):
        return callback.stopped_after
    epoch = getattr(callback, "stopped_epoch", 0)
    return epoch + 1 if epoch else 0


def build(name: str, spec: Any) -> keras.callbacks.Callback:
    key = f"callbacks.{name}"
    spec = dict(as_dict(spec))  # a copy: monitor and mode are filled in below
    check_targets(spec, key, CALLBACK_MODULES)
    cls = located(spec["_target_"])
    if not (isinstance(cls, type) and issubclass(cls, keras.callbacks.Callback)):
        raise ConfigError(f"{key}._target_={spec['_target_']!r} is not a Keras callback")
    if "monitor" in spec:
        monitor = spec["monitor"]
        spec["monitor"] = to_keras(monitor)
        if "mode" in _parameters(cls):
            spec.setdefault("mode", MODES[direction(monitor)])
    return instantiate_allowed(spec, key, CALLBACK_MODULES)


def _parameters(cls: type) -> set[str]:
    """The keyword arguments a callback class takes, through the classes it passes
    **kwargs on to."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        parameters = inspect.signature(init).parameters.values()
        names |= {p.name for p in parameters if p.kind is not p.VAR_KEYWORD}
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return names
