"""The `_target_`s a config may name: Keras' callbacks and mnist-exp's own.

A callback's config names the class that is built from it (``_target_``, as
Hydra's instantiate reads it). Only classes of the modules below are allowed: a
config file cannot make a run call anything else (``os.system``, say). Checked
when the config is composed, before anything is built (and again when it is:
training/callbacks/from_config.py).
"""

from __future__ import annotations

import re
from typing import Any

from mnist_exp.errors import ConfigError

ALLOWED_MODULES = ("keras.callbacks", "mnist_exp.training.callbacks")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def allowed(target: Any) -> bool:
    """Whether `target` is a dotted class path inside one of ALLOWED_MODULES."""
    return (
        isinstance(target, str)
        and _NAME.match(target) is not None
        and any(target.startswith(module + ".") for module in ALLOWED_MODULES)
    )


def check_targets(node: Any, key: str) -> None:
    """Refuse any `_target_` under `node` (a mapping or list, nested) that is not allowed."""
    if isinstance(node, dict):
        target = node.get("_target_")
        if "_target_" in node and not allowed(target):
            raise ConfigError(
                f"{key}._target_={target!r} is not allowed: a class of "
                + " or ".join(ALLOWED_MODULES)
            )
        for name, value in node.items():
            check_targets(value, f"{key}.{name}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            check_targets(value, f"{key}[{i}]")
