"""SIGKILL of `serve` in the middle of an Email batch: no message twice, in-flight states end as ERROR."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.reliability.processes import serve_environment, smtp_environment, wait_for
from tests.reliability.seed import email_state_counts, seed_email_campaign

CUSTOMERS = 200
BATCH_SIZE = 20
NODE_TIMEOUT_S = 5


async def states_in(pool, campaign, state: str) -> set:
    rows = await pool.fetch(
        'SELECT id FROM campaign_node_states WHERE "campaignNodeId" = $1 AND state = $2', campaign.email_node_id, state
    )
    return {row["id"] for row in rows}


@pytest.mark.slow
async def test_killed_serve_sends_nothing_twice(own_database, own_pool, redis_url, smtp_sink, service_processes):
    campaign = await seed_email_campaign(own_pool, CUSTOMERS, timeout_after_s=NODE_TIMEOUT_S)
    env = serve_environment(
        own_database,
        redis_url,
        **smtp_environment(smtp_sink),
        EMAIL_BATCH_SIZE=str(BATCH_SIZE),
        EMAIL_CONCURRENCY="5",
    )
    # Each batch takes 4 rounds of 5 sends of 0.4 s: about 1.6 s with all 20 states RUNNING.
    smtp_sink.sink.delay_s = 0.4
    first = service_processes("first", env).start()
    await first.wait_until_serving()

    async def inside_second_batch() -> bool:
        delivered = len(smtp_sink.sink.messages)
        running = await own_pool.fetchval(
            "SELECT count(*) FROM campaign_node_states WHERE \"campaignNodeId\" = $1 AND state = 'RUNNING'",
            campaign.email_node_id,
        )
        # Between 5 and 10 of the batch's 20 sends done: the batch is far from its finish.
        return delivered > BATCH_SIZE and 5 <= delivered % BATCH_SIZE <= 10 and running > 0

    await wait_for(inside_second_batch, 30, interval_s=0.05, message="the middle of the second Email batch")
    assert first.kill() == -9
    left_running = await states_in(own_pool, campaign, "RUNNING")
    assert len(left_running) == BATCH_SIZE

    smtp_sink.sink.delay_s = 0
    second = service_processes("second", env).start()

    async def all_finished() -> bool:
        counts = await email_state_counts(own_pool, campaign)
        return counts.get("COMPLETED", 0) + counts.get("ERROR", 0) == CUSTOMERS

    # The dead replica's Redis lock expires within its 15 s lease, then the second replica ticks.
    await wait_for(all_finished, 45, interval_s=0.5, message="every Email state finished")

    recipients = Counter(smtp_sink.sink.recipients)
    assert {address: count for address, count in recipients.items() if count > 1} == {}

    assert await states_in(own_pool, campaign, "ERROR") == left_running
    reasons = await own_pool.fetch("SELECT reason FROM cron_state_errors WHERE state_id = ANY($1::uuid[])", list(left_running))
    assert len(reasons) == len(left_running)
    for row in reasons:
        assert f"longer than its {NODE_TIMEOUT_S} s limit" in row["reason"]
        assert "delivery is unknown" in row["reason"]
    assert len(second.events("state_timed_out")) == len(left_running)

    completed = await own_pool.fetch(
        """SELECT p.id, p.email FROM campaign_node_states s JOIN product_users p ON p.id = s."productUserId"
           WHERE s."campaignNodeId" = $1 AND s.state = 'COMPLETED'""",
        campaign.email_node_id,
    )
    assert len(completed) == CUSTOMERS - len(left_running)
    assert {row["email"] for row in completed} <= set(recipients)
    next_customers = await own_pool.fetch(
        'SELECT "productUserId" FROM campaign_node_states WHERE "campaignNodeId" = $1', campaign.wait_node_id
    )
    assert sorted(row["productUserId"] for row in next_customers) == sorted(row["id"] for row in completed)
    assert second.events("tick_failed") == []
