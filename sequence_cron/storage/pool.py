"""The asyncpg connection pool: bounded size, a statement timeout on every query, JSON via orjson."""

import asyncpg
import orjson

from sequence_cron.config import DatabaseSettings

APPLICATION_NAME = "sequence-cron"


async def create_pool(database: DatabaseSettings, min_size: int = 1) -> asyncpg.Pool:
    """Open a pool whose sessions carry the configured statement timeout.

    The client-side command timeout is a little longer than the server's, so a query that the
    server cancels reports the server's error rather than a bare client time-out.
    """
    statement_timeout_s = database.statement_timeout_ms / 1000
    return await asyncpg.create_pool(
        database.dsn,
        min_size=min(min_size, database.pool_max_size),
        max_size=database.pool_max_size,
        ssl="require" if database.ssl else None,
        timeout=database.connect_timeout_s,
        command_timeout=statement_timeout_s + 5,
        server_settings={
            "application_name": APPLICATION_NAME,
            "statement_timeout": str(database.statement_timeout_ms),
            "lock_timeout": str(min(database.statement_timeout_ms, 10_000)),
            "idle_in_transaction_session_timeout": str(database.statement_timeout_ms * 2),
        },
        init=init_connection,
    )


async def init_connection(connection: asyncpg.Connection) -> None:
    """Decode json and jsonb with orjson so rows carry dicts and lists, not strings."""
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name,
            encoder=_encode_json,
            decoder=orjson.loads,
            schema="pg_catalog",
        )


def _encode_json(value: object) -> str:
    return orjson.dumps(value).decode()
