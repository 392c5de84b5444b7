"""A Redis lock per job tick, so that replicas do not all scan for the same work at once.

The lock only saves work: correctness comes from PostgreSQL row locks, so when Redis is down the
tick runs anyway. It is a lease: the holder renews it every third of its TTL, so a tick may run
longer than the TTL, and a replica killed mid-tick holds the others back for at most one TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
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
# Push the expiry out by ARGV[2] milliseconds, again only while the key still contains our token.
RENEW_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
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
        self._renewal: asyncio.Task | None = None

    async def acquire(self) -> bool:
        """Take the lock; False when another owner holds it. Raises LockUnavailable when Redis fails."""
        token = secrets.token_hex(16)
        try:
            taken = await self.client.set(self.key, token, nx=True, px=self.ttl_ms)
        except (RedisError, OSError) as error:
            raise LockUnavailable(str(error)) from error
        if taken:
            self.token = token
            self._renewal = asyncio.create_task(self._renew(token), name=f"renew {self.key}")
        return bool(taken)

    async def _renew(self, token: str) -> None:
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            try:
                renewed = await self.client.eval(RENEW_SCRIPT, 1, self.key, token, self.ttl_ms)
            except (RedisError, OSError):
                continue  # Redis may be back before the key expires; if not, the tick goes on without it.
            if not renewed:
                return  # The key expired, and another replica may hold the lock now.

    async def release(self) -> None:
        if self._renewal is not None:
            self._renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewal
            self._renewal = None
        if self.token is None:
            return
        token, self.token = self.token, None
        try:
            await self.client.eval(RELEASE_SCRIPT, 1, self.key, token)
        except (RedisError, OSError):
            pass  # The key expires by itself.
