"""Hydra's and OmegaConf's reports of a bad command line, as the one line a user reads."""

from __future__ import annotations

import re

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
