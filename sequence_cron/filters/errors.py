"""The one error that filter parsing, compiling and evaluation raise on purpose."""

from __future__ import annotations

import uuid

from sequence_cron.exceptions import SequenceCronError


class FilterError(SequenceCronError):
    """An audience's filter tree is invalid, too large or uses a filter kind this service lacks.

    The message names the audience and the path of the offending field inside the tree, for
    example `audience 3f6c...: children[1].comparator.operator: unknown operator 'equals'`.
    An empty path means the tree as a whole and is shown as `node`.
    """

    def __init__(self, audience_id: uuid.UUID | str | None, path: str, problem: str):
        self.audience_id = audience_id
        self.path = path
        self.problem = problem
        super().__init__(f"audience {audience_id}: {path or 'node'}: {problem}")
