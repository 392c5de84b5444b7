"""GET /metrics: tick, state, email and graph-cache counters, and the due-state gauges read at scrape time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from sequence_cron.clock import FixedClock
from sequence_cron.email.providers import create_provider
from sequence_cron.engine.cache import GraphCache
from sequence_cron.http.app import create_app
from sequence_cron.jobs.runner import Job
from sequence_cron.service import create_jobs
from sequence_cron.services import Services
from sequence_cron.storage.pool import create_pool
from tests.recording import RecordingProvider
from tests.servers import free_port


async def scrape(client) -> dict[tuple[str, frozenset], float]:
    """GET /metrics and return every sample as {(name, labels): value}."""
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, frozenset(labels.items())))


@pytest.fixture
async def client(services):
    services.provider = RecordingProvider(fail_for={"bounce@example.com"})
    jobs = create_jobs(services)
    async with TestClient(TestServer(create_app(services, jobs), host="127.0.0.1")) as client:
        client.jobs = {job.name: job for job in jobs}
        yield client


async def seed_due_states(factory, now):
    """A campaign of a Wait and an Email node, with one Wait state due 5 minutes ago and two Email states due
    1 minute ago, one of them to an address the provider rejects."""
    tenant = await factory.tenant()
    campaign_id = await factory.campaign(tenant)
    wait = await factory.node(campaign_id, "Wait", {"days": 1})
    template = await factory.template(tenant)
    email = await factory.node(campaign_id, "Email", {"emailId": str(template), "scheduling": "Immediately"})
    delivered = await factory.customer(tenant, email="ann@example.com")
    bounced = await factory.customer(tenant, email="bounce@example.com")
    await factory.state(wait, delivered, runAt=now - timedelta(minutes=5))
    await factory.state(email, delivered, runAt=now - timedelta(minutes=1))
    await factory.state(email, bounced, runAt=now - timedelta(minutes=1))


async def test_series_exist_before_first_tick(client):
    samples = await scrape(client)

    for job in ("campaign-cron", "node-timeout"):
        for outcome in ("succeeded", "failed", "skipped"):
            assert value(samples, "sequence_cron_ticks_total", job=job, outcome=outcome) == 0
    assert value(samples, "sequence_cron_emails_total", provider="recording", outcome="sent") == 0
    assert value(samples, "sequence_cron_emails_total", provider="recording", outcome="failed") == 0
    assert value(samples, "sequence_cron_graph_cache_lookups_total", result="hit") == 0
    assert value(samples, "sequence_cron_graph_cache_size") == 0
    assert value(samples, "sequence_cron_due_states") == 0
    assert value(samples, "sequence_cron_oldest_due_state_age_seconds") == 0


async def test_due_states_gauges(client, factory, now):
    await seed_due_states(factory, now)

    samples = await scrape(client)

    assert value(samples, "sequence_cron_due_states") == 3
    assert value(samples, "sequence_cron_oldest_due_state_age_seconds") == 300


async def test_campaign_tick_counted(client, factory, now):
    await seed_due_states(factory, now)

    summary = await client.jobs["campaign-cron"].run_once()
    samples = await scrape(client)

    assert summary["emails_sent"] == 1
    assert summary["emails_failed"] == 1
    assert value(samples, "sequence_cron_ticks_total", job="campaign-cron", outcome="succeeded") == 1
    assert value(samples, "sequence_cron_ticks_total", job="campaign-cron", outcome="failed") == 0
    assert value(samples, "sequence_cron_tick_duration_seconds_count", job="campaign-cron", outcome="succeeded") == 1
    assert value(samples, "sequence_cron_tick_duration_seconds_sum", job="campaign-cron", outcome="succeeded") > 0
    assert value(samples, "sequence_cron_tick_last_success_timestamp_seconds", job="campaign-cron") > 0
    assert value(samples, "sequence_cron_states_total", job="campaign-cron", node_kind="Wait", outcome="completed") == 1
    assert value(samples, "sequence_cron_states_total", job="campaign-cron", node_kind="Email", outcome="completed") == 1
    assert value(samples, "sequence_cron_states_total", job="campaign-cron", node_kind="Email", outcome="errored") == 1
    assert value(samples, "sequence_cron_emails_total", provider="recording", outcome="sent") == 1
    assert value(samples, "sequence_cron_emails_total", provider="recording", outcome="failed") == 1
    assert value(samples, "sequence_cron_graph_cache_lookups_total", result="miss") == 1
    assert value(samples, "sequence_cron_graph_cache_size") == 1
    assert value(samples, "sequence_cron_due_states") == 0
    assert value(samples, "sequence_cron_oldest_due_state_age_seconds") == 0


async def test_graph_cache_hit_and_rebuild(client, factory, now, services):
    tenant = await factory.tenant()
    campaign_id = await factory.campaign(tenant)
    await factory.node(campaign_id, "Wait", {"days": 1})
    job = client.jobs["campaign-cron"]

    await job.run_once()
    await job.run_once()
    await factory.node(campaign_id, "Wait", {"days": 2}, updatedAt=now + timedelta(seconds=1))
    await job.run_once()
    samples = await scrape(client)

    assert value(samples, "sequence_cron_graph_cache_lookups_total", result="miss") == 1
    assert value(samples, "sequence_cron_graph_cache_lookups_total", result="hit") == 1
    assert value(samples, "sequence_cron_graph_cache_lookups_total", result="rebuild") == 1
    assert value(samples, "sequence_cron_graph_cache_evictions_total") == services.graphs.stats.evictions


async def test_node_timeout_tick_counted(client, factory, now):
    tenant = await factory.tenant()
    customer = await factory.customer(tenant)
    campaign_id = await factory.campaign(tenant)
    node = await factory.node(campaign_id, "Email", {"days": 1})
    await factory.state(node, customer, state="RUNNING", attempts=1, updatedAt=now - timedelta(hours=1))

    await client.jobs["node-timeout"].run_once()
    samples = await scrape(client)

    assert value(samples, "sequence_cron_ticks_total", job="node-timeout", outcome="succeeded") == 1
    assert value(samples, "sequence_cron_states_total", job="node-timeout", node_kind="Email", outcome="errored") == 1


async def test_failed_and_skipped_ticks_counted(services):
    release = asyncio.Event()

    async def broken_tick(_services):
        raise RuntimeError("boom")

    async def slow_tick(_services):
        await release.wait()
        return {}

    broken = Job("broken", "* * * * *", broken_tick, services)
    slow = Job("slow", "* * * * *", slow_tick, services)
    async with TestClient(TestServer(create_app(services, [broken, slow]), host="127.0.0.1")) as client:
        await broken.run_once()
        slow.trigger()
        await asyncio.sleep(0)
        slow.trigger()
        release.set()
        await slow.wait_idle()
        samples = await scrape(client)

    assert value(samples, "sequence_cron_ticks_total", job="broken", outcome="failed") == 1
    assert value(samples, "sequence_cron_tick_duration_seconds_count", job="broken", outcome="failed") == 1
    assert value(samples, "sequence_cron_tick_last_success_timestamp_seconds", job="broken") is None
    assert value(samples, "sequence_cron_ticks_total", job="slow", outcome="succeeded") == 1
    assert value(samples, "sequence_cron_ticks_total", job="slow", outcome="skipped") == 1
    assert value(samples, "sequence_cron_tick_duration_seconds_count", job="slow", outcome="skipped") is None


async def test_registries_are_per_app(services):
    async def empty_tick(_services):
        return {}

    first_job = Job("empty", "* * * * *", empty_tick, services)
    second_job = Job("empty", "* * * * *", empty_tick, services)
    async with (
        TestClient(TestServer(create_app(services, [first_job]), host="127.0.0.1")) as first,
        TestClient(TestServer(create_app(services, [second_job]), host="127.0.0.1")) as second,
    ):
        await first_job.run_once()
        first_samples = await scrape(first)
        second_samples = await scrape(second)

    assert value(first_samples, "sequence_cron_ticks_total", job="empty", outcome="succeeded") == 1
    assert value(second_samples, "sequence_cron_ticks_total", job="empty", outcome="succeeded") == 0


async def test_scrape_survives_postgres_down(make_settings, db, now, logs):
    settings = make_settings(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
    services = Services(
        settings=settings,
        pool=await create_pool(settings.database, min_size=0),
        redis=None,
        provider=create_provider(settings.email),
        clock=FixedClock(now),
        graphs=GraphCache(10, 60),
    )
    try:
        async with TestClient(TestServer(create_app(services, []), host="127.0.0.1")) as client:
            first = await scrape(client)
            second = await scrape(client)
    finally:
        await services.pool.close()

    for samples in (first, second):
        assert value(samples, "sequence_cron_due_states") is None
        assert value(samples, "sequence_cron_oldest_due_state_age_seconds") is None
        assert value(samples, "sequence_cron_graph_cache_lookups_total", result="miss") == 0
    warnings = [extra for _, _, extra in logs if extra.get("event") == "metrics_due_states_failed"]
    assert len(warnings) == 1


async def test_recorder_error_does_not_break_tick(services, logs):
    class BrokenRecorder:
        def record_tick(self, job, outcome, duration_s, summary):
            raise ValueError("broken recorder")

    async def empty_tick(_services):
        return {"completed": 0}

    job = Job("empty", "* * * * *", empty_tick, services)
    job.recorder = BrokenRecorder()
    summary = await job.run_once()

    assert summary["completed"] == 0
    assert job.status.last_outcome == "succeeded"
    assert any(extra.get("event") == "metrics_failed" for _, _, extra in logs)
