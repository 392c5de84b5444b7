"""Three `serve` replicas on one database send every due email exactly once, with or without Redis."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.reliability.processes import serve_environment, smtp_environment, wait_for
from tests.reliability.seed import email_state_counts, next_state_customers, seed_email_campaign
from tests.servers import free_port

REPLICAS = 3
CUSTOMERS = 5000
# Fewer without Redis: all three replicas then tick at once on two cores, which is slower.
CUSTOMERS_WITHOUT_REDIS = 2000
LOCK_SKIP_REASON = "another replica holds the tick lock"


async def start_replicas(service_processes, env: dict[str, str]):
    replicas = [service_processes(f"replica-{index}", env).start() for index in range(REPLICAS)]
    await asyncio.gather(*(replica.wait_until_serving() for replica in replicas))
    return replicas


async def wait_until_all_completed(pool, campaign, deadline_s: float) -> None:
    async def done() -> bool:
        return (await email_state_counts(pool, campaign)).get("COMPLETED", 0) == campaign.customers

    await wait_for(done, deadline_s, interval_s=0.5, message=f"{campaign.customers} COMPLETED Email states")


async def assert_sent_exactly_once(pool, campaign, sink) -> None:
    recipients = Counter(sink.sink.recipients)
    duplicates = {address: count for address, count in recipients.items() if count > 1}
    assert duplicates == {}
    assert len(sink.sink.messages) == campaign.customers
    assert set(recipients) == {f"customer{index}@example.com" for index in range(1, campaign.customers + 1)}

    assert await email_state_counts(pool, campaign) == {"COMPLETED": campaign.customers}
    attempts = await pool.fetchval(
        'SELECT array_agg(DISTINCT attempts) FROM campaign_node_states WHERE "campaignNodeId" = $1',
        campaign.email_node_id,
    )
    assert attempts == [1]

    next_customers = await next_state_customers(pool, campaign)
    assert len(next_customers) == campaign.customers
    assert len(set(next_customers)) == campaign.customers

    assert await pool.fetchval('SELECT count(*) FROM sent_emails WHERE "emailId" = $1', campaign.template_id) == (
        campaign.customers
    )
    assert await pool.fetchval('SELECT "sentCount" FROM emails WHERE id = $1', campaign.template_id) == (
        campaign.customers
    )


@pytest.mark.slow
async def test_replicas_with_redis_send_each_once(own_database, own_pool, redis_url, smtp_sink, service_processes):
    campaign = await seed_email_campaign(own_pool, CUSTOMERS)
    env = serve_environment(own_database, redis_url, **smtp_environment(smtp_sink))

    replicas = await start_replicas(service_processes, env)

    # While one replica works through the batch, the other two find the lock taken each second.
    async def others_skip_while_one_runs() -> bool:
        jobs = [await replica.job("campaign-cron") for replica in replicas]
        holders = [job for job in jobs if job["running"]]
        others = [job for job in jobs if not job["running"]]
        return len(holders) == 1 and all(
            job["skips"] > 0 and job["last_skip_reason"] == LOCK_SKIP_REASON for job in others
        )

    await wait_for(others_skip_while_one_runs, 40, message="two replicas skipping the locked tick")
    await wait_until_all_completed(own_pool, campaign, 50)
    await asyncio.sleep(1.5)  # a tick that started late would show a second send here

    await assert_sent_exactly_once(own_pool, campaign, smtp_sink)
    for replica in replicas:
        assert replica.running()
        assert replica.events("tick_failed") == []
        assert replica.events("redis_unavailable") == []


@pytest.mark.slow
async def test_replicas_without_redis_share_work(own_database, own_pool, smtp_sink, service_processes):
    campaign = await seed_email_campaign(own_pool, CUSTOMERS_WITHOUT_REDIS)
    closed_port = free_port()
    env = serve_environment(
        own_database, f"redis://127.0.0.1:{closed_port}/0", **smtp_environment(smtp_sink), EMAIL_BATCH_SIZE="50"
    )

    replicas = await start_replicas(service_processes, env)
    await wait_until_all_completed(own_pool, campaign, 50)
    await asyncio.sleep(1.5)

    await assert_sent_exactly_once(own_pool, campaign, smtp_sink)
    sent_by_replica = []
    for replica in replicas:
        warnings = replica.events("redis_unavailable", job="campaign-cron")
        assert len(warnings) == 1, replica.stderr()[-3000:]
        assert "run on PostgreSQL alone" in warnings[0]["message"]
        job = await replica.job("campaign-cron")
        assert job["runs"] >= 2
        # Skips happen only while the replica's own previous tick still runs.
        assert all(LOCK_SKIP_REASON not in record["message"] for record in replica.events("tick_skipped"))
        sent_by_replica.append(sum(record.get("emails_sent", 0) for record in replica.events("tick_finished")))
    # Without the lock every replica ticks at once, and row locks split the batches between them.
    assert sum(sent_by_replica) == CUSTOMERS_WITHOUT_REDIS
    assert all(sent > 0 for sent in sent_by_replica), sent_by_replica
