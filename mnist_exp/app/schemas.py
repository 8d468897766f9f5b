"""Every schema a config can extend, registered once per process before Hydra composes."""

from __future__ import annotations

from mnist_exp.config import callbacks, store
from mnist_exp.models import catalog
from mnist_exp.training import schedules
from mnist_exp.training.callbacks import trackers

# `/schema/model/base@_here_`, as users' own model YAMLs extend it: the MLP's schema.
MODEL_BASE = "mlp"


def register() -> None:
    families = catalog.schemas()
    store.register(
        {
            **families,
            "schema/model/base": families[f"schema/model/{MODEL_BASE}"],
            **schedules.schemas(),
            **{f"schema/callbacks/{cls.NAME}": cls for cls in callbacks.SCHEMAS},
            **trackers.schemas(),
        }
    )
