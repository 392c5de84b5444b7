"""Tests of sequence_cron.engine.timing with fixed clocks.

Each expected instant is written in UTC and was worked out by hand from the zone's offsets:
EST -5, EDT -4, CET +1, CEST +2, IST +5:30, NZST +12, NZDT +13, Pacific/Kiritimati +14,
Pacific/Pago_Pago -11. In 2026, 2026-06-15 is a Monday. The daylight saving nights used are:

- America/New_York 2026-03-08: 02:00 EST jumps to 03:00 EDT at 07:00 UTC.
- America/New_York 2026-11-01: 02:00 EDT falls back to 01:00 EST at 06:00 UTC.
- Europe/Berlin 2026-03-29: 02:00 CET jumps to 03:00 CEST at 01:00 UTC.
- Europe/Berlin 2026-10-25: 03:00 CEST falls back to 02:00 CET at 01:00 UTC.
- Pacific/Auckland 2026-04-05: 03:00 NZDT falls back to 02:00 NZST at 14:00 UTC the day before.
- Pacific/Auckland 2026-09-27: 02:00 NZST jumps to 03:00 NZDT at 14:00 UTC the day before.
"""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from sequence_cron.engine.timing import (
    add_elapsed,
    business_hours_start,
    load_zone,
    next_local_time,
    resolve_zone,
)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, microsecond: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=timezone.utc)


def zone(name: str) -> ZoneInfo:
    loaded = load_zone(name)
    assert loaded is not None, f"tzdata has no zone {name!r}"
    return loaded


# --- load_zone ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "America/Argentina/Buenos_Aires",
        "Pacific/Kiritimati",
        "Etc/GMT+5",
        "US/Eastern",
    ],
    ids=["utc", "berlin", "new-york", "three-level-name", "kiritimati", "etc-gmt-offset", "backward-link"],
)
def test_load_zone_valid_name(name):
    loaded = load_zone(name)

    assert loaded is not None
    assert loaded.key == name


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Olympus_Mons",
        "",
        "   ",
        " Europe/Berlin",
        "europe/berlin",
        "America",
        "../../etc/passwd",
        "/usr/share/zoneinfo/Europe/Berlin",
        "Europe/../Europe/Berlin",
        "localtime",
        "Europe/Berlin\x00",
        "x" * 10_000,
        None,
        42,
        3.5,
        True,
        ["Europe/Berlin"],
        {"name": "Europe/Berlin"},
    ],
    ids=[
        "unknown-name",
        "empty-string",
        "blank-string",
        "leading-space",
        "wrong-case",
        "directory",
        "relative-path",
        "absolute-path",
        "dot-dot-inside",
        "system-only-localtime",
        "nul-byte",
        "very-long",
        "none",
        "int",
        "float",
        "bool",
        "list",
        "dict",
    ],
)
def test_load_zone_invalid_name(name):
    assert load_zone(name) is None


def test_load_zone_cached():
    assert load_zone("Europe/Berlin") is load_zone("Europe/Berlin")


# --- resolve_zone ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("traits", "context", "default_name", "expected_name", "expected_invalid"),
    [
        ({"timezone": "Europe/Berlin"}, {"timezone": "America/New_York"}, "UTC", "Europe/Berlin", None),
        ({"timezone": "Europe/Berlin"}, None, "UTC", "Europe/Berlin", None),
        (None, {"timezone": "America/New_York"}, "UTC", "America/New_York", None),
        ({}, {"timezone": "America/New_York"}, "UTC", "America/New_York", None),
        ({"plan": "pro"}, {"timezone": "America/New_York"}, "UTC", "America/New_York", None),
        ({"timezone": None}, {"timezone": "America/New_York"}, "UTC", "America/New_York", None),
        (["Europe/Berlin"], {"timezone": "America/New_York"}, "UTC", "America/New_York", None),
        ("Europe/Berlin", None, "UTC", "UTC", None),
        (None, None, "UTC", "UTC", None),
        ({}, {}, "Asia/Kolkata", "Asia/Kolkata", None),
        ({"timezone": "Mars/Olympus_Mons"}, {"timezone": "America/New_York"}, "UTC", "UTC", "'Mars/Olympus_Mons'"),
        ({"timezone": ""}, None, "UTC", "UTC", "''"),
        ({"timezone": "../../etc/passwd"}, None, "UTC", "UTC", "'../../etc/passwd'"),
        ({"timezone": 42}, None, "Europe/Berlin", "Europe/Berlin", "42"),
        ({"timezone": False}, None, "UTC", "UTC", "False"),
        ({"timezone": {"iana": "Europe/Berlin"}}, None, "UTC", "UTC", "{'iana': 'Europe/Berlin'}"),
        (None, {"timezone": "Nowhere/Special"}, "UTC", "UTC", "'Nowhere/Special'"),
        (None, {"timezone": "line\nbreak"}, "UTC", "UTC", "'line\\nbreak'"),
    ],
    ids=[
        "traits-before-context",
        "traits-only",
        "context-when-traits-none",
        "context-when-traits-empty",
        "context-when-traits-lack-key",
        "context-when-traits-null",
        "traits-not-a-dict",
        "traits-a-bare-string",
        "default-when-both-none",
        "configured-default",
        "invalid-traits-skip-context",
        "empty-string",
        "path-like",
        "int",
        "bool",
        "object",
        "invalid-context",
        "control-character-escaped",
    ],
)
def test_resolve_zone(traits, context, default_name, expected_name, expected_invalid):
    resolved, invalid_name = resolve_zone(traits, context, zone(default_name))

    assert resolved.key == expected_name
    assert invalid_name == expected_invalid


