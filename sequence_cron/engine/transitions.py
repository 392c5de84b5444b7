"""Next states of a finished state: which nodes follow it, and when each of them runs (run time and time out)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from loguru import logger

from sequence_cron.engine import timing
from sequence_cron.engine.nodes import EmailSpec, FilterSpec, Node, WaitSpec

NAME_LIMIT = 255


@dataclass(frozen=True)
class NextState:
    node_id: uuid.UUID
    campaign_id: uuid.UUID
    customer_id: uuid.UUID
    tenant_id: uuid.UUID
    name: str | None
    run_at: datetime
    timeout_at: datetime | None


class ZoneResolver:
    """Resolve customers' time zones for one tick, warning once per customer about an invalid name."""

    def __init__(self, default: ZoneInfo):
        self.default = default
        self._warned: set[uuid.UUID] = set()

    def zone_for(self, customer_id: uuid.UUID, traits_zone: object, context_zone: object) -> ZoneInfo:
        traits = None if traits_zone is None else {"timezone": traits_zone}
        context = None if context_zone is None else {"timezone": context_zone}
        zone, invalid_name = timing.resolve_zone(traits, context, self.default)
        if invalid_name is not None and customer_id not in self._warned:
            self._warned.add(customer_id)
            logger.bind(event="invalid_timezone", customer_id=str(customer_id)).warning(
                "customer {} has invalid time zone {!r}; using {}", customer_id, invalid_name[:80], self.default.key
            )
        return zone


def run_time(node: Node, now: datetime, zone: ZoneInfo) -> datetime:
    """Return when a new state on `node` becomes due, for a state written at `now`."""
    spec = node.spec
    if isinstance(spec, WaitSpec):
        if spec.duration is not None:
            return timing.add_elapsed(now, spec.duration)
        return timing.next_local_time(now, zone, spec.hour, spec.minute)
    if isinstance(spec, EmailSpec):
        if spec.scheduling == "BusinessHours":
            return timing.business_hours_start(now, zone)
        if spec.scheduling == "SpecificTime":
            return timing.next_local_time(now, zone, spec.hour, spec.minute)
    return now


def timeout_time(node: Node, now: datetime) -> datetime | None:
    """Return when a filter state on `node` stops waiting, or None for every other node."""
    spec = node.spec
    if isinstance(spec, FilterSpec) and spec.wait_days > 0:
        return timing.add_elapsed(now, timedelta(days=spec.wait_days))
    return None


def needs_zone(node: Node) -> bool:
    spec = node.spec
    if isinstance(spec, WaitSpec):
        return spec.duration is None
    return isinstance(spec, EmailSpec) and spec.scheduling != "Immediately"


def next_states(
    successors: tuple[Node, ...],
    row,
    now: datetime,
    zones: ZoneResolver,
) -> list[NextState]:
    """Build one new PENDING state per successor node for the customer of `row`."""
    result = []
    zone = None
    for node in successors:
        if zone is None and needs_zone(node):
            zone = zones.zone_for(row["customer_id"], row["traits_zone"], row["context_zone"])
        result.append(
            NextState(
                node_id=node.id,
                campaign_id=row["campaign_id"],
                customer_id=row["customer_id"],
                tenant_id=row["tenant_id"],
                name=(node.name or node.kind)[:NAME_LIMIT],
                run_at=run_time(node, now, zone or zones.default),
                timeout_at=timeout_time(node, now),
            )
        )
    return result
