"""Where Hydra finds the schemas: each ``conf/<group>/<option>.yaml`` names its schema
in its defaults list (``/schema/<group>/<name>@_here_``). Every schema a config can
extend is registered here, once per process, before Hydra composes; none of them
imports Keras."""

from __future__ import annotations

from mnist_exp.adapters.hydra import register_resolver, store
from mnist_exp.config import callbacks, help, optimizers
from mnist_exp.config.schema import (
    Config,
    DataConfig,
    LossConfig,
    TrainingConfig,
    ValidationConfig,
)
from mnist_exp.config.targets import concrete
from mnist_exp.models import catalog
from mnist_exp.training import schedules
from mnist_exp.training.callbacks import trackers

# `/schema/model/base@_here_`, as users' own model YAMLs extend it: the MLP's schema.
MODEL_BASE = "mlp"


def schemas() -> dict[str, type]:
    """Each schema by its place in the store (schema/<group>/<name>)."""
    families = {name: module.SCHEMA for name, module in catalog.families().items()}
    return {
        "schema/data/base": DataConfig,
        "schema/loss/base": LossConfig,
        "schema/validation/base": ValidationConfig,
        "schema/training/base": TrainingConfig,
        **{f"schema/optimizer/{cls.name}": cls for cls in optimizers.choices()},
        **{f"schema/schedule/{cls.name}": cls for cls in concrete(schedules.ScheduleConfig)},
        **{f"schema/callbacks/{cls.NAME}": cls for cls in callbacks.SCHEMAS},
        **{f"schema/model/{name}": schema for name, schema in families.items()},
        "schema/model/base": families[MODEL_BASE],
        **trackers.schemas(),
    }


def register() -> None:
    """Put the base config and every schema where the YAML files' defaults lists find them."""
    store(name="base_config", node=Config)
    for place, node in schemas().items():
        group, name = place.rsplit("/", 1)
        store(group=group, name=name, node=node)
    # ${mnist_exp_groups:} in conf/hydra/help/mnist_exp.yaml: the groups --help lists.
    register_resolver("mnist_exp_groups", help.config_groups)
