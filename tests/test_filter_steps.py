"""Filter nodes in real ticks: matched, not matched, waiting across ticks, timed out, and bad audiences."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sequence_cron.clock import FixedClock
from sequence_cron.engine.tick import run_campaign_tick
from sequence_cron.services import open_services
from tests.factories import Factory, error_reason, fetch_state, next_states_of
from tests.recording import RecordingProvider

UTC = timezone.utc
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ACTIVATED = {
    "nodeKind": "Filter",
    "filterKind": "Event",
    "expected": "activated",
    "performed": True,
    "comparator": {"nodeKind": "Comparator", "comparatorKind": "String", "operator": "eq"},
}
GERMANS = {
    "nodeKind": "Filter",
    "filterKind": "UserAttribute",
    "attribute": "country",
    "expected": "DE",
    "comparator": {"nodeKind": "Comparator", "comparatorKind": "String", "operator": "eq"},
}


@pytest.fixture
def tick_at(make_settings, db):
    """Run one tick at an instant with a recording provider; return (summary, provider)."""

    async def tick(instant: datetime):
        async with open_services(make_settings(), FixedClock(instant)) as services:
            services.provider = RecordingProvider()
            summary = await run_campaign_tick(services)
        return summary, services.provider

    return tick


async def filter_campaign(factory: Factory, tree, wait_days: float, audience_as_string=False):
    """Trigger → Filter → Email "welcome", with a Timeout edge from the filter to Email "reminder"."""
    import orjson

    tenant = await factory.tenant()
    audience = await factory.audience(tenant, orjson.dumps(tree).decode() if audience_as_string else tree)
    campaign_id = await factory.campaign(tenant)
    welcome = await factory.template(tenant, subject="Welcome")
    reminder = await factory.template(tenant, subject="Reminder")
    trigger = await factory.node(campaign_id, "Trigger", {})
    filter_node = await factory.node(
        campaign_id, "Filter", {"audienceId": str(audience), "audienceName": "a", "waitValue": wait_days}
    )
    welcome_node = await factory.node(campaign_id, "Email", {"emailId": str(welcome)})
    reminder_node = await factory.node(campaign_id, "Email", {"emailId": str(reminder)})
    await factory.edge(trigger, filter_node)
    await factory.edge(filter_node, welcome_node)
    await factory.edge(filter_node, reminder_node, kind="Timeout")
    return tenant, audience, filter_node, welcome_node, reminder_node


async def test_waiting_filter_sends_welcome_or_reminder(factory, tick_at):
    """Customers with the event get the welcome at once; the others get the reminder only after two days."""
    factory.now = START
    tenant, _, filter_node, welcome_node, reminder_node = await filter_campaign(factory, ACTIVATED, 2)
    active = await factory.customer(tenant, externalId="active", email="active@example.com")
    late = await factory.customer(tenant, externalId="late", email="late@example.com")
    never = await factory.customer(tenant, externalId="never", email="never@example.com")
    await factory.event(tenant, "active", "activated")
    states = {customer: await factory.state(filter_node, customer, runAt=START) for customer in (active, late, never)}

    summary, provider = await tick_at(START)
    assert [message.to for message in provider.sent] == ["active@example.com"]
    assert summary["waiting"] == 2
    waiting = await fetch_state(factory.pool, states[never])
    assert waiting["state"] == "PENDING"
    assert waiting["attempts"] == 1
    assert waiting["timeoutAt"] == START + timedelta(days=2)

    _, provider = await tick_at(START + timedelta(days=1))
    assert provider.sent == []

    await factory.event(tenant, "late", "activated")
    _, provider = await tick_at(START + timedelta(days=1, hours=1))
    assert [message.to for message in provider.sent] == ["late@example.com"]

    _, provider = await tick_at(START + timedelta(days=2) - timedelta(seconds=1))
    assert provider.sent == []

    summary, provider = await tick_at(START + timedelta(days=2))
    assert [(message.to, message.subject) for message in provider.sent] == [("never@example.com", "Reminder")]
    assert summary["timed_out"] == 1
    timed_out = await fetch_state(factory.pool, states[never])
    assert timed_out["state"] == "COMPLETED"
    assert timed_out["didTimeout"] is True
    assert await next_states_of(factory.pool, never, welcome_node) == []
    assert await next_states_of(factory.pool, active, reminder_node) == []


async def test_filter_without_wait_takes_timeout_edge(factory, tick_at):
    factory.now = START
    tenant, _, filter_node, welcome_node, reminder_node = await filter_campaign(factory, GERMANS, 0, audience_as_string=True)
    german = await factory.customer(tenant, country="DE")
    french = await factory.customer(tenant, country="FR")
    await factory.state(filter_node, german, runAt=START)
    await factory.state(filter_node, french, runAt=START)

    summary, provider = await tick_at(START)

    assert len(await next_states_of(factory.pool, german, welcome_node)) == 1
    assert await next_states_of(factory.pool, german, reminder_node) == []
    assert len(await next_states_of(factory.pool, french, reminder_node)) == 1
    assert await next_states_of(factory.pool, french, welcome_node) == []
    assert summary["by_node_kind"]["Filter"] == {"completed": 2}
    assert len(provider.sent) == 2


@pytest.mark.parametrize("problem", ["missing", "deleted", "other_tenant", "invalid_tree", "unsupported_kind"])
async def test_bad_audience_errors_state(factory, tick_at, problem):
    factory.now = START
    tree = {
        "invalid_tree": {"nodeKind": "Condition", "conditionKind": "XOR", "children": []},
        "unsupported_kind": {"nodeKind": "Filter", "filterKind": "Page", "attribute": "url", "expected": "/",
                             "comparator": {"nodeKind": "Comparator", "comparatorKind": "String", "operator": "eq"}},
    }.get(problem, GERMANS)
    tenant, audience, filter_node, welcome_node, _ = await filter_campaign(factory, tree, 0)
    if problem == "missing":
        await factory.pool.execute("DELETE FROM audiences WHERE id = $1", audience)
    elif problem == "deleted":
        await factory.pool.execute('UPDATE audiences SET "deletedAt" = now() WHERE id = $1', audience)
    elif problem == "other_tenant":
        await factory.pool.execute('UPDATE audiences SET "userId" = $2 WHERE id = $1', audience, await factory.tenant())
    customer = await factory.customer(tenant, country="DE")
    state_id = await factory.state(filter_node, customer, runAt=START)

    summary, _ = await tick_at(START)

    assert (await fetch_state(factory.pool, state_id))["state"] == "ERROR"
    reason = await error_reason(factory.pool, state_id)
    assert str(filter_node) in reason
    assert await next_states_of(factory.pool, customer, welcome_node) == []
    assert summary["errored"] == 1


async def test_waiting_customer_deleted_is_stopped(factory, tick_at):
    factory.now = START
    tenant, _, filter_node, _, reminder_node = await filter_campaign(factory, ACTIVATED, 2)
    customer = await factory.customer(tenant, externalId="gone")
    state_id = await factory.state(filter_node, customer, runAt=START)
    await tick_at(START)

    await factory.pool.execute('UPDATE product_users SET "deletedAt" = now() WHERE id = $1', customer)
    await tick_at(START + timedelta(days=3))

    assert (await fetch_state(factory.pool, state_id))["state"] == "STOPPED"
    assert await next_states_of(factory.pool, customer, reminder_node) == []
