"""An email provider for tests that records every message and can be set to fail or to block."""

from __future__ import annotations

import asyncio

from sequence_cron.email.errors import DeliveryError
from sequence_cron.email.providers.base import EmailProvider


class RecordingProvider(EmailProvider):
    name = "recording"

    def __init__(self, fail_for: set[str] | None = None):
        self.sent = []
        self.fail_for = fail_for or set()
        self.gate: asyncio.Event | None = None
        self.started = 0

    async def send(self, email) -> None:
        self.started += 1
        if self.gate is not None:
            await self.gate.wait()
        if email.to in self.fail_for:
            raise DeliveryError(f"mailbox {email.to} unavailable")
        self.sent.append(email)

    async def close(self) -> None:
        pass
