"""The message handed to a provider, and the header checks that run before any send."""

from dataclasses import dataclass

from sequence_cron.email.addresses import check_address, find_forbidden_character
from sequence_cron.email.errors import InvalidEmailError

# RFC 5322, section 2.1.1: a header line has at most 998 characters.
MAX_SUBJECT_LENGTH = 998
MAX_FROM_NAME_LENGTH = 998


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """One rendered email for one recipient, with headers already validated by build_email."""

    to: str
    from_address: str
    from_name: str | None
    subject: str
    html: str


def build_email(
    *,
    to: str | None,
    from_address: str,
    from_name: str | None,
    subject: str,
    html: str,
) -> OutgoingEmail:
    """Validate the header values and return the email.

    `to` and `from_address` must each be one plain address such as ann@example.com, with
    surrounding whitespace ignored. The subject and from name must not contain line
    breaks or other control characters, which could inject headers, and must fit in 998
    characters. The from name is stripped, and a blank one becomes None. The HTML body
    is not checked.

    Raises:
        InvalidEmailError: a value is invalid. The reason names the field, and is
            "customer has no email address" when `to` is None or blank.
    """
    if to is None or not to.strip():
        raise InvalidEmailError("customer has no email address")
    to = _validated_address("to", to.strip())
    from_address = _validated_address("from address", from_address.strip())

    _check_header_text("subject", subject, MAX_SUBJECT_LENGTH)
    if from_name is not None:
        from_name = from_name.strip() or None
    if from_name is not None:
        _check_header_text("from name", from_name, MAX_FROM_NAME_LENGTH)

    return OutgoingEmail(to=to, from_address=from_address, from_name=from_name, subject=subject, html=html)


def _validated_address(field: str, address: str) -> str:
    problem = check_address(address)
    if problem is not None:
        excerpt = address if len(address) <= 80 else address[:77] + "..."
        raise InvalidEmailError(f"{field}: invalid address {excerpt!r}, {problem}")
    return address


def _check_header_text(field: str, value: str, max_length: int) -> None:
    position = find_forbidden_character(value)
    if position is not None:
        raise InvalidEmailError(f"{field}: contains a line break or control character at position {position}")
    if len(value) > max_length:
        raise InvalidEmailError(f"{field}: {len(value)} characters, longer than the limit of {max_length}")
