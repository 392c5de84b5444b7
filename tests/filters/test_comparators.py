"""Table-driven tests of every comparator kind and operator on odd customer data.

Each customer of one tenant has one odd value under the trait `v` and, as the only
property of its only event, under the event property `v`. So a UserAttribute filter on the
trait and an EventAttribute filter on the property must match the same customers, and every
table runs against both.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
import pytest_asyncio

from filters.database import create_customer, create_event, create_tenant
from filters.odd_data import ALL, MISSING, ODD_VALUES, PRESENT, TIMESTAMPS
from filters.trees import NO_EXPECTED, absolute, event_attribute, relative, user_attribute
from sequence_cron.filters import matching_customers

NOW = datetime(2021, 6, 20, 12, 0, tzinfo=timezone.utc)

STRING_CASES = [
    ("eq", "abc", {"word"}),
    ("eq", "42", {"int_42", "text_42"}),
    ("eq", 42, {"int_42", "text_42"}),
    ("eq", "gmail.com", {"lower_case"}),
    ("eq", "GMAIL.COM", set()),
    ("eq", "Zoë 東京 🎉", {"unicode"}),
    ("eq", "true", {"boolean"}),
    ("eq", True, {"boolean"}),
    ("eq", "O'Brien \"x\"", {"quote"}),
    ("eq", "a_b", {"underscore"}),
    ("eq", "a%", set()),
    ("eq", None, MISSING),
    ("eq", "", MISSING),
    ("ne", None, PRESENT),
    ("ne", "", PRESENT),
    ("ne", "abc", ALL - {"word"}),
    ("like", "gmail", {"lower_case"}),
    ("like", "Gmail", {"mixed_case"}),
    ("like", "%", {"percent"}),
    ("like", "_", {"underscore"}),
    ("like", "東京", {"unicode"}),
    ("like", "", PRESENT),
    ("like", "a", {"word", "mixed_case", "lower_case", "underscore", "date_word", "object", "not_a_number"}),
    # Strings order by code point: space and "-" sort before "1".
    ("lt", "1", {"spaced_10", "exponent"}),
    ("gte", "gmail", {"lower_case", "boolean", "date_word", "object"}),
    ("between", ["2021-06-01", "2021-06-30"], {"date", "date_time_utc"}),
    ("between", ["z", "a"], set()),
]

NUMBER_CASES = [
    ("eq", 42, {"int_42", "text_42"}),
    ("eq", "42", {"int_42", "text_42"}),
    ("eq", 42.0, {"int_42", "text_42"}),
    ("gt", 40, {"int_42", "text_42", "huge_number"}),
    ("gt", 1e299, {"huge_number"}),
    ("lt", 0, {"exponent"}),
    ("lte", 10, {"float_7_5", "spaced_10", "exponent"}),
    ("gte", 10, {"int_42", "text_42", "spaced_10", "huge_number"}),
    ("between", [7.5, 42], {"float_7_5", "spaced_10", "int_42", "text_42"}),
    ("between", ["-300", "-300"], {"exponent"}),
    # A missing value is "not equal", but a value that is not a number matches nothing.
    ("ne", 42, MISSING | {"float_7_5", "spaced_10", "exponent", "huge_number"}),
    ("eq", None, MISSING),
    ("eq", "", MISSING),
    ("ne", None, PRESENT),
]

DATE_CASES = [
    ("eq", absolute("2021-06-01"), {"date"}),
    ("eq", absolute("2021-06-01T01:00:00Z"), {"date_time_offset"}),
    ("gt", absolute("2021-06-01"), {"date_time_utc", "date_time_offset", "year_10000"}),
    ("gte", absolute("2021-06-01"), TIMESTAMPS),
    ("lt", absolute("2021-06-01T00:30:00Z"), {"date"}),
    ("lte", absolute("2021-06-01T01:00:00+00:00"), {"date", "date_time_offset"}),
    ("between", [absolute("2021-06-01"), absolute("2021-06-02")], {"date", "date_time_offset"}),
    ("gt", "2021-06-10", {"date_time_utc", "year_10000"}),
    # RELATIVE dates count from NOW, 2021-06-20T12:00Z, never from the database's clock.
    ("gte", relative(-7), {"date_time_utc", "year_10000"}),
    ("lt", relative(-7), {"date", "date_time_offset"}),
    ("gt", relative(0), {"year_10000"}),
    ("between", [relative(-30), relative(-10)], {"date", "date_time_offset"}),
    ("gte", relative(-1, "2021-06-02"), TIMESTAMPS),
    ("ne", absolute("2021-06-01"), MISSING | {"date_time_utc", "date_time_offset", "year_10000"}),
    ("eq", None, MISSING),
    ("ne", None, PRESENT),
]

IS_TIMESTAMP_CASES = [
    ("eq", True, TIMESTAMPS),
    ("eq", False, ALL - TIMESTAMPS),
    (None, NO_EXPECTED, TIMESTAMPS),
    ("ne", True, ALL - TIMESTAMPS),
    ("ne", False, TIMESTAMPS),
]

TABLES = {"String": STRING_CASES, "Number": NUMBER_CASES, "Date": DATE_CASES, "IsTimestamp": IS_TIMESTAMP_CASES}
CASES = [
    pytest.param(kind, operator, expected, frozenset(matches), id=f"{kind}-{operator}-{expected!r}")
    for kind, table in TABLES.items()
    for operator, expected, matches in table
]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def odd_customers(connection):
    """Create the tenant and its customers. Return the tenant id and the customer ids by label."""
    tenant_id = await create_tenant(connection)
    customers = {}
    for label, document in ODD_VALUES.items():
        customer_id = await create_customer(connection, tenant_id, externalId=label, traits=document)
        await create_event(connection, tenant_id, label, "odd", document)
        customers[label] = customer_id
    return tenant_id, customers


async def matching_labels(connection, odd_customers, tree: dict) -> set[str]:
    tenant_id, customers = odd_customers
    matched = await matching_customers(connection, uuid.uuid4(), tree, tenant_id, customers.values(), NOW)
    return {label for label, customer_id in customers.items() if customer_id in matched}


@pytest.mark.parametrize(("kind", "operator", "expected", "matches"), CASES)
async def test_trait_comparison(connection, odd_customers, kind, operator, expected, matches):
    tree = user_attribute("v", kind, operator, expected)

    assert await matching_labels(connection, odd_customers, tree) == matches


@pytest.mark.parametrize(("kind", "operator", "expected", "matches"), CASES)
async def test_event_property_comparison(connection, odd_customers, kind, operator, expected, matches):
    tree = event_attribute("v", kind, operator, None if expected is NO_EXPECTED else expected, event_name="odd")
    if expected is NO_EXPECTED:
        del tree["expected"]

    assert await matching_labels(connection, odd_customers, tree) == matches
