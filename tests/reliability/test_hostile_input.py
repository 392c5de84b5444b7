"""Hostile data in real ticks: only the affected states fail, each with a reason, and no tick raises.

The fuzzers store random node json, filter trees and templates next to good states in the same
batches and run in-process ticks on the test database. The good states must complete, and every
hostile state must have run or be ERROR with a reason in cron_state_errors.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import pytest
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st

from sequence_cron.engine.tick import run_campaign_tick
from sequence_cron.filters.tree import COMPARATOR_KINDS, OPERATORS, OPERATORS_BY_COMPARATOR
from tests.factories import error_reason, fetch_state, next_states_of
from tests.recording import RecordingProvider

# Examples share the test's database, so each one creates its own tenant and campaigns and
# checks only its own rows.
FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Placeholders that an example replaces with the ids it created, so that random json often
# points at a real template or audience and gets past the id checks.
TEMPLATE_ID = "$template"
AUDIENCE_ID = "$audience"
# Replaced in the JSON text by a number that PostgreSQL stores but no double can hold.
HUGE_NUMBER = "$huge"

# PostgreSQL text cannot hold NUL, and JSON text cannot hold lone surrogates.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
    st.sampled_from(
        [
            "", "0", "1", "-1", "1.5", "1e9", "NaN", "Infinity", "Relative", "Specific", "Immediately",
            "BusinessHours", "SpecificTime", "Existing", "New", "Both", "24", "60", "not-a-uuid",
            "00000000-0000-0000-0000-000000000000", TEMPLATE_ID, AUDIENCE_ID, HUGE_NUMBER,
            # Durations that fit a timedelta but not a datetime once added to now.
            3_000_000, 999_999_999, 1e9, "5000000",
        ]
    ),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(TEXT, children, max_size=3)),
    max_leaves=8,
)
NODE_FIELDS = {
    "Wait": ["kind", "days", "hours", "minutes", "hour", "minute"],
    "Email": ["emailId", "scheduling", "hour", "minute"],
    "Filter": ["audienceId", "audienceRules", "waitValue", "audienceName"],
}


HOURS = st.integers(0, 23)
MINUTES = st.integers(0, 59)
VALID_NODE_JSON = {
    "Wait": st.one_of(
        st.fixed_dictionaries({"days": st.integers(0, 3)}),
        st.fixed_dictionaries({"kind": st.just("Relative"), "days": st.just(0), "hours": st.integers(0, 2), "minutes": MINUTES}),
        st.fixed_dictionaries({"kind": st.just("Specific"), "hour": HOURS, "minute": MINUTES}),
    ),
    "Email": st.fixed_dictionaries(
        {"emailId": st.just(TEMPLATE_ID), "scheduling": st.sampled_from(["Immediately", "BusinessHours", "SpecificTime"])},
        optional={"hour": HOURS, "minute": MINUTES},
    ),
    "Filter": st.fixed_dictionaries(
        {"audienceId": st.just(AUDIENCE_ID), "waitValue": st.integers(0, 2)},
        optional={"audienceRules": st.sampled_from(["Existing", "New", "Both"])},
    ),
}


def node_json(kind: str):
    """Random json for a node of `kind`: valid json, valid json with one field spoiled, objects
    with the kind's own fields and random values, or any JSON value at all."""
    fields = st.dictionaries(st.sampled_from(NODE_FIELDS[kind]), st.one_of(SCALARS, JSON_VALUES), max_size=6)
    spoiled = st.builds(
        lambda valid, spoil: {**valid, **spoil},
        VALID_NODE_JSON[kind],
        st.dictionaries(st.sampled_from(NODE_FIELDS[kind]), SCALARS, min_size=1, max_size=1),
    )
    return st.one_of(VALID_NODE_JSON[kind], spoiled, fields, JSON_VALUES)


