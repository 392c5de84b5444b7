"""Background jobs of the Sequence marketing-automation app."""

__version__ = "0.1.0"
