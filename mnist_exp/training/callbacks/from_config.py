"""The callbacks of the config's `callbacks` group, built by Hydra's instantiate.

Each entry names its class as `_target_`: one of Keras' callbacks or one of
mnist-exp's (config/targets.py lists the modules allowed), checked again here,
before anything is called. A `monitor` takes the vocabulary's names (val/loss);
Keras' callbacks get the names their logs use (val_loss) and the direction the
vocabulary gives the metric, unless the config sets `mode`.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import keras
from hydra.utils import get_class, instantiate

from mnist_exp.config.targets import allowed, check_targets
from mnist_exp.errors import ConfigError
from mnist_exp.results.metrics import direction, to_keras

MODES = {"maximize": "max", "minimize": "min"}


def configured_callbacks(callbacks: dict[str, Any]) -> list[keras.callbacks.Callback]:
    """The configured callbacks, in the order the config lists them."""
    return [build(name, spec) for name, spec in callbacks.items()]


def build(name: str, spec: Any) -> keras.callbacks.Callback:
    spec = dataclasses.asdict(spec) if dataclasses.is_dataclass(spec) else dict(spec)
    key = f"callbacks.{name}"
    check_targets(spec, key)
    cls = get_class(spec["_target_"]) if allowed(spec["_target_"]) else None
    if not (isinstance(cls, type) and issubclass(cls, keras.callbacks.Callback)):
        raise ConfigError(f"{key}._target_={spec['_target_']!r} is not a Keras callback")
    if "monitor" in spec:
        monitor = spec["monitor"]
        spec["monitor"] = to_keras(monitor)
        if "mode" in _parameters(cls):
            spec.setdefault("mode", MODES[direction(monitor)])
    return instantiate(spec)


def _parameters(cls: type) -> set[str]:
    return set(inspect.signature(cls.__init__).parameters)
