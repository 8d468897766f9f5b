"""Errors a user can fix: each prints as one line and ends the run non-zero.

`reason` is the short code that metrics.json records for a failed run.
"""


class UserError(Exception):
    """Bad input (config, data file, model file) explained in one line."""

    reason = "error"


class ConfigError(UserError, ValueError):
    """A config value outside what is allowed; the message names the key."""

    reason = "config_error"


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
