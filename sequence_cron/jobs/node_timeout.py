"""The campaign node timeout job: RUNNING states claimed longer ago than their limit become ERROR."""

from __future__ import annotations

from collections import Counter

from loguru import logger

from sequence_cron.engine.outcomes import ERROR, RUNNING, Outcome
from sequence_cron.services import Services
from sequence_cron.storage import store

BATCH_SIZE = 1000


def timeout_reason(row) -> str:
    # "ran_s" is null when the claim time is '-infinity', which only a hand-edited row can have.
    ran = "an unknown time" if row["ran_s"] is None else f"{row['ran_s']:.0f} s"
    reason = f"timed out: RUNNING for {ran}, longer than its {row['limit_s']} s limit"
    if row["node_kind"] == "Email":
        return f"{reason}; delivery is unknown, the message may or may not have been sent"
    return reason


async def run_node_timeout_tick(services: Services) -> dict:
    """Set every expired RUNNING state to ERROR, in batches; return the counts by node kind."""
    by_kind: Counter[str] = Counter()
    while not services.stopping.is_set():
        async with services.pool.acquire() as connection, connection.transaction():
            now = services.clock.now()
            rows = await store.lock_expired_running_states(
                connection, now, services.settings.campaign_node_timeout_s, BATCH_SIZE
            )
            if not rows:
                break
            reasons = {}
            outcomes = []
            for row in rows:
                reasons[row["id"]] = timeout_reason(row)
                outcomes.append(Outcome(row, row["node_kind"], ERROR, 0, reason=reasons[row["id"]]))
            changed = await store.finish_states(connection, outcomes, now, (RUNNING,))
            await store.record_errors(connection, [(state_id, reasons[state_id]) for state_id in changed], now)
        for row in rows:
            if row["id"] not in changed:
                continue
            by_kind[row["node_kind"] or "unknown"] += 1
            logger.bind(
                event="state_timed_out",
                state_id=str(row["id"]),
                node_id=str(row["node_id"]),
                campaign_id=str(row["campaign_id"]),
                customer_id=str(row["customer_id"]),
            ).warning(
                "state {} of node {} (campaign {}, customer {}) {}",
                row["id"],
                row["node_id"],
                row["campaign_id"],
                row["customer_id"],
                reasons[row["id"]],
            )
    return {"timed_out": sum(by_kind.values()), "by_node_kind": dict(sorted(by_kind.items()))}
