"""The model families: every module of models/ that defines a schema (`SCHEMA`) and
`build`. A new family is a new module plus its YAML in conf/model/; nothing to list."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import mnist_exp.models


def families() -> dict[str, ModuleType]:
    """Each family's module by its name (mlp, ...): the modules of models/ that define
    `SCHEMA` and `build`. Modules of models/ import Keras only when they build."""
    found = {}
    for info in pkgutil.iter_modules(mnist_exp.models.__path__):
        if info.name == __name__.rsplit(".", 1)[-1]:
            continue
        module = importlib.import_module(f"mnist_exp.models.{info.name}")
        if hasattr(module, "SCHEMA") and hasattr(module, "build"):
            found[info.name] = module
    return found


def build_model(cfg, image_shape: tuple[int, ...], n_classes: int):
    """The Keras model of `cfg`, built by the family module that defines its schema."""
    return importlib.import_module(type(cfg).__module__).build(cfg, image_shape, n_classes)
