"""Campaign nodes and the validation of their `json` for each kind.

Parsing never raises: a node whose json is not valid for its kind carries the reason instead of a
spec, and its states become ERROR with that reason when they come due.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sequence_cron.storage.pool import UndecodableJson

ENTRY_KINDS = frozenset({"Trigger", "Audience"})
NODE_KINDS = ENTRY_KINDS | {"Filter", "Wait", "Email"}
SCHEDULINGS = ("Immediately", "BusinessHours", "SpecificTime")
AUDIENCE_RULES = ("Existing", "New", "Both")
DEFAULT_SPECIFIC_HOUR = 11
DEFAULT_SPECIFIC_MINUTE = 30
# The longest Wait or Filter wait: 100 years. A longer one could push a state's "runAt" or
# "timeoutAt" past datetime's year 9999, which would fail the whole batch that schedules it.
MAX_WAIT = timedelta(days=36_525)


@dataclass(frozen=True)
class WaitSpec:
    """Wait for an elapsed duration, or until the next local hour:minute when `duration` is None."""

    duration: timedelta | None
    hour: int = 0
    minute: int = 0


@dataclass(frozen=True)
class EmailSpec:
    email_id: uuid.UUID
    scheduling: str
    hour: int = DEFAULT_SPECIFIC_HOUR
    minute: int = DEFAULT_SPECIFIC_MINUTE


@dataclass(frozen=True)
class FilterSpec:
    audience_id: uuid.UUID
    wait_days: float


@dataclass(frozen=True)
class EntrySpec:
    audience_id: uuid.UUID | None


Spec = WaitSpec | EmailSpec | FilterSpec | EntrySpec


@dataclass(frozen=True)
class Node:
    id: uuid.UUID
    campaign_id: uuid.UUID
    kind: str
    name: str | None
    timeout_after_s: int | None
    spec: Spec | None
    invalid_reason: str | None = None

    @property
    def is_entry(self) -> bool:
        return self.kind in ENTRY_KINDS


class _Invalid(Exception):
    def __init__(self, field: str, problem: str):
        self.field = field
        self.problem = problem


def parse_node(row: Any) -> Node:
    """Build a Node from a campaign_nodes row (a mapping with id, campaignId, kind, name, json, timeoutAfter)."""
    node_id = row["id"]
    kind = row["kind"]
    try:
        spec = _parse_spec(kind, row["json"])
        reason = None
    except _Invalid as invalid:
        spec = None
        reason = f"invalid {kind or 'untyped'} node {node_id} ({row['name'] or 'unnamed'}): {invalid.field}: {invalid.problem}"
    return Node(
        id=node_id,
        campaign_id=row["campaignId"],
        kind=kind,
        name=row["name"],
        timeout_after_s=row["timeoutAfter"],
        spec=spec,
        invalid_reason=reason,
    )


def _parse_spec(kind: object, json: object) -> Spec:
    if kind not in NODE_KINDS:
        raise _Invalid("kind", f"unknown node kind {kind!r}, expected one of {', '.join(sorted(NODE_KINDS))}")
    if json is None:
        json = {}
    if isinstance(json, UndecodableJson):
        raise _Invalid("json", json.problem)
    if not isinstance(json, dict):
        raise _Invalid("json", f"expected an object, got {type(json).__name__}")
    if kind == "Wait":
        return _parse_wait(json)
    if kind == "Email":
        return _parse_email(json)
    if kind == "Filter":
        return _parse_filter(json)
    audience = json.get("audienceId")
    return EntrySpec(audience_id=_uuid(json, "audienceId") if audience not in (None, "") else None)


def _parse_wait(json: dict) -> WaitSpec:
    kind = json.get("kind")
    if kind == "Specific":
        return WaitSpec(duration=None, hour=_clock_field(json, "hour", 23), minute=_clock_field(json, "minute", 59))
    if kind not in (None, "Relative"):
        raise _Invalid("kind", f"unknown wait kind {kind!r}, expected Relative or Specific")
    if kind is None and "days" not in json:
        raise _Invalid("days", "missing; a Wait node needs days, or kind Relative or Specific")
    days = _non_negative(json, "days")
    hours = _non_negative(json, "hours")
    minutes = _non_negative(json, "minutes")
    try:
        duration = timedelta(days=days, hours=hours, minutes=minutes)
    except OverflowError:
        duration = None
    if duration is None or duration > MAX_WAIT:
        raise _Invalid("days", f"the duration is longer than the limit of {MAX_WAIT.days} days")
    return WaitSpec(duration=duration)


def _parse_email(json: dict) -> EmailSpec:
    email_id = _uuid(json, "emailId")
    scheduling = json.get("scheduling") or "Immediately"
    if scheduling not in SCHEDULINGS:
        raise _Invalid("scheduling", f"unknown scheduling {scheduling!r}, expected one of {', '.join(SCHEDULINGS)}")
    if scheduling != "SpecificTime":
        return EmailSpec(email_id=email_id, scheduling=scheduling)
    return EmailSpec(
        email_id=email_id,
        scheduling=scheduling,
        hour=_clock_field(json, "hour", 23, default=DEFAULT_SPECIFIC_HOUR),
        minute=_clock_field(json, "minute", 59, default=DEFAULT_SPECIFIC_MINUTE),
    )


def _parse_filter(json: dict) -> FilterSpec:
    audience_id = _uuid(json, "audienceId")
    rules = json.get("audienceRules")
    if rules is not None and rules not in AUDIENCE_RULES:
        raise _Invalid("audienceRules", f"unknown value {rules!r}, expected one of {', '.join(AUDIENCE_RULES)}")
    wait_days = _non_negative(json, "waitValue")
    if wait_days > MAX_WAIT.days:
        raise _Invalid("waitValue", f"{_short(json['waitValue'])} days is longer than the limit of {MAX_WAIT.days} days")
    return FilterSpec(audience_id=audience_id, wait_days=wait_days)


def _uuid(json: dict, field: str) -> uuid.UUID:
    value = json.get(field)
    if value is None or value == "":
        raise _Invalid(field, "missing")
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise _Invalid(field, f"{_short(value)} is not a UUID") from None


def _number(json: dict, field: str) -> float | None:
    """Return the field as a finite float; JSON numbers and numeric strings are accepted."""
    value = json.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Invalid(field, f"{_short(value)} is not a number")
    try:
        number = float(value)
    except ValueError:
        raise _Invalid(field, f"{_short(value)} is not a number") from None
    except OverflowError:  # an integer beyond a double, which jsonb stores for 1e400
        raise _Invalid(field, f"{_short(value)} is not a finite number") from None
    if not math.isfinite(number):
        raise _Invalid(field, f"{_short(value)} is not a finite number")
    return number


def _non_negative(json: dict, field: str) -> float:
    number = _number(json, field)
    if number is None:
        return 0.0
    if number < 0:
        raise _Invalid(field, f"{_short(json[field])} is negative")
    return number


def _clock_field(json: dict, field: str, maximum: int, default: int | None = None) -> int:
    number = _number(json, field)
    if number is None:
        if default is None:
            raise _Invalid(field, "missing")
        return default
    if number != int(number) or not 0 <= number <= maximum:
        raise _Invalid(field, f"{_short(json[field])} is not a whole number from 0 to {maximum}")
    return int(number)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
