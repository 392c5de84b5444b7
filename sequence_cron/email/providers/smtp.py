"""The SMTP provider: aiosmtplib over a small pool of reusable connections."""

import asyncio
import time

import aiosmtplib

from sequence_cron.email.errors import DeliveryError
from sequence_cron.email.message import OutgoingEmail
from sequence_cron.email.mime import build_mime_message
from sequence_cron.email.providers.base import EmailProvider
from sequence_cron.email.settings import EmailSettings, SmtpSettings


class SmtpProvider(EmailProvider):
    """Sends over SMTP, keeping up to `concurrency` connections open between sends.

    Connections are opened on demand, and at most `concurrency` sends run at once. A pooled
    connection idle for more than IDLE_CHECK_SECONDS is checked with NOOP and replaced when the
    server has dropped it. A message is never sent a second time after a failure, because a
    connection lost after DATA leaves unknown whether the server accepted it.
    Each send, reconnect included, times out after `send_timeout_seconds`, and so does each
    SMTP command within it. A connection whose send timed out or was cancelled is closed.
    """

    name = "smtp"
    IDLE_CHECK_SECONDS = 2.0

    def __init__(self, settings: EmailSettings):
        if settings.smtp is None:
            raise ValueError("SmtpProvider needs settings.smtp")
        self._server: SmtpSettings = settings.smtp
        self._timeout_seconds = settings.send_timeout_seconds
        self._slots = asyncio.Semaphore(settings.concurrency)
        # Idle connections with the monotonic time they were last used.
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._closed = False

    async def send(self, email: OutgoingEmail) -> None:
        message = build_mime_message(email)
        async with self._slots:
            client, last_used = self._idle.pop() if self._idle else (self._new_client(), 0.0)
            reusable = False
            try:
                async with asyncio.timeout(self._timeout_seconds):
                    await self._ensure_connected(client, last_used)
                    await client.send_message(message)
                reusable = True
            except aiosmtplib.SMTPResponseException as error:
                # aiosmtplib sends RSET after an error reply, so a connected client is clean.
                reusable = client.is_connected
                raise self._rejection(error.code, error.message) from error
            except aiosmtplib.SMTPRecipientsRefused as error:
                reusable = client.is_connected
                recipient_error = error.recipients[0]
                raise self._rejection(recipient_error.code, recipient_error.message) from error
            except TimeoutError as error:
                # Both the deadline above and aiosmtplib's SMTPTimeoutError land here.
                raise DeliveryError(f"timed out after {self._timeout_seconds:g}s", temporary=True) from error
            except aiosmtplib.SMTPNotSupported as error:
                reusable = client.is_connected
                raise DeliveryError(self._clean(f"SMTP server cannot send this message: {error.message}")) from error
            except (aiosmtplib.SMTPException, OSError) as error:
                reason = self._clean(f"SMTP connection to {self._server.host}:{self._server.port} failed: {error}")
                raise DeliveryError(reason, temporary=True) from error
            except ValueError as error:
                # aiosmtplib rejects an address that it cannot quote for the envelope.
                reusable = client.is_connected
                raise DeliveryError(self._clean(f"invalid message: {error}")) from error
            finally:
                self._check_in(client, reusable)

    async def close(self) -> None:
        """Send QUIT on every idle connection. Connections in use close when their send ends."""
        self._closed = True
        idle, self._idle = self._idle, []
        for client, _ in idle:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()

    def _new_client(self) -> aiosmtplib.SMTP:
        server = self._server
        return aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            username=server.username,
            password=server.password.reveal() if server.password is not None else None,
            timeout=self._timeout_seconds,
            # NOTE: no test covers implicit TLS (smtps://) or a STARTTLS upgrade, because
            # the test server runs without TLS.
            use_tls=server.implicit_tls,
            # None upgrades with STARTTLS only when the server offers it.
            start_tls=False if server.implicit_tls else None,
        )

    async def _ensure_connected(self, client: aiosmtplib.SMTP, last_used: float) -> None:
        """Connect a new client, and replace a pooled one that the server closed while it was idle."""
        if client.is_connected and time.monotonic() - last_used > self.IDLE_CHECK_SECONDS:
            try:
                await client.noop()
            except (aiosmtplib.SMTPException, OSError):
                client.close()
        if not client.is_connected:
            await client.connect()

    def _check_in(self, client: aiosmtplib.SMTP, reusable: bool) -> None:
        if reusable and not self._closed and client.is_connected:
            self._idle.append((client, time.monotonic()))
        else:
            client.close()

    def _rejection(self, code: int, message: str) -> DeliveryError:
        # 4xx replies are transient failures in SMTP (RFC 5321, section 4.2.1).
        return DeliveryError(self._clean(f"SMTP {code} {message}"), temporary=400 <= code < 500)

    def _clean(self, text: str) -> str:
        """Return `text` on one line, without the password, and cut to 200 characters."""
        if self._server.password is not None and self._server.password.reveal():
            text = text.replace(self._server.password.reveal(), "***")
        text = " ".join(text.split())
        return text if len(text) <= 200 else text[:197] + "..."
