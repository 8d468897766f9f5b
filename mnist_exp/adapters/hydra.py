"""Hydra's internals that mnist-exp builds on (hydra-core 1.3).

- BasicSweeper, BasicLauncher: Hydra's own sweeper and launcher live in
  hydra._internal; the grid sweeper extends BasicSweeper (its parsing and batching of
  sweep overrides), resume counts a sweep's jobs with its `split_arguments`, and a
  sweep runs jobs in-process only under the BasicLauncher.
- The config loader's caching repository: the groups and options that `--help` lists,
  read once rather than once a group (seconds on a cold start).
- Hydra's command-line parser and its $FLAGS_HELP text: mnist-exp prints --help
  itself (config/help.py), with Hydra's flags, since Hydra's own help lists the
  config groups in seconds. Nothing of Hydra is replaced.
"""

from __future__ import annotations

import importlib

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


def caching_repo(loader, overrides: list[str] | None = None):
    """The loader's repository of config sources (with the search path that overrides
    such as hydra.searchpath=[...] add), None where this Hydra has none to give (its
    callers then take Hydra's public, slower way)."""
    try:
        _, repo = loader._parse_overrides_and_create_caching_repo(None, overrides or [])
    except AttributeError:
        return None
    return repo


def args_parser():
    """Hydra's command-line parser, as its main uses it (--help, --config-dir, ...)."""
    from hydra._internal.utils import get_args_parser

    return get_args_parser()


def flags_help(parser) -> str:
    """$FLAGS_HELP of Hydra's help templates: its flags, one per line, as Hydra writes them."""
    from hydra._internal.hydra import Hydra

    return Hydra.format_args_help(parser)
