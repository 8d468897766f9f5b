"""The model families: every module of models/ that defines a schema (`SCHEMA`) whose
`_target_` names the module's function that builds the model. A new family is a new
module plus its YAML in conf/model/; nothing to list."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import mnist_exp.models
from mnist_exp.config.targets import TARGETS, instantiate_allowed


def families() -> dict[str, ModuleType]:
    """Each family's module by its name (mlp, ...): the modules of models/ that define
    `SCHEMA`. Modules of models/ import Keras only when they build."""
    found = {}
    for info in pkgutil.iter_modules(mnist_exp.models.__path__):
        if info.name == __name__.rsplit(".", 1)[-1]:
            continue
        module = importlib.import_module(f"mnist_exp.models.{info.name}")
        if hasattr(module, "SCHEMA"):
            found[info.name] = module
    return found


def build_model(cfg, image_shape: tuple[int, ...], n_classes: int):
    """The Keras model of `cfg`, built by the function its `_target_` names, with the
    schema's fields as plain values (lists, not OmegaConf's)."""
    return instantiate_allowed(
        cfg,
        "model",
        TARGETS["model"],
        _convert_="all",
        image_shape=image_shape,
        n_classes=n_classes,
    )
