"""The node timeout job: RUNNING states past their limit become ERROR, each with one warning line."""

from __future__ import annotations

from datetime import timedelta

from sequence_cron.jobs.node_timeout import run_node_timeout_tick
from tests.factories import error_reason, fetch_state


async def running_state(factory, now, claimed_ago: timedelta, kind="Wait", timeout_after=None):
    tenant = await factory.tenant()
    customer = await factory.customer(tenant)
    campaign_id = await factory.campaign(tenant)
    node = await factory.node(campaign_id, kind, {"days": 1}, timeoutAfter=timeout_after)
    state_id = await factory.state(node, customer, state="RUNNING", attempts=1, updatedAt=now - claimed_ago)
    return state_id, node, campaign_id, customer


async def test_expired_state_becomes_error(services, factory, now, logs):
    state_id, node, campaign_id, customer = await running_state(factory, now, timedelta(seconds=601))

    summary = await run_node_timeout_tick(services)

    state = await fetch_state(services.pool, state_id)
    assert state["state"] == "ERROR"
    assert state["completedAt"] == now
    assert "RUNNING for 601 s, longer than its 600 s limit" in await error_reason(services.pool, state_id)
    assert summary == {"timed_out": 1, "by_node_kind": {"Wait": 1}}
    [warning] = [extra for level, _, extra in logs if extra.get("event") == "state_timed_out"]
    assert warning["state_id"] == str(state_id)
    assert warning["node_id"] == str(node)
    assert warning["campaign_id"] == str(campaign_id)
    assert warning["customer_id"] == str(customer)


async def test_recent_claim_is_untouched(services, factory, now):
    state_id, *_ = await running_state(factory, now, timedelta(seconds=599))

    summary = await run_node_timeout_tick(services)

    assert (await fetch_state(services.pool, state_id))["state"] == "RUNNING"
    assert summary["timed_out"] == 0


async def test_node_timeout_after_overrides_default(services, factory, now):
    short, *_ = await running_state(factory, now, timedelta(seconds=31), timeout_after=30)
    long, *_ = await running_state(factory, now, timedelta(seconds=700), timeout_after=3600)
    zero, *_ = await running_state(factory, now, timedelta(seconds=601), timeout_after=0)

    await run_node_timeout_tick(services)

    assert (await fetch_state(services.pool, short))["state"] == "ERROR"
    assert (await fetch_state(services.pool, long))["state"] == "RUNNING"
    assert (await fetch_state(services.pool, zero))["state"] == "ERROR"


async def test_configured_default_limit(make_settings, factory, now, db):
    from sequence_cron.clock import FixedClock
    from sequence_cron.services import open_services

    state_id, *_ = await running_state(factory, now, timedelta(seconds=61))
    async with open_services(make_settings(CAMPAIGN_NODE_TIMEOUT_SECONDS=60), FixedClock(now)) as services:
        await run_node_timeout_tick(services)

    assert (await fetch_state(db, state_id))["state"] == "ERROR"


async def test_email_timeout_says_delivery_unknown(services, factory, now):
    state_id, *_ = await running_state(factory, now, timedelta(hours=1), kind="Email")

    await run_node_timeout_tick(services)

    assert "delivery is unknown" in await error_reason(services.pool, state_id)


async def test_other_states_are_untouched(services, factory, now):
    tenant = await factory.tenant()
    customer = await factory.customer(tenant)
    node = await factory.node(await factory.campaign(tenant), "Wait", {"days": 1})
    pending = await factory.state(node, customer, updatedAt=now - timedelta(days=1))
    deleted = await factory.state(node, customer, state="RUNNING", updatedAt=now - timedelta(days=1), deletedAt=now)

    await run_node_timeout_tick(services)

    assert (await fetch_state(services.pool, pending))["state"] == "PENDING"
    assert (await fetch_state(services.pool, deleted))["state"] == "RUNNING"