def test_resolve_zone_long_invalid_name_cut():
    _, invalid_name = resolve_zone({"timezone": "x" * 10_000}, None, zone("UTC"))

    assert invalid_name is not None
    assert len(invalid_name) == 100
    assert invalid_name.startswith("'xxx")
    assert invalid_name.endswith("...")


# --- add_elapsed -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "delta", "expected"),
    [
        (utc(2026, 6, 15, 12), timedelta(days=3), utc(2026, 6, 18, 12)),
        (utc(2026, 6, 15, 12), timedelta(days=0.5), utc(2026, 6, 16, 0)),
        (utc(2026, 6, 15, 12), timedelta(days=1.25), utc(2026, 6, 16, 18)),
        (utc(2026, 6, 15, 12), timedelta(days=1 / 3), utc(2026, 6, 15, 20)),
        (utc(2026, 6, 15, 12), timedelta(days=1, hours=2, minutes=30), utc(2026, 6, 16, 14, 30)),
        (utc(2026, 6, 15, 12), timedelta(hours=36), utc(2026, 6, 17, 0)),
        (utc(2026, 6, 15, 12), timedelta(minutes=0.5), utc(2026, 6, 15, 12, 0, 30)),
        (utc(2026, 6, 15, 12), timedelta(0), utc(2026, 6, 15, 12)),
        (utc(2026, 12, 31, 23, 30), timedelta(hours=1), utc(2027, 1, 1, 0, 30)),
        (datetime(2026, 3, 7, 12, 0, tzinfo=zone("America/New_York")), timedelta(days=1), utc(2026, 3, 8, 17)),
        (datetime(2026, 10, 24, 12, 0, tzinfo=zone("Europe/Berlin")), timedelta(days=1), utc(2026, 10, 25, 10)),
        (datetime(2026, 6, 15, 9, 0, tzinfo=zone("Pacific/Kiritimati")), timedelta(hours=1), utc(2026, 6, 14, 20)),
    ],
    ids=[
        "whole-days",
        "half-day",
        "fractional-days",
        "third-of-day",
        "days-hours-minutes",
        "hours-past-midnight",
        "fractional-minutes",
        "zero",
        "year-boundary",
        "24h-across-new-york-spring-forward",
        "24h-across-berlin-fall-back",
        "local-input-returned-in-utc",
    ],
)
def test_add_elapsed(now, delta, expected):
    result = add_elapsed(now, delta)

    assert result == expected
    assert result.tzinfo is timezone.utc


def test_add_elapsed_negative_rejected():
    with pytest.raises(ValueError, match="negative"):
        add_elapsed(utc(2026, 6, 15, 12), timedelta(minutes=-1))


def test_add_elapsed_overflow_raises():
    with pytest.raises(OverflowError):
        add_elapsed(utc(9999, 12, 31, 12), timedelta(days=1))


