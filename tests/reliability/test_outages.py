"""PostgreSQL or Redis stopped under a running `serve`: 503 on /health, one line per failed tick, recovery.

Each test starts private servers on free ports and stops only those.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from sequence_cron.storage.pool import init_connection
from tests.reliability.conftest import create_migrated_database
from tests.reliability.private_servers import PrivatePostgres, PrivateRedis
from tests.reliability.processes import serve_environment, smtp_environment, wait_for
from tests.reliability.seed import email_state_counts, next_state_customers, seed_email_campaign

OUTAGE_S = 5


@pytest.fixture
def private_postgres():
    server = PrivatePostgres().init().start()
    yield server
    server.close()


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path / "redis").start()
    yield server
    server.close()


@pytest.fixture
async def private_database(private_postgres):
    _, url = await create_migrated_database(private_postgres.admin_url)
    return url


async def open_pool(url: str) -> asyncpg.Pool:
    return await asyncpg.create_pool(url, min_size=1, max_size=2, init=init_connection)


async def health(service) -> tuple[int, dict]:
    return await service.get("/health")


def problem_lines(service) -> list[dict]:
    """Records at WARNING or above, and any record that carries a traceback."""
    return [
        record
        for record in service.log_records()
        if record["level"] in ("WARNING", "ERROR", "CRITICAL") or "exception" in record
    ]


async def wait_for_status(service, status: int, deadline_s: float) -> dict:
    async def reached():
        code, body = await health(service)
        return body if code == status else None

    return await wait_for(reached, deadline_s, interval_s=0.2, message=f"/health answering {status}")


async def wait_until_completed(url: str, campaign, deadline_s: float) -> None:
    pool = await open_pool(url)
    try:

        async def completed() -> bool:
            return (await email_state_counts(pool, campaign)).get("COMPLETED", 0) == campaign.customers

        await wait_for(completed, deadline_s, interval_s=0.3, message="every Email state COMPLETED")
    finally:
        await pool.close()


async def seed(url: str, customers: int):
    pool = await open_pool(url)
    try:
        return await seed_email_campaign(pool, customers)
    finally:
        await pool.close()


@pytest.mark.slow
async def test_postgres_outage_fails_ticks_quietly(private_postgres, private_database, redis_url, service_processes):
    env = serve_environment(
        private_database, redis_url, DB_CONNECT_TIMEOUT_SECONDS="1", DB_STATEMENT_TIMEOUT_MS="2000"
    )
    service = service_processes("service", env).start()
    await service.wait_until_serving()
    before = await seed(private_database, 10)
    await wait_until_completed(private_database, before, 15)
    assert (await health(service))[0] == 200

    private_postgres.stop()
    stopped = time.monotonic()
    body = await wait_for_status(service, 503, 5)
    assert time.monotonic() - stopped < 5
    assert body["failed"] == ["postgres"]
    assert body["checks"]["redis"] == {"status": "ok"}
    await asyncio.sleep(OUTAGE_S)
    during = await service.job("campaign-cron")
    timeout_job = await service.job("node-timeout")
    private_postgres.start()

    assert service.running()
    assert during["errors"] >= OUTAGE_S - 1
    assert during["last_outcome"] == "failed"
    # One line per failed tick, without a traceback, for each job.
    assert len(service.events("tick_failed", job="campaign-cron")) == during["errors"]
    assert len(service.events("tick_failed", job="node-timeout")) == timeout_job["errors"]
    assert [record for record in service.log_records() if "exception" in record] == []
    assert "Traceback" not in service.stderr()
    failures = {record["event"] for record in problem_lines(service)}
    assert failures <= {"tick_failed", "health_failed"}
    assert len(service.events("health_failed")) <= 2

    # Back without a restart: health recovers and the next due states run.
    await wait_for_status(service, 200, 10)
    after = await seed(private_database, 10)
    await wait_until_completed(private_database, after, 10)
    assert (await service.job("campaign-cron"))["last_outcome"] == "succeeded"
    assert service.events("health_recovered")


@pytest.mark.slow
async def test_redis_outage_keeps_ticking(own_database, private_redis, service_processes):
    env = serve_environment(own_database, private_redis.url)
    service = service_processes("service", env).start()
    await service.wait_until_serving()
    assert (await health(service))[0] == 200

    private_redis.stop()
    body = await wait_for_status(service, 503, 5)
    assert body["failed"] == ["redis"]
    assert body["checks"]["postgres"] == {"status": "ok"}
    runs_before = (await service.job("campaign-cron"))["runs"]
    outage_campaign = await seed(own_database, 10)
    await wait_until_completed(own_database, outage_campaign, 10)
    await asyncio.sleep(2)

    job = await service.job("campaign-cron")
    assert job["runs"] >= runs_before + 3
    assert job["errors"] == 0
    assert job["last_outcome"] == "succeeded"
    [warning] = service.events("redis_unavailable", job="campaign-cron")
    assert "run on PostgreSQL alone" in warning["message"]
    assert service.events("tick_failed") == []
    assert "Traceback" not in service.stderr()

    private_redis.start()
    await wait_for_status(service, 200, 10)
    runs_after_restart = (await service.job("campaign-cron"))["runs"]
    await wait_for(
        lambda: service.job("campaign-cron"), 5, message="a tick after Redis came back"
    )
    assert service.running()
    assert runs_after_restart >= job["runs"]


@pytest.mark.slow
async def test_postgres_restart_during_sends_loses_nothing(
    private_postgres, private_database, redis_url, smtp_sink, service_processes
):
    env = serve_environment(
        private_database,
        redis_url,
        **smtp_environment(smtp_sink),
        EMAIL_BATCH_SIZE="10",
        DB_CONNECT_TIMEOUT_SECONDS="1",
    )
    campaign = await seed(private_database, 10)
    # The 10 sends of the only batch take 1.5 s, and PostgreSQL stays down for 4 s from the claim,
    # so the transaction that records them fails until the server is back.
    smtp_sink.sink.delay_s = 1.5
    service = service_processes("service", env).start()
    await service.wait_until_serving()
    pool = await open_pool(private_database)
    try:
        await wait_for(
            lambda: email_state_counts(pool, campaign), 15, interval_s=0.05, message="any Email state written"
        )

        async def claimed() -> bool:
            return (await email_state_counts(pool, campaign)).get("RUNNING", 0) == 10

        await wait_for(claimed, 15, interval_s=0.05, message="the batch claimed")
    finally:
        await pool.close()
    private_postgres.stop()
    await asyncio.sleep(4)
    private_postgres.start()

    await wait_until_completed(private_database, campaign, 30)
    assert len(smtp_sink.sink.messages) == 10
    assert len(set(smtp_sink.sink.recipients)) == 10
    pool = await open_pool(private_database)
    try:
        assert len(await next_state_customers(pool, campaign)) == 10
    finally:
        await pool.close()
    retries = service.events("email_finish_retry")
    assert 1 <= len(retries) <= 6
    assert "retrying in" in retries[0]["message"]


@pytest.mark.slow
async def test_serve_started_without_postgres_recovers(private_postgres, private_database, redis_url, service_processes):
    private_postgres.stop()
    env = serve_environment(private_database, redis_url, DB_CONNECT_TIMEOUT_SECONDS="1")
    service = service_processes("service", env).start()
    await service.wait_until_serving()

    body = await wait_for_status(service, 503, 5)
    assert body["failed"] == ["postgres"]
    [opened] = service.events("services_opened")
    assert "is unreachable" in opened["message"]
    await wait_for(lambda: service.events("tick_failed", job="campaign-cron"), 5, message="a failed tick")

    private_postgres.start()
    await wait_for_status(service, 200, 10)
    campaign = await seed(private_database, 5)
    await wait_until_completed(private_database, campaign, 10)
    assert service.running()
    assert "Traceback" not in service.stderr()