FILTER_LEAVES = st.fixed_dictionaries(
    {"nodeKind": st.sampled_from(["Filter", "Filter", "Condition", "Other"])},
    optional={
        "filterKind": st.one_of(st.sampled_from(["UserAttribute", "Event", "EventAttribute", "Email", "Page"]), SCALARS),
        "attribute": st.one_of(st.sampled_from(["email", "firstName", "country", "plan", "x'; DROP TABLE users; --"]), SCALARS),
        "eventName": st.one_of(st.just("signup"), SCALARS),
        "expected": JSON_VALUES,
        "performed": st.one_of(st.booleans(), SCALARS),
        "comparator": st.one_of(
            st.fixed_dictionaries(
                {"nodeKind": st.just("Comparator")},
                optional={
                    "comparatorKind": st.one_of(st.sampled_from(COMPARATOR_KINDS), SCALARS),
                    "operator": st.one_of(st.sampled_from(OPERATORS), SCALARS),
                },
            ),
            SCALARS,
        ),
    },
)

@st.composite
def well_formed_filters(draw) -> dict:
    """Draw a Filter that parses, so that its SQL runs against the customers."""
    if draw(st.booleans()):
        return {"nodeKind": "Filter", "filterKind": "Event", "expected": "signup", "performed": draw(st.booleans())}
    kind = draw(st.sampled_from(["String", "Number"]))
    operator = draw(st.sampled_from(OPERATORS_BY_COMPARATOR[kind]))
    value = st.one_of(st.sampled_from(["DE", "pro", "%", "_", "'"]), TEXT) if kind == "String" else st.integers(-5, 5)
    expected = draw(st.lists(value, min_size=2, max_size=2)) if operator == "between" else draw(value)
    return {
        "nodeKind": "Filter",
        "filterKind": draw(st.sampled_from(["UserAttribute", "EventAttribute"])),
        "attribute": draw(st.sampled_from(["country", "email", "plan", "score"])),
        "expected": expected,
        "comparator": {"nodeKind": "Comparator", "comparatorKind": kind, "operator": operator},
    }


WELL_FORMED_TREES = st.recursive(
    well_formed_filters(),
    lambda children: st.fixed_dictionaries(
        {"nodeKind": st.just("Condition"), "conditionKind": st.sampled_from(["AND", "OR"]), "children": st.lists(children, max_size=3)}
    ),
    max_leaves=6,
)
JUNK_TREES = st.recursive(
    st.one_of(FILTER_LEAVES, SCALARS),
    lambda children: st.fixed_dictionaries(
        {
            "nodeKind": st.sampled_from(["Condition", "Condition", "Filter"]),
            "conditionKind": st.one_of(st.sampled_from(["AND", "OR"]), SCALARS),
            "children": st.one_of(st.lists(children, max_size=3), SCALARS),
        }
    ),
    max_leaves=8,
)
FILTER_TREES = st.one_of(WELL_FORMED_TREES, JUNK_TREES)
MUSTACHE_PIECES = st.sampled_from(
    [
        "{{", "}}", "{{firstName}}", "{{{firstName}}}", "{{& firstName}}", "{{#firstName}}", "{{/firstName}}",
        "{{^plan}}", "{{/plan}}", "{{#items}}{{.}}{{/items}}", "{{>partial}}", "{{=<% %>=}}", "{{! note }}",
        "{{missing}}", "{{#items}}", "\r\n", "\n", "Bcc: evil@example.com", "<script>", "é", "😀",
    ]
)
TEMPLATE_TEXT = st.lists(st.one_of(MUSTACHE_PIECES, TEXT), max_size=10).map("".join)
ADDRESSES = st.one_of(
    st.sampled_from(
        [
            "team@example.com", "", " ", "team", "team@", "@example.com", "Team <team@example.com>",
            "a@example.com, b@example.com", "team@example.com\r\nBcc: evil@example.com", "tëam@example.com",
            "team@example.com\n", '"odd"@example.com',
        ]
    ),
    TEXT,
)


@pytest.fixture
def provider(services) -> RecordingProvider:
    services.provider = RecordingProvider()
    return services.provider


@dataclass
class GoodStates:
    """A due Wait state and a due Email state of a good campaign, in the same batches as the hostile ones."""

    wait_state: uuid.UUID
    email_state: uuid.UUID
    address: str


