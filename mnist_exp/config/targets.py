"""The one way from config to object: a config node names what it builds as
``_target_`` and Hydra's instantiate builds it, once, where the run starts, from an
allow-list.

Each group may name classes or functions of its own modules only (TARGETS): a config
file cannot make a run call anything else (``os.system``, say). Checked when the
config is composed, before anything is built (config/settings.py), and again when
it is (`instantiate_allowed`) or, for a function the run calls itself (the data
reader), looked up (`locate_allowed`). ALLOWED_MODULES is the whole list, for
anything that takes one list (Hydra's own allow-list of targets, where it has one).
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from collections.abc import Callable
from typing import Any

from mnist_exp.errors import ConfigError

TARGETS = {
    "optimizer": ("keras.optimizers",),
    "loss": ("keras.losses",),
    "schedule": ("mnist_exp.training.schedules",),
    "callbacks": ("keras.callbacks", "mnist_exp.training.callbacks"),
    "data": ("mnist_exp.data.sources",),
}
ALLOWED_MODULES = tuple(module for modules in TARGETS.values() for module in modules)
CALLBACK_MODULES = TARGETS["callbacks"]
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def allowed(target: Any, modules: tuple[str, ...] = CALLBACK_MODULES) -> bool:
    """Whether `target` is a dotted path inside one of `modules`."""
    return (
        isinstance(target, str)
        and _NAME.match(target) is not None
        and any(target.startswith(module + ".") for module in modules)
    )


def check_targets(node: Any, key: str, modules: tuple[str, ...] = CALLBACK_MODULES) -> None:
    """Refuse any `_target_` under `node` (a mapping or list, nested) outside `modules`."""
    if isinstance(node, dict):
        target = node.get("_target_")
        if "_target_" in node and not allowed(target, modules):
            raise ConfigError(
                f"{key}._target_={target!r} is not allowed: a class or function of "
                + " or ".join(modules)
            )
        for name, value in node.items():
            check_targets(value, f"{key}.{name}", modules)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            check_targets(value, f"{key}[{i}]", modules)


def locate_allowed(target: Any, key: str, modules: tuple[str, ...]) -> Callable:
    """The function `target` names, defined in one of `modules` itself (not one it
    imports), imported but not called."""
    check_targets({"_target_": target}, key, modules)
    module, _, name = target.rpartition(".")
    found = getattr(importlib.import_module(module), name, None) if module in modules else None
    if found is None and module in modules:
        raise ConfigError(f"{key}._target_={target!r} names nothing that can be imported")
    if not callable(found) or getattr(found, "__module__", None) != module:
        raise ConfigError(f"{key}._target_={target!r} names no function of " + " or ".join(modules))
    return found


def as_dict(node: Any) -> Any:
    """A schema object (dataclass) or an OmegaConf node as plain, resolved containers."""
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return dataclasses.asdict(node)
    from omegaconf import OmegaConf

    if OmegaConf.is_config(node):
        return OmegaConf.to_container(node, resolve=True)
    return node


def instantiate_allowed(node: Any, key: str, modules: tuple[str, ...], **kwargs: Any):
    """What `node` describes, built by Hydra's instantiate; its `_target_` (and any nested
    one) inside `modules`. kwargs: what only the run knows (the learning rate, say)."""
    from hydra.utils import instantiate

    node = as_dict(node)
    if not isinstance(node, dict) or "_target_" not in node:
        raise ConfigError(f"{key} needs a _target_ (one of {', '.join(modules)})")
    check_targets(node, key, modules)
    return instantiate(node, **kwargs)