# --- next_local_time ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone_name", "now", "hour", "minute", "expected"),
    [
        # Plain days, west and east of UTC.
        ("America/New_York", utc(2026, 6, 15, 14), 9, 30, utc(2026, 6, 16, 13, 30)),
        ("America/New_York", utc(2026, 6, 15, 14), 10, 0, utc(2026, 6, 15, 14)),
        ("America/New_York", utc(2026, 6, 15, 14, 0, 0, 1), 10, 0, utc(2026, 6, 16, 14)),
        ("America/New_York", utc(2026, 6, 15, 14, 0, 59), 10, 0, utc(2026, 6, 16, 14)),
        ("America/New_York", utc(2026, 6, 15, 14), 10, 1, utc(2026, 6, 15, 14, 1)),
        ("America/New_York", utc(2026, 6, 15, 14), 23, 59, utc(2026, 6, 16, 3, 59)),
        ("America/New_York", utc(2026, 6, 15, 14), 0, 0, utc(2026, 6, 16, 4)),
        ("Europe/Berlin", utc(2026, 6, 15, 6), 9, 0, utc(2026, 6, 15, 7)),
        ("Europe/Berlin", utc(2026, 6, 15, 22, 30), 0, 15, utc(2026, 6, 16, 22, 15)),
        ("Asia/Kolkata", utc(2026, 6, 15, 0), 5, 0, utc(2026, 6, 15, 23, 30)),
        ("UTC", utc(2026, 6, 15, 12), 12, 0, utc(2026, 6, 15, 12)),
        ("UTC", utc(2026, 6, 15, 12), 11, 59, utc(2026, 6, 16, 11, 59)),
        # Across the date line.
        ("Pacific/Auckland", utc(2026, 6, 14, 10), 8, 0, utc(2026, 6, 14, 20)),
        ("Pacific/Auckland", utc(2026, 1, 11, 10), 8, 0, utc(2026, 1, 11, 19)),
        ("Pacific/Kiritimati", utc(2026, 6, 15, 12), 8, 0, utc(2026, 6, 15, 18)),
        ("Pacific/Kiritimati", utc(2026, 6, 15, 9, 59), 0, 0, utc(2026, 6, 15, 10)),
        ("Pacific/Pago_Pago", utc(2026, 6, 15, 10), 22, 0, utc(2026, 6, 16, 9)),
        ("Pacific/Pago_Pago", utc(2026, 6, 15, 10), 23, 30, utc(2026, 6, 15, 10, 30)),
        # America/New_York spring forward: 02:00 to 02:59 local do not exist on 2026-03-08.
        ("America/New_York", utc(2026, 3, 8, 6, 50), 2, 30, utc(2026, 3, 8, 7)),
        ("America/New_York", utc(2026, 3, 8, 5), 2, 0, utc(2026, 3, 8, 7)),
        ("America/New_York", utc(2026, 3, 8, 5), 2, 59, utc(2026, 3, 8, 7)),
        ("America/New_York", utc(2026, 3, 8, 5), 1, 59, utc(2026, 3, 8, 6, 59)),
        ("America/New_York", utc(2026, 3, 8, 5), 3, 0, utc(2026, 3, 8, 7)),
        ("America/New_York", utc(2026, 3, 8, 7), 2, 30, utc(2026, 3, 8, 7)),
        ("America/New_York", utc(2026, 3, 8, 7, 10), 2, 30, utc(2026, 3, 9, 6, 30)),
        ("America/New_York", utc(2026, 3, 7, 12), 2, 30, utc(2026, 3, 8, 7)),
        # America/New_York fall back: 01:00 to 01:59 local occur twice on 2026-11-01.
        ("America/New_York", utc(2026, 11, 1, 4), 1, 30, utc(2026, 11, 1, 5, 30)),
        ("America/New_York", utc(2026, 11, 1, 5, 45), 1, 30, utc(2026, 11, 2, 6, 30)),
        ("America/New_York", utc(2026, 11, 1, 6, 15), 1, 30, utc(2026, 11, 2, 6, 30)),
        ("America/New_York", utc(2026, 11, 1, 4), 2, 30, utc(2026, 11, 1, 7, 30)),
        ("America/New_York", utc(2026, 10, 31, 12), 1, 0, utc(2026, 11, 1, 5)),
        # Europe/Berlin spring forward: 02:00 to 02:59 local do not exist on 2026-03-29.
        ("Europe/Berlin", utc(2026, 3, 29, 0), 2, 30, utc(2026, 3, 29, 1)),
        ("Europe/Berlin", utc(2026, 3, 29, 1), 2, 0, utc(2026, 3, 29, 1)),
        ("Europe/Berlin", utc(2026, 3, 29, 0), 3, 30, utc(2026, 3, 29, 1, 30)),
        ("Europe/Berlin", utc(2026, 3, 29, 1, 1), 2, 30, utc(2026, 3, 30, 0, 30)),
        # Europe/Berlin fall back: 02:00 to 02:59 local occur twice on 2026-10-25.
        ("Europe/Berlin", utc(2026, 10, 24, 22), 2, 30, utc(2026, 10, 25, 0, 30)),
        ("Europe/Berlin", utc(2026, 10, 25, 0, 45), 2, 30, utc(2026, 10, 26, 1, 30)),
        ("Europe/Berlin", utc(2026, 10, 25, 1, 15), 2, 30, utc(2026, 10, 26, 1, 30)),
        # Pacific/Auckland, where the southern summer ends in April.
        ("Pacific/Auckland", utc(2026, 4, 4, 11), 2, 30, utc(2026, 4, 4, 13, 30)),
        ("Pacific/Auckland", utc(2026, 9, 26, 12), 2, 30, utc(2026, 9, 26, 14)),
    ],
    ids=[
        "new-york-past-moves-to-tomorrow",
        "new-york-equal-to-now-returned",
        "new-york-one-microsecond-past",
        "new-york-seconds-past",
        "new-york-one-minute-ahead",
        "new-york-2359-is-next-utc-day",
        "new-york-midnight",
        "berlin-later-today",
        "berlin-after-local-midnight",
        "kolkata-half-hour-offset",
        "utc-equal-to-now",
        "utc-one-minute-past",
        "auckland-next-local-morning",
        "auckland-summer-offset",
        "kiritimati-local-day-ahead-of-utc",
        "kiritimati-local-midnight",
        "pago-pago-local-day-behind-utc",
        "pago-pago-later-same-local-day",
        "new-york-gap-0230-to-0300",
        "new-york-gap-start-0200",
        "new-york-gap-last-minute-0259",
        "new-york-before-gap-0159",
        "new-york-gap-end-0300",
        "new-york-gap-end-equal-to-now",
        "new-york-gap-passed-next-day",
        "new-york-gap-from-day-before",
        "new-york-overlap-first-occurrence",
        "new-york-overlap-first-passed",
        "new-york-overlap-second-skipped",
        "new-york-after-overlap",
        "new-york-overlap-start-from-day-before",
        "berlin-gap-0230-to-0300",
        "berlin-gap-start-equal-to-now",
        "berlin-after-gap",
        "berlin-gap-passed-next-day",
        "berlin-overlap-first-occurrence",
        "berlin-overlap-first-passed",
        "berlin-overlap-second-skipped",
        "auckland-overlap-first-occurrence",
        "auckland-gap-0230-to-0300",
    ],
)
def test_next_local_time(zone_name, now, hour, minute, expected):
    result = next_local_time(now, zone(zone_name), hour, minute)

    assert result == expected
    assert result.tzinfo is timezone.utc


