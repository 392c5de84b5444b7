"""Rows for tests: each method inserts one row with sensible defaults that a test can override."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timezone

import asyncpg

_counter = itertools.count(1)


class Factory:
    def __init__(self, pool: asyncpg.Pool, now: datetime | None = None):
        self.pool = pool
        self.now = now or datetime.now(timezone.utc)

    async def insert(self, table: str, values: dict) -> uuid.UUID:
        columns = ", ".join(f'"{name}"' for name in values)
        # A string such as 'infinity' for a timestamp column goes in as text and is cast by PostgreSQL.
        placeholders = ", ".join(
            f"${index}::text::timestamptz" if value in ("infinity", "-infinity") else f"${index}"
            for index, value in enumerate(values.values(), start=1)
        )
        return await self.pool.fetchval(
            f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) RETURNING id", *values.values()
        )

    async def tenant(self, **values) -> uuid.UUID:
        return await self.insert("users", {"email": f"tenant{next(_counter)}@example.com", **values})

    async def customer(self, tenant_id: uuid.UUID, **values) -> uuid.UUID:
        number = next(_counter)
        defaults = {
            "userId": tenant_id,
            "externalId": f"external-{number}",
            "email": f"customer{number}@example.com",
            "firstName": f"Customer{number}",
        }
        return await self.insert("product_users", {**defaults, **values})

    async def template(self, tenant_id: uuid.UUID, **values) -> uuid.UUID:
        defaults = {
            "userId": tenant_id,
            "name": "template",
            "subject": "Hello {{firstName}}",
            "bodyHtml": "<p>Hi {{firstName}}</p>",
            "from": "team@example.com",
            "fromName": "Team",
            "sentCount": 0,
        }
        return await self.insert("emails", {**defaults, **values})

    async def campaign(self, tenant_id: uuid.UUID, **values) -> uuid.UUID:
        defaults = {
            "userId": tenant_id,
            "name": "campaign",
            "state": "RUNNING",
            "isDraft": False,
            "createdAt": self.now,
            "updatedAt": self.now,
        }
        return await self.insert("campaigns", {**defaults, **values})

    async def node(self, campaign_id: uuid.UUID, kind: str, json: object = None, **values) -> uuid.UUID:
        tenant_id = await self.pool.fetchval('SELECT "userId" FROM campaigns WHERE id = $1', campaign_id)
        defaults = {
            "userId": tenant_id,
            "campaignId": campaign_id,
            "kind": kind,
            "name": f"{kind} node",
            "json": json if json is not None else {},
            "createdAt": self.now,
            "updatedAt": self.now,
        }
        return await self.insert("campaign_nodes", {**defaults, **values})

    async def edge(self, from_id: uuid.UUID, to_id: uuid.UUID, kind: str = "Default", **values) -> uuid.UUID:
        defaults = {"fromId": from_id, "toId": to_id, "edgeKind": kind, "createdAt": self.now, "updatedAt": self.now}
        return await self.insert("campaign_node_edges", {**defaults, **values})

    async def state(self, node_id: uuid.UUID, customer_id: uuid.UUID, **values) -> uuid.UUID:
        node = await self.pool.fetchrow('SELECT "campaignId", "userId" FROM campaign_nodes WHERE id = $1', node_id)
        defaults = {
            "campaignNodeId": node_id,
            "campaignId": node["campaignId"],
            "productUserId": customer_id,
            "userId": node["userId"],
            "state": "PENDING",
            "didTimeout": False,
            "attempts": 0,
            "runAt": self.now,
            "createdAt": self.now,
            "updatedAt": self.now,
        }
        return await self.insert("campaign_node_states", {**defaults, **values})

    async def audience(self, tenant_id: uuid.UUID, node: object, **values) -> uuid.UUID:
        return await self.insert("audiences", {"userId": tenant_id, "name": "audience", "node": node, **values})

    async def event(self, tenant_id: uuid.UUID, person_id: str, name: str, **values) -> uuid.UUID:
        defaults = {"userId": tenant_id, "personId": person_id, "name": name, "messageId": str(uuid.uuid4())}
        return await self.insert("events", {**defaults, **values})


async def fetch_state(pool: asyncpg.Pool, state_id: uuid.UUID) -> asyncpg.Record:
    return await pool.fetchrow("SELECT * FROM campaign_node_states WHERE id = $1", state_id)


async def next_states_of(pool: asyncpg.Pool, customer_id: uuid.UUID, node_id: uuid.UUID) -> list[asyncpg.Record]:
    return await pool.fetch(
        'SELECT * FROM campaign_node_states WHERE "productUserId" = $1 AND "campaignNodeId" = $2',
        customer_id,
        node_id,
    )


async def error_reason(pool: asyncpg.Pool, state_id: uuid.UUID) -> str | None:
    return await pool.fetchval("SELECT reason FROM cron_state_errors WHERE state_id = $1", state_id)
