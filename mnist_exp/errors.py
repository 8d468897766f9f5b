"""Errors a user can fix: each prints as one line and ends the run non-zero.

`reason` is the short code that metrics.json records for a failed run. This module
imports nothing of the package: every stage raises these.
"""

from __future__ import annotations

from typing import Any


class UserError(Exception):
    """Bad input (config, data file, model file) explained in one line."""

    reason = "error"
    exit_code = 2  # the command's exit status when this ends it


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


class StorageLost(UserError):
    """The study's database stopped answering during a sweep: the sweep ends, the jobs
    that finished keep their results, and resume= continues once it is back."""

    reason = "storage_lost"
    exit_code = 1  # not a bad command: the same one works again


class RunInterrupted(UserError):
    """SIGINT or SIGTERM stopped fit; the last completed epoch is checkpointed."""

    reason = "interrupted"

    def __init__(self, message: str, signal_name: str) -> None:
        super().__init__(message)
        self.signal_name = signal_name


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message, else its type's name. A line
    that ends in a colon is a wrapper's ("Error in call to target 'X':"): the reason
    on the next line, or the exception it was raised from, is joined to it."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if not lines[0].endswith(":"):
        return lines[0]
    if len(lines) > 1:
        return f"{lines[0]} {lines[1]}"
    cause = exc.__cause__ or exc.__context__
    return f"{lines[0]} {first_line(cause)}" if cause is not None else lines[0].rstrip(":")


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """(reason code, one-line message) for metrics.json and the console."""
    if isinstance(exc, UserError):
        return exc.reason, str(exc)
    message = first_line(exc)
    if message == type(exc).__name__:
        return "exception", message
    return "exception", f"{type(exc).__name__}: {message}"


def require(ok: bool, key: str, value: Any, allowed: str) -> None:
    """Raise the one-line ConfigError for `key=value` unless `ok`."""
    if not ok:
        raise ConfigError(f"{key}={value!r} is not allowed: {allowed}")
