"""A Redis lock per job tick, so that replicas do not all scan for the same work at once.

The lock only saves work: correctness comes from PostgreSQL row locks, so when Redis is down the
tick runs anyway.
"""

from __future__ import annotations

import secrets

import redis.asyncio as aioredis
from redis.exceptions import RedisError

# Delete the key only when it still holds our token, so a tick that outlived its lock's expiry
# never releases the lock that another replica took after it.
RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class LockUnavailable(Exception):
    """Redis could not be asked; the caller runs without the lock."""


class TickLock:
    def __init__(self, client: aioredis.Redis, key: str, ttl_s: float):
        self.client = client
        self.key = key
        self.ttl_ms = int(ttl_s * 1000)
        self.token: str | None = None

    async def acquire(self) -> bool:
        """Take the lock; False when another owner holds it. Raises LockUnavailable when Redis fails."""
        token = secrets.token_hex(16)
        try:
            taken = await self.client.set(self.key, token, nx=True, px=self.ttl_ms)
        except (RedisError, OSError) as error:
            raise LockUnavailable(str(error)) from error
        if taken:
            self.token = token
        return bool(taken)

    async def release(self) -> None:
        if self.token is None:
            return
        token, self.token = self.token, None
        try:
            await self.client.eval(RELEASE_SCRIPT, 1, self.key, token)
        except (RedisError, OSError):
            pass  # The key expires by itself.
