"""Conversion of an OutgoingEmail to a MIME message for SMTP."""

import email.policy
from datetime import datetime, timezone
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sequence_cron.email.message import OutgoingEmail

# cte_type 7bit makes set_content pick quoted-printable or base64 for non-ASCII bodies, so
# the message also passes servers that lack the 8BITMIME extension.
_POLICY = email.policy.SMTP.clone(cte_type="7bit")


def build_mime_message(outgoing: OutgoingEmail, *, now: datetime | None = None) -> EmailMessage:
    """Build a text/html message with From, To, Subject, Date and Message-ID headers.

    Non-ASCII header text is encoded as RFC 2047 encoded words by the email package.
    """
    message = EmailMessage(policy=_POLICY)
    message["From"] = Address(display_name=outgoing.from_name or "", addr_spec=outgoing.from_address)
    message["To"] = Address(addr_spec=outgoing.to)
    message["Subject"] = outgoing.subject
    message["Date"] = format_datetime(now or datetime.now(timezone.utc))
    # An explicit domain, because make_msgid otherwise calls socket.getfqdn(), which can block.
    message["Message-ID"] = make_msgid(domain=outgoing.from_address.rpartition("@")[2])
    message.set_content(outgoing.html, subtype="html", charset="utf-8")
    return message
