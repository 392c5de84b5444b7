"""parse_audience: accepted forms, typed nodes, and the path and reason of every rejection."""

from __future__ import annotations

import uuid
from dataclasses import FrozenInstanceError
from datetime import datetime, timezone
from decimal import Decimal

import orjson
import pytest

from filters.trees import absolute, comparator, condition, event, event_attribute, relative, user_attribute
from sequence_cron.exceptions import SequenceCronError
from sequence_cron.filters import (
    MAX_DEPTH,
    MAX_NODES,
    MAX_TREE_CHARS,
    AbsoluteDate,
    Comparison,
    Condition,
    EventAttributeFilter,
    EventFilter,
    FilterError,
    RelativeDate,
    UserAttributeFilter,
    parse_audience,
)

AUDIENCE_ID = uuid.UUID("3f6c0000-0000-4000-8000-000000000001")
PLAN_PRO = user_attribute("plan", "String", "eq", "pro")


def problem_of(node: object) -> str:
    with pytest.raises(FilterError) as raised:
        parse_audience(AUDIENCE_ID, node)
    return str(raised.value)


def nested(depth: int) -> dict:
    tree = condition("AND")
    for _ in range(depth - 1):
        tree = condition("AND", tree)
    return tree


def test_parse_builds_typed_nodes():
    tree = parse_audience(
        AUDIENCE_ID,
        condition(
            "OR",
            PLAN_PRO,
            event("signup", performed=False),
            event_attribute("amount", "Number", "between", [1, "2.5"], event_name="purchase"),
            user_attribute("signedUpAt", "Date", "gt", relative(-7)),
        ),
    )

    assert tree.audience_id == AUDIENCE_ID
    assert tree.root == Condition(
        kind="OR",
        children=(
            UserAttributeFilter("plan", Comparison("String", "eq", "pro")),
            EventFilter("signup", performed=False),
            EventAttributeFilter("purchase", "amount", Comparison("Number", "between", (Decimal(1), Decimal("2.5")))),
            UserAttributeFilter("signedUpAt", Comparison("Date", "gt", RelativeDate(days=-7.0))),
        ),
    )
    assert tree.root.children[2].path == "children[2]"


def test_parsed_nodes_are_frozen():
    tree = parse_audience(AUDIENCE_ID, PLAN_PRO)

    with pytest.raises(FrozenInstanceError):
        tree.root.attribute = "other"


@pytest.mark.parametrize(
    "node",
    [
        pytest.param(PLAN_PRO, id="object"),
        pytest.param(orjson.dumps(PLAN_PRO).decode(), id="JSON text"),
        pytest.param(orjson.dumps(orjson.dumps(PLAN_PRO).decode()).decode(), id="JSON text of a JSON string"),
        pytest.param(orjson.dumps(PLAN_PRO), id="JSON bytes"),
    ],
)
def test_parse_accepts_stored_forms(node):
    assert parse_audience(AUDIENCE_ID, node).root == UserAttributeFilter("plan", Comparison("String", "eq", "pro"))


def test_parse_normalizes_expected_values():
    def expected_of(kind, operator, expected):
        return parse_audience(AUDIENCE_ID, user_attribute("v", kind, operator, expected)).root.comparison.expected

    assert expected_of("String", "eq", "") is None
    assert expected_of("Number", "ne", "") is None
    assert expected_of("String", "eq", 42) == "42"
    assert expected_of("String", "eq", False) == "false"
    assert expected_of("Number", "eq", " 7.50 ") == Decimal("7.50")
    assert expected_of("Number", "eq", 0.1) == Decimal("0.1")
    assert expected_of("Date", "eq", absolute("2021-06-01")) == AbsoluteDate(datetime(2021, 6, 1, tzinfo=timezone.utc))
    assert expected_of("Date", "eq", "2021-06-01T10:00:00+02:00") == AbsoluteDate(
        datetime(2021, 6, 1, 8, tzinfo=timezone.utc)
    )
    assert expected_of("Date", "lt", relative(3, "2021-06-01")) == RelativeDate(
        3.0, datetime(2021, 6, 1, tzinfo=timezone.utc)
    )
    assert expected_of("IsTimestamp", "eq", False) is False
    assert parse_audience(AUDIENCE_ID, user_attribute("v", "IsTimestamp", None)).root.comparison == Comparison(
        "IsTimestamp", "eq", True
    )


