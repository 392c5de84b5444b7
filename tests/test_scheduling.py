"""Next states' run times in customers' time zones, through real ticks with the clock fixed."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from sequence_cron.clock import FixedClock
from sequence_cron.config import load_settings
from sequence_cron.engine.tick import run_campaign_tick
from sequence_cron.services import open_services
from tests.factories import Factory, next_states_of
from tests.test_cli import run_command

UTC = timezone.utc


async def next_run_at(factory, services, now, next_json, kind="Email", traits=None, context=None, template=True):
    """Run a due Wait state whose Default edge leads to a node of `kind`; return the new state's runAt."""
    tenant = await factory.tenant()
    customer = await factory.customer(tenant, traits=traits, context=context)
    campaign_id = await factory.campaign(tenant)
    if kind == "Email" and template:
        next_json = {"emailId": str(await factory.template(tenant)), **next_json}
    wait = await factory.node(campaign_id, "Wait", {"days": 0})
    following = await factory.node(campaign_id, kind, next_json)
    await factory.edge(wait, following)
    await factory.state(wait, customer, runAt=now)

    await run_campaign_tick(services)

    [state] = await next_states_of(services.pool, customer, following)
    return state["runAt"]


@pytest.fixture
def at(make_settings, db):
    """Open services whose clock is fixed at a given instant."""

    def open_at(instant: datetime, **settings):
        return open_services(make_settings(**settings), FixedClock(instant))

    return open_at


CASES = [
    # (now in UTC, zone in traits, next node json, expected run time in UTC)
    ("2026-03-04T12:00Z", "Europe/Berlin", {"scheduling": "Immediately"}, "2026-03-04T12:00Z"),
    ("2026-03-04T07:59Z", "Europe/Berlin", {"scheduling": "BusinessHours"}, "2026-03-04T08:00Z"),
    ("2026-03-04T08:00Z", "Europe/Berlin", {"scheduling": "BusinessHours"}, "2026-03-04T08:00Z"),
    ("2026-03-04T15:59Z", "Europe/Berlin", {"scheduling": "BusinessHours"}, "2026-03-04T15:59Z"),
    ("2026-03-04T16:00Z", "Europe/Berlin", {"scheduling": "BusinessHours"}, "2026-03-05T08:00Z"),
    ("2026-03-06T16:30Z", "Europe/Berlin", {"scheduling": "BusinessHours"}, "2026-03-09T08:00Z"),
    ("2026-03-07T12:00Z", "America/New_York", {"scheduling": "BusinessHours"}, "2026-03-09T13:00Z"),
    ("2026-03-04T12:00Z", "Pacific/Auckland", {"scheduling": "BusinessHours"}, "2026-03-04T20:00Z"),
    ("2026-03-04T12:00Z", "Asia/Tokyo", {"scheduling": "SpecificTime"}, "2026-03-05T02:30Z"),
    ("2026-03-04T12:00Z", "America/Los_Angeles", {"scheduling": "SpecificTime", "hour": 9, "minute": 0}, "2026-03-04T17:00Z"),
    ("2026-03-08T06:59Z", "America/New_York", {"scheduling": "SpecificTime", "hour": 2, "minute": 30}, "2026-03-08T07:00Z"),
    ("2026-03-04T12:00Z", "Not/AZone", {"scheduling": "SpecificTime", "hour": 13, "minute": 0}, "2026-03-04T13:00Z"),
]


@pytest.mark.parametrize(("now", "zone", "json", "expected"), CASES)
async def test_email_run_time(at, now, zone, json, expected):
    instant = datetime.fromisoformat(now.replace("Z", "+00:00"))
    async with at(instant) as services:
        run_at = await next_run_at(Factory(services.pool, instant), services, instant, json, traits={"timezone": zone})

    assert run_at == datetime.fromisoformat(expected.replace("Z", "+00:00"))


async def test_wait_specific_then_email_specific(at):
    """A Wait until 08:00 local, then an Email at 11:30 local: two ticks, two local-time run times."""
    start = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    async with at(start) as services:
        factory = Factory(services.pool, start)
        tenant = await factory.tenant()
        customer = await factory.customer(tenant, traits={"timezone": "America/New_York"})
        campaign_id = await factory.campaign(tenant)
        entry = await factory.node(campaign_id, "Wait", {"days": 0})
        wait = await factory.node(campaign_id, "Wait", {"kind": "Specific", "hour": 8, "minute": 0})
        email = await factory.node(campaign_id, "Email", {"emailId": str(await factory.template(tenant)), "scheduling": "SpecificTime"})
        await factory.edge(entry, wait)
        await factory.edge(wait, email)
        await factory.state(entry, customer, runAt=start)
        await run_campaign_tick(services)
        [wait_state] = await next_states_of(services.pool, customer, wait)
    assert wait_state["runAt"] == datetime(2026, 3, 4, 13, 0, tzinfo=UTC)  # 07:00 in New York, so 08:00 today

    async with at(wait_state["runAt"]) as services:
        await run_campaign_tick(services)
        [email_state] = await next_states_of(services.pool, customer, email)
    assert email_state["runAt"] == datetime(2026, 3, 4, 16, 30, tzinfo=UTC)