def test_next_local_time_local_input_returned_in_utc():
    new_york = zone("America/New_York")
    now = datetime(2026, 6, 15, 10, 0, tzinfo=new_york)

    result = next_local_time(now, new_york, 10, 0)

    assert result == utc(2026, 6, 15, 14)
    assert result.tzinfo is timezone.utc


@pytest.mark.parametrize(
    ("hour", "minute", "message"),
    [
        (24, 0, "hour must be an integer from 0 to 23, got 24"),
        (-1, 0, "hour must be an integer from 0 to 23, got -1"),
        (9.5, 0, "hour must be an integer from 0 to 23, got 9.5"),
        (True, 0, "hour must be an integer from 0 to 23, got True"),
        ("9", 0, "hour must be an integer from 0 to 23, got '9'"),
        (9, 60, "minute must be an integer from 0 to 59, got 60"),
        (9, -1, "minute must be an integer from 0 to 59, got -1"),
    ],
    ids=["hour-24", "hour-negative", "hour-float", "hour-bool", "hour-string", "minute-60", "minute-negative"],
)
def test_next_local_time_out_of_range(hour, minute, message):
    with pytest.raises(ValueError) as raised:
        next_local_time(utc(2026, 6, 15, 12), zone("UTC"), hour, minute)

    assert str(raised.value) == message


