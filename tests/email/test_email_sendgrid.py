import asyncio
import json
from dataclasses import replace

import pytest

from sequence_cron.email.errors import DeliveryError
from sequence_cron.email.providers import SendGridProvider, create_provider
from sequence_cron.email.settings import EmailSettings, load_email_settings

API_KEY = "SG.test-key.secret-part"


def sendgrid_settings(url: str, *, timeout: float = 5) -> EmailSettings:
    env = {
        "SENDGRID_API_KEY": API_KEY,
        "SENDGRID_API_URL": url,
        "FROM_ADDRESS": "news@shop.example",
        "EMAIL_SEND_TIMEOUT_SECONDS": str(timeout),
    }
    return load_email_settings(env)


async def send_error(fake_api, outgoing, *, timeout: float = 5) -> DeliveryError:
    async with create_provider(sendgrid_settings(fake_api.url, timeout=timeout)) as provider:
        with pytest.raises(DeliveryError) as caught:
            await provider.send(outgoing)
    assert "\n" not in caught.value.reason
    assert "secret-part" not in caught.value.reason
    return caught.value


async def test_sendgrid_request_shape_and_auth(fake_api, outgoing):
    fake_api.respond(202, b"")
    provider = create_provider(sendgrid_settings(fake_api.url))
    assert isinstance(provider, SendGridProvider)

    async with provider:
        await provider.send(outgoing)

    assert len(fake_api.requests) == 1
    request = fake_api.requests[0]
    assert request.method == "POST"
    assert request.path == "/v3/mail/send"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {
        "personalizations": [{"to": [{"email": "ann@example.com"}]}],
        "from": {"email": "news@shop.example", "name": "Shop Café"},
        "subject": "Hello Ann ✓",
        "content": [{"type": "text/html", "value": "<p>Hi <b>Ann</b>, déjà vu</p>"}],
    }


async def test_sendgrid_omits_empty_from_name(fake_api, outgoing):
    fake_api.respond(202, b"")

    async with create_provider(sendgrid_settings(fake_api.url)) as provider:
        await provider.send(replace(outgoing, from_name=None))

    assert json.loads(fake_api.requests[0].body)["from"] == {"email": "news@shop.example"}


@pytest.mark.parametrize("status", [200, 202])
async def test_sendgrid_2xx_delivered(fake_api, outgoing, status):
    fake_api.respond(status, b"")

    async with create_provider(sendgrid_settings(fake_api.url)) as provider:
        for _ in range(3):
            await provider.send(outgoing)

    assert len(fake_api.requests) == 3


async def test_sendgrid_400_with_error_messages(fake_api, outgoing):
    body = {
        "errors": [
            {"message": "The from address does not match a verified Sender Identity.", "field": "from", "help": None},
            {"message": "The subject is required.", "field": "subject"},
        ]
    }
    fake_api.respond(400, json.dumps(body))

    error = await send_error(fake_api, outgoing)

    assert error.reason == (
        "HTTP 400: The from address does not match a verified Sender Identity.; The subject is required."
    )
    assert error.temporary is False


async def test_sendgrid_401_masks_key(fake_api, outgoing):
    body = {"errors": [{"message": f"The API key {API_KEY} is invalid, expired, or revoked", "field": None}]}
    fake_api.respond(401, json.dumps(body))

    error = await send_error(fake_api, outgoing)

    assert error.reason == "HTTP 401: The API key *** is invalid, expired, or revoked"


async def test_sendgrid_4xx_without_json(fake_api, outgoing):
    fake_api.respond(413, "Payload\nToo Large", content_type="text/plain")

    error = await send_error(fake_api, outgoing)

    assert error.reason == "HTTP 413: Payload Too Large"


async def test_sendgrid_429_temporary(fake_api, outgoing):
    fake_api.respond(429, json.dumps({"errors": [{"message": "too many requests"}]}))

    error = await send_error(fake_api, outgoing)

    assert error.reason == "HTTP 429 Too Many Requests"
    assert error.temporary is True


@pytest.mark.parametrize(("status", "reason"), [(500, "Internal Server Error"), (503, "Service Unavailable")])
async def test_sendgrid_5xx_temporary(fake_api, outgoing, status, reason):
    fake_api.respond(status, "oops")

    error = await send_error(fake_api, outgoing)

    assert error.reason == f"HTTP {status} {reason}"
    assert error.temporary is True


async def test_sendgrid_timeout(fake_api, outgoing):
    fake_api.hold = asyncio.Event()

    error = await send_error(fake_api, outgoing, timeout=0.2)

    assert error.reason == "timed out after 0.2s"
    assert error.temporary is True


async def test_sendgrid_server_down(closed_port, outgoing):
    async with create_provider(sendgrid_settings(f"http://127.0.0.1:{closed_port}")) as provider:
        with pytest.raises(DeliveryError) as caught:
            await provider.send(outgoing)

    assert caught.value.reason.startswith("request failed: ClientConnectorError: ")
    assert caught.value.temporary is True


async def test_sendgrid_redirect_not_followed(fake_api, outgoing):
    fake_api.respond(301, "moved")

    error = await send_error(fake_api, outgoing)

    assert error.reason == "HTTP 301: moved"
    assert len(fake_api.requests) == 1
