"""The pool is bounded, every statement has a time limit, and a row lock held elsewhere cannot hang a tick."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import asyncpg
import pytest

from sequence_cron.clock import FixedClock
from sequence_cron.engine.tick import run_campaign_tick
from sequence_cron.services import open_services
from tests.factories import fetch_state, next_states_of
from tests.recording import RecordingProvider

STATEMENT_TIMEOUT_MS = 800


@pytest.fixture
async def limited_services(db, make_settings, now):
    settings = make_settings(DB_POOL_MAX_SIZE=3, DB_STATEMENT_TIMEOUT_MS=STATEMENT_TIMEOUT_MS)
    async with open_services(settings, FixedClock(now)) as services:
        services.provider = RecordingProvider()
        yield services


@pytest.fixture
async def other_connection(database_url):
    """A connection outside the service's pool, standing in for the API holding row locks."""
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


async def test_pool_sessions_carry_timeouts(limited_services):
    async with limited_services.pool.acquire() as connection:
        assert await connection.fetchval("SHOW statement_timeout") == f"{STATEMENT_TIMEOUT_MS}ms"
        assert await connection.fetchval("SHOW lock_timeout") == f"{STATEMENT_TIMEOUT_MS}ms"
        assert await connection.fetchval("SHOW idle_in_transaction_session_timeout") == "1600ms"
        started = time.monotonic()
        with pytest.raises(asyncpg.QueryCanceledError):
            await connection.execute("SELECT pg_sleep(30)")
        assert time.monotonic() - started < 3


async def test_pool_size_is_bounded(limited_services):
    pool = limited_services.pool
    assert pool.get_max_size() == 3
    held = [await pool.acquire() for _ in range(3)]
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(pool.acquire(), 0.5)
    finally:
        for connection in held:
            await pool.release(connection)


async def email_campaign(factory, customers: int):
    tenant = await factory.tenant()
    campaign_id = await factory.campaign(tenant)
    template = await factory.template(tenant)
    email_node = await factory.node(campaign_id, "Email", {"emailId": str(template)})
    wait_node = await factory.node(campaign_id, "Wait", {"days": 1})
    await factory.edge(email_node, wait_node)
    people = [await factory.customer(tenant) for _ in range(customers)]
    return template, email_node, wait_node, people


async def test_locked_template_row_delays_only_sent_count(limited_services, factory, now, other_connection, logs):
    template, email_node, wait_node, people = await email_campaign(factory, 3)
    states = [await factory.state(email_node, person, runAt=now - timedelta(minutes=1)) for person in people]
    # The API saving the template in an open transaction locks its row, so the "sentCount" update
    # waits until the statement timeout; the states are committed before it.
    transaction = other_connection.transaction()
    await transaction.start()
    await other_connection.execute("UPDATE emails SET name = 'edited' WHERE id = $1", template)
    try:
        summary = await asyncio.wait_for(run_campaign_tick(limited_services), 15)
    finally:
        await transaction.rollback()

    assert summary["emails_sent"] == 3
    for state_id, person in zip(states, people, strict=True):
        assert (await fetch_state(limited_services.pool, state_id))["state"] == "COMPLETED"
        assert len(await next_states_of(limited_services.pool, person, wait_node)) == 1
    assert await limited_services.pool.fetchval('SELECT "sentCount" FROM emails WHERE id = $1', template) == 0
    [warning] = [message for _, message, extra in logs if extra.get("event") == "sent_count_failed"]
    assert "QueryCanceledError" in warning or "LockNotAvailableError" in warning


async def test_locked_due_state_is_skipped(limited_services, factory, now, other_connection):
    tenant = await factory.tenant()
    campaign_id = await factory.campaign(tenant)
    first = await factory.node(campaign_id, "Wait", {"days": 1})
    people = [await factory.customer(tenant) for _ in range(3)]
    states = [await factory.state(first, person, runAt=now - timedelta(minutes=1)) for person in people]
    transaction = other_connection.transaction()
    await transaction.start()
    await other_connection.execute("SELECT 1 FROM campaign_node_states WHERE id = $1 FOR UPDATE", states[0])
    try:
        started = time.monotonic()
        summary = await asyncio.wait_for(run_campaign_tick(limited_services), 15)
        elapsed_s = time.monotonic() - started
    finally:
        await transaction.rollback()

    assert elapsed_s < 2
    assert summary["completed"] == 2
    assert (await fetch_state(limited_services.pool, states[0]))["state"] == "PENDING"
    assert (await run_campaign_tick(limited_services))["completed"] == 1
