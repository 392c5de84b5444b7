class SequenceCronError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(SequenceCronError):
    """An environment variable is missing or invalid.

    The message names the variable, the problem with its value and an example of a valid one.
    """


class MigrationError(SequenceCronError):
    """A migration file could not be found or applied; the message names the file or folder."""
