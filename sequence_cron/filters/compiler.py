"""Compile a FilterTree to one parameterized SQL predicate over `product_users` aliased `p`.

Every leaf compiles to a boolean that is never NULL, so NOT, AND and OR combine leaves by
plain two-valued logic. Event and EventAttribute leaves are EXISTS sub-queries on `events`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sequence_cron.filters.attributes import CUSTOMER_COLUMNS, AttributeSql, column_attribute, json_attribute
from sequence_cron.filters.errors import FilterError, TreeProblem, join_path
from sequence_cron.filters.tree import (
    AbsoluteDate,
    Comparison,
    Condition,
    DateValue,
    EventAttributeFilter,
    EventFilter,
    FilterNode,
    FilterTree,
    Scalar,
    UserAttributeFilter,
)

SQL_OPERATORS = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
SQL_TYPES = {"String": "text", "Number": "numeric", "Date": "timestamptz"}

# The events of a customer: same tenant, "personId" equal to the customer's "externalId", not deleted.
CUSTOMER_EVENTS = (
    'SELECT 1 FROM events e WHERE e."userId" = p."userId" '
    'AND e."personId" = p."externalId" AND e."deletedAt" IS NULL'
)


@dataclass(frozen=True)
class CompiledFilter:
    """A SQL boolean expression over `p` and the values of its parameters $first, $first+1, ..."""

    sql: str
    parameters: tuple[object, ...]


def compile_filter(tree: FilterTree, now: datetime, first_parameter: int = 1) -> CompiledFilter:
    """Compile `tree` with parameters numbered from `first_parameter`, RELATIVE dates counted from `now`.

    Raises FilterError when a RELATIVE date falls outside the years 1 to 9999, and ValueError
    when `now` is naive or `first_parameter` is below 1.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be a timezone-aware datetime, got naive {now!r}")
    if first_parameter < 1:
        raise ValueError(f"first_parameter must be 1 or more, got {first_parameter}")

    compiler = _Compiler(now, first_parameter)
    try:
        sql = compiler.node(tree.root)
    except TreeProblem as problem:
        raise FilterError(tree.audience_id, problem.path, problem.problem) from None
    return CompiledFilter(sql=sql, parameters=tuple(compiler.parameters))


class _Compiler:
    def __init__(self, now: datetime, first_parameter: int):
        self.now = now
        self.first_parameter = first_parameter
        self.parameters: list[object] = []

    def bind(self, value: object, sql_type: str) -> str:
        """Add a parameter and return its placeholder with an explicit cast."""
        self.parameters.append(value)
        return f"${self.first_parameter + len(self.parameters) - 1}::{sql_type}"

    def node(self, node: FilterNode) -> str:
        if isinstance(node, Condition):
            return self.condition(node)
        if isinstance(node, UserAttributeFilter):
            return self.compare(self.customer_attribute(node.attribute), node.comparison, node.path)
        if isinstance(node, EventFilter):
            exists = f"EXISTS ({CUSTOMER_EVENTS} AND e.name = {self.bind(node.event_name, 'text')})"
            return exists if node.performed else f"NOT {exists}"
        return self.event_attribute(node)

    def condition(self, condition: Condition) -> str:
        if not condition.children:
            # An empty AND matches every customer and an empty OR none.
            return "true" if condition.kind == "AND" else "false"
        children = [self.node(child) for child in condition.children]
        return "(" + f" {condition.kind} ".join(children) + ")"

    def customer_attribute(self, name: str) -> AttributeSql:
        if name in CUSTOMER_COLUMNS:
            return column_attribute(name)
        return json_attribute("p.traits", self.bind(name, "text"))

    def event_attribute(self, node: EventAttributeFilter) -> str:
        conditions = [CUSTOMER_EVENTS]
        if node.event_name is not None:
            conditions.append(f"e.name = {self.bind(node.event_name, 'text')}")
        attribute = json_attribute("e.properties", self.bind(node.attribute, "text"))
        conditions.append(self.compare(attribute, node.comparison, node.path))
        return "EXISTS (" + " AND ".join(conditions) + ")"

    def compare(self, attribute: AttributeSql, comparison: Comparison, path: str) -> str:
        """Return the SQL of one comparison. The Comparison docstring lists the forms of `expected`."""
        kind, operator, expected = comparison.kind, comparison.operator, comparison.expected

        if kind == "IsTimestamp":
            wants_timestamp = expected is True
            if operator == "ne":
                wants_timestamp = not wants_timestamp
            return f"({attribute.timestamp} IS {'NOT NULL' if wants_timestamp else 'NULL'})"

        if expected is None:
            return attribute.missing if operator == "eq" else f"(NOT {attribute.missing})"

        operand = {"String": attribute.text, "Number": attribute.number, "Date": attribute.timestamp}[kind]
        expected_path = join_path(path, "expected")
        if operator == "between":
            low, high = expected
            low_sql = self.bind_scalar(kind, low, join_path(expected_path, 0))
            high_sql = self.bind_scalar(kind, high, join_path(expected_path, 1))
            return f"coalesce({_ordered(operand, kind)} BETWEEN {low_sql} AND {high_sql}, false)"

        value_sql = self.bind_scalar(kind, expected, expected_path)
        if operator == "ne":
            # A customer without the attribute is "not equal" too, but a present value of the
            # wrong type (a word in a Number comparison) matches nothing.
            return f"({attribute.missing} OR coalesce({operand} <> {value_sql}, false))"
        if operator == "like":
            # strpos() finds a plain substring, so % and _ in the expected value are literal.
            return f"coalesce(strpos({operand}, {value_sql}) > 0, false)"
        if operator == "eq":
            return f"coalesce({operand} = {value_sql}, false)"
        return f"coalesce({_ordered(operand, kind)} {SQL_OPERATORS[operator]} {value_sql}, false)"

    def bind_scalar(self, kind: str, value: Scalar, path: str) -> str:
        if kind == "Date":
            return self.bind(self.resolve_date(value, path), "timestamptz")
        return self.bind(value, SQL_TYPES[kind])

    def resolve_date(self, value: DateValue, path: str) -> datetime:
        if isinstance(value, AbsoluteDate):
            return value.at
        reference = value.reference or self.now
        try:
            return reference + timedelta(days=value.days)
        except OverflowError:
            problem = f"{value.days} days from {reference.isoformat()} is outside the years 1 to 9999"
            raise TreeProblem(path, problem) from None


def _ordered(operand: str, kind: str) -> str:
    # Strings order by code point under the "C" collation, the same on every database.
    return f'{operand} COLLATE "C"' if kind == "String" else operand
