"""Evaluate audiences against customers in the database, and load audiences."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

import asyncpg

from sequence_cron.filters.compiler import compile_filter
from sequence_cron.filters.parse import parse_audience

# $1 is the tenant and $2 the candidate customer ids. The filter's own parameters start at $3.
MATCHING_CUSTOMERS_SQL = """
SELECT p.id
FROM product_users p
WHERE p."userId" = $1::uuid
  AND p."deletedAt" IS NULL
  AND p.id = ANY($2::uuid[])
  AND ({predicate})
"""
MATCHING_CUSTOMERS_FIRST_PARAMETER = 3

# `node` is selected as text so that a malformed or hostile tree fails in parse_audience with
# a FilterError for that audience alone, rather than in the json decoder while rows are read.
LOAD_AUDIENCES_SQL = """
SELECT id, "userId", name, node::text AS node
FROM audiences
WHERE id = ANY($1::uuid[])
  AND "deletedAt" IS NULL
  AND ($2::uuid IS NULL OR "userId" = $2::uuid)
"""


async def matching_customers(
    connection: asyncpg.Connection,
    audience_id: uuid.UUID,
    audience_node: object,
    tenant_id: uuid.UUID,
    customer_ids: Iterable[uuid.UUID],
    now: datetime,
) -> set[uuid.UUID]:
    """Return the ids among `customer_ids` of live customers of `tenant_id` that match the audience.

    `audience_node` is the audience's `node` as a dict or as JSON text, and `now` (timezone
    aware) is the instant RELATIVE dates count from. Runs one query, or none when
    `customer_ids` is empty. Raises FilterError when the tree is invalid or contains an
    Email or Page filter, even when `customer_ids` is empty.
    """
    tree = parse_audience(audience_id, audience_node)
    compiled = compile_filter(tree, now, first_parameter=MATCHING_CUSTOMERS_FIRST_PARAMETER)
    ids = list(dict.fromkeys(customer_ids))
    if not ids:
        return set()

    query = MATCHING_CUSTOMERS_SQL.format(predicate=compiled.sql)
    rows = await connection.fetch(query, tenant_id, ids, *compiled.parameters)
    return {row["id"] for row in rows}


async def load_audiences(
    connection: asyncpg.Connection, ids: Iterable[uuid.UUID], tenant_id: uuid.UUID | None = None
) -> dict[uuid.UUID, asyncpg.Record]:
    """Return the live audiences among `ids`, of `tenant_id` when given, keyed by id.

    Each record has `id`, `userId`, `name` and `node`, where `node` is the column's JSON text
    as stored. Pass it unchanged to matching_customers or parse_audience, which decode it.
    """
    rows = await connection.fetch(LOAD_AUDIENCES_SQL, list(ids), tenant_id)
    return {row["id"]: row for row in rows}
