"""Table-driven tests of UserAttribute filters on product_users columns, text and timestamp."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
import pytest_asyncio

from filters.database import create_customer, create_tenant
from filters.trees import absolute, relative, user_attribute
from sequence_cron.filters import matching_customers

NOW = datetime(2021, 6, 20, 12, 0, tzinfo=timezone.utc)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


CUSTOMERS: dict[str, dict] = {
    # The trait "email" must never stand in for the email column.
    "nulls": {"traits": {"email": "Ann@Example.com", "industry": "42"}},
    "empties": {"email": "", "industry": "", "country": ""},
    "mixed": {"email": "Ann@Example.com", "signedUpAt": utc(2021, 6, 1, 10), "industry": "Software", "country": "DE"},
    "symbols": {"email": "100%_off@shop.io", "industry": "42", "country": "FR"},
    "unicode": {"email": "zoë@例え.jp", "signedUpAt": utc(2020, 1, 1), "industry": " 7 ", "country": "JP"},
    "date_text": {"email": "date@shop.io", "industry": "2021-06-01T10:00:00+02:00", "lastSeenAt": utc(2021, 6, 19)},
    "bad_date_text": {"email": "bad@shop.io", "industry": "2021-02-30"},
}
ALL = frozenset(CUSTOMERS)
SIGNED_UP = frozenset({"mixed", "unicode"})

CASES = [
    ("email", "String", "eq", "Ann@Example.com", {"mixed"}),
    ("email", "String", "eq", "ann@example.com", set()),
    ("email", "String", "like", "Example", {"mixed"}),
    ("email", "String", "like", "%_", {"symbols"}),
    ("email", "String", "like", "例え", {"unicode"}),
    ("email", "String", "eq", None, {"nulls", "empties"}),
    ("email", "String", "ne", None, ALL - {"nulls", "empties"}),
    ("email", "String", "ne", "Ann@Example.com", ALL - {"mixed"}),
    ("industry", "Number", "eq", 42, {"symbols"}),
    ("industry", "Number", "lt", 10, {"unicode"}),
    ("industry", "Number", "ne", 42, {"nulls", "empties", "unicode"}),
    ("industry", "Date", "eq", absolute("2021-06-01T08:00:00Z"), {"date_text"}),
    ("industry", "IsTimestamp", "eq", True, {"date_text"}),
    ("industry", "String", "gt", "R", {"mixed"}),
    ("signedUpAt", "Date", "gt", absolute("2021-01-01"), {"mixed"}),
    ("signedUpAt", "Date", "between", [absolute("2019-12-31"), absolute("2020-01-01")], {"unicode"}),
    ("signedUpAt", "Date", "eq", None, ALL - SIGNED_UP),
    ("signedUpAt", "IsTimestamp", "eq", True, SIGNED_UP),
    ("signedUpAt", "IsTimestamp", "eq", False, ALL - SIGNED_UP),
    ("signedUpAt", "String", "like", "2021-06-01T10", {"mixed"}),
    ("signedUpAt", "Number", "gt", 0, set()),
    ("signedUpAt", "Number", "ne", 5, ALL - SIGNED_UP),
    ("lastSeenAt", "Date", "gte", relative(-7), {"date_text"}),
    ("country", "String", "eq", "DE", {"mixed"}),
    ("country", "String", "between", ["A", "F"], {"mixed"}),
]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def column_customers(connection):
    tenant_id = await create_tenant(connection)
    customers = {}
    for label, columns in CUSTOMERS.items():
        customers[label] = await create_customer(connection, tenant_id, externalId=label, **columns)
    return tenant_id, customers


@pytest.mark.parametrize(
    ("attribute", "kind", "operator", "expected", "matches"),
    [pytest.param(*case, id=f"{case[0]}-{case[1]}-{case[2]}-{case[3]!r}") for case in CASES],
)
async def test_column_comparison(connection, column_customers, attribute, kind, operator, expected, matches):
    tenant_id, customers = column_customers
    tree = user_attribute(attribute, kind, operator, expected)

    matched = await matching_customers(connection, uuid.uuid4(), tree, tenant_id, customers.values(), NOW)

    assert {label for label, customer_id in customers.items() if customer_id in matched} == matches
