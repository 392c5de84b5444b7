"""Throw-away PostgreSQL databases and rows for the filter and launch tests.

Each session creates its own database with a random name on the local server, applies the
migrations and drops that database, and only that one, at the end. Set
FILTER_TESTS_ADMIN_DSN to use another server; the default is the local server with trust auth.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone

import asyncpg

from sequence_cron.storage.migrate import migrate
from sequence_cron.storage.pool import init_connection

ADMIN_DSN = os.environ.get("FILTER_TESTS_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE_PREFIX = "sequence_cron_filters_test_"


def database_dsn(name: str) -> str:
    base, _, _ = ADMIN_DSN.rpartition("/")
    return f"{base}/{name}"


async def create_database() -> str:
    """Create a database with a unique name, apply the migrations and return the name."""
    name = DATABASE_PREFIX + uuid.uuid4().hex[:16]
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()

    connection = await asyncpg.connect(database_dsn(name))
    try:
        await migrate(connection)
    finally:
        await connection.close()
    return name


async def drop_database(name: str) -> None:
    if not name.startswith(DATABASE_PREFIX):
        raise ValueError(f"database {name!r} was not created by these tests, so it is not dropped")
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def connect(name: str) -> asyncpg.Connection:
    """Open a connection that decodes json and jsonb, as the service's pool does."""
    connection = await asyncpg.connect(database_dsn(name))
    await init_connection(connection)
    return connection


async def create_pool(name: str) -> asyncpg.Pool:
    return await asyncpg.create_pool(database_dsn(name), min_size=1, max_size=4, init=init_connection)


async def create_tenant(connection: asyncpg.Connection) -> uuid.UUID:
    """Insert a users row (a tenant of the API) and return its id."""
    return await connection.fetchval(
        "INSERT INTO users (email) VALUES ($1) RETURNING id", f"tenant-{uuid.uuid4().hex}@example.com"
    )


async def create_customer(
    connection: asyncpg.Connection, tenant_id: uuid.UUID, *, deleted: bool = False, **columns: object
) -> uuid.UUID:
    """Insert a product_users row with the given columns (camelCase names) and return its id."""
    columns = {"userId": tenant_id, **columns}
    if deleted:
        columns["deletedAt"] = datetime(2021, 1, 1, tzinfo=timezone.utc)
    names = ", ".join(f'"{name}"' for name in columns)
    placeholders = ", ".join(f"${index}" for index in range(1, len(columns) + 1))
    return await connection.fetchval(
        f"INSERT INTO product_users ({names}) VALUES ({placeholders}) RETURNING id", *columns.values()
    )


async def create_event(
    connection: asyncpg.Connection,
    tenant_id: uuid.UUID,
    person_id: str | None,
    name: str,
    properties: object = None,
    *,
    deleted: bool = False,
) -> uuid.UUID:
    deleted_at = datetime(2021, 1, 1, tzinfo=timezone.utc) if deleted else None
    return await connection.fetchval(
        """INSERT INTO events ("userId", "personId", name, properties, "deletedAt")
           VALUES ($1, $2, $3, $4, $5) RETURNING id""",
        tenant_id,
        person_id,
        name,
        properties,
        deleted_at,
    )


async def create_audience(
    connection: asyncpg.Connection, tenant_id: uuid.UUID, node: object, *, deleted: bool = False
) -> uuid.UUID:
    """Insert an audience whose json column contains `node`. Pass a str to store a JSON string, as the API does."""
    deleted_at = datetime(2021, 1, 1, tzinfo=timezone.utc) if deleted else None
    return await connection.fetchval(
        """INSERT INTO audiences ("userId", name, node, "deletedAt") VALUES ($1, 'test audience', $2, $3)
           RETURNING id""",
        tenant_id,
        node,
        deleted_at,
    )


async def table_names(connection: asyncpg.Connection) -> set[str]:
    rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {row["tablename"] for row in rows}
