"""Shared request and error handling for providers with an HTTP API."""

from typing import Any

import aiohttp
import orjson

from sequence_cron.email.errors import DeliveryError
from sequence_cron.email.providers.base import EmailProvider

# Enough for any JSON error a mail API returns, and a cap on a proxy's HTML error page.
MAX_ERROR_BODY_BYTES = 64 * 1024
MAX_REASON_LENGTH = 200


class HttpApiProvider(EmailProvider):
    """Posts requests through one pooled aiohttp session and maps failures to DeliveryError.

    A 2xx response means delivered. HTTP 429 and 5xx become a temporary DeliveryError with
    the status and reason phrase. Any other status becomes a DeliveryError with the
    message that error_message finds in the body, or else the start of the body.
    """

    def __init__(self, *, timeout_seconds: float, concurrency: int, secret: str):
        self._timeout_seconds = timeout_seconds
        self._concurrency = concurrency
        # Kept only to remove it from error text.
        self._secret = secret
        self._session: aiohttp.ClientSession | None = None

    def error_message(self, body: object) -> str | None:
        """Return the provider's error message from a decoded JSON error body, or None."""
        return None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, url: str, **request: Any) -> None:
        """Send a POST request with aiohttp's keyword arguments and check the response.

        Raises:
            DeliveryError: the status is not 2xx, the request timed out, or it failed.
        """
        try:
            async with self._get_session().post(url, allow_redirects=False, **request) as response:
                if 200 <= response.status < 300:
                    # Reading the body lets the connection go back to the pool.
                    await response.read()
                    return
                body = await response.content.read(MAX_ERROR_BODY_BYTES)
                raise self._error_for_status(response.status, response.reason, body)
        except TimeoutError as error:
            raise DeliveryError(f"timed out after {self._timeout_seconds:g}s", temporary=True) from error
        except aiohttp.ClientError as error:
            reason = self._clean(f"request failed: {type(error).__name__}: {error}")
            raise DeliveryError(reason, temporary=True) from error

    def _get_session(self) -> aiohttp.ClientSession:
        # Created on the first send because a session belongs to the running event loop.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout_seconds),
                connector=aiohttp.TCPConnector(limit=self._concurrency),
            )
        return self._session

    def _error_for_status(self, status: int, reason: str | None, body: bytes) -> DeliveryError:
        if status == 429 or status >= 500:
            return DeliveryError(self._clean(f"HTTP {status} {reason or ''}"), temporary=True)

        message = None
        try:
            message = self.error_message(orjson.loads(body))
        except orjson.JSONDecodeError:
            pass
        if not message:
            message = body.decode("utf-8", "replace").strip() or reason or "no message"
        return DeliveryError(self._clean(f"HTTP {status}: {message}"))

    def _clean(self, text: str) -> str:
        """Return `text` on one line, without the secret, and cut to MAX_REASON_LENGTH."""
        if self._secret:
            text = text.replace(self._secret, "***")
        text = " ".join(text.split())
        if len(text) > MAX_REASON_LENGTH:
            text = text[: MAX_REASON_LENGTH - 3] + "..."
        return text
