"""The Mailgun provider: POST /v3/{domain}/messages with form fields."""

import base64
from email.headerregistry import Address

import aiohttp

from sequence_cron.email.message import OutgoingEmail
from sequence_cron.email.providers.http import HttpApiProvider
from sequence_cron.email.settings import EmailSettings


class MailgunProvider(HttpApiProvider):
    """Sends through Mailgun's Messages API with HTTP basic auth, user "api"."""

    name = "mailgun"

    def __init__(self, settings: EmailSettings):
        if settings.mailgun_api_key is None or not settings.mailgun_domain:
            raise ValueError("MailgunProvider needs settings.mailgun_api_key and settings.mailgun_domain")
        api_key = settings.mailgun_api_key.reveal()
        super().__init__(
            timeout_seconds=settings.send_timeout_seconds,
            concurrency=settings.concurrency,
            secret=api_key,
        )
        self._url = f"{settings.mailgun_api_url}/v3/{settings.mailgun_domain}/messages"
        # Built by hand because aiohttp 3.14 deprecates BasicAuth and 3.9 lacks its successor.
        credentials = base64.b64encode(f"api:{api_key}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {credentials}"}

    async def send(self, email: OutgoingEmail) -> None:
        await self.post(self._url, headers=self._headers, data=messages_form(email))

    def error_message(self, body: object) -> str | None:
        # Mailgun returns errors as {"message": ...}.
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            return body["message"]
        return None


def messages_form(email: OutgoingEmail) -> aiohttp.FormData:
    """Return the multipart form of a Messages API request for one recipient."""
    sender = Address(display_name=email.from_name or "", addr_spec=email.from_address)
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("from", str(sender))
    form.add_field("to", email.to)
    form.add_field("subject", email.subject)
    form.add_field("html", email.html)
    return form
