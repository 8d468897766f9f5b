"""Hydra's internals that mnist-exp builds on, and what differs between Hydra 1.3 and
1.4 (with OmegaConf 2.3 and 2.4): each in one place.

- version_base: 1.3 needs it ("1.3"), 1.4 deprecates it (VERSION_BASE, the keyword
  arguments to hand to hydra.main and initialize_config_module).
- The execution whitelist: Hydra 1.4 takes the targets a config may name (from
  hydra.main for its own callbacks and logging, from instantiate for ours); 1.3 has
  none, and mnist-exp's own check (config/targets.py) is the only one.
- Resolvers: OmegaConf 2.4's register_resolver, 2.3's register_new_resolver.
- Storing a config again: Hydra 1.4 warns unless told to replace, 1.3 replaces.

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
import inspect
import re
from collections.abc import Callable
from typing import Any

import hydra
import omegaconf
from hydra.utils import instantiate as _instantiate
from omegaconf import OmegaConf


def _minor(version: str) -> tuple[int, int]:
    major, minor = re.match(r"(\d+)\.(\d+)", version).groups()
    return int(major), int(minor)


HYDRA = _minor(hydra.__version__)
OMEGACONF = _minor(omegaconf.__version__)
# Keyword arguments for hydra.main and initialize_config_module: Hydra 1.3 reads the
# defaults of version_base="1.3" only when told; 1.4 has them and deprecates the word.
VERSION_BASE: dict[str, str] = {"version_base": "1.3"} if HYDRA < (1, 4) else {}
# Hydra 1.4's execution whitelist (hydra.main's execution_whitelist, instantiate's
# _execution_whitelist_): False where this Hydra has none.
WHITELISTS = "execution_whitelist" in inspect.signature(hydra.main).parameters


def whitelist(modules: tuple[str, ...]) -> list[str]:
    """`modules` as Hydra 1.4's whitelist patterns: every target inside them. Hydra checks
    a target by the module that defines it, so a Keras module (keras.optimizers) comes
    with the one its names are defined in (keras.src.optimizers)."""
    patterns = []
    for module in modules:
        patterns.append(f"{module}.*")
        if module.startswith("keras."):
            patterns.append(f"keras.src.{module.removeprefix('keras.')}.*")
    return patterns


def main(config_path: str, config_name: str, modules: tuple[str, ...]) -> Callable:
    """hydra.main for this Hydra: version_base where it is needed, and `modules` as the
    execution whitelist where there is one (Hydra's own callbacks and logging config)."""
    extra: dict[str, Any] = dict(VERSION_BASE)
    if WHITELISTS:
        extra["execution_whitelist"] = whitelist(modules)
    return hydra.main(config_path=config_path, config_name=config_name, **extra)


def instantiate(node: Any, modules: tuple[str, ...], **kwargs: Any) -> Any:
    """Hydra's instantiate, told the modules `node`'s targets may come from where it
    takes a whitelist: Hydra 1.4 then refuses any other target itself."""
    if WHITELISTS:
        kwargs["_execution_whitelist_"] = whitelist(modules)
    return _instantiate(node, **kwargs)


def store(name: str, node: Any, group: str | None = None, package: str | None = None) -> None:
    """A config of mnist-exp's in Hydra's ConfigStore, provider mnist_exp. Stored again
    (a module run twice, a second run in one process), it is replaced quietly, as on
    Hydra 1.3; Hydra 1.4 warns unless told to replace."""
    from hydra.core.config_store import ConfigStore

    extra = {"replace": True} if HYDRA >= (1, 4) else {}
    ConfigStore.instance().store(
        name=name, node=node, group=group, package=package, provider="mnist_exp", **extra
    )


def register_resolver(name: str, resolver: Callable) -> None:
    """OmegaConf's resolver `name` (replaced if there is one): register_resolver on
    OmegaConf 2.4, where register_new_resolver is deprecated; 2.3 has only the latter."""
    if OMEGACONF >= (2, 4):
        OmegaConf.register_resolver(name, resolver, replace=True)
    else:
        OmegaConf.register_new_resolver(name, resolver, replace=True)


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
