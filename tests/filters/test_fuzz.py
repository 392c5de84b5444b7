"""A fuzzer of random trees: parsing, compiling and evaluating raise FilterError or nothing.

Any other exception, above all a database error from a cast of odd data or of an odd
expected value, fails the test. The trees mix valid kinds and values with junk so that many
of them reach the database.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import orjson
import pytest_asyncio
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from filters.database import create_customer, create_event, create_tenant
from filters.odd_data import ODD_VALUES
from sequence_cron.filters import CUSTOMER_COLUMNS, FilterError, matching_customers
from sequence_cron.filters.tree import COMPARATOR_KINDS, OPERATORS, OPERATORS_BY_COMPARATOR

NOW = datetime(2021, 6, 20, 12, 0, tzinfo=timezone.utc)

ODD_TEXT = st.sampled_from(
    ["", " ", "\x00", "\ud800", "%", "_", "'", '"', "\\", "é", "東京", "2021-02-30", "2021-06-01", "NaN", "1e99999", "-0"]
)
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.text(max_size=12),
    ODD_TEXT,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
ABSOLUTE_TEXT = st.one_of(
    st.dates().map(lambda day: day.isoformat()),
    st.datetimes(timezones=st.just(timezone.utc)).map(lambda moment: moment.isoformat()),
)
DATE_TEXT = st.one_of(ABSOLUTE_TEXT, st.just("$now"))
DATE_OBJECT = st.fixed_dictionaries(
    {"dateKind": st.one_of(st.sampled_from(["ABSOLUTE", "RELATIVE"]), JUNK)},
    optional={
        "reference": st.one_of(DATE_TEXT, JUNK),
        "days": st.one_of(st.integers(-200_000, 200_000), st.floats(), JUNK),
    },
)
NUMBER_TEXT = st.one_of(
    st.decimals().map(str),
    st.integers().map(str),
    st.from_regex(r"\A ?-?[0-9]{0,400}(\.[0-9]*)?(e-?[0-9]{1,5})? ?\Z"),
)
SCALAR = st.one_of(JUNK, DATE_OBJECT, DATE_TEXT, NUMBER_TEXT)
EXPECTED = st.one_of(SCALAR, st.lists(SCALAR, min_size=0, max_size=3))
ATTRIBUTE = st.one_of(
    st.sampled_from(sorted(CUSTOMER_COLUMNS) + ["v", "other", "x'); DROP TABLE users; --"]), st.text(max_size=8), JUNK
)
COMPARATOR = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "nodeKind": st.one_of(st.just("Comparator"), JUNK),
            "comparatorKind": st.one_of(st.sampled_from(COMPARATOR_KINDS), JUNK),
            "operator": st.one_of(st.sampled_from(OPERATORS), JUNK),
        },
    ),
    JUNK,
)
FILTER = st.fixed_dictionaries(
    {"nodeKind": st.just("Filter")},
    optional={
        "filterKind": st.one_of(st.sampled_from(["UserAttribute", "Event", "EventAttribute", "Email", "Page"]), JUNK),
        "attribute": ATTRIBUTE,
        "eventName": st.one_of(st.sampled_from(["odd", "signup"]), JUNK),
        "expected": EXPECTED,
        "performed": st.one_of(st.booleans(), JUNK),
        "comparator": COMPARATOR,
    },
)


# Text that PostgreSQL can store, for well-formed trees.
STORABLE_TEXT = st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=12)
WELL_FORMED_SCALARS = {
    "String": st.one_of(STORABLE_TEXT, st.integers(), st.booleans(), st.sampled_from(["%", "_", "gmail", "42", "a_b"])),
    "Number": st.one_of(
        st.integers(-(10**40), 10**40),
        st.floats(allow_nan=False, allow_infinity=False),
        st.from_regex(r"\A ?-?[0-9]{1,40}(\.[0-9]{0,10})? ?\Z"),
    ),
    "Date": st.one_of(
        ABSOLUTE_TEXT,
        st.builds(lambda reference: {"dateKind": "ABSOLUTE", "reference": reference}, ABSOLUTE_TEXT),
        st.builds(
            lambda days, reference: {"dateKind": "RELATIVE", "days": days, "reference": reference},
            st.one_of(st.integers(-100_000, 100_000), st.floats(-100_000, 100_000)),
            st.sampled_from(["$now", "2021-06-01", "2021-06-01T10:00:00+02:00"]),
        ),
    ),
}


@st.composite
def well_formed_filters(draw) -> dict:
    """Draw a Filter that parses, so that evaluation reaches the database."""
    filter_kind = draw(st.sampled_from(["UserAttribute", "Event", "EventAttribute"]))
    if filter_kind == "Event":
        name = draw(st.one_of(st.sampled_from(["odd", "signup"]), STORABLE_TEXT.filter(bool)))
        return {"nodeKind": "Filter", "filterKind": "Event", "expected": name, "performed": draw(st.booleans())}

    kind = draw(st.sampled_from(COMPARATOR_KINDS))
    operator = draw(st.sampled_from(OPERATORS_BY_COMPARATOR[kind]))
    if kind == "IsTimestamp":
        expected = draw(st.booleans())
    elif operator == "between":
        expected = draw(st.lists(WELL_FORMED_SCALARS[kind], min_size=2, max_size=2))
    elif operator in ("eq", "ne"):
        expected = draw(st.one_of(WELL_FORMED_SCALARS[kind], st.sampled_from([None, ""])))
    else:
        expected = draw(WELL_FORMED_SCALARS[kind])
    result = {
        "nodeKind": "Filter",
        "filterKind": filter_kind,
        "attribute": draw(st.one_of(st.sampled_from(sorted(CUSTOMER_COLUMNS) + ["v"]), STORABLE_TEXT.filter(bool))),
        "expected": expected,
        "comparator": {"nodeKind": "Comparator", "comparatorKind": kind, "operator": operator},
    }
    if filter_kind == "EventAttribute" and draw(st.booleans()):
        result["eventName"] = "odd"
    return result


def well_formed_conditions(children):
    return st.fixed_dictionaries(
        {"nodeKind": st.just("Condition"), "conditionKind": st.sampled_from(["AND", "OR"]), "children": st.lists(children, max_size=4)}
    )


def junk_conditions(children):
    return st.fixed_dictionaries(
        {
            "nodeKind": st.one_of(st.just("Condition"), JUNK),
            "conditionKind": st.one_of(st.sampled_from(["AND", "OR"]), JUNK),
            "children": st.one_of(st.lists(children, max_size=4), JUNK),
        }
    )


WELL_FORMED_TREES = st.recursive(well_formed_filters(), well_formed_conditions, max_leaves=10)
JUNK_TREES = st.recursive(st.one_of(well_formed_filters(), FILTER, JUNK), junk_conditions, max_leaves=12)
TREES = st.one_of(WELL_FORMED_TREES, JUNK_TREES)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fuzz_customers(connection):
    tenant_id = await create_tenant(connection)
    ids = []
    for label, document in ODD_VALUES.items():
        columns = {"externalId": label, "traits": document, "industry": label, "email": label}
        ids.append(await create_customer(connection, tenant_id, **columns))
        await create_event(connection, tenant_id, label, "odd", document)
    return tenant_id, ids


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=TREES, as_text=st.booleans())
async def test_random_tree_raises_only_filter_error(connection, fuzz_customers, tree, as_text):
    tenant_id, ids = fuzz_customers
    node = tree
    if as_text:
        try:
            node = orjson.dumps(tree).decode()
        except orjson.JSONEncodeError:
            pass  # orjson rejects lone surrogates, so the object form is tested instead

    try:
        matched = await matching_customers(connection, uuid.uuid4(), node, tenant_id, ids, NOW)
    except FilterError:
        event("rejected with FilterError")
        return
    event("evaluated")
    assert matched <= set(ids)
