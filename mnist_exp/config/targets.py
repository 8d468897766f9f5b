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

from omegaconf import MISSING

from mnist_exp.errors import ConfigError, require

TARGETS = {
    "model": ("mnist_exp.models",),
    "optimizer": ("keras.optimizers",),
    "loss": ("keras.losses",),
    "schedule": ("mnist_exp.training.schedules",),
    "callbacks": ("keras.callbacks", "mnist_exp.training.callbacks"),
    "logger": ("mnist_exp.training.callbacks.trackers",),
    "data": ("mnist_exp.data.sources",),
    "hydra.callbacks": ("mnist_exp.sweeps.callbacks",),  # conf/config.yaml's
    "hydra.sweeper.sampler": ("optuna.samplers",),
    "hydra.sweeper.pruner": ("optuna.pruners",),
}
# What a group's target returns, where the result can itself be called (a Keras model, a
# learning-rate schedule): Hydra 1.4 checks such a result's class against its whitelist.
RETURNS = {"model": ("keras.models",), "schedule": ("keras.optimizers.schedules",)}
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
    module = target.rpartition(".")[0]
    found = located(target) if module in modules else None
    if found is None and module in modules:
        raise ConfigError(f"{key}._target_={target!r} names nothing that can be imported")
    if not callable(found) or getattr(found, "__module__", None) != module:
        raise ConfigError(f"{key}._target_={target!r} names no function of " + " or ".join(modules))
    return found


def located(target: str) -> Any:
    """What a dotted path (module.name) names, its module imported; None where it names
    nothing. Quiet, unlike Hydra's get_class, which logs an error line first."""
    module, _, name = target.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


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
    from mnist_exp.adapters.hydra import instantiate

    node = as_dict(node)
    if not isinstance(node, dict) or "_target_" not in node:
        raise ConfigError(f"{key} needs a _target_ (one of {', '.join(modules)})")
    check_targets(node, key, modules)
    return instantiate(node, modules + RETURNS.get(key, ()), **kwargs)


def require_own(schema: Any, group: str, keys: tuple[str, ...], others: str) -> None:
    """Each schema that names a `_target_` holds that target's fields: refuse `keys` set
    to another value than the schema's own (another optimizer's class, say). `others`:
    how to choose another."""
    for key in keys:
        default = type(schema).__dataclass_fields__[key].default
        value = getattr(schema, key)
        require(
            default is MISSING or value == default,
            f"{group}.{key}",
            value,
            f"{default!r} for these fields; {others}",
        )


def concrete(base: type) -> list[type]:
    """The schemas below `base`, however deep, that name their `_target_`."""
    found: dict[type, None] = {}
    for cls in base.__subclasses__():
        if cls.__dataclass_fields__["_target_"].default is not MISSING:
            found[cls] = None
        found.update(dict.fromkeys(concrete(cls)))
    return list(found)
