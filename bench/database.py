"""Benchmark databases: create, clone and drop them, and seed them with set-based SQL.

Every database of a run is named after the run's prefix, so the run drops only what it created.
Customers get predictable ids, md5('customer-' || i)::uuid, so that states can point at customer
number i without a join or a round trip.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import asyncpg
import orjson

from sequence_cron.storage.migrate import migrate

TENANT_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
TEMPLATE_ID = uuid.UUID("00000000-0000-4000-8000-000000000002")
AUDIENCE_ID = uuid.UUID("00000000-0000-4000-8000-000000000003")

# German customers who performed "activated": every second customer is in DE and every third has
# the event, so one customer in six matches.
AUDIENCE_TREE = {
    "nodeKind": "Condition",
    "conditionKind": "AND",
    "children": [
        {
            "nodeKind": "Filter",
            "filterKind": "UserAttribute",
            "attribute": "country",
            "expected": "DE",
            "comparator": {"nodeKind": "Comparator", "comparatorKind": "String", "operator": "eq"},
        },
        {
            "nodeKind": "Filter",
            "filterKind": "Event",
            "expected": "activated",
            "performed": True,
            "comparator": {"nodeKind": "Comparator", "comparatorKind": "String", "operator": "eq"},
        },
    ],
}


def database_url(admin_url: str, name: str) -> str:
    """Return `admin_url` pointing at database `name`."""
    return urlsplit(admin_url)._replace(path=f"/{name}").geturl()


async def create_database(admin_url: str, name: str, template: str | None = None) -> str:
    """Create database `name`, as a copy of `template` when given; return its URL.

    PostgreSQL rejects the copy while any session is connected to the template.
    """
    connection = await asyncpg.connect(admin_url)
    try:
        suffix = f' TEMPLATE "{template}"' if template else ""
        await connection.execute(f'CREATE DATABASE "{name}"{suffix}')
    finally:
        await connection.close()
    return database_url(admin_url, name)


async def drop_databases(admin_url: str, prefix: str) -> list[str]:
    """Drop every database whose name starts with `prefix` (this run's); return their names."""
    connection = await asyncpg.connect(admin_url)
    try:
        names = await connection.fetch(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname", prefix
        )
        for row in names:
            await connection.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
    finally:
        await connection.close()
    return [row["datname"] for row in names]


async def drop_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def seed_base(url: str, customers: int) -> None:
    """Migrate, then add one tenant, `customers` customers, their events, a template and an audience."""
    connection = await asyncpg.connect(url)
    try:
        await migrate(connection)
        await connection.execute(
            """INSERT INTO users (id, email, "firstName") VALUES ($1, 'tenant@example.com', 'Bench')""", TENANT_ID
        )
        await connection.execute(
            """
            INSERT INTO product_users
                (id, "userId", "externalId", email, "firstName", "lastName", country, traits, context)
            SELECT md5('customer-' || i)::uuid, $1, 'person-' || i, 'customer' || i || '@example.com',
                   'Customer' || i, 'Bench', CASE WHEN i % 2 = 0 THEN 'DE' ELSE 'FR' END,
                   jsonb_build_object('plan', 'pro', 'seats', i % 50), '{}'::jsonb
            FROM generate_series(0, $2::int - 1) AS i
            """,
            TENANT_ID,
            customers,
        )
        # Every customer viewed a page; every third one also has the "activated" event.
        await connection.execute(
            """
            INSERT INTO events ("userId", "personId", name, type, "messageId", "timestamp")
            SELECT $1, 'person-' || i, v.name, 'track', v.name || '-' || i, now() - interval '1 day'
            FROM generate_series(0, $2::int - 1) AS i
            CROSS JOIN (VALUES ('page_viewed'), ('activated')) AS v(name)
            WHERE v.name = 'page_viewed' OR i % 3 = 0
            """,
            TENANT_ID,
            customers,
        )
        await connection.execute(
            """
            INSERT INTO emails (id, "userId", name, "from", "fromName", subject, "bodyHtml", "sentCount")
            VALUES ($1, $2, 'welcome', 'team@example.com', 'Team', 'Welcome, {{firstName}}',
                    '<h1>Hello {{firstName}} {{lastName}}</h1><p>Thanks for joining. Your plan: {{plan}}.</p>', 0)
            """,
            TEMPLATE_ID,
            TENANT_ID,
        )
        await connection.execute(
            """INSERT INTO audiences (id, "userId", name, node) VALUES ($1, $2, 'activated in DE', $3::json)""",
            AUDIENCE_ID,
            TENANT_ID,
            _json(AUDIENCE_TREE),
        )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def add_campaign(connection, nodes: list[tuple[str, str, dict]], edges: list[tuple[str, str, str]]) -> dict:
    """Add a RUNNING campaign with `nodes` (key, kind, json) and `edges` (from key, to key, edge kind).

    Returns the node ids by key, plus the campaign id under "campaign".
    """
    campaign_id = uuid.uuid4()
    await connection.execute(
        """
        INSERT INTO campaigns (id, "userId", name, state, "isDraft", "launchedAt", "createdAt", "updatedAt")
        VALUES ($1, $2, 'bench', 'RUNNING', false, now(), now(), now())
        """,
        campaign_id,
        TENANT_ID,
    )
    ids = {"campaign": campaign_id}
    for key, kind, json in nodes:
        ids[key] = uuid.uuid4()
        await connection.execute(
            """
            INSERT INTO campaign_nodes (id, "userId", "campaignId", name, kind, json, "createdAt", "updatedAt")
            VALUES ($1, $2, $3, $4, $5, $6::jsonb, now(), now())
            """,
            ids[key],
            TENANT_ID,
            campaign_id,
            f"{kind} {key}",
            kind,
            _json(json),
        )
    for from_key, to_key, edge_kind in edges:
        await connection.execute(
            """
            INSERT INTO campaign_node_edges ("fromId", "toId", "edgeKind", "createdAt", "updatedAt")
            VALUES ($1, $2, $3, now(), now())
            """,
            ids[from_key],
            ids[to_key],
            edge_kind,
        )
    return ids


async def add_states(
    connection, node_id: uuid.UUID, campaign_id: uuid.UUID, count: int, customers: int, finished: bool = False
) -> None:
    """Add `count` states on one node for customers 0, 1, ... (wrapping at `customers`).

    Due states are PENDING with "runAt" spread over the past hour. Finished ones were COMPLETED a
    day ago, like the rows that a table in use for a while contains.
    """
    await connection.execute(
        """
        INSERT INTO campaign_node_states
            (id, "campaignNodeId", "campaignId", "productUserId", "userId", name, state, "didTimeout",
             attempts, "runAt", "completedAt", "createdAt", "updatedAt")
        SELECT gen_random_uuid(), $1, $2, md5('customer-' || (i % $4::int))::uuid, $5, 'bench state',
               CASE WHEN $6::boolean THEN 'COMPLETED' ELSE 'PENDING' END, false,
               CASE WHEN $6::boolean THEN 1 ELSE 0 END,
               now() - interval '1 hour' + (i % 3600) * interval '1 second' - CASE WHEN $6::boolean THEN interval '1 day' ELSE interval '1 minute' END,
               CASE WHEN $6::boolean THEN now() - interval '1 day' END,
               now() - interval '1 day', now() - interval '1 day'
        FROM generate_series(0, $3::int - 1) AS i
        """,
        node_id,
        campaign_id,
        count,
        customers,
        TENANT_ID,
        finished,
    )


def _json(value: object) -> str:
    return orjson.dumps(value).decode()
