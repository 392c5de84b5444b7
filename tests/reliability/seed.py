"""Bulk rows for the reliability tests: one campaign Email → Wait with thousands of due Email states."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import asyncpg


@dataclass(frozen=True)
class EmailCampaign:
    tenant_id: uuid.UUID
    campaign_id: uuid.UUID
    template_id: uuid.UUID
    email_node_id: uuid.UUID
    wait_node_id: uuid.UUID
    customers: int


async def seed_email_campaign(
    pool: asyncpg.Pool, customers: int, timeout_after_s: int | None = None, wait_days: int = 3
) -> EmailCampaign:
    """Insert a running campaign Email → Wait and `customers` customers, each with an Email state due now.

    Customer number i has the address customer{i}@example.com. `timeout_after_s` sets the Email
    node's "timeoutAfter".
    """
    now = datetime.now(timezone.utc)
    due = now - timedelta(minutes=1)
    async with pool.acquire() as connection, connection.transaction():
        tenant_id = await connection.fetchval(
            "INSERT INTO users (email) VALUES ($1) RETURNING id", f"tenant-{uuid.uuid4().hex[:8]}@example.com"
        )
        campaign_id = await connection.fetchval(
            """INSERT INTO campaigns ("userId", name, state, "isDraft", "createdAt", "updatedAt")
               VALUES ($1, 'reliability', 'RUNNING', false, $2, $2) RETURNING id""",
            tenant_id,
            now,
        )
        template_id = await connection.fetchval(
            """INSERT INTO emails ("userId", name, "from", "fromName", subject, "bodyHtml", "sentCount")
               VALUES ($1, 'welcome', 'team@example.com', 'Team', 'Welcome, {{firstName}}',
                       '<p>Hi {{firstName}}</p>', 0)
               RETURNING id""",
            tenant_id,
        )
        insert_node = """INSERT INTO campaign_nodes
                             ("userId", "campaignId", kind, name, json, "timeoutAfter", "createdAt", "updatedAt")
                         VALUES ($1, $2, $3, $3, $4, $5, $6, $6) RETURNING id"""
        email_node_id = await connection.fetchval(
            insert_node, tenant_id, campaign_id, "Email", {"emailId": str(template_id)}, timeout_after_s, now
        )
        wait_node_id = await connection.fetchval(
            insert_node, tenant_id, campaign_id, "Wait", {"days": wait_days}, None, now
        )
        await connection.execute(
            """INSERT INTO campaign_node_edges ("fromId", "toId", "edgeKind", "createdAt", "updatedAt")
               VALUES ($1, $2, 'Default', $3, $3)""",
            email_node_id,
            wait_node_id,
            now,
        )
        await connection.execute(
            """INSERT INTO product_users ("userId", "externalId", email, "firstName")
               SELECT $1, 'customer-' || i, 'customer' || i || '@example.com', 'C' || i
               FROM generate_series(1, $2::int) AS i""",
            tenant_id,
            customers,
        )
        await connection.execute(
            """INSERT INTO campaign_node_states
                   ("campaignNodeId", "campaignId", "productUserId", "userId", state, "didTimeout", attempts,
                    "runAt", "createdAt", "updatedAt")
               SELECT $1, $2, p.id, $3, 'PENDING', false, 0, $4, $4, $4
               FROM product_users p
               WHERE p."userId" = $3""",
            email_node_id,
            campaign_id,
            tenant_id,
            due,
        )
    return EmailCampaign(tenant_id, campaign_id, template_id, email_node_id, wait_node_id, customers)


async def email_state_counts(pool: asyncpg.Pool, campaign: EmailCampaign) -> dict[str, int]:
    """Count the Email node's states by state (PENDING, RUNNING, COMPLETED, ERROR, ...)."""
    rows = await pool.fetch(
        'SELECT state, count(*) AS n FROM campaign_node_states WHERE "campaignNodeId" = $1 GROUP BY state',
        campaign.email_node_id,
    )
    return {row["state"]: row["n"] for row in rows}


async def next_state_customers(pool: asyncpg.Pool, campaign: EmailCampaign) -> list[uuid.UUID]:
    """The customer of every state written on the Wait node, one entry per state."""
    rows = await pool.fetch(
        'SELECT "productUserId" FROM campaign_node_states WHERE "campaignNodeId" = $1', campaign.wait_node_id
    )
    return [row["productUserId"] for row in rows]
