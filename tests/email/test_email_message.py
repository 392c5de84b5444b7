import email
import email.policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sequence_cron.email.addresses import check_address
from sequence_cron.email.errors import InvalidEmailError
from sequence_cron.email.message import OutgoingEmail, build_email
from sequence_cron.email.mime import build_mime_message

VALID = {
    "to": "ann@example.com",
    "from_address": "news@shop.example",
    "from_name": "Shop",
    "subject": "Hello",
    "html": "<p>Hi</p>",
}


def build_error(**changes) -> str:
    with pytest.raises(InvalidEmailError) as caught:
        build_email(**{**VALID, **changes})
    reason = caught.value.reason
    assert "\n" not in reason
    return reason


def test_build_valid_email():
    assert build_email(**VALID) == OutgoingEmail(
        to="ann@example.com",
        from_address="news@shop.example",
        from_name="Shop",
        subject="Hello",
        html="<p>Hi</p>",
    )


def test_build_strips_addresses_and_blank_name():
    built = build_email(**{**VALID, "to": "  ann@example.com\n", "from_name": "   "})

    assert built.to == "ann@example.com"
    assert built.from_name is None


@pytest.mark.parametrize("to", [None, "", "   "])
def test_missing_customer_address(to):
    assert build_error(to=to) == "customer has no email address"


@pytest.mark.parametrize(
    "subject",
    [
        "Hello\r\nBcc: victim@example.com",
        "Hello\nBcc: victim@example.com",
        "Hello\rBcc: victim@example.com",
        "Hello\x00",
        "Tab\there",
        "Next\x85line",
        "Line\u2028separator",
    ],
)
def test_subject_control_characters_rejected(subject):
    reason = build_error(subject=subject)

    assert reason.startswith("subject: contains a line break or control character at position ")


def test_subject_too_long():
    assert build_error(subject="x" * 999) == "subject: 999 characters, longer than the limit of 998"


def test_subject_at_limit_accepted():
    assert len(build_email(**{**VALID, "subject": "x" * 998}).subject) == 998


def test_subject_unicode_accepted():
    assert build_email(**{**VALID, "subject": "Grüße 👋 — 日本"}).subject == "Grüße 👋 — 日本"


@pytest.mark.parametrize("from_name", ["Shop\r\nBcc: victim@example.com", "Sh\nop", "Shop\x1b[31m"])
def test_from_name_control_characters_rejected(from_name):
    reason = build_error(from_name=from_name)

    assert reason.startswith("from name: contains a line break or control character at position ")


@pytest.mark.parametrize(
    ("to", "problem"),
    [
        ("ann@example.com\r\nBcc: victim@example.com", "contains a line break or control character at position 15"),
        ("ann@example.com\nbob@example.com", "contains a line break or control character at position 15"),
        ("Ann <ann@example.com>", "not a single plain address"),
        ("<ann@example.com>", "not a single plain address"),
        ("ann@example.com, bob@example.com", "not a single plain address"),
        ("ann@example.com;bob@example.com", "not a single plain address"),
        ("ann@example.com (Ann)", "not a single plain address"),
        ("ann", "not a single plain address"),
        ("ann@", "not a single plain address"),
        ("@example.com", "not a single plain address"),
        ("ann@@example.com", "not a single plain address"),
        ("0@[", "not a single plain address"),
        ("a..b@example.com", "not a single plain address"),
        ("ann@exa mple.com", "not a single plain address"),
        ("x" * 65 + "@example.com", "local part longer than 64 characters"),
        ("ann@" + "d" * 251 + ".com", "longer than 254 characters"),
    ],
)
def test_invalid_recipient(to, problem):
    reason = build_error(to=to)

    excerpt = to.strip() if len(to.strip()) <= 80 else to.strip()[:77] + "..."
    assert reason == f"to: invalid address {excerpt!r}, {problem}"


@pytest.mark.parametrize("from_address", ["Shop <news@shop.example>", "news@shop.example\r\nX: y", "news"])
def test_invalid_from_address(from_address):
    assert build_error(from_address=from_address).startswith("from address: invalid address ")


@pytest.mark.parametrize(
    "address",
    ["ann@example.com", "ann.lee+tag@mail.example.co.uk", "sequence@localhost", "ann@[127.0.0.1]", '"ann lee"@example.com'],
)
def test_valid_addresses(address):
    assert check_address(address) is None


@given(st.text(max_size=40))
def test_fuzz_address_check_never_raises(text):
    problem = check_address(text)

    if problem is None:
        assert "\n" not in text
        assert "\r" not in text


def test_mime_message_headers(outgoing):
    message = build_mime_message(outgoing)
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)

    assert parsed["To"] == "ann@example.com"
    assert parsed["From"].addresses[0].display_name == "Shop Café"
    assert parsed["From"].addresses[0].addr_spec == "news@shop.example"
    assert parsed["Subject"] == "Hello Ann ✓"
    assert parsed["Message-ID"].endswith("@shop.example>")
    assert parsed["Date"] is not None
    assert parsed.get_content_type() == "text/html"
    assert parsed.get_content().rstrip("\r\n") == "<p>Hi <b>Ann</b>, déjà vu</p>"


def test_mime_message_is_seven_bit(outgoing):
    data = build_mime_message(outgoing).as_bytes()

    assert max(data) < 128
