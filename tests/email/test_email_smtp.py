import asyncio
from dataclasses import replace

import pytest

from sequence_cron.email.errors import DeliveryError
from sequence_cron.email.providers import SmtpProvider, create_provider
from sequence_cron.email.settings import EmailSettings, load_email_settings


def smtp_settings(port: int, *, concurrency: int = 4, timeout: float = 5, url: str | None = None) -> EmailSettings:
    env = {
        "SMTP_URL": url or f"smtp://127.0.0.1:{port}",
        "FROM_ADDRESS": "news@shop.example",
        "EMAIL_CONCURRENCY": str(concurrency),
        "EMAIL_SEND_TIMEOUT_SECONDS": str(timeout),
    }
    return load_email_settings(env)


async def test_smtp_delivers_once_with_headers(smtp_server, outgoing):
    provider = create_provider(smtp_settings(smtp_server.port))
    assert isinstance(provider, SmtpProvider)

    async with provider:
        await provider.send(outgoing)

    assert len(smtp_server.handler.received) == 1
    received = smtp_server.handler.received[0]
    assert received.mail_from == "news@shop.example"
    assert received.rcpt_tos == ["ann@example.com"]
    message = received.message
    assert message["To"] == "ann@example.com"
    assert message["From"].addresses[0].display_name == "Shop Café"
    assert message["From"].addresses[0].addr_spec == "news@shop.example"
    assert message["Subject"] == "Hello Ann ✓"
    assert message.get_content_type() == "text/html"
    assert message.get_content().rstrip("\r\n") == "<p>Hi <b>Ann</b>, déjà vu</p>"


async def test_smtp_reuses_connection(smtp_server, outgoing):
    async with create_provider(smtp_settings(smtp_server.port)) as provider:
        for _ in range(3):
            await provider.send(outgoing)

    assert len(smtp_server.handler.received) == 3
    assert len(smtp_server.sessions) == 1


async def test_smtp_pool_limited_to_concurrency(smtp_server, outgoing):
    async with create_provider(smtp_settings(smtp_server.port, concurrency=3)) as provider:
        await asyncio.gather(*(provider.send(replace(outgoing, to=f"c{i}@example.com")) for i in range(12)))

    recipients = sorted(received.rcpt_tos[0] for received in smtp_server.handler.received)
    assert recipients == sorted(f"c{i}@example.com" for i in range(12))
    assert 1 <= len(smtp_server.sessions) <= 3


async def test_smtp_reconnects_after_idle_drop(smtp_server, outgoing):
    async with create_provider(smtp_settings(smtp_server.port)) as provider:
        await provider.send(outgoing)
        smtp_server.drop_connections()
        await asyncio.sleep(0.05)
        await provider.send(outgoing)

    assert len(smtp_server.handler.received) == 2
    assert len(smtp_server.sessions) == 2


async def test_smtp_replaces_dropped_idle_connection(smtp_server, outgoing, monkeypatch):
    monkeypatch.setattr(SmtpProvider, "IDLE_CHECK_SECONDS", 0.0)
    async with create_provider(smtp_settings(smtp_server.port)) as provider:
        await provider.send(outgoing)
        smtp_server.drop_connections()
        await provider.send(outgoing)

    assert len(smtp_server.handler.received) == 2
    assert len(smtp_server.sessions) == 2


async def test_smtp_never_resends_after_drop(smtp_server, outgoing):
    async with create_provider(smtp_settings(smtp_server.port)) as provider:
        await provider.send(outgoing)
        # No await between the drop and the send, and the connection was used a moment ago, so
        # the pooled client still looks connected and the send fails instead of trying again.
        smtp_server.drop_connections()
        with pytest.raises(DeliveryError) as caught:
            await provider.send(outgoing)

    assert caught.value.temporary is True
    assert len(smtp_server.handler.received) == 1


