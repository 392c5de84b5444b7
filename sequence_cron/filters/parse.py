"""Parse an audience's `node` into a FilterTree, or raise FilterError naming the audience and the path."""

from __future__ import annotations

import uuid

import orjson

from sequence_cron.filters.errors import FilterError, TreeProblem, describe, join_path
from sequence_cron.filters.expected import MISSING, check_text, parse_expected, type_name
from sequence_cron.filters.tree import (
    COMPARATOR_KINDS,
    CONDITION_KINDS,
    MAX_DEPTH,
    MAX_NODES,
    MAX_TREE_CHARS,
    OPERATORS,
    OPERATORS_BY_COMPARATOR,
    SUPPORTED_FILTER_KINDS,
    UNSUPPORTED_FILTER_KINDS,
    Comparison,
    Condition,
    EventAttributeFilter,
    EventFilter,
    FilterNode,
    FilterTree,
    UserAttributeFilter,
)

# The API stores the tree as a JSON string inside the json column, so the column's text is a
# JSON string that contains the JSON object. That makes two layers of text at most.
MAX_TEXT_LAYERS = 2


def parse_audience(audience_id: uuid.UUID | str | None, node: object) -> FilterTree:
    """Parse `node`, which is a dict, JSON text of the object or JSON text of a string that contains it.

    Raises FilterError for invalid JSON, an unknown kind or operator, a missing field, a value
    of the wrong type, or an Email or Page filter (not supported). It also raises it for a tree
    deeper than MAX_DEPTH, with more than MAX_NODES nodes, or longer than MAX_TREE_CHARS characters.
    """
    try:
        document = _decode(node)
        root = _TreeParser().parse_node(document, "", depth=1)
    except TreeProblem as problem:
        raise FilterError(audience_id, problem.path, problem.problem) from None
    return FilterTree(audience_id=audience_id, root=root)


def _decode(node: object) -> object:
    for _ in range(MAX_TEXT_LAYERS):
        if not isinstance(node, str | bytes):
            break
        if len(node) > MAX_TREE_CHARS:
            raise TreeProblem("", f"the tree is {len(node)} characters long, more than the limit of {MAX_TREE_CHARS}")
        try:
            node = orjson.loads(node)
        except orjson.JSONDecodeError as error:
            raise TreeProblem("", f"invalid JSON: {error}") from None

    if node is None:
        raise TreeProblem("", "missing: the audience has no filter tree")
    return node


class _TreeParser:
    """Recursive descent over the decoded tree that counts nodes against MAX_NODES."""

    def __init__(self) -> None:
        self.node_count = 0

    def parse_node(self, json: object, path: str, depth: int) -> FilterNode:
        # Both limits are checked before anything below this node is read, so a hostile tree
        # costs at most MAX_NODES objects of work and MAX_DEPTH Python frames.
        if depth > MAX_DEPTH:
            raise TreeProblem(path, f"the tree is nested deeper than the limit of {MAX_DEPTH} levels")
        self.node_count += 1
        if self.node_count > MAX_NODES:
            raise TreeProblem(path, f"the tree has more than the limit of {MAX_NODES} nodes")
        if not isinstance(json, dict):
            raise TreeProblem(path, f"expected an object, got {type_name(json)}")

        node_kind = json.get("nodeKind", MISSING)
        if node_kind == "Condition":
            return self.parse_condition(json, path, depth)
        if node_kind == "Filter":
            return _parse_filter(json, path)
        if node_kind is MISSING:
            raise TreeProblem(join_path(path, "nodeKind"), "missing")
        problem = f"unknown node kind {describe(node_kind)}, expected Condition or Filter"
        raise TreeProblem(join_path(path, "nodeKind"), problem)

    def parse_condition(self, json: dict, path: str, depth: int) -> Condition:
        kind = _choice(json, "conditionKind", path, CONDITION_KINDS, "condition kind")
        children_path = join_path(path, "children")
        children = json.get("children", MISSING)
        if children is MISSING:
            raise TreeProblem(children_path, "missing")
        if not isinstance(children, list):
            raise TreeProblem(children_path, f"expected a list, got {type_name(children)}")

        parsed = tuple(
            self.parse_node(child, join_path(children_path, index), depth + 1) for index, child in enumerate(children)
        )
        return Condition(kind=kind, children=parsed, path=path)


