"""A local SMTP server for process-level tests: accepts every message on 127.0.0.1 and keeps it."""

from __future__ import annotations

import asyncio
import email
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self):
        self.messages: list[email.message.Message] = []
        self.recipients: list[str] = []
        self.lock = threading.Lock()
        # Seconds each DATA command waits before the message is kept and accepted; a test may
        # change it while the server runs to make sends slow.
        self.delay_s = 0.0

    async def handle_DATA(self, server, session, envelope):
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        message = email.message_from_bytes(envelope.content)
        with self.lock:
            self.messages.append(message)
            self.recipients.extend(envelope.rcpt_tos)
        return "250 OK"


class SmtpSink:
    """Start with `start()`, read `.port`, `.sink.messages`, stop with `stop()`."""

    def __init__(self, port: int):
        self.sink = Sink()
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=port)
        self.port = port

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
