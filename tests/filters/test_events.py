"""Event and EventAttribute filters: which events belong to a customer, and deleted events."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
import pytest_asyncio

from filters.database import create_customer, create_event, create_tenant
from filters.trees import event, event_attribute
from sequence_cron.filters import matching_customers

NOW = datetime(2021, 6, 20, 12, 0, tzinfo=timezone.utc)
ALL = frozenset({"alice", "bob", "carol", "dave"})


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def event_customers(connection):
    """Create tenant A's customers and events, and tenant B's events for the same person ids."""
    tenant_id = await create_tenant(connection)
    other_tenant_id = await create_tenant(connection)
    customers = {
        "alice": await create_customer(connection, tenant_id, externalId="alice"),
        "bob": await create_customer(connection, tenant_id, externalId="bob"),
        "carol": await create_customer(connection, tenant_id),  # no externalId, so no events
        "dave": await create_customer(connection, tenant_id, externalId="dave"),
    }
    await create_event(connection, tenant_id, "alice", "signup", {"plan": "pro", "amount": "12.5"})
    await create_event(connection, tenant_id, "alice", "purchase", {"amount": 30})
    await create_event(connection, tenant_id, "alice", "refund", {"amount": 30}, deleted=True)
    await create_event(connection, tenant_id, "dave", "signup", {"plan": "pro"}, deleted=True)
    await create_event(connection, tenant_id, None, "signup", {"plan": "pro"})
    # Another tenant's customer "bob" and its events must never count for tenant A's "bob".
    await create_customer(connection, other_tenant_id, externalId="bob")
    await create_event(connection, other_tenant_id, "bob", "signup", {"plan": "pro", "amount": 99})
    await create_event(connection, other_tenant_id, "bob", "purchase", {"amount": 99})
    return tenant_id, customers


CASES = [
    ("performed", event("signup"), {"alice"}),
    ("not performed", event("signup", performed=False), {"bob", "carol", "dave"}),
    ("deleted event", event("refund"), set()),
    ("name is case-sensitive", event("Signup"), set()),
    ("unknown name not performed", event("never", performed=False), ALL),
    ("property of named event", event_attribute("amount", "Number", "gt", 20, event_name="purchase"), {"alice"}),
    ("property of other event", event_attribute("amount", "Number", "gt", 20, event_name="signup"), set()),
    ("property of any event", event_attribute("amount", "Number", "gt", 20), {"alice"}),
    ("numeric string property", event_attribute("amount", "Number", "eq", 12.5), {"alice"}),
    ("string property", event_attribute("plan", "String", "eq", "pro"), {"alice"}),
    ("property missing on event", event_attribute("plan", "String", "eq", None, event_name="purchase"), {"alice"}),
    ("property of deleted event", event_attribute("amount", "Number", "eq", 30, event_name="refund"), set()),
]


@pytest.mark.parametrize(("tree", "matches"), [pytest.param(tree, matches, id=name) for name, tree, matches in CASES])
async def test_event_filter(connection, event_customers, tree, matches):
    tenant_id, customers = event_customers

    matched = await matching_customers(connection, uuid.uuid4(), tree, tenant_id, customers.values(), NOW)

    assert {label for label, customer_id in customers.items() if customer_id in matched} == matches
