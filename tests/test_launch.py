"""launch_campaign against a throw-away database: who is enrolled, the states written, and repeats."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
import pytest_asyncio

from filters.database import create_audience, create_customer, create_database, create_pool, create_tenant, drop_database
from filters.trees import user_attribute
from sequence_cron.engine.launch import CampaignNotFoundError, EntryEnrollment, launch_campaign
from sequence_cron.engine.timing import load_zone
from sequence_cron.filters import FilterError

# A Monday. Europe/Berlin is at +02:00 and America/New_York at -04:00 on that date.
NOW = datetime(2026, 6, 15, 8, 0, tzinfo=timezone.utc)
DEFAULT_ZONE = load_zone("Europe/Berlin")
PLAN_PRO = user_attribute("plan", "String", "eq", "pro")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pool():
    name = await create_database()
    pool = await create_pool(name)
    yield pool
    await pool.close()
    await drop_database(name)


@pytest_asyncio.fixture(loop_scope="session")
async def connection(pool):
    async with pool.acquire() as connection:
        yield connection


@dataclass
class Campaign:
    tenant_id: uuid.UUID
    id: uuid.UUID
    audience_id: uuid.UUID
    entry_id: uuid.UUID
    trigger_id: uuid.UUID
    wait_id: uuid.UUID
    filter_id: uuid.UUID
    email_id: uuid.UUID
    customers: dict[str, uuid.UUID]


async def insert_campaign(connection, tenant_id: uuid.UUID, *, deleted: bool = False) -> uuid.UUID:
    return await connection.fetchval(
        """INSERT INTO campaigns ("userId", name, state, "isDraft", "createdAt", "updatedAt", "deletedAt")
           VALUES ($1, 'launch test', 'DRAFT', true, now(), now(), CASE WHEN $2 THEN now() END)
           RETURNING id""",
        tenant_id,
        deleted,
    )


async def insert_node(
    connection, campaign_id: uuid.UUID, tenant_id: uuid.UUID, kind: str, json: dict, *, deleted: bool = False
) -> uuid.UUID:
    return await connection.fetchval(
        """INSERT INTO campaign_nodes ("userId", "campaignId", name, kind, json, "createdAt", "updatedAt", "deletedAt")
           VALUES ($1, $2, $3, $4, $5, now(), now(), CASE WHEN $6 THEN now() END)
           RETURNING id""",
        tenant_id,
        campaign_id,
        f"{kind} step",
        kind,
        json,
        deleted,
    )


async def insert_edge(connection, from_id: uuid.UUID, to_id: uuid.UUID, kind: str = "Default", *, deleted: bool = False):
    await connection.execute(
        """INSERT INTO campaign_node_edges ("fromId", "toId", "edgeKind", "createdAt", "updatedAt", "deletedAt")
           VALUES ($1, $2, $3, now(), now(), CASE WHEN $4 THEN now() END)""",
        from_id,
        to_id,
        kind,
        deleted,
    )


@pytest_asyncio.fixture(loop_scope="session")
async def campaign(connection) -> Campaign:
    """Build a draft campaign whose Audience entry node selects customers with the trait plan = pro.

    Its Default edges lead to a Wait node (09:00 local) and a Filter node (waiting 2 days).
    A Timeout edge and a deleted Default edge lead to an Email node, a Default edge leads to
    a deleted node, a Trigger entry node has no audience and a deleted entry node exists.
    """
    tenant_id = await create_tenant(connection)
    other_tenant_id = await create_tenant(connection)
    customers = {
        "pro": await create_customer(connection, tenant_id, traits={"plan": "pro"}),
        "pro_new_york": await create_customer(
            connection, tenant_id, traits={"plan": "pro", "timezone": "America/New_York"}
        ),
        "pro_context_zone": await create_customer(
            connection, tenant_id, traits={"plan": "pro"}, context={"timezone": "America/New_York"}
        ),
        "pro_bad_zone": await create_customer(connection, tenant_id, traits={"plan": "pro", "timezone": "Mars/Base"}),
        "free": await create_customer(connection, tenant_id, traits={"plan": "free"}),
        "deleted": await create_customer(connection, tenant_id, traits={"plan": "pro"}, deleted=True),
        "other_tenant": await create_customer(connection, other_tenant_id, traits={"plan": "pro"}),
    }
    audience_id = await create_audience(connection, tenant_id, PLAN_PRO)
    campaign_id = await insert_campaign(connection, tenant_id)

    entry_id = await insert_node(connection, campaign_id, tenant_id, "Audience", {"audienceId": str(audience_id)})
    trigger_id = await insert_node(connection, campaign_id, tenant_id, "Trigger", {})
    deleted_entry_id = await insert_node(
        connection, campaign_id, tenant_id, "Audience", {"audienceId": str(audience_id)}, deleted=True
    )
    wait_id = await insert_node(connection, campaign_id, tenant_id, "Wait", {"kind": "Specific", "hour": 9, "minute": 0})
    filter_id = await insert_node(
        connection, campaign_id, tenant_id, "Filter", {"audienceId": str(audience_id), "waitValue": 2}
    )
    email_id = await insert_node(connection, campaign_id, tenant_id, "Email", {"emailId": str(uuid.uuid4())})
    deleted_wait_id = await insert_node(connection, campaign_id, tenant_id, "Wait", {"days": 1}, deleted=True)

    await insert_edge(connection, entry_id, wait_id)
    await insert_edge(connection, entry_id, filter_id)
    await insert_edge(connection, entry_id, email_id, "Timeout")
    await insert_edge(connection, entry_id, email_id, deleted=True)
    await insert_edge(connection, entry_id, deleted_wait_id)
    await insert_edge(connection, deleted_entry_id, email_id)
    await insert_edge(connection, trigger_id, email_id)

    return Campaign(tenant_id, campaign_id, audience_id, entry_id, trigger_id, wait_id, filter_id, email_id, customers)


async def states_on(connection, node_id: uuid.UUID) -> dict[uuid.UUID, dict]:
    rows = await connection.fetch(
        'SELECT * FROM campaign_node_states WHERE "campaignNodeId" = $1 ORDER BY "productUserId"', node_id
    )
    return {row["productUserId"]: dict(row) for row in rows}


async def duplicate_enrollments(connection, campaign_id: uuid.UUID) -> int:
    return await connection.fetchval(
        """SELECT count(*) FROM (
               SELECT 1 FROM campaign_node_states
               WHERE "campaignId" = $1
               GROUP BY "campaignNodeId", "productUserId"
               HAVING count(*) > 1
           ) AS duplicates""",
        campaign_id,
    )


def enrolled_labels(campaign: Campaign, states: dict) -> set[str]:
    return {label for label, customer_id in campaign.customers.items() if customer_id in states}


MATCHING = {"pro", "pro_new_york", "pro_context_zone", "pro_bad_zone"}


async def test_launch_returns_counts_per_entry_node(pool, campaign):
    results = await launch_campaign(pool, campaign.id, NOW, DEFAULT_ZONE)

    assert results == {
        campaign.entry_id: EntryEnrollment(audience_id=campaign.audience_id, enrolled=4),
        campaign.trigger_id: EntryEnrollment(
            audience_id=None, enrolled=0, skipped_reason="the entry node has no audience"
        ),
    }


async def test_launch_sets_campaign_running(pool, connection, campaign):
    await launch_campaign(pool, campaign.id, NOW, DEFAULT_ZONE)

    row = await connection.fetchrow('SELECT * FROM campaigns WHERE id = $1', campaign.id)
    assert row["state"] == "RUNNING"
    assert row["isDraft"] is False
    assert row["launchedAt"] == NOW
    assert row["updatedAt"] == NOW


async def test_launch_completes_entry_states(pool, connection, campaign):
    await launch_campaign(pool, campaign.id, NOW, DEFAULT_ZONE)

    states = await states_on(connection, campaign.entry_id)
    assert enrolled_labels(campaign, states) == MATCHING
    for state in states.values():
        assert state["state"] == "COMPLETED"
        assert state["attempts"] == 1
        assert state["didTimeout"] is False
        assert state["name"] == "Audience step"
        assert state["campaignId"] == campaign.id
        assert state["userId"] == campaign.tenant_id
        assert state["runAt"] == NOW
        assert state["completedAt"] == NOW
        assert state["createdAt"] == NOW
        assert state["updatedAt"] == NOW
        assert state["timeoutAt"] is None


async def test_launch_writes_pending_next_states(pool, connection, campaign):
    await launch_campaign(pool, campaign.id, NOW, DEFAULT_ZONE)

    waits = await states_on(connection, campaign.wait_id)
    filters = await states_on(connection, campaign.filter_id)
    assert enrolled_labels(campaign, waits) == MATCHING
    assert enrolled_labels(campaign, filters) == MATCHING
    for state in [*waits.values(), *filters.values()]:
        assert state["state"] == "PENDING"
        assert state["attempts"] == 0
        assert state["didTimeout"] is False
        assert state["createdAt"] == NOW
    for state in filters.values():
        assert state["runAt"] == NOW
        assert state["timeoutAt"] == NOW + timedelta(days=2)


async def test_wait_runs_at_customer_local_time(pool, connection, campaign):
    await launch_campaign(pool, campaign.id, NOW, DEFAULT_ZONE)

    waits = await states_on(connection, campaign.wait_id)
    run_at = {label: waits[customer_id]["runAt"] for label, customer_id in campaign.customers.items() if customer_id in waits}
    # 09:00 in New York is 13:00 UTC, still ahead today. 09:00 in Berlin, the default, is
    # 07:00 UTC, already past, so tomorrow. An invalid zone name falls back to the default.
    assert run_at["pro_new_york"] == datetime(2026, 6, 15, 13, 0, tzinfo=timezone.utc)
    assert run_at["pro_context_zone"] == datetime(2026, 6, 15, 13, 0, tzinfo=timezone.utc)
    assert run_at["pro"] == datetime(2026, 6, 16, 7, 0, tzinfo=timezone.utc)
    assert run_at["pro_bad_zone"] == datetime(2026, 6, 16, 7, 0, tzinfo=timezone.utc)


async def test_edges_not_followed(pool, connection, campaign):
    await launch_campaign(pool, campaign.id, NOW, DEFAULT_ZONE)

    assert await states_on(connection, campaign.email_id) == {}
    assert await states_on(connection, campaign.trigger_id) == {}


async def test_launch_twice_enrolls_nobody_twice(pool, connection, campaign):
    first = await launch_campaign(pool, campaign.id, NOW, DEFAULT_ZONE)
    second = await launch_campaign(pool, campaign.id, NOW + timedelta(hours=1), DEFAULT_ZONE)

    assert first[campaign.entry_id].enrolled == 4
    assert second[campaign.entry_id].enrolled == 0
    assert await duplicate_enrollments(connection, campaign.id) == 0
    assert len(await states_on(connection, campaign.wait_id)) == 4


async def test_launch_again_enrolls_new_customers(pool, connection, campaign):
    await launch_campaign(pool, campaign.id, NOW, DEFAULT_ZONE)
    newcomer = await create_customer(connection, campaign.tenant_id, traits={"plan": "pro"})

    again = await launch_campaign(pool, campaign.id, NOW + timedelta(hours=1), DEFAULT_ZONE)

    assert again[campaign.entry_id].enrolled == 1
    assert newcomer in await states_on(connection, campaign.entry_id)
    assert await duplicate_enrollments(connection, campaign.id) == 0


async def test_launch_in_batches(pool, connection, campaign):
    for _ in range(5):
        await create_customer(connection, campaign.tenant_id, traits={"plan": "pro"})

    results = await launch_campaign(pool, campaign.id, NOW, DEFAULT_ZONE, batch_size=2)

    assert results[campaign.entry_id].enrolled == 9
    assert len(await states_on(connection, campaign.entry_id)) == 9
    assert len(await states_on(connection, campaign.wait_id)) == 9
    assert await duplicate_enrollments(connection, campaign.id) == 0


async def test_missing_campaign_raises(pool):
    missing_id = uuid.uuid4()

    with pytest.raises(CampaignNotFoundError, match=f"campaign {missing_id} not found or deleted"):
        await launch_campaign(pool, missing_id, NOW, DEFAULT_ZONE)


async def test_deleted_campaign_raises(pool, connection):
    tenant_id = await create_tenant(connection)
    campaign_id = await insert_campaign(connection, tenant_id, deleted=True)

    with pytest.raises(CampaignNotFoundError):
        await launch_campaign(pool, campaign_id, NOW, DEFAULT_ZONE)
    assert await connection.fetchval("SELECT state FROM campaigns WHERE id = $1", campaign_id) == "DRAFT"


async def test_unsupported_audience_rolls_back(pool, connection, campaign):
    await connection.execute(
        "UPDATE audiences SET node = $2 WHERE id = $1",
        campaign.audience_id,
        {"nodeKind": "Condition", "conditionKind": "OR", "children": [{"nodeKind": "Filter", "filterKind": "Email"}]},
    )

    with pytest.raises(FilterError, match="Email filters are not supported"):
        await launch_campaign(pool, campaign.id, NOW, DEFAULT_ZONE)

    assert await connection.fetchval("SELECT state FROM campaigns WHERE id = $1", campaign.id) == "DRAFT"
    assert await states_on(connection, campaign.entry_id) == {}


@pytest.mark.parametrize("problem", ["deleted", "other tenant"])
async def test_unusable_audience_enrolls_nobody(pool, connection, campaign, problem):
    if problem == "deleted":
        await connection.execute('UPDATE audiences SET "deletedAt" = now() WHERE id = $1', campaign.audience_id)
    else:
        other_tenant_id = await create_tenant(connection)
        await connection.execute('UPDATE audiences SET "userId" = $2 WHERE id = $1', campaign.audience_id, other_tenant_id)

    results = await launch_campaign(pool, campaign.id, NOW, DEFAULT_ZONE)

    assert results[campaign.entry_id] == EntryEnrollment(
        audience_id=campaign.audience_id,
        enrolled=0,
        skipped_reason=f"audience {campaign.audience_id} not found, deleted or of another tenant",
    )
    assert await states_on(connection, campaign.entry_id) == {}


async def test_invalid_entry_node_enrolls_nobody(pool, connection, campaign):
    await connection.execute(
        "UPDATE campaign_nodes SET json = $2 WHERE id = $1", campaign.entry_id, {"audienceId": "not-a-uuid"}
    )

    results = await launch_campaign(pool, campaign.id, NOW, DEFAULT_ZONE)

    assert results[campaign.entry_id].enrolled == 0
    assert "audienceId: 'not-a-uuid' is not a UUID" in results[campaign.entry_id].skipped_reason
    assert await states_on(connection, campaign.entry_id) == {}


async def test_naive_now_raises(pool, campaign):
    with pytest.raises(ValueError, match="timezone-aware"):
        await launch_campaign(pool, campaign.id, datetime(2026, 6, 15, 8, 0), DEFAULT_ZONE)

