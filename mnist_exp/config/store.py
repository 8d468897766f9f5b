"""Where Hydra finds the schemas: each ``conf/<group>/<option>.yaml`` names its schema
in its defaults list (``/schema/<group>/<name>@_here_``)."""

from __future__ import annotations

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from mnist_exp.config import help, optimizers
from mnist_exp.config.schema import (
    Config,
    DataConfig,
    LossConfig,
    TrainingConfig,
    ValidationConfig,
)


def register(extra: dict[str, type] | None = None) -> None:
    """Put the schemas where the YAML files' defaults lists find them; `extra` adds
    more, by their place in the store (e.g. "schema/model/mlp": a family's schema)."""
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=Config)
    schemas = {
        "schema/data/base": DataConfig,
        "schema/loss/base": LossConfig,
        "schema/validation/base": ValidationConfig,
        "schema/training/base": TrainingConfig,
        **{f"schema/optimizer/{cls.name}": cls for cls in optimizers.choices()},
        **(extra or {}),
    }
    for place, node in schemas.items():
        group, name = place.rsplit("/", 1)
        cs.store(group=group, name=name, node=node)
    # ${mnist_exp_groups:} in conf/hydra/help/mnist_exp.yaml: the groups --help lists.
    OmegaConf.register_new_resolver("mnist_exp_groups", help.config_groups, replace=True)
