"""matching_customers and load_audiences: scoping, conditions, stored trees and injection attempts."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import orjson
import pytest
import pytest_asyncio

from filters.database import create_audience, create_customer, create_event, create_tenant, table_names
from filters.trees import condition, event, event_attribute, user_attribute
from sequence_cron.filters import FilterError, load_audiences, matching_customers

NOW = datetime(2021, 6, 20, 12, 0, tzinfo=timezone.utc)
INJECTED_TRAIT = "x'); DROP TABLE users; --"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def scoped(connection):
    """Create tenant A with live, deleted and hostile customers, and tenant B with a look-alike."""
    tenant_id = await create_tenant(connection)
    other_tenant_id = await create_tenant(connection)
    customers = {
        "pro": await create_customer(connection, tenant_id, externalId="pro", traits={"plan": "pro", "seats": 5}),
        "free": await create_customer(connection, tenant_id, externalId="free", traits={"plan": "free", "seats": 1}),
        "bare": await create_customer(connection, tenant_id, externalId="bare"),
        "deleted": await create_customer(connection, tenant_id, externalId="deleted", traits={"plan": "pro"}, deleted=True),
        "hostile": await create_customer(
            connection, tenant_id, externalId="hostile", traits={INJECTED_TRAIT: "yes", "plan": "' OR '1'='1"}
        ),
        "other_tenant": await create_customer(connection, other_tenant_id, externalId="pro", traits={"plan": "pro"}),
    }
    await create_event(connection, tenant_id, "pro", "signup")
    await create_event(connection, tenant_id, "deleted", "signup")
    await create_event(connection, other_tenant_id, "free", "signup")
    return tenant_id, other_tenant_id, customers


async def matching_labels(connection, scoped, tree, candidates=None) -> set[str]:
    tenant_id, _, customers = scoped
    ids = [customers[label] for label in candidates] if candidates is not None else list(customers.values())
    matched = await matching_customers(connection, uuid.uuid4(), tree, tenant_id, ids, NOW)
    return {label for label, customer_id in customers.items() if customer_id in matched}


PLAN_PRO = user_attribute("plan", "String", "eq", "pro")
PLAN_FREE = user_attribute("plan", "String", "eq", "free")
MANY_SEATS = user_attribute("seats", "Number", "gte", 2)

CONDITION_CASES = [
    ("empty AND matches every live customer", condition("AND"), {"pro", "free", "bare", "hostile"}),
    ("empty OR matches none", condition("OR"), set()),
    ("AND of two", condition("AND", PLAN_PRO, MANY_SEATS), {"pro"}),
    ("OR of two", condition("OR", PLAN_PRO, PLAN_FREE), {"pro", "free"}),
    ("AND with empty OR", condition("AND", PLAN_PRO, condition("OR")), set()),
    ("OR with empty AND", condition("OR", PLAN_PRO, condition("AND")), {"pro", "free", "bare", "hostile"}),
    (
        "nested three levels",
        condition("OR", condition("AND", PLAN_FREE, condition("OR", MANY_SEATS, event("signup", performed=False)))),
        {"free"},
    ),
    ("filter as root", PLAN_PRO, {"pro"}),
    ("event of deleted customer", event("signup"), {"pro"}),
]


@pytest.mark.parametrize(("tree", "matches"), [pytest.param(tree, matches, id=name) for name, tree, matches in CONDITION_CASES])
async def test_condition(connection, scoped, tree, matches):
    assert await matching_labels(connection, scoped, tree) == matches


async def test_only_candidates_are_returned(connection, scoped):
    assert await matching_labels(connection, scoped, condition("AND"), candidates=["free", "deleted"]) == {"free"}


async def test_other_tenant_never_matches(connection, scoped):
    tenant_id, other_tenant_id, customers = scoped

    matched = await matching_customers(
        connection, uuid.uuid4(), condition("AND"), other_tenant_id, [customers["pro"], customers["other_tenant"]], NOW
    )

    assert matched == {customers["other_tenant"]}


async def test_empty_candidates_run_no_query(connection, scoped):
    tenant_id, _, _ = scoped

    assert await matching_customers(connection, uuid.uuid4(), condition("AND"), tenant_id, [], NOW) == set()


@pytest.mark.parametrize("kind", ["Email", "Page"])
async def test_unsupported_filter_raises(connection, scoped, kind):
    tenant_id, _, customers = scoped
    unsupported = {"nodeKind": "Filter", "filterKind": kind, "attribute": "x", "comparator": {}}
    tree = condition("OR", condition("AND"), unsupported)

    with pytest.raises(FilterError, match=f"children\\[1\\].filterKind: {kind} filters are not supported"):
        await matching_customers(connection, uuid.uuid4(), tree, tenant_id, customers.values(), NOW)
    with pytest.raises(FilterError):
        await matching_customers(connection, uuid.uuid4(), tree, tenant_id, [], NOW)


INJECTION_CASES = [
    ("trait name is only a name", user_attribute(INJECTED_TRAIT, "String", "eq", "yes"), {"hostile"}),
    ("quote in expected value", user_attribute("plan", "String", "eq", "' OR '1'='1"), {"hostile"}),
    ("quote in like value", user_attribute("plan", "String", "like", "' OR 1=1 --"), set()),
    ("column name with quote", user_attribute('email" OR 1=1 --', "String", "ne", None), set()),
    ("statement in trait name", user_attribute("plan'); DROP TABLE product_users; --", "String", "eq", None),
     {"pro", "free", "bare", "hostile"}),
    ("event name", event("signup' OR 1=1 --"), set()),
    ("event property name", event_attribute("x') OR true --", "String", "ne", None, event_name="signup"), set()),
    ("event name of property", event_attribute("a", "String", "eq", None, event_name="'; DROP TABLE events; --"), set()),
]


@pytest.mark.parametrize(("tree", "matches"), [pytest.param(tree, matches, id=name) for name, tree, matches in INJECTION_CASES])
async def test_injection_attempt(connection, scoped, tree, matches):
    tables_before = await table_names(connection)

    assert await matching_labels(connection, scoped, tree) == matches
    assert await table_names(connection) == tables_before
    assert {"users", "product_users", "events", "audiences"} <= tables_before


async def test_injection_in_number_is_rejected(connection, scoped):
    tenant_id, _, customers = scoped
    tree = user_attribute("seats", "Number", "eq", "1; DROP TABLE users")

    with pytest.raises(FilterError, match="expected: '1; DROP TABLE users' is not a number"):
        await matching_customers(connection, uuid.uuid4(), tree, tenant_id, customers.values(), NOW)
    assert "users" in await table_names(connection)


async def test_stored_audiences_load_and_match(connection, scoped):
    tenant_id, other_tenant_id, customers = scoped
    as_object = await create_audience(connection, tenant_id, PLAN_PRO)
    as_json_string = await create_audience(connection, tenant_id, orjson.dumps(PLAN_FREE).decode())
    deleted = await create_audience(connection, tenant_id, PLAN_PRO, deleted=True)
    other_tenant = await create_audience(connection, other_tenant_id, PLAN_PRO)

    audiences = await load_audiences(connection, [as_object, as_json_string, deleted, other_tenant, uuid.uuid4()])
    own_audiences = await load_audiences(connection, [as_object, other_tenant], tenant_id=tenant_id)

    assert set(audiences) == {as_object, as_json_string, other_tenant}
    assert set(own_audiences) == {as_object}
    assert audiences[other_tenant]["userId"] == other_tenant_id
    for audience_id, label in [(as_object, "pro"), (as_json_string, "free")]:
        node = audiences[audience_id]["node"]
        matched = await matching_customers(connection, audience_id, node, tenant_id, customers.values(), NOW)
        assert matched == {customers[label]}


async def test_stored_invalid_audience_names_itself(connection, scoped):
    tenant_id, _, customers = scoped
    audience_id = await create_audience(connection, tenant_id, "{not json")

    node = (await load_audiences(connection, [audience_id]))[audience_id]["node"]

    with pytest.raises(FilterError, match=f"audience {audience_id}: node: invalid JSON"):
        await matching_customers(connection, audience_id, node, tenant_id, customers.values(), NOW)
