"""A provider that only logs each message, for development and demos."""

from loguru import logger

from sequence_cron.email.message import OutgoingEmail
from sequence_cron.email.providers.base import EmailProvider
from sequence_cron.email.settings import EmailSettings


class LogProvider(EmailProvider):
    """Writes one info line per message to the log instead of sending it."""

    name = "log"

    def __init__(self, settings: EmailSettings | None = None):
        # The log provider needs no settings. The parameter matches the other providers.
        del settings

    async def send(self, email: OutgoingEmail) -> None:
        logger.bind(event="email_sent", provider=self.name, to=email.to, subject=email.subject).info(
            "Email to {} written to the log instead of sent, subject {!r}", email.to, email.subject
        )