async def good_states(factory, tenant: uuid.UUID, now) -> GoodStates:
    campaign_id = await factory.campaign(tenant)
    template = await factory.template(tenant, subject="Good news")
    wait_node = await factory.node(campaign_id, "Wait", {"days": 1})
    email_node = await factory.node(campaign_id, "Email", {"emailId": str(template)})
    address = f"good-{uuid.uuid4().hex[:12]}@example.com"
    customer = await factory.customer(tenant, email=address)
    due = now - timedelta(minutes=1)
    return GoodStates(
        wait_state=await factory.state(wait_node, customer, runAt=due),
        email_state=await factory.state(email_node, customer, runAt=due),
        address=address,
    )


async def assert_good_states_completed(pool, good: GoodStates, provider: RecordingProvider) -> None:
    assert (await fetch_state(pool, good.wait_state))["state"] == "COMPLETED"
    assert (await fetch_state(pool, good.email_state))["state"] == "COMPLETED"
    assert [email.to for email in provider.sent].count(good.address) == 1


async def assert_ran_or_explained(pool, state_id: uuid.UUID) -> tuple[str, str | None]:
    """Check that a hostile state ran, waits for its filter, or is ERROR with a reason; return both."""
    state = await fetch_state(pool, state_id)
    reason = await error_reason(pool, state_id)
    assert state["state"] in ("COMPLETED", "PENDING", "ERROR")
    if state["state"] == "ERROR":
        assert reason
    if state["state"] == "PENDING":
        assert state["attempts"] == 1  # a Filter state that waits for its condition, not one left behind
    return state["state"], reason


