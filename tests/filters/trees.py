"""Builders of filter trees in the API's JSON shape, for readable test tables."""

from __future__ import annotations

NO_EXPECTED = object()


def condition(kind: str, *children: dict) -> dict:
    return {"nodeKind": "Condition", "conditionKind": kind, "children": list(children)}


def comparator(kind: str, operator: str | None) -> dict:
    result = {"nodeKind": "Comparator", "comparatorKind": kind}
    if operator is not None:
        result["operator"] = operator
    return result


def user_attribute(attribute: str, kind: str, operator: str | None, expected: object = NO_EXPECTED) -> dict:
    result = {
        "nodeKind": "Filter",
        "filterKind": "UserAttribute",
        "attribute": attribute,
        "comparator": comparator(kind, operator),
    }
    if expected is not NO_EXPECTED:
        result["expected"] = expected
    return result


def event(name: str, performed: bool = True) -> dict:
    return {"nodeKind": "Filter", "filterKind": "Event", "expected": name, "performed": performed}


def event_attribute(
    attribute: str, kind: str, operator: str | None, expected: object, event_name: str | None = None
) -> dict:
    result = {
        "nodeKind": "Filter",
        "filterKind": "EventAttribute",
        "attribute": attribute,
        "expected": expected,
        "comparator": comparator(kind, operator),
    }
    if event_name is not None:
        result["eventName"] = event_name
    return result


def absolute(reference: str) -> dict:
    return {"dateKind": "ABSOLUTE", "reference": reference}


def relative(days: float, reference: str = "$now") -> dict:
    return {"dateKind": "RELATIVE", "days": days, "reference": reference}
