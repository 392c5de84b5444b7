"""All database access of the jobs, one method per named query, with rows as asyncpg Records."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from sequence_cron.engine.outcomes import Outcome
from sequence_cron.engine.transitions import NextState
from sequence_cron.storage.sql import load_queries

STATES = load_queries("states.sql")
CAMPAIGNS = load_queries("campaigns.sql")
EMAILS = load_queries("emails.sql")


async def running_campaign_versions(connection) -> dict[uuid.UUID, tuple]:
    rows = await connection.fetch(CAMPAIGNS["running_campaign_versions"])
    return {row["campaign_id"]: (row["nodes_version"], row["edges_version"]) for row in rows}


async def campaign_nodes(connection, campaign_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    return await connection.fetch(CAMPAIGNS["campaign_nodes"], list(campaign_ids))


async def campaign_edges(connection, campaign_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    return await connection.fetch(CAMPAIGNS["campaign_edges"], list(campaign_ids))


async def lock_due_states(
    connection, now: datetime, email: bool, skip_campaigns: Sequence[uuid.UUID], limit: int
) -> list[asyncpg.Record]:
    return await connection.fetch(STATES["lock_due_states"], now, email, list(skip_campaigns), limit)


async def lock_waiting_states(
    connection, now: datetime, skip_campaigns: Sequence[uuid.UUID], after_id: uuid.UUID, limit: int
) -> list[asyncpg.Record]:
    return await connection.fetch(STATES["lock_waiting_states"], now, list(skip_campaigns), after_id, limit)


async def finish_states(
    connection, outcomes: Sequence[Outcome], now: datetime, expected_states: Sequence[str]
) -> set[uuid.UUID]:
    """Write the outcomes to rows still in one of `expected_states`; return the ids changed."""
    if not outcomes:
        return set()
    rows = await connection.fetch(
        STATES["finish_states"],
        [outcome.row["id"] for outcome in outcomes],
        [outcome.state for outcome in outcomes],
        [outcome.did_timeout for outcome in outcomes],
        [outcome.attempts_added for outcome in outcomes],
        [outcome.timeout_at for outcome in outcomes],
        now,
        list(expected_states),
    )
    return {row["id"] for row in rows}


async def insert_states(connection, states: Sequence[NextState], now: datetime) -> None:
    if not states:
        return
    await connection.execute(
        STATES["insert_states"],
        [state.node_id for state in states],
        [state.campaign_id for state in states],
        [state.customer_id for state in states],
        [state.tenant_id for state in states],
        [state.name for state in states],
        [state.run_at for state in states],
        [state.timeout_at for state in states],
        now,
    )


async def record_errors(connection, errors: Sequence[tuple[uuid.UUID, str]], now: datetime) -> None:
    if not errors:
        return
    await connection.execute(
        STATES["record_errors"], [state_id for state_id, _ in errors], [reason for _, reason in errors], now
    )


async def claim_states(connection, ids: Sequence[uuid.UUID], now: datetime) -> set[uuid.UUID]:
    rows = await connection.fetch(STATES["claim_states"], list(ids), now)
    return {row["id"] for row in rows}


async def release_states(connection, ids: Sequence[uuid.UUID], now: datetime) -> set[uuid.UUID]:
    if not ids:
        return set()
    rows = await connection.fetch(STATES["release_states"], list(ids), now)
    return {row["id"] for row in rows}


async def lock_expired_running_states(
    connection, now: datetime, default_limit_s: int, limit: int
) -> list[asyncpg.Record]:
    return await connection.fetch(STATES["lock_expired_running_states"], now, default_limit_s, limit)


async def count_due_states(connection, now: datetime) -> asyncpg.Record:
    return await connection.fetchrow(STATES["count_due_states"], now)


async def load_customers(connection, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, asyncpg.Record]:
    rows = await connection.fetch(EMAILS["load_customers"], list(ids))
    return {row["id"]: row for row in rows}


async def load_templates(connection, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, asyncpg.Record]:
    rows = await connection.fetch(EMAILS["load_templates"], list(ids))
    return {row["id"]: row for row in rows}


async def insert_sent_emails(
    connection, sends: Sequence[tuple[uuid.UUID, uuid.UUID, bool, str | None]], now: datetime
) -> None:
    """Write one sent_emails row per (email id, customer id, delivered, error)."""
    if not sends:
        return
    await connection.execute(
        EMAILS["insert_sent_emails"],
        [send[0] for send in sends],
        [send[1] for send in sends],
        [send[2] for send in sends],
        [send[3] for send in sends],
        now,
    )


async def add_sent_counts(connection, counts: dict[uuid.UUID, int]) -> None:
    if not counts:
        return
    ordered = sorted(counts)
    await connection.execute(EMAILS["add_sent_counts"], ordered, [counts[email_id] for email_id in ordered])
