"""The tick's batch loop: it rescans a sort of state only when more of it may be due."""

from __future__ import annotations

import pytest

from sequence_cron.engine.tick import run_campaign_tick
from tests.recording import RecordingProvider

IMMEDIATE_WAIT = {"kind": "Relative", "minutes": 0}


@pytest.fixture
def provider(services) -> RecordingProvider:
    services.provider = RecordingProvider()
    return services.provider


async def test_mixed_chain_due_now_runs_in_one_tick(services, provider, factory, now):
    tenant = await factory.tenant()
    customer = await factory.customer(tenant, email="ann@example.com")
    template = await factory.template(tenant)
    campaign = await factory.campaign(tenant)
    email_json = {"emailId": str(template), "scheduling": "Immediately"}
    kinds = [("Wait", IMMEDIATE_WAIT), ("Email", email_json), ("Wait", IMMEDIATE_WAIT), ("Email", email_json)]
    nodes = [await factory.node(campaign, kind, json) for kind, json in kinds]
    last = await factory.node(campaign, "Wait", {"days": 1})
    for from_id, to_id in zip(nodes, [*nodes[1:], last]):
        await factory.edge(from_id, to_id)
    await factory.state(nodes[0], customer, runAt=now)

    summary = await run_campaign_tick(services)

    assert len(provider.sent) == 2
    assert summary["completed"] == 4
    states = await services.pool.fetch('SELECT state FROM campaign_node_states WHERE "productUserId" = $1', customer)
    assert sorted(row["state"] for row in states) == ["COMPLETED"] * 4 + ["PENDING"]


async def test_email_backlog_larger_than_batch_drains(services, provider, factory, now, make_settings):
    services.settings = make_settings(EMAIL_BATCH_SIZE=10)
    tenant = await factory.tenant()
    template = await factory.template(tenant)
    campaign = await factory.campaign(tenant)
    email_node = await factory.node(campaign, "Email", {"emailId": str(template)})
    for number in range(25):
        customer = await factory.customer(tenant, email=f"customer{number}@example.com")
        await factory.state(email_node, customer, runAt=now)

    summary = await run_campaign_tick(services)

    assert summary["emails_sent"] == 25
    assert len(provider.sent) == 25
    assert summary["batches"] == 3


async def test_two_full_batches_drain(services, factory, now, make_settings):
    services.settings = make_settings(CAMPAIGN_BATCH_SIZE=10)
    tenant = await factory.tenant()
    campaign = await factory.campaign(tenant)
    wait_node = await factory.node(campaign, "Wait", {"days": 1})
    for _ in range(20):
        await factory.state(wait_node, await factory.customer(tenant), runAt=now)

    summary = await run_campaign_tick(services)

    assert summary["completed"] == 20
    # Two full batches, then one scan that finds nothing and ends the loop.
    assert summary["batches"] == 2
