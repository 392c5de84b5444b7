"""The long-lived objects that the jobs and the HTTP port share, opened and closed together."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import redis.asyncio as aioredis
from loguru import logger

from sequence_cron.clock import Clock
from sequence_cron.config import Settings
from sequence_cron.email.providers import EmailProvider, create_provider
from sequence_cron.engine.cache import GraphCache
from sequence_cron.exceptions import ConfigError
from sequence_cron.storage.pool import create_pool

REDIS_TIMEOUT_S = 2.0


@dataclass
class Services:
    settings: Settings
    pool: asyncpg.Pool
    redis: aioredis.Redis | None
    provider: EmailProvider
    clock: Clock
    graphs: GraphCache
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def redis_key_prefix(self) -> str:
        return self.settings.redis_key_prefix


def open_redis(url: str) -> aioredis.Redis:
    """Create a Redis client that fails fast, so a Redis outage never stalls a tick or /health."""
    return aioredis.Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        health_check_interval=30,
        max_connections=20,
    )


@contextlib.asynccontextmanager
async def open_services(settings: Settings, clock: Clock | None = None) -> AsyncIterator[Services]:
    """Open the database pool, the Redis client and the email provider; close them in reverse order."""
    if settings.database is None:
        raise ConfigError(
            "DATABASE_URL: missing, and no DB_HOST/DB_DATABASE either, "
            "for example DATABASE_URL=postgresql://postgres@localhost:5432/sequence"
        )
    async with contextlib.AsyncExitStack() as stack:
        # Connect lazily: a service started while PostgreSQL is down keeps running, returns 503 on
        # /health and recovers once the server accepts connections, as after a later outage.
        pool = await create_pool(settings.database, min_size=0)
        stack.push_async_callback(pool.close)
        redis_client = None
        if settings.redis_url is not None:
            redis_client = open_redis(settings.redis_url)
            stack.push_async_callback(redis_client.aclose)
        provider = create_provider(settings.email)
        stack.push_async_callback(provider.close)
        problem = await probe_postgres(pool, settings.database.connect_timeout_s)
        if problem is None:
            logger.bind(event="services_opened").info(
                "connected to PostgreSQL at {}; Redis {}; email provider {}",
                settings.database.display,
                settings.redis_display or "not configured",
                provider.name,
            )
        else:
            logger.bind(event="services_opened").error(
                "PostgreSQL at {} is unreachable ({}), ticks fail until it is back; Redis {}; email provider {}",
                settings.database.display,
                problem,
                settings.redis_display or "not configured",
                provider.name,
            )
        yield Services(
            settings=settings,
            pool=pool,
            redis=redis_client,
            provider=provider,
            clock=clock or Clock(),
            graphs=GraphCache(settings.graph_cache_size, settings.graph_cache_ttl_s),
        )


async def probe_postgres(pool: asyncpg.Pool, timeout_s: float) -> str | None:
    """Run a trivial query; return None when it succeeds, else the problem in one line."""
    try:
        async with asyncio.timeout(timeout_s + 1):
            async with pool.acquire() as connection:
                await connection.fetchval("SELECT 1")
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        return f"{type(error).__name__}: {error}"
    return None
