"""SQL expressions that read one attribute of a customer or an event as text, number or timestamp.

Customer data is whatever tenants sent, so no expression here may raise. Every cast of that
data sits in the THEN branch of a CASE whose condition proves that the cast succeeds.
PostgreSQL evaluates a THEN branch only when its condition is true, except that it may fold
constant subexpressions at plan time (PostgreSQL documentation, "Expression Evaluation
Rules"). These operands are column data, never constants.

Attribute names reach SQL only through CUSTOMER_COLUMNS, whose quoted names are written below,
or as bind parameters that the caller passes in.
"""

from __future__ import annotations

from dataclasses import dataclass

# product_users columns that a UserAttribute filter may name, with their SQL types. Any other
# name is a key of `traits`. The tenant ("userId"), the soft-delete marker, the internal id
# and the json columns are left out on purpose, so those names read traits keys.
CUSTOMER_COLUMNS: dict[str, str] = {
    "externalId": "varchar",
    "intercomId": "varchar",
    "email": "varchar",
    "firstName": "varchar",
    "lastName": "varchar",
    "photo": "varchar",
    "phone": "varchar",
    "signedUpAt": "timestamptz",
    "lastSeenAt": "timestamptz",
    "browser": "varchar",
    "browserVersion": "varchar",
    "browserLanguage": "varchar",
    "os": "varchar",
    "country": "varchar",
    "region": "varchar",
    "city": "varchar",
    "title": "varchar",
    "websiteUrl": "varchar",
    "companyName": "varchar",
    "industry": "varchar",
    "createdAt": "timestamptz",
    "updatedAt": "timestamptz",
}

# Text that `::numeric` always accepts: optional spaces and sign, digits with an optional
# point, and an exponent of at most three digits. The length limit keeps the digit count far
# below what numeric can hold. Character classes are used instead of backslash escapes so that
# the literals mean the same whatever standard_conforming_strings is set to.
NUMBER_PATTERN = "^ *[-+]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][-+]?[0-9]{1,3})? *$"
MAX_NUMBER_CHARS = 200

# ISO 8601 dates and date-times. The patterns fix the shape, and is_date(), the API's SQL
# function that returns whether `::date` succeeds (migration 0001 creates it where missing),
# rejects impossible values such as 2021-02-30 or an offset of +15:99. A value with an offset
# is read at that offset and one without at UTC, so the result never depends on the
# session's TimeZone or DateStyle.
_DATE = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TIME = "[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?"
LOCAL_TIMESTAMP_PATTERN = f"^{_DATE}([T ]{_TIME})?$"
ZONED_TIMESTAMP_PATTERN = f"^{_DATE}[T ]{_TIME}(Z|[+-][0-9]{{2}}(:?[0-9]{{2}})?)$"

# Timestamp columns compared as text read like 2021-06-01T10:00:00Z.
TIMESTAMP_TEXT_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS"Z"'


@dataclass(frozen=True)
class AttributeSql:
    """Four SQL expressions over one attribute.

    `text`, `number` and `timestamp` are NULL when the attribute is missing or not of that
    type. `missing` is a boolean that is never NULL: true when the attribute is absent, JSON
    null or the empty string.
    """

    text: str
    number: str
    timestamp: str
    missing: str


def column_attribute(name: str, alias: str = "p") -> AttributeSql:
    """Return the expressions for column `name` of CUSTOMER_COLUMNS on the table aliased `alias`."""
    column = f'{alias}."{name}"'
    if CUSTOMER_COLUMNS[name] == "timestamptz":
        return AttributeSql(
            text=f"to_char({column} AT TIME ZONE 'UTC', '{TIMESTAMP_TEXT_FORMAT}')",
            number="NULL::numeric",
            timestamp=column,
            missing=f"({column} IS NULL)",
        )
    return AttributeSql(
        text=f"NULLIF({column}, '')",
        number=number_from_text(column),
        timestamp=timestamp_from_text(column),
        missing=f"(coalesce({column}, '') = '')",
    )


def json_attribute(document: str, key_parameter: str) -> AttributeSql:
    """Return the expressions for the key bound to `key_parameter` in the jsonb expression `document`.

    As text, a JSON string reads as its value and any other JSON value as its JSON text, so 42
    reads "42" and true reads "true". As a number, both JSON numbers and numeric strings count.
    """
    value = f"({document} -> {key_parameter})"
    text = f"({document} ->> {key_parameter})"
    number = (
        f"(CASE jsonb_typeof({value}) "
        f"WHEN 'number' THEN {value}::numeric "
        f"WHEN 'string' THEN {number_from_text(text)} END)"
    )
    return AttributeSql(
        text=f"NULLIF({text}, '')",
        number=number,
        timestamp=timestamp_from_text(text),
        missing=f"(coalesce({text}, '') = '')",
    )


def number_from_text(text: str) -> str:
    return f"(CASE WHEN length({text}) <= {MAX_NUMBER_CHARS} AND {text} ~ '{NUMBER_PATTERN}' THEN {text}::numeric END)"


def timestamp_from_text(text: str) -> str:
    return (
        f"(CASE WHEN {text} ~ '{ZONED_TIMESTAMP_PATTERN}' AND is_date({text}::varchar) THEN {text}::timestamptz "
        f"WHEN {text} ~ '{LOCAL_TIMESTAMP_PATTERN}' AND is_date({text}::varchar) "
        f"THEN {text}::timestamp AT TIME ZONE 'UTC' END)"
    )
