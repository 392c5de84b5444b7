"""SIGTERM in the middle of an Email batch: finish started sends, give back the rest, exit 0 in time."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter

import pytest

from tests.reliability.processes import serve_environment, smtp_environment, wait_for
from tests.reliability.seed import email_state_counts, seed_email_campaign


async def pending_attempts(pool, campaign) -> list[int]:
    rows = await pool.fetch(
        "SELECT attempts FROM campaign_node_states WHERE \"campaignNodeId\" = $1 AND state = 'PENDING'",
        campaign.email_node_id,
    )
    return [row["attempts"] for row in rows]


async def running_count(pool, campaign) -> int:
    return await pool.fetchval(
        "SELECT count(*) FROM campaign_node_states WHERE \"campaignNodeId\" = $1 AND state = 'RUNNING'",
        campaign.email_node_id,
    )


@pytest.mark.slow
async def test_sigterm_finishes_sends_and_releases_rest(
    own_database, own_pool, redis_url, smtp_sink, service_processes
):
    customers = 300
    campaign = await seed_email_campaign(own_pool, customers)
    env = serve_environment(
        own_database, redis_url, **smtp_environment(smtp_sink), EMAIL_BATCH_SIZE="100", EMAIL_CONCURRENCY="5"
    )
    # 100 claimed states, 5 sends at a time of 0.5 s each: the batch would take 10 s.
    smtp_sink.sink.delay_s = 0.5
    service = service_processes("service", env).start()
    await service.wait_until_serving()
    await wait_for(lambda: len(smtp_sink.sink.messages) >= 8, 30, interval_s=0.05, message="8 messages sent")

    service.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    returncode = await service.wait(15)
    stop_s = time.monotonic() - signalled

    assert returncode == 0, service.stderr()[-3000:]
    assert stop_s < 10
    delivered = len(smtp_sink.sink.messages)
    counts = await email_state_counts(own_pool, campaign)
    assert counts.get("RUNNING", 0) == 0
    assert counts.get("ERROR", 0) == 0
    assert counts["COMPLETED"] == delivered
    assert counts["PENDING"] == customers - delivered
    assert set(await pending_attempts(own_pool, campaign)) == {0}
    [released] = service.events("states_released")
    assert "returned" in released["message"]
    # SIGTERM came in the first batch of 100, so the states of that batch that were not sent went back.
    assert delivered < 100
    [finished] = service.events("tick_finished", job="campaign-cron")[-1:]
    assert finished["emails_sent"] == delivered
    assert finished["released"] == 100 - delivered
    assert service.events("service_stopped")

    # A new process sends the rest, and no recipient gets a message twice.
    smtp_sink.sink.delay_s = 0
    again = service_processes("again", env).start()

    async def all_completed() -> bool:
        return (await email_state_counts(own_pool, campaign)).get("COMPLETED", 0) == customers

    await wait_for(all_completed, 30, interval_s=0.3, message="every Email state COMPLETED after the restart")
    again.stop()
    recipients = Counter(smtp_sink.sink.recipients)
    assert len(recipients) == customers
    assert max(recipients.values()) == 1


@pytest.mark.slow
async def test_sigterm_cancels_sends_past_grace(own_database, own_pool, redis_url, smtp_sink, service_processes):
    campaign = await seed_email_campaign(own_pool, 20)
    env = serve_environment(
        own_database,
        redis_url,
        **smtp_environment(smtp_sink),
        EMAIL_BATCH_SIZE="20",
        EMAIL_CONCURRENCY="5",
        SHUTDOWN_GRACE_SECONDS="1",
    )
    # Each send takes 4 s, longer than the 1 s grace, so shutdown has to cancel the tick.
    smtp_sink.sink.delay_s = 4
    service = service_processes("service", env).start()
    await service.wait_until_serving()
    await wait_for(lambda: running_count(own_pool, campaign), 30, interval_s=0.05, message="a claimed Email batch")
    await asyncio.sleep(1)  # the first 5 sends are now inside their 4 s DATA command

    service.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    returncode = await service.wait(15)
    stop_s = time.monotonic() - signalled

    assert returncode == 0, service.stderr()[-3000:]
    assert stop_s < 10
    assert service.events("shutdown_timeout")
    counts = await email_state_counts(own_pool, campaign)
    # The 5 sends cut off mid-way have an unknown outcome, so they stay RUNNING for the timeout job.
    # The 15 that waited for a free slot never started and are PENDING again, as if never claimed.
    assert counts == {"RUNNING": 5, "PENDING": 15}
    assert await pending_attempts(own_pool, campaign) == [0] * 15
