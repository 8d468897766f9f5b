"""Errors a user can fix: each prints as one line and ends the run non-zero."""


class UserError(Exception):
    """Bad input (config, data file, model file) explained in one line."""


class ConfigError(UserError, ValueError):
    """A config value outside what is allowed; the message names the key."""


class DataError(UserError):
    """A data source that cannot be read or does not look like MNIST."""


class LabelEncodingError(UserError, ValueError):
    """Labels and predictions in different encodings (one-hot vs class ids)."""


class ModelFileError(UserError):
    """A saved model that cannot be loaded safely."""
