"""Find the PostgreSQL and Redis servers the tests use: the machine's own, or embedded ones."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from pathlib import Path

import asyncpg

from sequence_cron.embedded import EmbeddedServers, start_postgres, start_redis

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_HOST, DEFAULT_REDIS_PORT = "127.0.0.1", 6379


def postgres_answers(url: str) -> bool:
    async def probe() -> bool:
        try:
            connection = await asyncpg.connect(url, timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await connection.close()
        return True

    return asyncio.run(probe())


def redis_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def find_servers(servers: EmbeddedServers) -> tuple[str, str]:
    """Return an admin PostgreSQL URL and a Redis URL, starting embedded servers when none responds.

    TEST_POSTGRES_URL and TEST_REDIS_URL override the defaults (127.0.0.1:5432 and 127.0.0.1:6379).
    """
    folder = Path(tempfile.mkdtemp(prefix="sequence-cron-test-"))
    postgres_url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    if not postgres_answers(postgres_url):
        postgres_url = start_postgres(folder / "postgres", servers)
    redis_url = os.environ.get("TEST_REDIS_URL")
    if redis_url is None:
        if redis_answers(DEFAULT_REDIS_HOST, DEFAULT_REDIS_PORT):
            redis_url = f"redis://{DEFAULT_REDIS_HOST}:{DEFAULT_REDIS_PORT}/0"
        else:
            redis_url = start_redis(folder / "redis", servers)
    return postgres_url, redis_url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