def fill_placeholders(value: object, ids: dict[str, str]) -> object:
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, list):
        return [fill_placeholders(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: fill_placeholders(item, ids) for key, item in value.items()}
    return value


def json_text(value: object, ids: dict[str, str] | None = None) -> str:
    """Encode with the json module, which, unlike orjson, writes integers beyond 64 bits."""
    text = json.dumps(fill_placeholders(value, ids or {}))
    return text.replace(f'"{HUGE_NUMBER}"', "1e400")


async def store_json(pool, table: str, column: str, row_id: uuid.UUID, text: str, cast: str) -> None:
    """Write JSON text into a json or jsonb column; skip the example when PostgreSQL rejects the text."""
    try:
        await pool.execute(f"UPDATE {table} SET {column} = $1::text::{cast} WHERE id = $2", text, row_id)
    except (asyncpg.DataError, asyncpg.exceptions.UntranslatableCharacterError):
        reject()


@FUZZ
@given(kind=st.sampled_from(["Wait", "Email", "Filter"]), json=st.data())
async def test_random_node_json_fails_only_its_states(services, provider, factory, now, kind, json):
    document = json.draw(node_json(kind), label="json")
    tenant = await factory.tenant()
    template = await factory.template(tenant)
    audience = await factory.audience(
        tenant, {"nodeKind": "Filter", "filterKind": "Event", "expected": "signup", "performed": True}
    )
    ids = {TEMPLATE_ID: str(template), AUDIENCE_ID: str(audience)}
    # Wait (due) → hostile node → Wait, and a second state due on the hostile node itself: the
    # hostile json is read both to schedule a next state and to execute one.
    campaign_id = await factory.campaign(tenant)
    before = await factory.node(campaign_id, "Wait", {"days": 0})
    hostile = await factory.node(campaign_id, kind, {})
    after = await factory.node(campaign_id, "Wait", {"days": 1})
    await factory.edge(before, hostile)
    await factory.edge(hostile, after)
    await factory.edge(hostile, after, kind="Timeout")
    await store_json(factory.pool, "campaign_nodes", "json", hostile, json_text(document, ids), "jsonb")
    first_customer = await factory.customer(tenant)
    second_customer = await factory.customer(tenant)
    due = now - timedelta(minutes=1)
    through_before = await factory.state(before, first_customer, runAt=due)
    on_hostile = await factory.state(hostile, second_customer, runAt=due)
    good = await good_states(factory, tenant, now)

    await run_campaign_tick(services)

    await assert_good_states_completed(factory.pool, good, provider)
    assert (await fetch_state(factory.pool, through_before))["state"] == "COMPLETED"
    [next_on_hostile] = await next_states_of(factory.pool, first_customer, hostile)
    for state_id, customer in ((on_hostile, second_customer), (next_on_hostile["id"], first_customer)):
        state = await fetch_state(factory.pool, state_id)
        if state["runAt"] > now:
            assert state["state"] == "PENDING"  # scheduled for later by a valid Wait or Email json
            continue
        outcome, _ = await assert_ran_or_explained(factory.pool, state_id)
        event(f"{kind} state {outcome}")
        next_states = await next_states_of(factory.pool, customer, after)
        assert len(next_states) == (1 if outcome == "COMPLETED" else 0)


@FUZZ
@given(tree=FILTER_TREES, as_text=st.booleans(), wait_days=st.sampled_from([0, 1]))
async def test_random_filter_tree_fails_only_its_states(services, provider, factory, now, tree, as_text, wait_days):
    tenant = await factory.tenant()
    audience = await factory.audience(tenant, {})
    text = json_text(tree)
    await store_json(factory.pool, "audiences", "node", audience, json.dumps(text) if as_text else text, "json")
    campaign_id = await factory.campaign(tenant)
    filter_node = await factory.node(campaign_id, "Filter", {"audienceId": str(audience), "waitValue": wait_days})
    matched_node = await factory.node(campaign_id, "Wait", {"days": 1})
    await factory.edge(filter_node, matched_node)
    customer = await factory.customer(tenant, country="DE", traits={"plan": "pro", "score": 3})
    state_id = await factory.state(filter_node, customer, runAt=now - timedelta(minutes=1))
    good = await good_states(factory, tenant, now)

    await run_campaign_tick(services)

    await assert_good_states_completed(factory.pool, good, provider)
    outcome, reason = await assert_ran_or_explained(factory.pool, state_id)
    event(f"Filter state {outcome}")
    if outcome == "ERROR":
        assert f"audience {audience}" in reason


@FUZZ
@given(
    subject=TEMPLATE_TEXT,
    body=TEMPLATE_TEXT,
    sender=ADDRESSES,
    sender_name=st.one_of(st.none(), TEXT, st.just("Team\r\nBcc: evil@example.com")),
    first_name=st.one_of(TEXT, st.just("Bob\r\nBcc: evil@example.com")),
    traits=st.dictionaries(st.sampled_from(["plan", "items", "firstName"]), JSON_VALUES, max_size=3),
)
async def test_random_template_fails_only_its_states(
    services, provider, factory, now, subject, body, sender, sender_name, first_name, traits
):
    if len(subject) > 255 or len(sender) > 255 or (sender_name is not None and len(sender_name) > 255):
        reject()  # the columns are varchar(255)
    tenant = await factory.tenant()
    template = await factory.template(tenant, subject=subject, bodyHtml=body, **{"from": sender, "fromName": sender_name})
    campaign_id = await factory.campaign(tenant)
    email_node = await factory.node(campaign_id, "Email", {"emailId": str(template)})
    address = f"hostile-{uuid.uuid4().hex[:12]}@example.com"
    customer = await factory.customer(tenant, email=address, firstName=first_name[:255])
    await store_json(factory.pool, "product_users", "traits", customer, json_text(traits), "jsonb")
    state_id = await factory.state(email_node, customer, runAt=now - timedelta(minutes=1))
    good = await good_states(factory, tenant, now)

    await run_campaign_tick(services)

    await assert_good_states_completed(factory.pool, good, provider)
    outcome, _ = await assert_ran_or_explained(factory.pool, state_id)
    event(f"Email state {outcome}")
    sent = [email for email in provider.sent if email.to == address]
    if outcome == "COMPLETED":
        [email] = sent
        for header in (email.subject, email.from_address, email.from_name or ""):
            assert "\r" not in header
            assert "\n" not in header
    else:
        assert sent == []


HEADER_INJECTIONS = {
    "subject": ({"subject": "Hello\r\nBcc: evil@example.com"}, {}, "subject"),
    "subject from a variable": ({"subject": "Hi {{firstName}}"}, {"firstName": "Bob\r\nBcc: evil@example.com"}, "subject"),
    "from name": ({"fromName": "Team\nBcc: evil@example.com"}, {}, "from name"),
    "from address with CRLF": ({"from": "team@example.com\r\nBcc: evil@example.com"}, {}, "from address"),
    "from not an address": ({"from": "the team"}, {}, "from address"),
    "to with CRLF": ({}, {"email": "ann@example.com\r\nBcc: evil@example.com"}, "to"),
    "to not an address": ({}, {"email": "ann.example.com"}, "to"),
    "to with two addresses": ({}, {"email": "ann@example.com, bob@example.com"}, "to"),
    "to with a display name": ({}, {"email": "Ann <ann@example.com>"}, "to"),
}


@pytest.mark.parametrize(("template_values", "customer_values", "field"), HEADER_INJECTIONS.values(), ids=HEADER_INJECTIONS)
async def test_header_injection_errors_before_send(
    services, provider, factory, now, template_values, customer_values, field
):
    tenant = await factory.tenant()
    template = await factory.template(tenant, **template_values)
    campaign_id = await factory.campaign(tenant)
    email_node = await factory.node(campaign_id, "Email", {"emailId": str(template)})
    customer = await factory.customer(tenant, **customer_values)
    state_id = await factory.state(email_node, customer, runAt=now - timedelta(minutes=1))
    good = await good_states(factory, tenant, now)

    summary = await run_campaign_tick(services)

    assert (await fetch_state(factory.pool, state_id))["state"] == "ERROR"
    assert f": {field}: " in await error_reason(factory.pool, state_id)
    # The only message that reached the provider is the good state's.
    assert provider.started == 1
    assert [email.to for email in provider.sent] == [good.address]
    await assert_good_states_completed(factory.pool, good, provider)
    assert summary["emails_sent"] == 1


def nested_conditions(depth: int) -> str:
    leaf = '{"nodeKind": "Filter", "filterKind": "Event", "expected": "signup", "performed": true}'
    opening = '{"nodeKind": "Condition", "conditionKind": "AND", "children": ['
    return opening * depth + leaf + "]}" * depth


# As a JSON string the tree is 10,000 conditions deep. As an object each condition is two JSON
# levels (an object and its children list), and PostgreSQL's json parser stops at about 10,000.
@pytest.mark.parametrize(("as_text", "depth"), [(False, 5_000), (True, 10_000)], ids=["object", "string"])
async def test_deep_filter_tree_is_refused(services, provider, factory, now, as_text, depth):
    tenant = await factory.tenant()
    audience = await factory.audience(tenant, {})
    text = nested_conditions(depth)
    await store_json(factory.pool, "audiences", "node", audience, json.dumps(text) if as_text else text, "json")
    campaign_id = await factory.campaign(tenant)
    filter_node = await factory.node(campaign_id, "Filter", {"audienceId": str(audience), "waitValue": 0})
    state_id = await factory.state(filter_node, await factory.customer(tenant), runAt=now - timedelta(minutes=1))
    good = await good_states(factory, tenant, now)

    await run_campaign_tick(services)

    assert (await fetch_state(factory.pool, state_id))["state"] == "ERROR"
    reason = await error_reason(factory.pool, state_id)
    assert f"audience {audience}" in reason
    assert "deeper than the limit" in reason or "depth limit" in reason
    await assert_good_states_completed(factory.pool, good, provider)


async def test_deep_node_json_is_refused(services, provider, factory, now):
    tenant = await factory.tenant()
    campaign_id = await factory.campaign(tenant)
    node = await factory.node(campaign_id, "Wait", {})
    await store_json(factory.pool, "campaign_nodes", "json", node, '{"days": 1, "x": ' + '[' * 10_000 + ']' * 10_000 + "}", "jsonb")
    state_id = await factory.state(node, await factory.customer(tenant), runAt=now - timedelta(minutes=1))
    good = await good_states(factory, tenant, now)

    await run_campaign_tick(services)

    assert (await fetch_state(factory.pool, state_id))["state"] == "ERROR"
    assert "json: cannot be decoded" in await error_reason(factory.pool, state_id)
    await assert_good_states_completed(factory.pool, good, provider)


async def test_huge_number_in_node_json_is_refused(services, provider, factory, now):
    tenant = await factory.tenant()
    campaign_id = await factory.campaign(tenant)
    node = await factory.node(campaign_id, "Wait", {})
    await store_json(factory.pool, "campaign_nodes", "json", node, '{"days": 1e400}', "jsonb")
    state_id = await factory.state(node, await factory.customer(tenant), runAt=now - timedelta(minutes=1))
    good = await good_states(factory, tenant, now)

    await run_campaign_tick(services)

    assert (await fetch_state(factory.pool, state_id))["state"] == "ERROR"
    assert "is not a finite number" in await error_reason(factory.pool, state_id)
    await assert_good_states_completed(factory.pool, good, provider)


async def test_undecodable_traits_do_not_stop_sends(services, provider, factory, now):
    tenant = await factory.tenant()
    customer = await factory.customer(tenant, email="deep@example.com")
    await store_json(
        factory.pool, "product_users", "traits", customer, '{"timezone": ' + '[' * 10_000 + ']' * 10_000 + "}", "jsonb"
    )
    campaign_id = await factory.campaign(tenant)
    template = await factory.template(tenant)
    email_node = await factory.node(campaign_id, "Email", {"emailId": str(template)})
    state_id = await factory.state(email_node, customer, runAt=now - timedelta(minutes=1))
    good = await good_states(factory, tenant, now)

    await run_campaign_tick(services)

    assert (await fetch_state(factory.pool, state_id))["state"] == "COMPLETED"
    assert "deep@example.com" in [email.to for email in provider.sent]
    await assert_good_states_completed(factory.pool, good, provider)


async def test_multi_megabyte_template_is_refused(services, provider, factory, now):
    tenant = await factory.tenant()
    template = await factory.template(tenant, bodyHtml="<p>" + "x" * (5 * 1024 * 1024) + "{{firstName}}</p>")
    campaign_id = await factory.campaign(tenant)
    email_node = await factory.node(campaign_id, "Email", {"emailId": str(template)})
    customers = [await factory.customer(tenant) for _ in range(3)]
    states = [await factory.state(email_node, customer, runAt=now - timedelta(minutes=1)) for customer in customers]
    good = await good_states(factory, tenant, now)

    started = time.monotonic()
    await run_campaign_tick(services)

    assert time.monotonic() - started < 10
    for state_id in states:
        assert (await fetch_state(factory.pool, state_id))["state"] == "ERROR"
        assert "body: template is" in await error_reason(factory.pool, state_id)
        assert "larger than the limit" in await error_reason(factory.pool, state_id)
    await assert_good_states_completed(factory.pool, good, provider)
    assert provider.started == 1


FAR_FUTURE_NODES = {
    "wait days": ("Wait", {"days": 3_000_000}, "days"),
    "wait hours": ("Wait", {"kind": "Relative", "hours": 80_000_000}, "days"),
    "filter wait": ("Filter", {"audienceId": AUDIENCE_ID, "waitValue": 5_000_000}, "waitValue"),
}


@pytest.mark.parametrize(("kind", "document", "field"), FAR_FUTURE_NODES.values(), ids=FAR_FUTURE_NODES)
async def test_wait_past_year_9999_is_refused(services, provider, factory, now, kind, document, field):
    tenant = await factory.tenant()
    audience = await factory.audience(
        tenant, {"nodeKind": "Filter", "filterKind": "Event", "expected": "signup", "performed": True}
    )
    campaign_id = await factory.campaign(tenant)
    before = await factory.node(campaign_id, "Wait", {"days": 0})
    far = await factory.node(campaign_id, kind, fill_placeholders(document, {AUDIENCE_ID: str(audience)}))
    await factory.edge(before, far)
    customer = await factory.customer(tenant)
    first = await factory.state(before, customer, runAt=now - timedelta(minutes=1))
    on_far = await factory.state(far, await factory.customer(tenant), runAt=now - timedelta(minutes=1))
    good = await good_states(factory, tenant, now)

    await run_campaign_tick(services)

    assert (await fetch_state(factory.pool, first))["state"] == "COMPLETED"
    [scheduled] = await next_states_of(factory.pool, customer, far)
    for state_id in (on_far, scheduled["id"]):
        assert (await fetch_state(factory.pool, state_id))["state"] == "ERROR"
        reason = await error_reason(factory.pool, state_id)
        assert f"{field}: " in reason
        assert "longer than the limit" in reason
    await assert_good_states_completed(factory.pool, good, provider)
