"""GET /health and GET /jobs, with PostgreSQL and Redis up and down."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sequence_cron.clock import FixedClock
from sequence_cron.email.providers import create_provider
from sequence_cron.engine.cache import GraphCache
from sequence_cron.http.app import create_app
from sequence_cron.jobs.runner import Job
from sequence_cron.service import create_jobs
from sequence_cron.services import Services, open_services
from sequence_cron.storage.pool import create_pool
from tests.servers import free_port


@pytest.fixture
async def client(services):
    jobs = create_jobs(services)
    async with TestClient(TestServer(create_app(services, jobs), host="127.0.0.1")) as client:
        client.jobs = jobs
        yield client


async def test_health_ok(client):
    response = await client.get("/health")

    assert response.status == 200
    body = await response.json()
    assert body == {"status": "ok", "checks": {"postgres": {"status": "ok"}, "redis": {"status": "ok"}}}


async def test_health_503_when_redis_down(make_settings, db, now, logs):
    settings = make_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    async with open_services(settings, FixedClock(now)) as services:
        async with TestClient(TestServer(create_app(services, []), host="127.0.0.1")) as client:
            first = await client.get("/health")
            body = await first.json()
            second = await client.get("/health")

    assert first.status == 503
    assert body["failed"] == ["redis"]
    assert body["checks"]["postgres"] == {"status": "ok"}
    assert body["checks"]["redis"]["status"] == "failed"
    assert second.status == 503
    assert len([extra for _, _, extra in logs if extra.get("event") == "health_failed"]) == 1


async def test_health_503_when_postgres_down(make_settings, db, now):
    settings = make_settings(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")

    # The pool must open lazily here, as it would once PostgreSQL went away after start.
    pool = create_pool(settings.database, min_size=0)
    services = Services(
        settings=settings,
        pool=await pool,
        redis=None,
        provider=create_provider(settings.email),
        clock=FixedClock(now),
        graphs=GraphCache(10, 60),
    )
    try:
        async with TestClient(TestServer(create_app(services, []), host="127.0.0.1")) as client:
            response = await client.get("/health")
            body = await response.json()
    finally:
        await services.pool.close()

    assert response.status == 503
    assert body["failed"] == ["postgres"]
    assert body["checks"]["redis"] == {"status": "not configured"}


async def test_jobs_lists_both_jobs(client, services):
    for job in client.jobs:
        job.start()
    try:
        await client.jobs[0].run_once()
        response = await client.get("/jobs")
    finally:
        for job in client.jobs:
            job.stop()

    assert response.status == 200
    body = await response.json()
    campaign, timeout = body["jobs"]
    assert campaign["name"] == "campaign-cron"
    assert campaign["schedule"] == "* * * * *"
    assert campaign["running"] is False
    assert campaign["runs"] == 1
    assert campaign["errors"] == 0
    assert campaign["last_outcome"] == "succeeded"
    assert campaign["last_summary"]["completed"] == 0
    assert campaign["last_duration_ms"] >= 0
    assert campaign["last_started_at"] is not None
    assert campaign["next_run_at"] is not None
    assert timeout["name"] == "node-timeout"
    assert timeout["runs"] == 0
    assert set(body["graph_cache"]) >= {"hits", "misses", "rebuilds"}


async def test_jobs_hide_secrets(make_settings, db, now):
    settings = make_settings(SMTP_URL="smtp://user:hunter2@127.0.0.1:2525", EMAIL_PROVIDER="smtp", FROM_ADDRESS="a@example.com")
    async with open_services(settings, FixedClock(now)) as services:
        async with TestClient(TestServer(create_app(services, create_jobs(services)), host="127.0.0.1")) as client:
            text = await (await client.get("/jobs")).text()
            health = await (await client.get("/health")).text()

    assert "hunter2" not in text
    assert "hunter2" not in health


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nowhere", 404), ("POST", "/health", 405), ("DELETE", "/jobs", 405)],
)
async def test_unknown_routes(client, method, path, status):
    response = await client.request(method, path)

    assert response.status == status


async def test_large_body_rejected(client):
    response = await client.get("/health", data=b"x" * 100_000)

    assert response.status == 413


async def test_overlapping_tick_is_skipped(services):
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow_tick(_services):
        started.set()
        await release.wait()
        return {}

    job = Job("slow", "* * * * *", slow_tick, services)
    job.trigger()
    await started.wait()
    job.trigger()
    release.set()
    await job.wait_idle()

    assert job.status.runs == 1
    assert job.status.skips == 1
    assert job.status.last_skip_reason == "the previous tick is still running"


async def test_failing_tick_is_recorded(services, logs):
    async def broken_tick(_services):
        raise RuntimeError("boom")

    job = Job("broken", "* * * * *", broken_tick, services)
    result = await job.run_once()
    second = await job.run_once()

    assert result is None
    assert second is None
    assert job.status.errors == 2
    assert job.status.last_outcome == "failed"
    assert job.status.last_error == "RuntimeError: boom"
    assert any(extra.get("event") == "tick_failed" for _, _, extra in logs)


async def test_redis_lock_skips_second_replica(services):
    release = asyncio.Event()

    async def slow_tick(_services):
        await release.wait()
        return {}

    first = Job("locked", "* * * * *", slow_tick, services)
    second = Job("locked", "* * * * *", slow_tick, services)
    first.trigger()
    await asyncio.sleep(0.2)
    await second.run_once()
    release.set()
    await first.wait_idle()

    assert first.status.runs == 1
    assert second.status.runs == 0
    assert second.status.last_skip_reason == "another replica holds the tick lock"
    assert await services.redis.exists(f"{services.redis_key_prefix}lock:locked") == 0