# --- business_hours_start ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone_name", "now", "expected"),
    [
        # America/New_York in June (EDT, -4). 2026-06-12 is a Friday.
        ("America/New_York", utc(2026, 6, 15, 12, 59), utc(2026, 6, 15, 13)),
        ("America/New_York", utc(2026, 6, 15, 13), utc(2026, 6, 15, 13)),
        ("America/New_York", utc(2026, 6, 15, 16, 0, 0, 500_000), utc(2026, 6, 15, 16, 0, 0, 500_000)),
        ("America/New_York", utc(2026, 6, 15, 20, 59), utc(2026, 6, 15, 20, 59)),
        ("America/New_York", utc(2026, 6, 15, 20, 59, 59, 999_999), utc(2026, 6, 15, 20, 59, 59, 999_999)),
        ("America/New_York", utc(2026, 6, 15, 21), utc(2026, 6, 16, 13)),
        ("America/New_York", utc(2026, 6, 12, 20, 59), utc(2026, 6, 12, 20, 59)),
        ("America/New_York", utc(2026, 6, 12, 21), utc(2026, 6, 15, 13)),
        ("America/New_York", utc(2026, 6, 12, 21, 30), utc(2026, 6, 15, 13)),
        ("America/New_York", utc(2026, 6, 13, 16), utc(2026, 6, 15, 13)),
        ("America/New_York", utc(2026, 6, 14, 16), utc(2026, 6, 15, 13)),
        ("America/New_York", utc(2026, 6, 15, 3, 59), utc(2026, 6, 15, 13)),
        # Europe/Berlin in June (CEST, +2).
        ("Europe/Berlin", utc(2026, 6, 15, 6, 59), utc(2026, 6, 15, 7)),
        ("Europe/Berlin", utc(2026, 6, 15, 14, 59), utc(2026, 6, 15, 14, 59)),
        ("Europe/Berlin", utc(2026, 6, 12, 15), utc(2026, 6, 15, 7)),
        ("Europe/Berlin", utc(2026, 6, 13, 9), utc(2026, 6, 15, 7)),
        ("Europe/Berlin", utc(2026, 6, 14, 7), utc(2026, 6, 15, 7)),
        ("Europe/Berlin", utc(2026, 6, 14, 22), utc(2026, 6, 15, 7)),
        # Asia/Kolkata (+5:30).
        ("Asia/Kolkata", utc(2026, 6, 15, 3, 29), utc(2026, 6, 15, 3, 30)),
        ("Asia/Kolkata", utc(2026, 6, 15, 11, 29), utc(2026, 6, 15, 11, 29)),
        ("Asia/Kolkata", utc(2026, 6, 15, 11, 30), utc(2026, 6, 16, 3, 30)),
        # Pacific/Auckland (NZST, +12 in June, NZDT, +13 in January). 2026-01-12 is a Monday.
        ("Pacific/Auckland", utc(2026, 6, 14, 20, 59), utc(2026, 6, 14, 21)),
        ("Pacific/Auckland", utc(2026, 6, 14, 21), utc(2026, 6, 14, 21)),
        ("Pacific/Auckland", utc(2026, 6, 12, 5), utc(2026, 6, 14, 21)),
        ("Pacific/Auckland", utc(2026, 6, 12, 22), utc(2026, 6, 14, 21)),
        ("Pacific/Auckland", utc(2026, 1, 11, 19, 59), utc(2026, 1, 11, 20)),
        # Pacific/Kiritimati (+14).
        ("Pacific/Kiritimati", utc(2026, 6, 12, 3), utc(2026, 6, 14, 19)),
        ("Pacific/Kiritimati", utc(2026, 6, 15, 2, 59), utc(2026, 6, 15, 2, 59)),
        ("Pacific/Kiritimati", utc(2026, 6, 14, 23), utc(2026, 6, 14, 23)),
        ("Pacific/Kiritimati", utc(2026, 6, 13, 23), utc(2026, 6, 14, 19)),
        # Pacific/Pago_Pago (-11).
        ("Pacific/Pago_Pago", utc(2026, 6, 13, 4, 30), utc(2026, 6, 15, 20)),
        ("Pacific/Pago_Pago", utc(2026, 6, 15, 19, 59), utc(2026, 6, 15, 20)),
        ("Pacific/Pago_Pago", utc(2026, 6, 16, 3, 59), utc(2026, 6, 16, 3, 59)),
        ("Pacific/Pago_Pago", utc(2026, 6, 13, 3, 59), utc(2026, 6, 13, 3, 59)),
        # America/New_York around 2026-03-08 (spring forward) and 2026-11-01 (fall back).
        ("America/New_York", utc(2026, 3, 6, 22, 30), utc(2026, 3, 9, 13)),
        ("America/New_York", utc(2026, 3, 8, 6, 59), utc(2026, 3, 9, 13)),
        ("America/New_York", utc(2026, 3, 8, 7), utc(2026, 3, 9, 13)),
        ("America/New_York", utc(2026, 3, 9, 12, 59), utc(2026, 3, 9, 13)),
        ("America/New_York", utc(2026, 10, 30, 21), utc(2026, 11, 2, 14)),
        ("America/New_York", utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 14)),
        ("America/New_York", utc(2026, 11, 1, 6, 30), utc(2026, 11, 2, 14)),
        ("America/New_York", utc(2026, 11, 2, 13, 59), utc(2026, 11, 2, 14)),
        # Europe/Berlin around 2026-03-29 (spring forward) and 2026-10-25 (fall back).
        ("Europe/Berlin", utc(2026, 3, 27, 16), utc(2026, 3, 30, 7)),
        ("Europe/Berlin", utc(2026, 3, 29, 1), utc(2026, 3, 30, 7)),
        ("Europe/Berlin", utc(2026, 3, 30, 6, 59), utc(2026, 3, 30, 7)),
        ("Europe/Berlin", utc(2026, 10, 23, 15), utc(2026, 10, 26, 8)),
        ("Europe/Berlin", utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 8)),
        ("Europe/Berlin", utc(2026, 10, 25, 1, 30), utc(2026, 10, 26, 8)),
        ("Europe/Berlin", utc(2026, 10, 26, 7, 59), utc(2026, 10, 26, 8)),
        # Pacific/Apia skipped Friday 2011-12-30 when it moved across the date line from -10
        # to +14, so Thursday 17:00 moves to Monday 2012-01-02 09:00.
        ("Pacific/Apia", utc(2011, 12, 30, 3), utc(2012, 1, 1, 19)),
    ],
    ids=[
        "new-york-monday-0859",
        "new-york-monday-0900",
        "new-york-monday-midday",
        "new-york-monday-1659",
        "new-york-last-microsecond",
        "new-york-monday-1700",
        "new-york-friday-1659",
        "new-york-friday-1700",
        "new-york-friday-1730",
        "new-york-saturday",
        "new-york-sunday",
        "new-york-sunday-night-utc-monday",
        "berlin-monday-0859",
        "berlin-monday-1659",
        "berlin-friday-1700",
        "berlin-saturday",
        "berlin-sunday",
        "berlin-monday-0000",
        "kolkata-0859",
        "kolkata-1659",
        "kolkata-1700",
        "auckland-monday-0859-utc-sunday",
        "auckland-monday-0900-utc-sunday",
        "auckland-friday-1700",
        "auckland-saturday-utc-friday",
        "auckland-summer-monday-0859",
        "kiritimati-friday-1700",
        "kiritimati-monday-1659",
        "kiritimati-monday-utc-sunday",
        "kiritimati-sunday-utc-saturday",
        "pago-pago-friday-1730-utc-saturday",
        "pago-pago-monday-0859",
        "pago-pago-monday-1659-utc-tuesday",
        "pago-pago-friday-1659-utc-saturday",
        "new-york-friday-evening-before-gap",
        "new-york-sunday-before-gap",
        "new-york-sunday-gap-end",
        "new-york-monday-after-gap-0859",
        "new-york-friday-1700-before-overlap",
        "new-york-overlap-first-pass",
        "new-york-overlap-second-pass",
        "new-york-monday-after-overlap-0859",
        "berlin-friday-1700-before-gap",
        "berlin-sunday-gap-end",
        "berlin-monday-after-gap-0859",
        "berlin-friday-1700-before-overlap",
        "berlin-overlap-first-pass",
        "berlin-overlap-second-pass",
        "berlin-monday-after-overlap-0859",
        "apia-skipped-friday",
    ],
)
def test_business_hours_start(zone_name, now, expected):
    result = business_hours_start(now, zone(zone_name))

    assert result == expected
    assert result.tzinfo is timezone.utc


def test_business_hours_start_local_input_returned_in_utc():
    berlin = zone("Europe/Berlin")
    now = datetime(2026, 6, 15, 10, 0, tzinfo=berlin)

    result = business_hours_start(now, berlin)

    assert result == utc(2026, 6, 15, 8)
    assert result.tzinfo is timezone.utc


# --- naive input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda now: add_elapsed(now, timedelta(days=1)),
        lambda now: next_local_time(now, zone("UTC"), 9, 0),
        lambda now: business_hours_start(now, zone("UTC")),
    ],
    ids=["add-elapsed", "next-local-time", "business-hours-start"],
)
def test_naive_now_rejected(call):
    with pytest.raises(ValueError, match="timezone-aware"):
        call(datetime(2026, 6, 15, 12, 0))