async def test_zone_from_context_and_default(at):
    now = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    async with at(now, DEFAULT_TIMEZONE="Asia/Kolkata") as services:
        factory = Factory(services.pool, now)
        from_context = await next_run_at(
            factory, services, now, {"scheduling": "SpecificTime", "hour": 13, "minute": 0},
            context={"timezone": "Europe/Berlin"},
        )
        from_default = await next_run_at(factory, services, now, {"scheduling": "SpecificTime", "hour": 20, "minute": 0})

    assert from_context == datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    assert from_default == datetime(2026, 3, 4, 14, 30, tzinfo=UTC)


async def test_fractional_wait_days(at):
    now = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    async with at(now) as services:
        run_at = await next_run_at(Factory(services.pool, now), services, now, {"days": 1.5}, kind="Wait")

    assert run_at == now + timedelta(days=1, hours=12)


async def test_invalid_zone_warns_once_per_customer(at, logs):
    now = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    async with at(now) as services:
        factory = Factory(services.pool, now)
        tenant = await factory.tenant()
        customer = await factory.customer(tenant, traits={"timezone": "Atlantis/Lost"})
        campaign_id = await factory.campaign(tenant)
        template = await factory.template(tenant)
        wait = await factory.node(campaign_id, "Wait", {"days": 0})
        for _ in range(3):
            email = await factory.node(campaign_id, "Email", {"emailId": str(template), "scheduling": "BusinessHours"})
            await factory.edge(wait, email)
        other_wait = await factory.node(campaign_id, "Wait", {"days": 0})
        await factory.edge(other_wait, email)
        await factory.state(wait, customer, runAt=now)
        await factory.state(other_wait, customer, runAt=now)
        await run_campaign_tick(services)

    warnings = [extra for _, _, extra in logs if extra.get("event") == "invalid_timezone"]
    assert len(warnings) == 1
    assert warnings[0]["customer_id"] == str(customer)


async def test_replay_with_now_matches_live_tick(factory, db, database_url):
    """`run --now T` on one campaign and an in-process tick at T on its twin write the same run times."""
    instant = datetime(2026, 3, 6, 16, 59, tzinfo=UTC)  # Friday 17:59 in Berlin
    tenant = await factory.tenant()
    template = await factory.template(tenant)
    followers = {}
    for twin in ("replayed", "live"):
        campaign_id = await factory.campaign(tenant, name=twin)
        wait = await factory.node(campaign_id, "Wait", {"days": 0})
        nodes = [
            await factory.node(campaign_id, "Email", {"emailId": str(template), "scheduling": scheduling})
            for scheduling in ("Immediately", "BusinessHours", "SpecificTime")
        ] + [await factory.node(campaign_id, "Wait", {"kind": "Specific", "hour": 6, "minute": 15})]
        for node in nodes:
            await factory.edge(wait, node)
        customer = await factory.customer(tenant, traits={"timezone": "Europe/Berlin"})
        await factory.state(wait, customer, runAt=instant - timedelta(minutes=5))
        followers[twin] = (campaign_id, customer)
    # Only the replayed twin runs under the command; the live one is a draft until then.
    await db.execute('UPDATE campaigns SET "isDraft" = true WHERE id = $1', followers["live"][0])

    result = await asyncio.to_thread(
        run_command, "run", "campaign-cron", "--now", "2026-03-06T16:59:00Z", env={"DATABASE_URL": database_url}
    )
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["next_states"] == 4

    await db.execute('UPDATE campaigns SET "isDraft" = false WHERE id = $1', followers["live"][0])
    await db.execute('UPDATE campaigns SET "isDraft" = true WHERE id = $1', followers["replayed"][0])
    async with open_services(load_settings({"DATABASE_URL": database_url}), FixedClock(instant)) as services:
        await run_campaign_tick(services)

    async def run_times(twin):
        campaign_id, customer = followers[twin]
        rows = await db.fetch(
            """SELECT n.kind, n.json ->> 'scheduling' AS scheduling, s."runAt"
               FROM campaign_node_states s JOIN campaign_nodes n ON n.id = s."campaignNodeId"
               WHERE s."campaignId" = $1 AND NOT n.json ? 'days' ORDER BY 1, 2""",
            campaign_id,
        )
        return [tuple(row) for row in rows]

    replayed = await run_times("replayed")
    assert replayed == await run_times("live")
    assert replayed == [
        ("Email", "BusinessHours", datetime(2026, 3, 9, 8, 0, tzinfo=UTC)),
        ("Email", "Immediately", instant),
        ("Email", "SpecificTime", datetime(2026, 3, 7, 10, 30, tzinfo=UTC)),
        ("Wait", None, datetime(2026, 3, 7, 5, 15, tzinfo=UTC)),
    ]
