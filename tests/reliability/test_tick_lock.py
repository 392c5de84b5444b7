"""The Redis tick lock is a lease: renewed while its tick runs, gone for good once released."""

from __future__ import annotations

import asyncio
import secrets

from sequence_cron.jobs.lock import TickLock

TTL_S = 0.6


async def test_held_lock_outlives_its_ttl(services):
    key = f"{services.redis_key_prefix}lock:{secrets.token_hex(4)}"
    holder = TickLock(services.redis, key, TTL_S)
    other = TickLock(services.redis, key, TTL_S)

    assert await holder.acquire()
    await asyncio.sleep(TTL_S * 3)
    taken_while_held = await other.acquire()
    await holder.release()
    await asyncio.sleep(TTL_S)

    assert taken_while_held is False
    assert await services.redis.exists(key) == 0
    assert await other.acquire()
    await other.release()


async def test_unrenewed_lock_expires(services):
    key = f"{services.redis_key_prefix}lock:{secrets.token_hex(4)}"
    # A lock taken by a replica that died, so no process renews it.
    await services.redis.set(key, "token of a dead replica", px=int(TTL_S * 1000))
    waiting = TickLock(services.redis, key, TTL_S)

    assert not await waiting.acquire()
    await asyncio.sleep(TTL_S * 1.5)
    assert await waiting.acquire()
    await waiting.release()
