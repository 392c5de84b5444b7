"""Migrations on an empty database and on a database that the Sequence API created."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from sequence_cron.clock import FixedClock
from sequence_cron.engine.tick import run_campaign_tick
from sequence_cron.jobs.node_timeout import run_node_timeout_tick
from sequence_cron.services import open_services
from sequence_cron.storage.migrate import migrate, migrations_folder
from sequence_cron.storage.pool import init_connection
from tests.conftest import create_database, drop_database
from tests.factories import Factory, fetch_state

API_SCHEMA = Path(__file__).parent / "fixtures" / "sequence-api-schema.sql"
DOMAIN_TABLES = (
    "users", "product_users", "events", "audiences", "emails", "sent_emails", "campaigns",
    "campaign_nodes", "campaign_node_edges", "campaign_node_states",
)

SNAPSHOT_QUERIES = {
    "columns": """
        SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, column_default
        FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name NOT LIKE 'cron\\_%'
        ORDER BY table_name, column_name""",
    "constraints": """
        SELECT conrelid::regclass::text AS table_name, conname, pg_get_constraintdef(oid) AS definition
        FROM pg_constraint
        WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text NOT LIKE 'cron\\_%'
        ORDER BY 1, 2""",
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND indexname NOT LIKE 'cron\\_%' AND tablename NOT LIKE 'cron\\_%'
        ORDER BY 1, 2""",
    "functions": """
        SELECT proname, pg_get_functiondef(oid) AS definition FROM pg_proc
        WHERE pronamespace = 'public'::regnamespace ORDER BY 1""",
    "ledger": "SELECT name FROM sequelize_meta ORDER BY name",
}


def api_schema_sql() -> str:
    """The pg_dump output without psql's meta-commands, which the server itself does not know."""
    return "\n".join(line for line in API_SCHEMA.read_text().splitlines() if not line.startswith("\\"))


async def snapshot(connection: asyncpg.Connection) -> dict[str, list]:
    return {name: [tuple(row) for row in await connection.fetch(query)] for name, query in SNAPSHOT_QUERIES.items()}


@pytest.fixture
async def api_database(admin_url):
    name = f"sequence_cron_api_{secrets.token_hex(4)}"
    url = await create_database(admin_url, name)
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(api_schema_sql())
    finally:
        await connection.close()
    yield url
    await drop_database(admin_url, name)


async def test_migrate_changes_nothing_of_api(api_database):
    connection = await asyncpg.connect(api_database)
    try:
        before = await snapshot(connection)
        applied = await migrate(connection)
        after = await snapshot(connection)
        ours = await connection.fetch("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'cron\\_%'")
    finally:
        await connection.close()

    assert applied == [path.name for path in sorted(migrations_folder().glob("*.sql"))]
    for name in SNAPSHOT_QUERIES:
        assert after[name] == before[name], name
    assert len(ours) >= 5


async def test_empty_database_gets_domain_tables(api_database, admin_url):
    name = f"sequence_cron_empty_{secrets.token_hex(4)}"
    url = await create_database(admin_url, name)
    try:
        ours = await asyncpg.connect(url)
        api = await asyncpg.connect(api_database)
        try:
            await migrate(ours)
            columns = SNAPSHOT_QUERIES["columns"]
            our_columns = {row[:5] for row in await ours.fetch(columns) if row["table_name"] in DOMAIN_TABLES}
            api_columns = {row[:5] for row in await api.fetch(columns) if row["table_name"] in DOMAIN_TABLES}
        finally:
            await ours.close()
            await api.close()
    finally:
        await drop_database(admin_url, name)

    assert our_columns == api_columns


async def test_jobs_run_on_api_database(api_database, redis_url, now):
    connection = await asyncpg.connect(api_database)
    await init_connection(connection)
    try:
        await migrate(connection)
    finally:
        await connection.close()
    from sequence_cron.config import load_settings

    settings = load_settings({"DATABASE_URL": api_database, "REDIS_URL": redis_url, "EMAIL_PROVIDER": "log"})
    async with open_services(settings, FixedClock(now)) as services:
        factory = Factory(services.pool, now)
        tenant = await factory.tenant()
        customer = await factory.customer(tenant)
        campaign_id = await factory.campaign(tenant)
        template = await factory.template(tenant)
        email_node = await factory.node(campaign_id, "Email", {"emailId": str(template)})
        wait_node = await factory.node(campaign_id, "Wait", {"days": 1})
        await factory.edge(wait_node, email_node)
        wait_state = await factory.state(wait_node, customer, runAt=now - timedelta(minutes=1))
        stuck = await factory.state(wait_node, customer, state="RUNNING", updatedAt=now - timedelta(hours=1))

        summary = await run_campaign_tick(services)
        timeouts = await run_node_timeout_tick(services)

        assert summary["completed"] == 2
        assert summary["emails_sent"] == 1
        assert (await fetch_state(services.pool, wait_state))["state"] == "COMPLETED"
        assert timeouts["timed_out"] == 1
        assert (await fetch_state(services.pool, stuck))["state"] == "ERROR"
