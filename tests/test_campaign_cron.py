"""The campaign cron tick on Wait and Email nodes, against the real database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sequence_cron.engine.tick import run_campaign_tick
from tests.factories import error_reason, fetch_state, next_states_of
from tests.recording import RecordingProvider


@pytest.fixture
def provider(services) -> RecordingProvider:
    services.provider = RecordingProvider()
    return services.provider


async def wait_campaign(factory, wait_json=None, **campaign):
    """Tenant, customer, campaign Wait → Wait; return (customer, first wait, second wait)."""
    tenant = await factory.tenant()
    customer = await factory.customer(tenant)
    campaign_id = await factory.campaign(tenant, **campaign)
    first = await factory.node(campaign_id, "Wait", {"days": 1} if wait_json is None else wait_json)
    second = await factory.node(campaign_id, "Wait", {"days": 2})
    await factory.edge(first, second)
    return customer, first, second


async def test_due_wait_completes_and_writes_next(services, factory, now):
    customer, first, second = await wait_campaign(factory)
    state_id = await factory.state(first, customer, runAt=now - timedelta(minutes=1))

    summary = await run_campaign_tick(services)

    state = await fetch_state(services.pool, state_id)
    assert state["state"] == "COMPLETED"
    assert state["attempts"] == 1
    assert state["completedAt"] == now
    [next_state] = await next_states_of(services.pool, customer, second)
    assert next_state["state"] == "PENDING"
    assert next_state["attempts"] == 0
    assert next_state["didTimeout"] is False
    assert next_state["runAt"] == now + timedelta(days=2)
    assert next_state["timeoutAt"] is None
    assert summary["completed"] == 1
    assert summary["next_states"] == 1
    assert summary["by_node_kind"] == {"Wait": {"completed": 1}}


async def test_state_not_due_is_untouched(services, factory, now):
    customer, first, _ = await wait_campaign(factory)
    state_id = await factory.state(first, customer, runAt=now + timedelta(seconds=1))

    summary = await run_campaign_tick(services)

    assert (await fetch_state(services.pool, state_id))["state"] == "PENDING"
    assert summary["completed"] == 0


@pytest.mark.parametrize(
    "campaign",
    [
        {"isDraft": True},
        {"state": "STOPPED"},
        {"state": "COMPLETED"},
        {"state": "PENDING"},
        {"deletedAt": "deleted"},
    ],
    ids=["draft", "stopped", "completed", "pending", "deleted"],
)
async def test_inactive_campaign_is_untouched(services, factory, now, campaign):
    if campaign.get("deletedAt"):
        campaign = {"deletedAt": now}
    customer, first, second = await wait_campaign(factory, **campaign)
    state_id = await factory.state(first, customer, runAt=now - timedelta(hours=1))

    await run_campaign_tick(services)

    state = await fetch_state(services.pool, state_id)
    assert state["state"] == "PENDING"
    assert state["attempts"] == 0
    assert await next_states_of(services.pool, customer, second) == []


async def test_deleted_node_and_state_are_untouched(services, factory, now):
    customer, first, second = await wait_campaign(factory)
    deleted_state = await factory.state(first, customer, runAt=now, deletedAt=now)
    await services.pool.execute('UPDATE campaign_nodes SET "deletedAt" = $2 WHERE id = $1', second, now)
    state_on_deleted_node = await factory.state(second, customer, runAt=now)

    await run_campaign_tick(services)

    assert (await fetch_state(services.pool, deleted_state))["state"] == "PENDING"
    assert (await fetch_state(services.pool, state_on_deleted_node))["state"] == "PENDING"


async def test_deleted_customer_is_stopped(services, factory, now):
    customer, first, second = await wait_campaign(factory)
    await services.pool.execute('UPDATE product_users SET "deletedAt" = $2 WHERE id = $1', customer, now)
    state_id = await factory.state(first, customer, runAt=now)

    summary = await run_campaign_tick(services)

    state = await fetch_state(services.pool, state_id)
    assert state["state"] == "STOPPED"
    assert state["completedAt"] == now
    assert await next_states_of(services.pool, customer, second) == []
    assert summary["stopped"] == 1


async def test_chain_due_now_runs_in_same_tick(services, factory, now):
    tenant = await factory.tenant()
    customer = await factory.customer(tenant)
    campaign_id = await factory.campaign(tenant)
    nodes = [await factory.node(campaign_id, "Wait", {"kind": "Relative", "minutes": 0}) for _ in range(4)]
    for from_id, to_id in zip(nodes, nodes[1:]):
        await factory.edge(from_id, to_id)
    await factory.state(nodes[0], customer, runAt=now)

    summary = await run_campaign_tick(services)

    states = await services.pool.fetch('SELECT state FROM campaign_node_states WHERE "productUserId" = $1', customer)
    assert sorted(row["state"] for row in states) == ["COMPLETED"] * 4
    assert summary["completed"] == 4


async def test_node_without_edges_ends_path(services, factory, now):
    customer, _, second = await wait_campaign(factory)
    state_id = await factory.state(second, customer, runAt=now)

    summary = await run_campaign_tick(services)

    assert (await fetch_state(services.pool, state_id))["state"] == "COMPLETED"
    assert summary["next_states"] == 0


@pytest.mark.parametrize(
    ("json", "field"),
    [
        ({"days": -1}, "days: -1 is negative"),
        ({"days": "soon"}, "days: 'soon' is not a number"),
        ({}, "days: missing"),
        ({"kind": "Specific", "hour": 24, "minute": 0}, "hour: 24 is not a whole number from 0 to 23"),
        ({"kind": "Specific", "hour": 9, "minute": 60}, "minute: 60 is not a whole number from 0 to 59"),
        ({"kind": "Sometime"}, "kind: unknown wait kind 'Sometime'"),
        ([1, 2], "json: expected an object, got list"),
    ],
    ids=["negative", "non-numeric", "missing", "hour-24", "minute-60", "unknown-kind", "not-object"],
)
async def test_invalid_wait_json_errors_with_reason(services, factory, now, json, field):
    customer, first, second = await wait_campaign(factory, wait_json=json)
    state_id = await factory.state(first, customer, runAt=now)

    summary = await run_campaign_tick(services)

    state = await fetch_state(services.pool, state_id)
    assert state["state"] == "ERROR"
    reason = await error_reason(services.pool, state_id)
    assert str(first) in reason
    assert field in reason
    assert await next_states_of(services.pool, customer, second) == []
    assert summary["errored"] == 1


async def email_campaign(factory, tenant=None, email_json=None, template=None, customer=None):
    tenant = tenant or await factory.tenant()
    customer = customer or await factory.customer(tenant, firstName="Ann", email="ann@example.com")
    template_id = await factory.template(tenant, **(template or {}))
    campaign_id = await factory.campaign(tenant)
    email_node = await factory.node(
        campaign_id, "Email", email_json if email_json is not None else {"emailId": str(template_id), "scheduling": "Immediately"}
    )
    after = await factory.node(campaign_id, "Wait", {"days": 1})
    await factory.edge(email_node, after)
    return customer, template_id, email_node, after


async def test_email_sent_once_and_recorded(services, provider, factory, now):
    customer, template_id, email_node, after = await email_campaign(
        factory, template={"subject": "Welcome, {{firstName}}", "bodyHtml": "<p>{{firstName}} & {{city}}</p>"}
    )
    state_id = await factory.state(email_node, customer, runAt=now)

    summary = await run_campaign_tick(services)
    await run_campaign_tick(services)

    [message] = provider.sent
    assert message.to == "ann@example.com"
    assert message.subject == "Welcome, Ann"
    assert message.html == "<p>Ann & </p>"
    assert message.from_address == "team@example.com"
    assert message.from_name == "Team"
    state = await fetch_state(services.pool, state_id)
    assert state["state"] == "COMPLETED"
    assert state["attempts"] == 1
    [sent] = await services.pool.fetch('SELECT * FROM sent_emails WHERE "emailId" = $1', template_id)
    assert sent["productUserId"] == customer
    assert sent["deliveredAt"] == now
    assert sent["deliveryStatus"] == "delivered"
    assert await services.pool.fetchval('SELECT "sentCount" FROM emails WHERE id = $1', template_id) == 1
    [next_state] = await next_states_of(services.pool, customer, after)
    assert next_state["runAt"] == now + timedelta(days=1)
    assert summary["emails_sent"] == 1


async def test_email_escapes_html_and_uses_traits(services, provider, factory, now):
    tenant = await factory.tenant()
    customer = await factory.customer(
        tenant, firstName="<b>Bo</b>", email="bo@example.com", traits={"plan": "Pro & Co", "firstName": "ignored"}
    )
    customer, _, email_node, _ = await email_campaign(
        factory,
        tenant=tenant,
        customer=customer,
        template={"subject": "{{firstName}} on {{plan}}", "bodyHtml": "{{firstName}} {{{firstName}}} {{plan}}"},
    )
    await factory.state(email_node, customer, runAt=now)

    await run_campaign_tick(services)

    [message] = provider.sent
    assert message.subject == "<b>Bo</b> on Pro & Co"
    assert message.html == "&lt;b&gt;Bo&lt;/b&gt; <b>Bo</b> Pro &amp; Co"


async def test_email_falls_back_to_configured_sender(services, provider, factory, now):
    customer, _, email_node, _ = await email_campaign(factory, template={"from": None, "fromName": "Ignored"})
    await factory.state(email_node, customer, runAt=now)

    await run_campaign_tick(services)

    [message] = provider.sent
    assert message.from_address == services.settings.email.from_address
    assert message.from_name is None


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("no_address", "customer has no email address"),
        ("missing_template", "not found"),
        ("other_tenant_template", "not found"),
        ("deleted_template", "not found"),
        ("broken_template", "body"),
        ("header_injection", "subject"),
        ("rejected", "mailbox ann@example.com unavailable"),
    ],
)
async def test_email_failure_errors_with_reason(services, provider, factory, now, case, reason):
    tenant = await factory.tenant()
    customer = await factory.customer(tenant, email=None if case == "no_address" else "ann@example.com")
    template = {
        "broken_template": {"bodyHtml": "{{#open}} never closed"},
        "header_injection": {"subject": "Hi\r\nBcc: victim@example.com"},
    }.get(case)
    customer, template_id, email_node, after = await email_campaign(
        factory, tenant=tenant, customer=customer, template=template
    )
    if case == "missing_template":
        await services.pool.execute(
            "UPDATE campaign_nodes SET json = $2 WHERE id = $1",
            email_node,
            {"emailId": "00000000-0000-0000-0000-000000000001"},
        )
    if case == "other_tenant_template":
        other = await factory.template(await factory.tenant())
        await services.pool.execute("UPDATE campaign_nodes SET json = $2 WHERE id = $1", email_node, {"emailId": str(other)})
    if case == "deleted_template":
        await services.pool.execute('UPDATE emails SET "deletedAt" = $2 WHERE id = $1', template_id, now)
    if case == "rejected":
        provider.fail_for = {"ann@example.com"}
    state_id = await factory.state(email_node, customer, runAt=now)

    summary = await run_campaign_tick(services)

    state = await fetch_state(services.pool, state_id)
    assert state["state"] == "ERROR"
    assert reason in await error_reason(services.pool, state_id)
    assert await next_states_of(services.pool, customer, after) == []
    assert summary["errored"] == 1
    if case != "rejected":
        assert provider.started == 0


async def test_rejected_send_writes_errored_row(services, provider, factory, now):
    customer, template_id, email_node, _ = await email_campaign(factory)
    provider.fail_for = {"ann@example.com"}
    await factory.state(email_node, customer, runAt=now)

    await run_campaign_tick(services)

    [sent] = await services.pool.fetch('SELECT * FROM sent_emails WHERE "emailId" = $1', template_id)
    assert sent["deliveredAt"] is None
    assert sent["erroredAt"] == now
    assert sent["error"] == "mailbox ann@example.com unavailable"
    assert await services.pool.fetchval('SELECT "sentCount" FROM emails WHERE id = $1', template_id) == 0


@pytest.mark.parametrize(
    ("json", "field"),
    [
        ({}, "emailId: missing"),
        ({"emailId": "not-a-uuid"}, "emailId: 'not-a-uuid' is not a UUID"),
        ({"emailId": "00000000-0000-0000-0000-000000000001", "scheduling": "Later"}, "scheduling: unknown scheduling 'Later'"),
        (
            {"emailId": "00000000-0000-0000-0000-000000000001", "scheduling": "SpecificTime", "hour": -1},
            "hour: -1 is not a whole number from 0 to 23",
        ),
    ],
    ids=["missing-id", "bad-id", "unknown-scheduling", "negative-hour"],
)
async def test_invalid_email_json_errors(services, provider, factory, now, json, field):
    customer, _, email_node, _ = await email_campaign(factory, email_json=json)
    state_id = await factory.state(email_node, customer, runAt=now)

    await run_campaign_tick(services)

    assert (await fetch_state(services.pool, state_id))["state"] == "ERROR"
    reason = await error_reason(services.pool, state_id)
    assert str(email_node) in reason
    assert field in reason
    assert provider.started == 0


@pytest.mark.parametrize("problem", ["cycle", "edge_to_deleted", "edge_into_entry", "unknown_edge_kind"])
async def test_broken_graph_blocks_campaign(services, factory, now, logs, problem):
    customer, first, second = await wait_campaign(factory)
    if problem == "cycle":
        await factory.edge(second, first)
    elif problem == "edge_to_deleted":
        gone = await factory.node(
            await services.pool.fetchval('SELECT "campaignId" FROM campaign_nodes WHERE id = $1', first),
            "Wait",
            {"days": 1},
            deletedAt=now,
        )
        await factory.edge(second, gone)
    elif problem == "edge_into_entry":
        campaign_id = await services.pool.fetchval('SELECT "campaignId" FROM campaign_nodes WHERE id = $1', first)
        entry = await factory.node(campaign_id, "Trigger", {})
        await factory.edge(second, entry)
    else:
        await factory.edge(first, second, kind="Sideways")
    state_id = await factory.state(first, customer, runAt=now)

    summary = await run_campaign_tick(services)

    state = await fetch_state(services.pool, state_id)
    assert state["state"] == "PENDING"
    assert state["attempts"] == 0
    [blocked] = summary["blocked_campaigns"]
    assert blocked["campaign_id"] == str(state["campaignId"])
    assert any(extra.get("event") == "campaign_blocked" for _, _, extra in logs)


async def test_fixed_graph_resumes(services, factory, now):
    customer, first, second = await wait_campaign(factory)
    cycle = await factory.edge(second, first)
    state_id = await factory.state(first, customer, runAt=now)
    await run_campaign_tick(services)

    await services.pool.execute(
        'UPDATE campaign_node_edges SET "deletedAt" = $2, "updatedAt" = $2 WHERE id = $1', cycle, now
    )
    summary = await run_campaign_tick(services)

    assert (await fetch_state(services.pool, state_id))["state"] == "COMPLETED"
    assert summary["blocked_campaigns"] == []


async def test_edit_is_picked_up_by_cache(services, factory, now):
    customer, first, second = await wait_campaign(factory)
    await factory.state(first, customer, runAt=now + timedelta(days=10))
    first_summary = await run_campaign_tick(services)
    second_summary = await run_campaign_tick(services)
    assert first_summary["graph_cache"]["misses"] == 1
    assert second_summary["graph_cache"]["hits"] == 1

    await services.pool.execute(
        'UPDATE campaign_nodes SET json = $2, "updatedAt" = $3 WHERE id = $1',
        second,
        {"days": 5},
        now + timedelta(seconds=1),
    )
    third = await factory.customer(await services.pool.fetchval('SELECT "userId" FROM campaign_nodes WHERE id = $1', first))
    await factory.state(first, third, runAt=now)
    summary = await run_campaign_tick(services)

    assert summary["graph_cache"]["rebuilds"] == 1
    [next_state] = await next_states_of(services.pool, third, second)
    assert next_state["runAt"] == now + timedelta(days=5)


async def test_edge_added_is_followed_next_tick(services, factory, now):
    customer, first, second = await wait_campaign(factory)
    await run_campaign_tick(services)
    campaign_id = await services.pool.fetchval('SELECT "campaignId" FROM campaign_nodes WHERE id = $1', first)
    third = await factory.node(campaign_id, "Wait", {"days": 3})
    await factory.edge(second, third)
    await factory.state(second, customer, runAt=now)

    await run_campaign_tick(services)

    [next_state] = await next_states_of(services.pool, customer, third)
    assert next_state["runAt"] == now + timedelta(days=3)


async def test_batches_drain_backlog(services, factory, now):
    tenant = await factory.tenant()
    campaign_id = await factory.campaign(tenant)
    first = await factory.node(campaign_id, "Wait", {"days": 1})
    second = await factory.node(campaign_id, "Wait", {"days": 1})
    await factory.edge(first, second)
    for _ in range(120):
        await factory.state(first, await factory.customer(tenant), runAt=now)

    summary = await run_campaign_tick(services)

    assert summary["completed"] == 120
    assert summary["batches"] >= 3
    pending = await services.pool.fetchval(
        "SELECT count(*) FROM campaign_node_states WHERE \"campaignNodeId\" = $1 AND state = 'PENDING'", second
    )
    assert pending == 120


async def test_email_to_customer_of_other_tenant_errors(services, factory, now):
    services.provider = RecordingProvider()
    tenant = await factory.tenant()
    stranger = await factory.customer(await factory.tenant())
    campaign_id = await factory.campaign(tenant)
    email = await factory.node(campaign_id, "Email", {"emailId": str(await factory.template(tenant))})
    state_id = await factory.state(email, stranger, runAt=now)

    await run_campaign_tick(services)

    assert services.provider.started == 0
    assert "belongs to another tenant" in await error_reason(services.pool, state_id)



async def test_edge_between_deleted_nodes_is_ignored(services, factory, now):
    customer, first, second = await wait_campaign(factory)
    campaign_id = await services.pool.fetchval('SELECT "campaignId" FROM campaign_nodes WHERE id = $1', first)
    gone_from = await factory.node(campaign_id, "Wait", {"days": 1}, deletedAt=now)
    gone_to = await factory.node(campaign_id, "Wait", {"days": 1}, deletedAt=now)
    await factory.edge(gone_from, gone_to)
    state_id = await factory.state(first, customer, runAt=now)

    summary = await run_campaign_tick(services)

    assert summary["blocked_campaigns"] == []
    assert (await fetch_state(services.pool, state_id))["state"] == "COMPLETED"


async def test_infinite_timestamps_fail_nothing_else(services, factory, now):
    """PostgreSQL accepts 'infinity' in timestamps; such a row must not stop other work."""
    from sequence_cron.jobs.node_timeout import run_node_timeout_tick

    customer, first, second = await wait_campaign(factory)
    campaign_id = await services.pool.fetchval('SELECT "campaignId" FROM campaign_nodes WHERE id = $1', first)
    audience = await factory.audience(
        await services.pool.fetchval('SELECT "userId" FROM campaigns WHERE id = $1', campaign_id),
        {"nodeKind": "Condition", "conditionKind": "OR", "children": []},
    )
    filter_node = await factory.node(campaign_id, "Filter", {"audienceId": str(audience), "waitValue": 1})
    never = await factory.state(filter_node, customer, attempts=1, timeoutAt="infinity")
    always = await factory.state(filter_node, customer, attempts=1, timeoutAt="-infinity")
    stuck = await factory.state(second, customer, state="RUNNING", updatedAt="-infinity")
    due = await factory.state(first, customer, runAt=now)

    summary = await run_campaign_tick(services)
    timeouts = await run_node_timeout_tick(services)

    assert (await fetch_state(services.pool, due))["state"] == "COMPLETED"
    assert (await fetch_state(services.pool, never))["state"] == "PENDING"
    assert (await fetch_state(services.pool, always))["didTimeout"] is True
    assert summary["timed_out"] == 1
    assert (await fetch_state(services.pool, stuck))["state"] == "ERROR"
    assert "RUNNING for an unknown time" in await error_reason(services.pool, stuck)
    assert timeouts["timed_out"] == 1
