"""compile_filter: parameter numbering, where values go, and the use of the given `now`."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from filters.trees import absolute, condition, event, event_attribute, relative, user_attribute
from sequence_cron.filters import FilterError, compile_filter, parse_audience

NOW = datetime(2021, 6, 20, 12, 0, tzinfo=timezone.utc)
AUDIENCE_ID = uuid.uuid4()


def compiled(node: dict, now: datetime = NOW, first_parameter: int = 1):
    return compile_filter(parse_audience(AUDIENCE_ID, node), now, first_parameter)


def placeholders(sql: str) -> set[int]:
    return {int(number) for number in re.findall(r"\$(\d+)", sql)}


def test_parameters_start_at_offset():
    result = compiled(
        condition("AND", user_attribute("plan", "String", "eq", "pro"), event("signup")), first_parameter=5
    )

    assert placeholders(result.sql) == {5, 6, 7}
    assert result.parameters == ("plan", "pro", "signup")


def test_values_only_in_parameters():
    hostile = "x'); DROP TABLE users; --"
    result = compiled(
        condition(
            "OR",
            user_attribute(hostile, "String", "like", hostile),
            user_attribute('email" OR 1=1 --', "String", "eq", hostile),
            event_attribute(hostile, "Number", "gt", 1, event_name=hostile),
            event(hostile),
        )
    )

    assert "DROP" not in result.sql
    assert "OR 1=1" not in result.sql
    assert result.parameters.count(hostile) == 6
    assert placeholders(result.sql) == set(range(1, len(result.parameters) + 1))


def test_column_attribute_uses_column():
    result = compiled(user_attribute("signedUpAt", "Date", "gt", absolute("2021-01-01")))

    assert 'p."signedUpAt"' in result.sql
    assert result.parameters == (datetime(2021, 1, 1, tzinfo=timezone.utc),)


def test_relative_date_counts_from_now():
    result = compiled(user_attribute("seen", "Date", "between", [relative(-7), relative(1.5, "2021-01-01")]))

    assert "now()" not in result.sql.lower()
    assert result.parameters == (
        "seen",
        NOW - timedelta(days=7),
        datetime(2021, 1, 2, 12, tzinfo=timezone.utc),
    )


def test_number_parameters_are_decimals():
    assert compiled(user_attribute("n", "Number", "eq", "4.50")).parameters == ("n", Decimal("4.50"))


def test_empty_conditions():
    assert compiled(condition("AND")).sql == "true"
    assert compiled(condition("OR")).sql == "false"
    assert compiled(condition("AND")).parameters == ()


def test_relative_date_past_year_9999_raises():
    far_future = datetime(9999, 12, 1, tzinfo=timezone.utc)

    with pytest.raises(FilterError, match=r"children\[0\]\.expected: 100000.0 days from 9999-12-01"):
        compiled(condition("AND", user_attribute("seen", "Date", "gt", relative(100_000))), now=far_future)


def test_naive_now_raises():
    with pytest.raises(ValueError, match="timezone-aware"):
        compiled(condition("AND"), now=datetime(2021, 6, 20))


def test_parameter_offset_below_one_raises():
    with pytest.raises(ValueError, match="first_parameter"):
        compiled(condition("AND"), first_parameter=0)
