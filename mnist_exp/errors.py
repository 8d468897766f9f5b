"""Errors a user can fix: each prints as one line and ends the run non-zero.

`reason` is the short code that metrics.json records for a failed run.
"""


class UserError(Exception):
    """Bad input (config, data file, model file) explained in one line."""

    reason = "error"


class ConfigError(UserError, ValueError):
    """A config value outside what is allowed; the message names the key."""

    reason = "config_error"


class MissingPackageError(ConfigError):
    """An optional feature (logger=mlflow, logger=tensorboard) whose package is missing."""

    reason = "missing_package"


class DataError(UserError):
    """A data source that cannot be read or does not look like MNIST."""

    reason = "data_error"


class LabelEncodingError(UserError, ValueError):
    """Labels and predictions in different encodings (one-hot vs class ids)."""

    reason = "label_encoding"


class ModelFileError(UserError):
    """A saved model that cannot be loaded safely."""

    reason = "model_file"


class DivergedError(UserError):
    """The loss became NaN or infinite."""

    reason = "nan_loss"


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """(reason code, one-line message) for metrics.json and the console."""
    if isinstance(exc, UserError):
        return exc.reason, str(exc)
    first = (str(exc).strip().splitlines() or [""])[0]
    return "exception", f"{type(exc).__name__}: {first}".rstrip(": ")


class RunInterrupted(UserError):
    """SIGINT or SIGTERM stopped fit; the last completed epoch is checkpointed."""

    reason = "interrupted"

    def __init__(self, message: str, signal_name: str) -> None:
        super().__init__(message)
        self.signal_name = signal_name


def one_line(exc: BaseException) -> str:
    """Hydra's and OmegaConf's multi-line reports of a bad override, as one line."""
    from hydra.errors import MissingConfigException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException

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
        return f"cannot parse the override {exc.override!r}: {str(exc).splitlines()[0]}"
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith("raised while composing config:"):
        # A bad key in a config file (say one from --config-dir): "In 'model/wide': ..."
        # names the file on line 1 and the error on line 2.
        where = lines[0].split(":", 1)[0].removeprefix("In ")
        return f"{where}: {lines[1]}"
    cause = exc.__cause__ if isinstance(exc.__cause__, OmegaConfBaseException) else exc
    if isinstance(cause, OmegaConfBaseException):
        key = getattr(cause, "full_key", None)
        message = str(cause).splitlines()[0]
        schema = getattr(cause, "object_type", None)
        fields = getattr(schema, "__dataclass_fields__", None)
        if "not in" in message and fields:
            message += f"; it has: {', '.join(fields)}"
        return f"{key}: {message}" if key else message
    if isinstance(exc, OSError) and exc.filename:
        return f"cannot write or read {exc.filename}: {exc.strerror}"
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def missing_launcher(message: str) -> str | None:
    """The line for a hydra/launcher option whose plugin is not installed (its config is
    then missing), e.g. "Could not find 'hydra/launcher/submitit_local'"."""
    import re

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
