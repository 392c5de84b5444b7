"""The SendGrid provider: POST /v3/mail/send with a JSON body."""

import orjson

from sequence_cron.email.message import OutgoingEmail
from sequence_cron.email.providers.http import HttpApiProvider
from sequence_cron.email.settings import EmailSettings


class SendGridProvider(HttpApiProvider):
    """Sends through SendGrid's v3 Mail Send API with a Bearer API key."""

    name = "sendgrid"

    def __init__(self, settings: EmailSettings):
        if settings.sendgrid_api_key is None:
            raise ValueError("SendGridProvider needs settings.sendgrid_api_key")
        api_key = settings.sendgrid_api_key.reveal()
        super().__init__(
            timeout_seconds=settings.send_timeout_seconds,
            concurrency=settings.concurrency,
            secret=api_key,
        )
        self._url = f"{settings.sendgrid_api_url}/v3/mail/send"
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}

    async def send(self, email: OutgoingEmail) -> None:
        await self.post(self._url, headers=self._headers, data=orjson.dumps(mail_send_body(email)))

    def error_message(self, body: object) -> str | None:
        # SendGrid returns errors as {"errors": [{"message": ..., "field": ...}, ...]}.
        if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
            return None
        messages = [error.get("message") for error in body["errors"] if isinstance(error, dict)]
        return "; ".join(message for message in messages if isinstance(message, str)) or None


def mail_send_body(email: OutgoingEmail) -> dict[str, object]:
    """Return the JSON body of a v3 Mail Send request for one recipient."""
    sender: dict[str, str] = {"email": email.from_address}
    if email.from_name:
        sender["name"] = email.from_name
    return {
        "personalizations": [{"to": [{"email": email.to}]}],
        "from": sender,
        "subject": email.subject,
        "content": [{"type": "text/html", "value": email.html}],
    }
