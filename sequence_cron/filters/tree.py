"""Typed, frozen filter trees: the parsed form of an audience's `node`.

Every node keeps the path of its JSON object inside the tree, such as `children[1]`. The
compiler uses it to name the place of a problem that only shows with a given `now`, such as
a RELATIVE date past the year 9999.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

CONDITION_KINDS = ("AND", "OR")
COMPARATOR_KINDS = ("String", "Number", "Date", "IsTimestamp")
OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "like", "between")
OPERATORS_BY_COMPARATOR = {
    "String": OPERATORS,
    "Number": ("eq", "ne", "gt", "gte", "lt", "lte", "between"),
    "Date": ("eq", "ne", "gt", "gte", "lt", "lte", "between"),
    "IsTimestamp": ("eq", "ne"),
}
SUPPORTED_FILTER_KINDS = ("UserAttribute", "Event", "EventAttribute")
UNSUPPORTED_FILTER_KINDS = ("Email", "Page")

# Limits that keep a hostile tree from exhausting the stack, memory or the SQL parser. A
# node is a Condition or a Filter object, and the root is at depth 1.
MAX_DEPTH = 32
MAX_NODES = 1000
MAX_TREE_CHARS = 1_000_000


@dataclass(frozen=True)
class AbsoluteDate:
    """A fixed instant, from `{"dateKind": "ABSOLUTE", "reference": "2021-06-01"}`."""

    at: datetime


@dataclass(frozen=True)
class RelativeDate:
    """`days` days after `reference`, or after the evaluation's `now` when `reference` is None."""

    days: float
    reference: datetime | None = None


DateValue = AbsoluteDate | RelativeDate

# The normalized `expected` of a comparison. None (only with eq and ne) tests whether the
# attribute is missing or present, and a pair is the inclusive range of `between`.
Scalar = str | Decimal | DateValue
Expected = Scalar | tuple[Scalar, Scalar] | bool | None


@dataclass(frozen=True)
class Comparison:
    """A comparator kind and operator together with the value the attribute is compared to.

    `expected` is a str for String, a Decimal for Number, a DateValue for Date, a bool for
    IsTimestamp, a pair of those for `between`, and None for eq or ne with an empty or null
    expected value.
    """

    kind: str
    operator: str
    expected: Expected


@dataclass(frozen=True)
class Condition:
    kind: str
    children: tuple[FilterNode, ...]
    path: str = field(default="", compare=False)


@dataclass(frozen=True)
class UserAttributeFilter:
    """A comparison on a product_users column or, for any other name, on a key of `traits`."""

    attribute: str
    comparison: Comparison
    path: str = field(default="", compare=False)


@dataclass(frozen=True)
class EventFilter:
    """Whether the customer has (`performed`) or lacks a live event called `event_name`."""

    event_name: str
    performed: bool
    path: str = field(default="", compare=False)


@dataclass(frozen=True)
class EventAttributeFilter:
    """Whether the customer has a live event, of `event_name` when given, whose property compares true."""

    event_name: str | None
    attribute: str
    comparison: Comparison
    path: str = field(default="", compare=False)


FilterNode = Condition | UserAttributeFilter | EventFilter | EventAttributeFilter


@dataclass(frozen=True)
class FilterTree:
    audience_id: uuid.UUID | str | None
    root: FilterNode
