"""The asyncpg connection pool: bounded size, a statement timeout on every query, JSON via orjson."""

import json

import asyncpg
import orjson

from sequence_cron.config import DatabaseSettings

APPLICATION_NAME = "sequence-cron"


async def create_pool(database: DatabaseSettings, min_size: int = 1) -> asyncpg.Pool:
    """Open a pool whose sessions carry the configured statement timeout.

    With `min_size` 1 or more, one connection is opened at once, so an unreachable server fails
    here; with 0 the first query connects. Either way the pool keeps no floor of open connections
    afterwards: asyncpg 0.32 restores such a floor in a background task that logs a traceback on
    every retry while the server is down, and without it the next query reconnects by itself.

    The client-side command timeout is a little longer than the server's, so a query that the
    server cancels reports the server's error rather than a bare client time-out.
    """
    statement_timeout_s = database.statement_timeout_ms / 1000
    pool = await asyncpg.create_pool(
        database.dsn,
        min_size=0,
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
    if min_size > 0:
        try:
            async with pool.acquire() as connection:
                await connection.fetchval("SELECT 1")
        except BaseException:
            pool.terminate()
            raise
    return pool


class UndecodableJson:
    """A json or jsonb value that PostgreSQL stored but Python cannot decode.

    The row still loads, so one customer's or node's odd value cannot fail a whole query. Where
    the value is used, it counts as invalid, like any other value of the wrong type.
    """

    __slots__ = ("problem",)

    def __init__(self, problem: str):
        self.problem = problem

    def __repr__(self) -> str:
        return f"UndecodableJson({self.problem!r})"


async def init_connection(connection: asyncpg.Connection) -> None:
    """Decode json and jsonb with orjson so rows carry dicts and lists, not strings."""
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name,
            encoder=_encode_json,
            decoder=decode_json,
            schema="pg_catalog",
        )


def decode_json(text: str) -> object:
    """Decode a json or jsonb value; return UndecodableJson instead of raising.

    orjson rejects some values that PostgreSQL accepts: numbers beyond a double such as 1e400,
    lone surrogate escapes in json, and nesting deeper than 1024 levels. The standard json module
    decodes the first two (1e400 becomes inf); deeper nesting raises RecursionError there too.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        problem = str(error)
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return UndecodableJson(f"cannot be decoded: {problem}")


def _encode_json(value: object) -> str:
    return orjson.dumps(value).decode()
