"""Audience filters: parse a saved filter tree, compile it to SQL and find the customers it matches."""

from sequence_cron.filters.attributes import CUSTOMER_COLUMNS
from sequence_cron.filters.compiler import CompiledFilter, compile_filter
from sequence_cron.filters.errors import FilterError
from sequence_cron.filters.evaluate import load_audiences, matching_customers
from sequence_cron.filters.parse import parse_audience
from sequence_cron.filters.tree import (
    MAX_DEPTH,
    MAX_NODES,
    MAX_TREE_CHARS,
    AbsoluteDate,
    Comparison,
    Condition,
    EventAttributeFilter,
    EventFilter,
    FilterNode,
    FilterTree,
    RelativeDate,
    UserAttributeFilter,
)

__all__ = [
    "CUSTOMER_COLUMNS",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_TREE_CHARS",
    "AbsoluteDate",
    "CompiledFilter",
    "Comparison",
    "Condition",
    "EventAttributeFilter",
    "EventFilter",
    "FilterError",
    "FilterNode",
    "FilterTree",
    "RelativeDate",
    "UserAttributeFilter",
    "compile_filter",
    "load_audiences",
    "matching_customers",
    "parse_audience",
]
