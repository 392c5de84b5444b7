"""When a campaign step runs: customer time zones, waits, local times and business hours.

Every function takes and returns timezone-aware datetimes, and every returned instant is in
UTC. Local wall times are turned into instants with two rules. A time that does not exist
because clocks spring forward moves to the end of the gap, so 02:30 on the spring-forward
night in America/New_York becomes 03:00 local. A time that occurs twice because clocks fall
back takes its first occurrence (fold=0).

Zones are read from the tzdata package, never from the system's zone files, so every host
computes the same instants from the same tzdata version.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta, timezone
from importlib import resources
from zoneinfo import ZoneInfo

BUSINESS_DAYS = frozenset(range(5))  # Monday to Friday, as numbered by date.weekday()
BUSINESS_START = time(9, 0)
BUSINESS_END = time(17, 0)

# Number of local dates the searches below try. Business hours need at most 4 (Friday to
# Monday), and the rest cover a local date that a zone skipped entirely, as Pacific/Apia
# skipped 2011-12-30.
_SEARCH_DAYS = 8

_INVALID_NAME_MAX_CHARS = 100


def load_zone(name: object) -> ZoneInfo | None:
    """Load the IANA zone called `name` from the tzdata package.

    Returns None unless `name` is a string listed in tzdata, spelled exactly, so non-strings,
    empty strings, directory names such as "America", path-like values such as
    "../../etc/passwd" and names with surrounding spaces all return None. Each name is loaded
    once, so repeated calls return the same object.
    """
    if not isinstance(name, str) or name not in _tzdata_zone_names():
        return None

    return _load_tzdata_zone(name)


@functools.cache
def _tzdata_zone_names() -> frozenset[str]:
    listing = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in listing.splitlines() if line.strip())


# The cache is bounded by the tzdata listing, because load_zone passes only listed names.
@functools.cache
def _load_tzdata_zone(name: str) -> ZoneInfo:
    zone_file = resources.files("tzdata.zoneinfo")
    for part in name.split("/"):
        zone_file = zone_file.joinpath(part)

    # NOTE: zones made by ZoneInfo.from_file raise PicklingError when pickled, unlike ZoneInfo(name).
    with zone_file.open("rb") as stream:
        return ZoneInfo.from_file(stream, key=name)


def resolve_zone(traits: object, context: object, default: ZoneInfo) -> tuple[ZoneInfo, str | None]:
    """Return the zone to use and, when a name was present but invalid, that name (for the warning).

    The name comes from traits["timezone"], else context["timezone"], else none is present.
    A dict without the key, a JSON null value and a `traits` or `context` that is not a dict
    all count as no name. Only the first present name is tried: when it is invalid, the
    result is `default`, even if the other dict contains a valid name.

    The returned invalid name is repr() of the value, cut to 100 characters, so it is never
    empty, shows non-strings as such and is safe to put in a log line.
    """
    name = _timezone_field(traits)
    if name is None:
        name = _timezone_field(context)
    if name is None:
        return default, None

    zone = load_zone(name)
    if zone is None:
        return default, _describe_invalid_name(name)

    return zone, None


def _timezone_field(document: object) -> object:
    if not isinstance(document, dict):
        return None

    return document.get("timezone")


def _describe_invalid_name(name: object) -> str:
    text = repr(name)
    if len(text) > _INVALID_NAME_MAX_CHARS:
        text = text[: _INVALID_NAME_MAX_CHARS - 3] + "..."

    return text


def add_elapsed(now: datetime, delta: timedelta) -> datetime:
    """Return the UTC instant `delta` of elapsed time after `now`.

    The sum is taken in UTC, so a wait of 1 day across a daylight saving change is 24 hours,
    not the same wall time on the next day. Raises ValueError when `now` is naive or `delta`
    is negative, and OverflowError when the result is after year 9999.
    """
    _require_aware(now)
    if delta < timedelta(0):
        raise ValueError(f"wait duration must not be negative, got {delta!r}")

    return now.astimezone(timezone.utc) + delta


def next_local_time(now: datetime, zone: ZoneInfo, hour: int, minute: int) -> datetime:
    """Return the first instant at or after `now` when the clock in `zone` reads hour:minute.

    A target equal to `now` is returned as is, and one earlier than `now` by even a
    microsecond moves to the next day. Each local date maps hour:minute to a single instant by
    the gap and fold rules of this module. So on a fall-back night, once the first 01:30 has
    passed, the repeated 01:30 an hour later is skipped and the next day's 01:30 is returned.
    Raises ValueError when `now` is naive or `hour` or `minute` is out of range.
    """
    _require_aware(now)
    _require_clock_field("hour", hour, 23)
    _require_clock_field("minute", minute, 59)

    now_utc = now.astimezone(timezone.utc)
    today = now_utc.astimezone(zone).date()
    wall_time = time(hour, minute)
    for offset in range(_SEARCH_DAYS):
        candidate = _localize(datetime.combine(today + timedelta(days=offset), wall_time), zone)
        if candidate >= now_utc:
            return candidate

    raise AssertionError(f"no {wall_time} in {zone.key} within {_SEARCH_DAYS} days of {now_utc}")


def business_hours_start(now: datetime, zone: ZoneInfo) -> datetime:
    """Return `now` in UTC when it is within business hours in `zone`, else the next window's start.

    Business hours are Monday to Friday from 09:00 inclusive to 17:00 exclusive, local time,
    and the weekday is that of the local date. So 17:00 on Friday and any time on the weekend
    move to 09:00 on Monday. Holidays are not considered. Raises ValueError when `now` is naive.
    """
    _require_aware(now)

    now_utc = now.astimezone(timezone.utc)
    today = now_utc.astimezone(zone).date()
    for offset in range(_SEARCH_DAYS):
        day = today + timedelta(days=offset)
        if day.weekday() not in BUSINESS_DAYS:
            continue

        window_start, window_end = _business_window(day, zone)
        if window_start >= window_end:
            continue  # the whole window fell in a gap, so this date had no business hours
        if now_utc < window_start:
            return window_start
        if now_utc < window_end:
            return now_utc

    raise AssertionError(f"no business hours in {zone.key} within {_SEARCH_DAYS} days of {now_utc}")


def _business_window(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = _localize(datetime.combine(day, BUSINESS_START), zone)
    end = _localize(datetime.combine(day, BUSINESS_END), zone)
    return start, end


def _localize(wall: datetime, zone: ZoneInfo) -> datetime:
    """Convert the naive local time `wall` in `zone` to a UTC instant.

    A time that occurs twice becomes its first occurrence, and a time inside a gap becomes
    the first instant after the gap.
    """
    # For a repeated wall time, fold=0 selects the first occurrence (PEP 495).
    first = wall.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first

    return _gap_end(wall, zone)


def _gap_end(wall: datetime, zone: ZoneInfo) -> datetime:
    """Return the UTC instant when clocks in `zone` jump over the nonexistent local time `wall`.

    zoneinfo exposes no transition times, so this binary-searches whole seconds, which is
    the resolution of the transitions in TZif files.
    """
    # Inside a gap, fold=0 applies the offset from before the jump and fold=1 the one after
    # (PEP 495). So the jump is after `wall` read with the later offset (low) and at or
    # before `wall` read with the earlier offset (high).
    after_offset = wall.replace(tzinfo=zone, fold=1).utcoffset()
    before_offset = wall.replace(tzinfo=zone, fold=0).utcoffset()
    low = int(wall.replace(tzinfo=timezone.utc).timestamp() - after_offset.total_seconds())
    high = int(wall.replace(tzinfo=timezone.utc).timestamp() - before_offset.total_seconds())

    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == before_offset:
            low = middle
        else:
            high = middle

    return datetime.fromtimestamp(high, timezone.utc)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be a timezone-aware datetime, got naive {now!r}")


def _require_clock_field(field: str, value: int, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ValueError(f"{field} must be an integer from 0 to {maximum}, got {value!r}")
