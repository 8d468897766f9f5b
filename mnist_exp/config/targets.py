"""The `_target_`s a config may name: Keras' callbacks and mnist-exp's own (and, for
the Optuna sweeper, Optuna's samplers and pruners).

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


def allowed(target: Any, modules: tuple[str, ...] = ALLOWED_MODULES) -> bool:
    """Whether `target` is a dotted class path inside one of `modules`."""
    return (
        isinstance(target, str)
        and _NAME.match(target) is not None
        and any(target.startswith(module + ".") for module in modules)
    )


def check_targets(node: Any, key: str, modules: tuple[str, ...] = ALLOWED_MODULES) -> None:
    """Refuse any `_target_` under `node` (a mapping or list, nested) outside `modules`."""
    if isinstance(node, dict):
        target = node.get("_target_")
        if "_target_" in node and not allowed(target, modules):
            raise ConfigError(
                f"{key}._target_={target!r} is not allowed: a class of " + " or ".join(modules)
            )
        for name, value in node.items():
            check_targets(value, f"{key}.{name}", modules)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            check_targets(value, f"{key}[{i}]", modules)