INVALID_CASES = [
    (
        "unknown operator",
        condition("AND", PLAN_PRO, user_attribute("plan", "String", "equals", "pro")),
        "children[1].comparator.operator: unknown operator 'equals'",
    ),
    ("unknown node kind", {"nodeKind": "Branch"}, "nodeKind: unknown node kind 'Branch'"),
    ("missing node kind", condition("AND", {}), "children[0].nodeKind: missing"),
    ("comparator as node", {"nodeKind": "Comparator"}, "nodeKind: unknown node kind 'Comparator'"),
    ("unknown condition kind", {"nodeKind": "Condition", "conditionKind": "XOR", "children": []}, "conditionKind: unknown condition kind 'XOR'"),
    ("condition kind as list", {"nodeKind": "Condition", "conditionKind": ["AND"], "children": []}, "conditionKind: unknown condition kind ['AND']"),
    ("missing children", {"nodeKind": "Condition", "conditionKind": "AND"}, "children: missing"),
    ("children not a list", {"nodeKind": "Condition", "conditionKind": "AND", "children": {}}, "children: expected a list, got an object"),
    ("child not an object", condition("AND", "plan"), "children[0]: expected an object, got a string"),
    ("unknown filter kind", {"nodeKind": "Filter", "filterKind": "Cohort"}, "filterKind: unknown filter kind 'Cohort'"),
    ("email filter", {"nodeKind": "Filter", "filterKind": "Email"}, "filterKind: Email filters are not supported"),
    ("page filter", condition("OR", {"nodeKind": "Filter", "filterKind": "Page"}), "children[0].filterKind: Page filters are not supported"),
    ("missing attribute", {**PLAN_PRO, "attribute": None}, "attribute: missing"),
    ("attribute not a string", {**PLAN_PRO, "attribute": 7}, "attribute: expected a string, got a number"),
    ("empty attribute", {**PLAN_PRO, "attribute": ""}, "attribute: must not be empty"),
    ("NUL in attribute", {**PLAN_PRO, "attribute": "pl\x00an"}, "attribute: contains a NUL character"),
    ("missing comparator", {k: v for k, v in PLAN_PRO.items() if k != "comparator"}, "comparator: missing"),
    ("comparator not an object", {**PLAN_PRO, "comparator": "eq"}, "comparator: expected an object, got a string"),
    ("comparator node kind", {**PLAN_PRO, "comparator": {**comparator("String", "eq"), "nodeKind": "Filter"}}, "comparator.nodeKind: expected Comparator"),
    ("unknown comparator kind", user_attribute("v", "Boolean", "eq", True), "comparator.comparatorKind: unknown comparator kind 'Boolean'"),
    ("missing operator", user_attribute("v", "String", None, "x"), "comparator.operator: missing"),
    ("like on numbers", user_attribute("v", "Number", "like", 4), "comparator.operator: operator like is not valid for a Number comparator"),
    ("gt on IsTimestamp", user_attribute("v", "IsTimestamp", "gt", True), "operator gt is not valid for a IsTimestamp comparator"),
    ("missing expected", {k: v for k, v in PLAN_PRO.items() if k != "expected"}, "expected: missing"),
    ("null expected for gt", user_attribute("v", "String", "gt", None), "expected: must not be null for operator gt"),
    ("expected list for eq", user_attribute("v", "String", "eq", ["a"]), "expected: expected a string, number or boolean, got a list"),
    ("lone surrogate", user_attribute("v", "String", "eq", "\ud800"), "expected: is not valid Unicode text"),
    ("between of one", user_attribute("v", "Number", "between", [1]), "expected: expected a list [min, max]"),
    ("between item", user_attribute("v", "Number", "between", [1, "ten"]), "expected[1]: 'ten' is not a number"),
    ("word as number", user_attribute("v", "Number", "gt", "abc"), "expected: 'abc' is not a number"),
    ("boolean as number", user_attribute("v", "Number", "gt", True), "expected: expected a number, got a boolean"),
    ("NaN as number", user_attribute("v", "Number", "gt", float("nan")), "expected: nan is not a finite number"),
    ("NaN text as number", user_attribute("v", "Number", "gt", "NaN"), "expected: 'NaN' is not a number"),
    ("huge number", user_attribute("v", "Number", "gt", "1e5000"), "is outside the supported range of numbers"),
    ("impossible date", user_attribute("v", "Date", "gt", absolute("2021-02-30")), "expected.reference: '2021-02-30' is not an ISO 8601 date"),
    ("date not a string", user_attribute("v", "Date", "gt", absolute(20210601)), "expected.reference: expected an ISO 8601 date"),
    ("unknown date kind", user_attribute("v", "Date", "gt", {"dateKind": "TOMORROW"}), "expected.dateKind: unknown date kind 'TOMORROW'"),
    ("missing date kind", user_attribute("v", "Date", "gt", {"reference": "2021-06-01"}), "expected.dateKind: missing"),
    ("date as number", user_attribute("v", "Date", "gt", 5), "expected: expected a date object"),
    ("relative days too large", user_attribute("v", "Date", "gt", relative(1e9)), "expected.days: 1000000000.0 is not a number of days"),
    ("relative days boolean", user_attribute("v", "Date", "gt", relative(True)), "expected.days: expected a number of days, got a boolean"),
    ("relative missing days", user_attribute("v", "Date", "gt", {"dateKind": "RELATIVE"}), "expected.days: missing"),
    ("relative bad reference", user_attribute("v", "Date", "gt", relative(1, "soon")), "expected.reference: 'soon' is not an ISO 8601 date"),
    ("date before year 1", user_attribute("v", "Date", "gt", absolute("0001-01-01T00:00:00+01:00")), "is outside the years 1 to 9999"),
    ("IsTimestamp expected word", user_attribute("v", "IsTimestamp", "eq", "yes"), "expected: expected true or false for an IsTimestamp comparator"),
    ("event without name", {**event("signup"), "expected": ""}, "expected: must not be empty"),
    ("event without performed", {k: v for k, v in event("signup").items() if k != "performed"}, "performed: missing"),
    ("event performed text", {**event("signup"), "performed": "yes"}, "performed: expected true or false, got a string"),
    ("event attribute name type", {**event_attribute("a", "String", "eq", "x"), "eventName": 5}, "eventName: expected a string, got a number"),
    ("root list", [PLAN_PRO], "node: expected an object, got a list"),
    ("root null", None, "node: missing: the audience has no filter tree"),
    ("root JSON null", "null", "node: missing: the audience has no filter tree"),
    ("root JSON number", "42", "node: expected an object, got a number"),
    ("three layers of text", orjson.dumps(orjson.dumps(orjson.dumps(PLAN_PRO).decode()).decode()).decode(), "node: expected an object, got a string"),
    ("invalid JSON", "{nodeKind", "node: invalid JSON"),
    ("JSON too deep for the decoder", "[" * 2000 + "]" * 2000, "node: invalid JSON"),
    ("text too long", " " * (MAX_TREE_CHARS + 1), f"more than the limit of {MAX_TREE_CHARS}"),
]


