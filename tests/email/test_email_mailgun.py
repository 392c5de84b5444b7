import asyncio
import base64
import json
from dataclasses import replace

import pytest

from sequence_cron.email.errors import DeliveryError
from sequence_cron.email.providers import MailgunProvider, create_provider
from sequence_cron.email.settings import EmailSettings, load_email_settings

API_KEY = "key-mailgun-secret"


def mailgun_settings(url: str, *, timeout: float = 5) -> EmailSettings:
    env = {
        "MAILGUN_API_KEY": API_KEY,
        "MAILGUN_DOMAIN": "mg.shop.example",
        "MAILGUN_API_URL": url,
        "FROM_ADDRESS": "news@shop.example",
        "EMAIL_SEND_TIMEOUT_SECONDS": str(timeout),
    }
    return load_email_settings(env)


async def send_error(fake_api, outgoing, *, timeout: float = 5) -> DeliveryError:
    async with create_provider(mailgun_settings(fake_api.url, timeout=timeout)) as provider:
        with pytest.raises(DeliveryError) as caught:
            await provider.send(outgoing)
    assert "\n" not in caught.value.reason
    assert "mailgun-secret" not in caught.value.reason
    return caught.value


async def test_mailgun_request_shape_and_auth(fake_api, outgoing):
    fake_api.respond(200, json.dumps({"id": "<1@mg.shop.example>", "message": "Queued. Thank you."}))
    provider = create_provider(mailgun_settings(fake_api.url))
    assert isinstance(provider, MailgunProvider)

    async with provider:
        await provider.send(outgoing)

    assert len(fake_api.requests) == 1
    request = fake_api.requests[0]
    assert request.method == "POST"
    assert request.path == "/v3/mg.shop.example/messages"
    expected_auth = "Basic " + base64.b64encode(f"api:{API_KEY}".encode()).decode()
    assert request.headers["Authorization"] == expected_auth
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    assert request.form == {
        "from": "Shop Café <news@shop.example>",
        "to": "ann@example.com",
        "subject": "Hello Ann ✓",
        "html": "<p>Hi <b>Ann</b>, déjà vu</p>",
    }


@pytest.mark.parametrize(
    ("from_name", "expected"),
    [(None, "news@shop.example"), ('Shop, "Best" Inc.', '"Shop, \\"Best\\" Inc." <news@shop.example>')],
)
async def test_mailgun_from_field(fake_api, outgoing, from_name, expected):
    async with create_provider(mailgun_settings(fake_api.url)) as provider:
        await provider.send(replace(outgoing, from_name=from_name))

    assert fake_api.requests[0].form["from"] == expected


async def test_mailgun_2xx_delivered(fake_api, outgoing):
    fake_api.respond(200, json.dumps({"message": "Queued. Thank you."}))

    async with create_provider(mailgun_settings(fake_api.url)) as provider:
        for _ in range(3):
            await provider.send(outgoing)

    assert len(fake_api.requests) == 3


async def test_mailgun_400_with_message(fake_api, outgoing):
    fake_api.respond(400, json.dumps({"message": "to parameter is not a valid address. please check documentation"}))

    error = await send_error(fake_api, outgoing)

    assert error.reason == "HTTP 400: to parameter is not a valid address. please check documentation"
    assert error.temporary is False


async def test_mailgun_401_plain_text(fake_api, outgoing):
    fake_api.respond(401, "Forbidden", content_type="text/plain")

    error = await send_error(fake_api, outgoing)

    assert error.reason == "HTTP 401: Forbidden"


async def test_mailgun_404_domain(fake_api, outgoing):
    fake_api.respond(404, json.dumps({"message": "Domain not found: mg.shop.example"}))

    error = await send_error(fake_api, outgoing)

    assert error.reason == "HTTP 404: Domain not found: mg.shop.example"


async def test_mailgun_429_temporary(fake_api, outgoing):
    fake_api.respond(429, json.dumps({"message": "Too many requests"}))

    error = await send_error(fake_api, outgoing)

    assert error.reason == "HTTP 429 Too Many Requests"
    assert error.temporary is True


async def test_mailgun_5xx_temporary(fake_api, outgoing):
    fake_api.respond(502, "<html>bad gateway</html>", content_type="text/html")

    error = await send_error(fake_api, outgoing)

    assert error.reason == "HTTP 502 Bad Gateway"
    assert error.temporary is True


async def test_mailgun_timeout(fake_api, outgoing):
    fake_api.hold = asyncio.Event()

    error = await send_error(fake_api, outgoing, timeout=0.2)

    assert error.reason == "timed out after 0.2s"
    assert error.temporary is True


async def test_mailgun_long_error_cut(fake_api, outgoing):
    fake_api.respond(400, json.dumps({"message": "x" * 5000}))

    error = await send_error(fake_api, outgoing)

    assert len(error.reason) == 200
    assert error.reason.endswith("...")
