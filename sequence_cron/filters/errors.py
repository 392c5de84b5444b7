"""The one error that filter parsing, compiling and evaluation raise on purpose."""

from __future__ import annotations

import uuid

from sequence_cron.exceptions import SequenceCronError


class FilterError(SequenceCronError):
    """An audience's filter tree is invalid, too large or uses a filter kind that this service does not support.

    The message names the audience and the path of the offending field inside the tree, for
    example `audience 3f6c...: children[1].comparator.operator: unknown operator 'equals'`.
    An empty path means the tree as a whole and is shown as `node`.
    """

    def __init__(self, audience_id: uuid.UUID | str | None, path: str, problem: str):
        self.audience_id = audience_id
        self.path = path
        self.problem = problem
        super().__init__(f"audience {audience_id}: {path or 'node'}: {problem}")


class TreeProblem(Exception):
    """A problem at `path` inside a tree, raised by the parser and compiler helpers.

    Those helpers do not know the audience, so parse_audience and compile_filter turn this into
    a FilterError that names it.
    """

    def __init__(self, path: str, problem: str):
        self.path = path
        self.problem = problem
        super().__init__(f"{path or 'node'}: {problem}")


def join_path(path: str, key: str | int) -> str:
    """Return the path of field `key` (a name or a list index) inside the object or list at `path`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def describe(value: object) -> str:
    """Return a short repr of a value from a tree, for error messages."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