@pytest.mark.parametrize(("node", "message"), [pytest.param(node, message, id=name) for name, node, message in INVALID_CASES])
def test_invalid_tree_names_path_and_problem(node, message):
    problem = problem_of(node)

    assert problem.startswith(f"audience {AUDIENCE_ID}: ")
    assert message in problem


def test_filter_error_carries_fields():
    with pytest.raises(FilterError) as raised:
        parse_audience(AUDIENCE_ID, condition("AND", user_attribute("v", "String", "equals", "x")))

    assert isinstance(raised.value, SequenceCronError)
    assert raised.value.audience_id == AUDIENCE_ID
    assert raised.value.path == "children[0].comparator.operator"
    assert raised.value.problem.startswith("unknown operator 'equals', expected one of eq, ne")


def test_depth_limit():
    parse_audience(AUDIENCE_ID, nested(MAX_DEPTH))

    problem = problem_of(nested(MAX_DEPTH + 1))

    assert f"nested deeper than the limit of {MAX_DEPTH} levels" in problem
    assert ".".join(["children[0]"] * MAX_DEPTH) in problem


def test_depth_limit_of_cyclic_object():
    tree = condition("AND")
    tree["children"].append(tree)

    assert "nested deeper than the limit" in problem_of(tree)


def test_node_count_limit():
    parse_audience(AUDIENCE_ID, condition("AND", *[PLAN_PRO] * (MAX_NODES - 1)))

    problem = problem_of(condition("AND", *[PLAN_PRO] * MAX_NODES))

    assert f"children[{MAX_NODES - 1}]: the tree has more than the limit of {MAX_NODES} nodes" in problem


def test_node_count_limit_of_huge_list():
    assert f"more than the limit of {MAX_NODES} nodes" in problem_of(condition("OR", *[condition("AND")] * 1_000_000))
