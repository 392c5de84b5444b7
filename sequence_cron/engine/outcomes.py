"""Outcomes of the states of one batch, collected so that one transaction writes them all."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from loguru import logger

COMPLETED, ERROR, STOPPED, PENDING, RUNNING = "COMPLETED", "ERROR", "STOPPED", "PENDING", "RUNNING"
REASON_LIMIT = 2000


@dataclass(frozen=True)
class Outcome:
    row: object  # the locked state row: id, node_id, campaign_id, customer_id, tenant_id, ...
    kind: str  # the node kind, for counting
    state: str
    attempts_added: int
    edge_kind: str | None = None
    did_timeout: bool = False
    timeout_at: datetime | None = None
    reason: str | None = None


@dataclass
class OutcomeBatch:
    """Outcomes of one batch. `attempts_added` is 1 for states locked and finished in one transaction,
    and 0 for Email states whose committed claim already added the attempt."""

    attempts_added: int
    outcomes: list[Outcome] = field(default_factory=list)

    def complete(self, row, kind: str, edge_kind: str = "Default", did_timeout: bool = False) -> None:
        self.outcomes.append(
            Outcome(row, kind, COMPLETED, self.attempts_added, edge_kind=edge_kind, did_timeout=did_timeout)
        )

    def fail(self, row, kind: str, reason: str) -> None:
        reason = reason if len(reason) <= REASON_LIMIT else reason[: REASON_LIMIT - 3] + "..."
        self.outcomes.append(Outcome(row, kind, ERROR, self.attempts_added, reason=reason))
        logger.bind(
            event="state_error",
            state_id=str(row["id"]),
            node_id=str(row["node_id"]),
            campaign_id=str(row["campaign_id"]),
            customer_id=str(row["customer_id"]),
        ).warning("state {} of node {} failed: {}", row["id"], row["node_id"], reason)

    def stop(self, row, kind: str) -> None:
        self.outcomes.append(Outcome(row, kind, STOPPED, self.attempts_added))

    def keep_waiting(self, row, kind: str, timeout_at: datetime | None) -> None:
        self.outcomes.append(Outcome(row, kind, PENDING, 1, timeout_at=timeout_at))

    def __len__(self) -> int:
        return len(self.outcomes)


def outcome_label(outcome: Outcome) -> str:
    """Name an outcome for counters: completed, timed_out, errored, stopped or waiting."""
    if outcome.state == COMPLETED:
        return "timed_out" if outcome.did_timeout else "completed"
    return {ERROR: "errored", STOPPED: "stopped", PENDING: "waiting"}[outcome.state]


def state_ids(outcomes: list[Outcome]) -> list[uuid.UUID]:
    return [outcome.row["id"] for outcome in outcomes]