async def test_smtp_recipient_rejected(smtp_server, outgoing):
    smtp_server.handler.rejected_recipients["ann@example.com"] = "550 5.1.1 Mailbox unavailable"

    async with create_provider(smtp_settings(smtp_server.port)) as provider:
        with pytest.raises(DeliveryError) as caught:
            await provider.send(outgoing)
        await provider.send(replace(outgoing, to="bob@example.com"))

    assert caught.value.reason == "SMTP 550 5.1.1 Mailbox unavailable"
    assert caught.value.temporary is False
    assert [received.rcpt_tos for received in smtp_server.handler.received] == [["bob@example.com"]]
    # The connection stays usable after a rejection.
    assert len(smtp_server.sessions) == 1


async def test_smtp_data_rejected_temporarily(smtp_server, outgoing):
    smtp_server.handler.data_reply = "451 4.3.0 Try again later"

    async with create_provider(smtp_settings(smtp_server.port)) as provider:
        with pytest.raises(DeliveryError) as caught:
            await provider.send(outgoing)

    assert caught.value.reason == "SMTP 451 4.3.0 Try again later"
    assert caught.value.temporary is True
    assert smtp_server.handler.received == []


async def test_smtp_server_down(closed_port, outgoing):
    async with create_provider(smtp_settings(closed_port, timeout=2)) as provider:
        with pytest.raises(DeliveryError) as caught:
            await provider.send(outgoing)

    assert caught.value.reason.startswith(f"SMTP connection to 127.0.0.1:{closed_port} failed: ")
    assert caught.value.temporary is True


async def test_smtp_silent_server_times_out(silent_server, outgoing):
    async with create_provider(smtp_settings(silent_server, timeout=0.2)) as provider:
        with pytest.raises(DeliveryError) as caught:
            await provider.send(outgoing)

    assert caught.value.reason == "timed out after 0.2s"
    assert caught.value.temporary is True


async def test_smtp_slow_reply_times_out(smtp_server, outgoing):
    smtp_server.handler.hold_data = asyncio.Event()

    async with create_provider(smtp_settings(smtp_server.port, timeout=0.3)) as provider:
        with pytest.raises(DeliveryError) as caught:
            await provider.send(outgoing)
        smtp_server.handler.hold_data.set()
        await provider.send(outgoing)

    assert caught.value.reason == "timed out after 0.3s"
    assert caught.value.temporary is True
    # The timed-out connection is closed, so the next send opens a new one.
    assert len(smtp_server.sessions) == 2


async def test_smtp_logs_in_with_decoded_credentials(smtp_server, outgoing):
    url = f"smtp://shop%40user:p%40ss%3Aword@127.0.0.1:{smtp_server.port}"

    async with create_provider(smtp_settings(smtp_server.port, url=url)) as provider:
        await provider.send(outgoing)

    assert smtp_server.handler.logins == [("shop@user", "p@ss:word")]
    assert len(smtp_server.handler.received) == 1


async def test_smtp_login_rejected_masks_password(smtp_server, outgoing):
    url = f"smtp://shop:wrong-secret@127.0.0.1:{smtp_server.port}"

    async with create_provider(smtp_settings(smtp_server.port, url=url)) as provider:
        with pytest.raises(DeliveryError) as caught:
            await provider.send(outgoing)

    # aiosmtplib tries each offered mechanism (PLAIN, then LOGIN) before it gives up.
    assert set(smtp_server.handler.logins) == {("shop", "wrong-secret")}
    assert caught.value.reason == "SMTP 535 5.7.8 Password *** rejected"
    assert caught.value.temporary is False
    assert smtp_server.handler.received == []


async def test_smtp_close_quits_idle_connections(smtp_server, outgoing):
    provider = create_provider(smtp_settings(smtp_server.port))
    await provider.send(outgoing)

    await provider.close()
    await asyncio.sleep(0.05)

    assert all(session.transport is None or session.transport.is_closing() for session in smtp_server.sessions)
