"""Fixtures for the email tests: an SMTP server and fake mail APIs on 127.0.0.1."""

import asyncio
import email
import email.policy
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiohttp import web
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from sequence_cron.email.message import OutgoingEmail


@pytest.fixture
def outgoing() -> OutgoingEmail:
    return OutgoingEmail(
        to="ann@example.com",
        from_address="news@shop.example",
        from_name="Shop Café",
        subject="Hello Ann ✓",
        html="<p>Hi <b>Ann</b>, déjà vu</p>",
    )


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: the OS just gave it out and took it back."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ReceivedMessage:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class SmtpHandler:
    """aiosmtpd handler that records accepted messages and rejects on request."""

    received: list[ReceivedMessage] = field(default_factory=list)
    rejected_recipients: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    logins: list[tuple[str, str]] = field(default_factory=list)
    # While this is an unset event, the DATA reply waits for it.
    hold_data: asyncio.Event | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.rejected_recipients:
            return self.rejected_recipients[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.hold_data is not None:
            await self.hold_data.wait()
        if self.data_reply is not None:
            return self.data_reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(ReceivedMessage(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        if password.startswith("wrong"):
            # Echoes the password, as a careless server might, to test that it is masked.
            return AuthResult(success=False, handled=False, message=f"535 5.7.8 Password {password} rejected")
        return AuthResult(success=True)


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: SmtpHandler
    sessions: list[SMTP]

    def drop_connections(self) -> None:
        """Close every connection from the server side, as an idle timeout would."""
        for session in self.sessions:
            if session.transport is not None:
                session.transport.close()


@pytest.fixture
async def smtp_server():
    handler = SmtpHandler()
    sessions: list[SMTP] = []

    def new_session() -> SMTP:
        session = SMTP(
            handler,
            hostname="mail.test",
            authenticator=handler.authenticate,
            auth_require_tls=False,
        )
        sessions.append(session)
        return session

    server = await asyncio.get_running_loop().create_server(new_session, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield SmtpServer("127.0.0.1", port, handler, sessions)
    if handler.hold_data is not None:
        handler.hold_data.set()
    server.close()
    for session in sessions:
        if session.transport is not None:
            session.transport.close()
    await server.wait_closed()


@pytest.fixture
async def silent_server():
    """A TCP server on 127.0.0.1 that accepts connections and never sends a byte."""
    connections: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    for writer in connections:
        writer.close()
    await server.wait_closed()


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    form: dict[str, str]


@dataclass
class FakeApi:
    """An aiohttp server that records each request and responds with a configured response."""

    url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"
    # While this is an unset event, the handler waits for it before it responds.
    hold: asyncio.Event | None = None

    def respond(self, status: int, body: bytes | str, content_type: str = "application/json") -> None:
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        self.content_type = content_type

    async def handle(self, request: web.Request) -> web.Response:
        form: dict[str, str] = {}
        if request.content_type.startswith("multipart/") or request.content_type.endswith("urlencoded"):
            form = {name: str(value) for name, value in (await request.post()).items()}
            body = b""
        else:
            body = await request.read()
        self.requests.append(RecordedRequest(request.method, request.path, dict(request.headers), body, form))
        if self.hold is not None:
            await self.hold.wait()
        return web.Response(status=self.status, body=self.body, content_type=self.content_type)


@pytest.fixture
async def fake_api():
    api = FakeApi()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", api.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    api.url = f"http://{host}:{port}"
    yield api
    if api.hold is not None:
        api.hold.set()
    await runner.cleanup()
