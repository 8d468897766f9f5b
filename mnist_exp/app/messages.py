"""Hydra's and OmegaConf's reports of a bad command line, as the one line a user reads."""

from __future__ import annotations

import re
from collections.abc import Sequence

from hydra.errors import MissingConfigException, OverrideParseException
from omegaconf.errors import OmegaConfBaseException

from mnist_exp.errors import UserError, first_line


def one_line(exc: BaseException) -> str:
    """Hydra's and OmegaConf's multi-line reports of a bad override, as one line."""
    if isinstance(exc, UserError):
        return str(exc)
    if hint := missing_launcher(str(exc)):
        return hint
    if isinstance(exc, MissingConfigException):
        lines = str(exc).splitlines()
        first = lines[0].removeprefix("In 'config': ")
        options = []
        for line in lines[1:]:
            if line.startswith("Config search path"):
                break
            if line.startswith("\t"):
                options.append(line.strip())
        return f"{first}; available: {', '.join(options)}" if options else first
    if isinstance(exc, OverrideParseException):
        return f"cannot parse the override {exc.override!r}: {first_line(exc)}"
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith("raised while composing config:"):
        # A bad key in a config file (say one from --config-dir): "In 'model/wide': ..."
        # names the file on line 1 and the error on line 2.
        where = lines[0].split(":", 1)[0].removeprefix("In ")
        return f"{where}: {lines[1]}"
    cause = exc.__cause__ if isinstance(exc.__cause__, OmegaConfBaseException) else exc
    if isinstance(cause, OmegaConfBaseException):
        key = getattr(cause, "full_key", None)
        message = first_line(cause)
        schema = getattr(cause, "object_type", None)
        fields = getattr(schema, "__dataclass_fields__", None)
        if "not in" in message and fields:
            message += f"; it has: {', '.join(fields)}"
        return f"{key}: {message}" if key else message
    if isinstance(exc, OSError) and exc.filename:
        return f"cannot write or read {exc.filename}: {exc.strerror}"
    return first_line(exc)


def missing_launcher(message: str) -> str | None:
    """The line for a hydra/launcher option whose plugin is not installed (its config is
    then missing), e.g. "Could not find 'hydra/launcher/submitit_local'"."""
    pattern = r"Could not (?:find|load) 'hydra/launcher/(submitit_local|submitit_slurm)'"
    found = re.search(pattern, message)
    if found is None:
        return None
    chosen = re.match(r"In 'hydra/launcher/(\w+)'", message)  # a preset on it: slurm
    name = chosen.group(1) if chosen else found.group(1)
    return (
        f"hydra/launcher={name} needs the hydra-submitit-launcher package, which is not "
        "installed: pip install 'mnist-exp[cluster]' (or pip install hydra-submitit-launcher)"
    )


def group_as_value(arguments: Sequence[str], reason: str) -> str | None:
    """The line for a value given where a config group's option is meant: a key whose
    config is chosen by a group (`hydra.sweeper.pruner=median`, `hydra.launcher=joblib`),
    or a dict given to a group's key (`optimizer={...}`). None when no argument is one."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for argument in arguments:
        try:
            override = parser.parse_override(argument)
        except Exception:  # Hydra reports it
            continue
        if override.is_add() or override.is_delete() or override.package is not None:
            continue
        key, value = override.key_or_group, override.value()
        if "/" in key or not (isinstance(value, dict) or "." in key):
            continue  # `group=option`, or a value for a key
        try:
            group = group_of(key)
            options = group_options(group) if group else []
        except Exception:  # the one line is owed whatever Hydra's loader says
            continue
        if not options:
            continue
        choice = value if value in options else "NAME"
        options = ", ".join(options)
        if isinstance(value, dict):
            return (
                f"{argument}: {key} is chosen from the config group {group}: {group}=NAME "
                f"(options: {options}), then its fields with {key}.FIELD=VALUE ({reason})"
            )
        return (
            f"{argument}: {key} is chosen from the config group {group}: use "
            f"{group}={choice} (options: {options})"
        )
    return None


def group_of(key: str) -> str | None:
    """The config group that fills `key` ("hydra.sweeper.pruner"): the group of its path
    (hydra/launcher for hydra.launcher) or, beside it, one named NAME or *_NAME
    (hydra/sweeper/optuna_pruner, whose options fill hydra.sweeper.pruner)."""
    parent, _, name = key.replace(".", "/").rpartition("/")
    groups = list_groups(parent)
    if name in groups:
        return f"{parent}/{name}" if parent else name
    found = [g for g in groups if g.endswith(f"_{name}")]
    return f"{parent}/{found[0]}" if len(found) == 1 else None


def list_groups(parent: str) -> list[str]:
    return _loader().list_groups(parent)


def group_options(group: str) -> list[str]:
    return sorted(_loader().get_group_options(group))


def _loader():
    """Hydra's config loader for mnist-exp's configs: the app's, or a new one."""
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from mnist_exp.adapters.hydra import VERSION_BASE

    if not GlobalHydra.instance().is_initialized():
        initialize_config_module(config_module="mnist_exp.conf", **VERSION_BASE)
    return GlobalHydra.instance().config_loader()