def _parse_filter(json: dict, path: str) -> FilterNode:
    kind_path = join_path(path, "filterKind")
    kind = json.get("filterKind", MISSING)
    if kind is MISSING:
        raise TreeProblem(kind_path, "missing")
    if kind in UNSUPPORTED_FILTER_KINDS:
        raise TreeProblem(kind_path, f"{kind} filters are not supported, so this audience cannot be evaluated")
    if kind == "UserAttribute":
        return UserAttributeFilter(
            attribute=_required_text(json, "attribute", path),
            comparison=_parse_comparison(json, path),
            path=path,
        )
    if kind == "Event":
        return EventFilter(
            event_name=_required_text(json, "expected", path),
            performed=_required_bool(json, "performed", path),
            path=path,
        )
    if kind == "EventAttribute":
        return EventAttributeFilter(
            event_name=_optional_text(json, "eventName", path),
            attribute=_required_text(json, "attribute", path),
            comparison=_parse_comparison(json, path),
            path=path,
        )
    known = ", ".join(SUPPORTED_FILTER_KINDS + UNSUPPORTED_FILTER_KINDS)
    raise TreeProblem(kind_path, f"unknown filter kind {describe(kind)}, expected one of {known}")


def _parse_comparison(json: dict, path: str) -> Comparison:
    comparator_path = join_path(path, "comparator")
    comparator = json.get("comparator", MISSING)
    if comparator is MISSING:
        raise TreeProblem(comparator_path, "missing")
    if not isinstance(comparator, dict):
        raise TreeProblem(comparator_path, f"expected an object, got {type_name(comparator)}")
    node_kind = comparator.get("nodeKind", "Comparator")
    if node_kind != "Comparator":
        raise TreeProblem(join_path(comparator_path, "nodeKind"), f"expected Comparator, got {describe(node_kind)}")

    kind = _choice(comparator, "comparatorKind", comparator_path, COMPARATOR_KINDS, "comparator kind")
    operator = _parse_operator(comparator, comparator_path, kind)
    expected = parse_expected(kind, operator, json.get("expected", MISSING), join_path(path, "expected"))
    return Comparison(kind=kind, operator=operator, expected=expected)


def _parse_operator(comparator: dict, path: str, kind: str) -> str:
    # The API writes IsTimestamp comparators without an operator, and eq is what they mean.
    if kind == "IsTimestamp" and comparator.get("operator") is None:
        return "eq"
    operator = _choice(comparator, "operator", path, OPERATORS, "operator")
    allowed = OPERATORS_BY_COMPARATOR[kind]
    if operator not in allowed:
        raise TreeProblem(
            join_path(path, "operator"),
            f"operator {operator} is not valid for a {kind} comparator, expected one of {', '.join(allowed)}",
        )
    return operator


def _choice(json: dict, key: str, path: str, choices: tuple[str, ...], what: str) -> str:
    value = json.get(key, MISSING)
    field_path = join_path(path, key)
    if value is MISSING or value is None:
        raise TreeProblem(field_path, "missing")
    # The type test comes first because `in` on a tuple would compare a list or dict by equality.
    if not isinstance(value, str) or value not in choices:
        raise TreeProblem(field_path, f"unknown {what} {describe(value)}, expected one of {', '.join(choices)}")
    return value


def _required_text(json: dict, key: str, path: str) -> str:
    field_path = join_path(path, key)
    value = json.get(key)
    if value is None:
        raise TreeProblem(field_path, "missing")
    if not isinstance(value, str):
        raise TreeProblem(field_path, f"expected a string, got {type_name(value)}")
    if value == "":
        raise TreeProblem(field_path, "must not be empty")
    return check_text(value, field_path)


def _optional_text(json: dict, key: str, path: str) -> str | None:
    if json.get(key) in (None, ""):
        return None
    return _required_text(json, key, path)


def _required_bool(json: dict, key: str, path: str) -> bool:
    field_path = join_path(path, key)
    value = json.get(key)
    if value is None:
        raise TreeProblem(field_path, "missing")
    if not isinstance(value, bool):
        raise TreeProblem(field_path, f"expected true or false, got {type_name(value)}")
    return value
