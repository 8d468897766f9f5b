"""Hydra's internals that mnist-exp builds on (hydra-core 1.3).

- BasicSweeper, BasicLauncher: Hydra's own sweeper and launcher live in
  hydra._internal; the grid sweeper extends BasicSweeper (its parsing and batching of
  sweep overrides), resume counts a sweep's jobs with its `split_arguments`, and a
  sweep runs jobs in-process only under the BasicLauncher.
- The config loader's caching repository: the groups and options that `--help` lists,
  read once rather than once a group (seconds on a cold start).
- Hydra.format_config_groups: Hydra's help calls it for every --help, whatever the
  template, and it takes seconds; mnist-exp's own process swaps in a faster one with
  the same output. Other Hydra apps never import this.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

# Looked up when asked, not kept: Hydra's plugin scan runs its core plugins' modules
# again (load_module), and a class kept from before is no longer the one Hydra uses.
_CORE_PLUGINS = {
    "BasicLauncher": "hydra._internal.core_plugins.basic_launcher",
    "BasicSweeper": "hydra._internal.core_plugins.basic_sweeper",
}


def __getattr__(name: str):
    if name in _CORE_PLUGINS:
        return getattr(importlib.import_module(_CORE_PLUGINS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def caching_repo(loader):
    """The loader's repository of config sources, None where this Hydra has none to
    give (its callers then take Hydra's public, slower way)."""
    try:
        _, repo = loader._parse_overrides_and_create_caching_repo(None, [])
    except AttributeError:
        return None
    return repo


def replace_help_groups(format_config_groups: Callable) -> None:
    """Hydra.format_config_groups(self, predicate, compact=True) -> str, replaced in
    this process."""
    from hydra._internal.hydra import Hydra

    Hydra.format_config_groups = format_config_groups
