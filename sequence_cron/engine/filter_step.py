"""Filter states: evaluate an audience for a batch of customers, and re-check states that wait."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sequence_cron.engine.nodes import FilterSpec, Node
from sequence_cron.engine.outcomes import PENDING, OutcomeBatch
from sequence_cron.engine.timing import add_elapsed
from sequence_cron import filters
from sequence_cron.storage import store

if TYPE_CHECKING:
    from sequence_cron.engine.tick import CampaignTick

KIND = "Filter"
MIN_UUID = uuid.UUID(int=0)


async def match_by_node(
    connection, rows_by_node: dict[Node, list], batch: OutcomeBatch, now: datetime
) -> dict[Node, set[uuid.UUID]]:
    """Return, per filter node, the ids of its rows' customers that match; fail the rows of a bad audience.

    One query per node: the audience's tree compiled to SQL over all of that node's customers.
    """
    audiences = await filters.load_audiences(connection, list({node.spec.audience_id for node in rows_by_node}))
    matches: dict[Node, set[uuid.UUID]] = {}
    for node, rows in rows_by_node.items():
        spec: FilterSpec = node.spec
        tenant_id = rows[0]["tenant_id"]
        audience = audiences.get(spec.audience_id)
        if audience is None or audience["userId"] != tenant_id:
            for row in rows:
                batch.fail(row, KIND, f"audience {spec.audience_id} of filter node {node.id} not found")
            continue
        try:
            matches[node] = await filters.matching_customers(
                connection, spec.audience_id, audience["node"], tenant_id, [row["customer_id"] for row in rows], now
            )
        except filters.FilterError as error:
            for row in rows:
                batch.fail(row, KIND, f"filter node {node.id}: {error}")
    return matches


async def evaluate_due(tick: CampaignTick, connection, filter_rows, batch: OutcomeBatch, now: datetime) -> None:
    """Decide due filter states: matched → Default edges; not matched → Timeout edges or wait."""
    if not filter_rows:
        return
    rows_by_node: dict[Node, list] = defaultdict(list)
    for row, node in filter_rows:
        rows_by_node[node].append(row)
    matches = await match_by_node(connection, rows_by_node, batch, now)
    for node, matched in matches.items():
        wait_days = node.spec.wait_days
        for row in rows_by_node[node]:
            if row["customer_id"] in matched:
                batch.complete(row, KIND)
            elif wait_days == 0:
                batch.complete(row, KIND, edge_kind="Timeout")
            else:
                timeout_at = row["timeout_at"] or add_elapsed(now, timedelta(days=wait_days))
                batch.keep_waiting(row, KIND, timeout_at)


async def recheck_waiting_states(tick: CampaignTick) -> None:
    """Re-check every waiting filter state once, a page at a time, each page in its own transaction."""
    after_id = MIN_UUID
    while not tick.should_stop():
        async with tick.services.pool.acquire() as connection, connection.transaction():
            now = tick.now()
            rows = await store.lock_waiting_states(
                connection, now, tick.skipped_campaigns(), after_id, tick.settings.batch_size
            )
            if not rows:
                return
            after_id = rows[-1]["id"]
            batch = OutcomeBatch(attempts_added=0)
            rows_by_node: dict[Node, list] = defaultdict(list)
            for row in rows:
                node = await tick.executable_node(connection, row, batch, KIND)
                if node is not None:
                    rows_by_node[node].append(row)
            matches = await match_by_node(connection, rows_by_node, batch, now)
            for node, matched in matches.items():
                for row in rows_by_node[node]:
                    if row["customer_id"] in matched:
                        batch.complete(row, KIND)
                    elif row["timed_out"]:
                        batch.complete(row, KIND, edge_kind="Timeout", did_timeout=True)
            await tick.write(connection, batch, now, expected_states=(PENDING,))
