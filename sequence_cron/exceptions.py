class SequenceCronError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(SequenceCronError):
    """An environment variable is missing or invalid.

    The message names the variable, the problem with its value and an example of a valid one.
    """


class InvalidNodeError(SequenceCronError):
    """A campaign node's json is not valid for its kind."""

    def __init__(self, node_id: str, field: str, problem: str):
        self.node_id = node_id
        self.field = field
        self.problem = problem
        super().__init__(f"node {node_id}: {field}: {problem}")


class BrokenGraphError(SequenceCronError):
    """A campaign's graph is structurally broken, so none of its states may run."""

    def __init__(self, campaign_id: str, problem: str):
        self.campaign_id = campaign_id
        self.problem = problem
        super().__init__(f"campaign {campaign_id}: {problem}")


class DatabaseUnavailableError(SequenceCronError):
    """PostgreSQL could not be reached or did not answer in time."""


class MigrationError(SequenceCronError):
    """A migration file could not be found or applied; the message names the file or folder."""
