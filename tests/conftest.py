"""Shared fixtures: a throw-away database for the session, truncated before each test, and Redis."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from urllib.parse import urlsplit

import asyncpg
import pytest
from loguru import logger

from sequence_cron.clock import FixedClock
from sequence_cron.config import load_settings
from sequence_cron.embedded import EmbeddedServers
from sequence_cron.services import open_services
from sequence_cron.storage.migrate import migrate
from sequence_cron.storage.pool import init_connection
from tests.factories import Factory
from tests.servers import find_servers

API_TABLES = (
    "cron_state_errors, sent_emails, campaign_node_states, campaign_node_edges, campaign_nodes, "
    "campaigns, emails, audiences, events, product_users, users"
)
SERVICE_VARIABLES = (
    "DATABASE_URL", "DB_HOST", "DB_PORT", "DB_USERNAME", "DB_PASSWORD", "DB_DATABASE", "DB_SSL",
    "REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "EMAIL_PROVIDER", "SMTP_URL",
    "FROM_ADDRESS", "SENDGRID_API_KEY", "MAILGUN_API_KEY", "MAILGUN_DOMAIN", "PORT", "LOG_LEVEL",
    "LOG_FORMAT", "NODE_ENV",
)


def with_database(url: str, name: str) -> str:
    """Return `url` pointing at database `name` (keeps a ?host=/socket/dir query of embedded servers)."""
    return urlsplit(url)._replace(path=f"/{name}").geturl()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Keep the developer's own service variables out of the tests."""
    for name in SERVICE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def servers():
    embedded = EmbeddedServers()
    try:
        yield find_servers(embedded)
    finally:
        embedded.close()


@pytest.fixture(scope="session")
def admin_url(servers) -> str:
    return servers[0]


@pytest.fixture(scope="session")
def redis_url(servers) -> str:
    return servers[1]


async def create_database(admin_url: str, name: str) -> str:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return with_database(admin_url, name)


async def drop_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def create_migrated_database(admin_url: str, prefix: str = "sequence_cron_test") -> tuple[str, str]:
    """Create and migrate a database with a random name on the server of `admin_url`; return (name, url)."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    url = await create_database(admin_url, name)
    connection = await asyncpg.connect(url)
    try:
        await migrate(connection)
    finally:
        await connection.close()
    return name, url


@pytest.fixture(scope="session")
async def database_url(admin_url):
    """A migrated database of this test session, dropped at its end."""
    name, url = await create_migrated_database(admin_url)
    yield url
    await drop_database(admin_url, name)


@pytest.fixture(scope="session")
async def pool(database_url):
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=10, init=init_connection)
    yield pool
    await pool.close()


@pytest.fixture
async def db(pool):
    """The session's pool over tables emptied for this test."""
    await pool.execute(f"TRUNCATE {API_TABLES} CASCADE")
    return pool


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 3, 4, 12, 0, tzinfo=timezone.utc)  # a Wednesday


@pytest.fixture
def factory(db, now) -> Factory:
    return Factory(db, now)


@pytest.fixture
def environment(database_url, redis_url) -> dict[str, str]:
    """The variables of a service that uses the test database, the test Redis and the log provider."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": f"sequence-cron-test-{secrets.token_hex(4)}:",
        "EMAIL_PROVIDER": "log",
        "CAMPAIGN_BATCH_SIZE": "50",
        "EMAIL_BATCH_SIZE": "10",
    }


@pytest.fixture
def make_settings(environment):
    def make(**overrides):
        return load_settings({**environment, **{key: str(value) for key, value in overrides.items()}})

    return make


@pytest.fixture
async def services(db, make_settings, now):
    async with open_services(make_settings(), FixedClock(now)) as services:
        yield services


@pytest.fixture
def logs():
    """Every loguru record written during the test, as (level, message, extra) tuples."""
    records: list[tuple[str, str, dict]] = []
    sink_id = logger.add(
        lambda message: records.append(
            (message.record["level"].name, message.record["message"], dict(message.record["extra"]))
        ),
        level="DEBUG",
    )
    yield records
    logger.remove(sink_id)
