"""Odd values that tenants store in traits and event properties, by label, shared by several tests."""

from __future__ import annotations

ODD_VALUES: dict[str, object] = {
    "no_key": {"other": 1},
    "null": {"v": None},
    "no_document": None,
    "document_list": [1, 2],
    "document_string": "v",
    "empty": {"v": ""},
    "int_42": {"v": 42},
    "text_42": {"v": "42"},
    "float_7_5": {"v": 7.5},
    "spaced_10": {"v": " 10 "},
    "exponent": {"v": "-3e2"},
    "huge_number": {"v": 1e300},
    "word": {"v": "abc"},
    "mixed_case": {"v": "Gmail.COM"},
    "lower_case": {"v": "gmail.com"},
    "unicode": {"v": "Zoë 東京 🎉"},
    "percent": {"v": "100%"},
    "underscore": {"v": "a_b"},
    "quote": {"v": "O'Brien \"x\""},
    "boolean": {"v": True},
    "object": {"v": {"a": 1}},
    "list": {"v": [1, 2]},
    "date": {"v": "2021-06-01"},
    "date_time_utc": {"v": "2021-06-15T12:00:00Z"},
    "date_time_offset": {"v": "2021-05-31T23:00:00-02:00"},
    # In UTC this is in the year 10000, past Python's datetime but inside PostgreSQL's timestamptz.
    "year_10000": {"v": "9999-12-31T23:59:59-14:00"},
    "impossible_date": {"v": "2021-02-30"},
    "garbage_date": {"v": "2021-13-45T99:99"},
    "date_word": {"v": "yesterday"},
    "long_digits": {"v": "1" * 500},
    "huge_exponent": {"v": "1e99999"},
    "not_a_number": {"v": "NaN"},
}
ALL = frozenset(ODD_VALUES)
MISSING = frozenset({"no_key", "null", "no_document", "document_list", "document_string", "empty"})
PRESENT = ALL - MISSING
TIMESTAMPS = frozenset({"date", "date_time_utc", "date_time_offset", "year_10000"})
