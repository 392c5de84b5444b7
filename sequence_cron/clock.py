"""The one source of "now" for every time decision of the jobs."""

from datetime import datetime, timezone


class Clock:
    """The system clock in UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock(Clock):
    """A clock stopped at one instant, for replaying a tick (`run --now`) and for tests."""

    def __init__(self, instant: datetime):
        if instant.tzinfo is None:
            raise ValueError(f"FixedClock needs an aware datetime, got {instant!r}")
        self.instant = instant.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self.instant


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant such as 2026-03-08T06:59:00Z; a value without an offset is UTC."""
    instant = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=timezone.utc)
    return instant.astimezone(timezone.utc)
