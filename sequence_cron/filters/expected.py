"""Validation of a filter's `expected` value for its comparator kind and operator.

The values become bind parameters, so everything PostgreSQL would reject is rejected here
instead: text with NUL characters or lone surrogates, numbers beyond the range of `numeric`,
and dates outside the years 1 to 9999.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from sequence_cron.filters.errors import TreeProblem, describe, join_path
from sequence_cron.filters.tree import AbsoluteDate, DateValue, Expected, RelativeDate, Scalar

# Marks an `expected` key that is absent, as opposed to present with the value null.
MISSING = object()

# The number syntax that attributes.py accepts in customer data, except that the exponent may
# have any number of digits here because the range check below bounds it.
NUMBER_PATTERN = re.compile(r" *[-+]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][-+]?[0-9]+)? *")
MAX_NUMBER_DIGITS = 1000
MAX_NUMBER_EXPONENT = 1000

# About 274 years either way. For any `now` between the years 275 and 9725 the resolved date
# stays inside the years 1 to 9999, and compile_filter raises FilterError for the rest.
MAX_RELATIVE_DAYS = 100_000
NOW_REFERENCE = "$now"


def parse_expected(kind: str, operator: str, raw: object, path: str) -> Expected:
    """Return `raw` normalized for a comparison of `kind` with `operator`, or raise TreeProblem.

    For IsTimestamp, an absent or null value means true. For every other kind, eq and ne with
    null or "" return None, which the compiler reads as a test for a missing or present value.
    """
    if kind == "IsTimestamp":
        if raw is MISSING or raw is None:
            return True
        if not isinstance(raw, bool):
            raise TreeProblem(path, f"expected true or false for an IsTimestamp comparator, got {describe(raw)}")
        return raw

    if raw is MISSING:
        raise TreeProblem(path, "missing")
    if operator in ("eq", "ne") and (raw is None or raw == ""):
        return None
    if raw is None:
        raise TreeProblem(path, f"must not be null for operator {operator}")

    if operator == "between":
        if not isinstance(raw, list) or len(raw) != 2:
            raise TreeProblem(path, f"expected a list [min, max] for operator between, got {describe(raw)}")
        return (
            parse_scalar(kind, raw[0], join_path(path, 0)),
            parse_scalar(kind, raw[1], join_path(path, 1)),
        )
    return parse_scalar(kind, raw, path)


def parse_scalar(kind: str, raw: object, path: str) -> Scalar:
    if kind == "String":
        return parse_string(raw, path)
    if kind == "Number":
        return parse_number(raw, path)
    return parse_date(raw, path)


def parse_string(raw: object, path: str) -> str:
    """Return the text a String comparison compares to. JSON numbers and booleans become their JSON text."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int):
        try:
            return str(raw)
        except ValueError:  # more digits than int-to-str conversion allows
            raise TreeProblem(path, "the number has too many digits") from None
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise TreeProblem(path, f"{describe(raw)} is not a finite number")
        return repr(raw)
    if isinstance(raw, str):
        return check_text(raw, path)
    raise TreeProblem(path, f"expected a string, number or boolean, got {type_name(raw)}")


def parse_number(raw: object, path: str) -> Decimal:
    """Return a JSON number or a numeric string as a Decimal that PostgreSQL `numeric` can hold."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise TreeProblem(path, f"expected a number, got {type_name(raw)}")
    if isinstance(raw, float) and not math.isfinite(raw):
        raise TreeProblem(path, f"{describe(raw)} is not a finite number")
    if isinstance(raw, str) and NUMBER_PATTERN.fullmatch(raw) is None:
        raise TreeProblem(path, f"{describe(raw)} is not a number")

    if isinstance(raw, float):
        source: int | str = repr(raw)
    elif isinstance(raw, str):
        source = raw.strip(" ")
    else:
        source = raw
    try:
        number = Decimal(source)
    except (InvalidOperation, ValueError):
        raise TreeProblem(path, f"{describe(raw)} is not a number") from None

    if len(number.as_tuple().digits) > MAX_NUMBER_DIGITS or abs(number.adjusted()) > MAX_NUMBER_EXPONENT:
        raise TreeProblem(path, f"{describe(raw)} is outside the supported range of numbers")
    return number


def parse_date(raw: object, path: str) -> DateValue:
    """Return an ABSOLUTE or RELATIVE date object, or an ISO 8601 string read as ABSOLUTE, as a DateValue."""
    if isinstance(raw, str):
        return AbsoluteDate(parse_instant(raw, path))
    if not isinstance(raw, dict):
        raise TreeProblem(path, f"expected a date object with dateKind ABSOLUTE or RELATIVE, got {type_name(raw)}")

    date_kind = raw.get("dateKind")
    if date_kind == "ABSOLUTE":
        return AbsoluteDate(parse_instant(raw.get("reference"), join_path(path, "reference")))
    if date_kind == "RELATIVE":
        return RelativeDate(
            days=parse_days(raw.get("days"), join_path(path, "days")),
            reference=parse_reference(raw.get("reference"), join_path(path, "reference")),
        )
    if date_kind is None:
        raise TreeProblem(join_path(path, "dateKind"), "missing")
    problem = f"unknown date kind {describe(date_kind)}, expected ABSOLUTE or RELATIVE"
    raise TreeProblem(join_path(path, "dateKind"), problem)


def parse_instant(raw: object, path: str) -> datetime:
    """Parse an ISO 8601 date or date-time. One without a UTC offset is read as UTC."""
    if raw is None:
        raise TreeProblem(path, "missing")
    if not isinstance(raw, str):
        raise TreeProblem(path, f"expected an ISO 8601 date such as '2021-06-01', got {type_name(raw)}")
    try:
        instant = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise TreeProblem(path, f"{describe(raw)} is not an ISO 8601 date such as '2021-06-01'") from None

    if instant.tzinfo is None:
        return instant.replace(tzinfo=timezone.utc)
    try:
        return instant.astimezone(timezone.utc)
    except OverflowError:
        raise TreeProblem(path, f"{describe(raw)} is outside the years 1 to 9999") from None


def parse_days(raw: object, path: str) -> float:
    if raw is None:
        raise TreeProblem(path, "missing")
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise TreeProblem(path, f"expected a number of days, got {type_name(raw)}")
    if not math.isfinite(raw) or abs(raw) > MAX_RELATIVE_DAYS:
        problem = f"{describe(raw)} is not a number of days from -{MAX_RELATIVE_DAYS} to {MAX_RELATIVE_DAYS}"
        raise TreeProblem(path, problem)
    return float(raw)


def parse_reference(raw: object, path: str) -> datetime | None:
    """Return None for "$now" (or an absent reference), else the instant the days count from."""
    if raw is None or raw == NOW_REFERENCE:
        return None
    return parse_instant(raw, path)


def check_text(value: str, path: str) -> str:
    """Return `value` unchanged, or raise TreeProblem when PostgreSQL text cannot store it."""
    if "\x00" in value:
        raise TreeProblem(path, "contains a NUL character, which PostgreSQL text cannot store")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise TreeProblem(path, "is not valid Unicode text because it contains a lone surrogate") from None
    return value


def type_name(value: object) -> str:
    """Return the JSON name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
