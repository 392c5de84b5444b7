"""The HTTP port and the logs of real `serve` processes never show a password or an API key.

Every secret is a setting of the process, and every path that could echo one is exercised:
start-up, ticks, failed sends whose error text comes from the server, a Redis outage, /health,
/jobs and /metrics. The same processes return 404, 405 and 413 where they should.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from tests.reliability.private_servers import PrivateRedis
from tests.reliability.processes import serve_environment, wait_for
from tests.reliability.seed import email_state_counts, seed_email_campaign
from tests.servers import free_port

POSTGRES_PASSWORD = f"pg-{secrets.token_hex(8)}"
REDIS_PASSWORD = f"redis-{secrets.token_hex(8)}"
SMTP_PASSWORD = f"smtp-{secrets.token_hex(8)}"
SENDGRID_KEY = f"SG.{secrets.token_hex(12)}"
MAILGUN_KEY = f"key-{secrets.token_hex(12)}"
SECRETS = (POSTGRES_PASSWORD, REDIS_PASSWORD, SMTP_PASSWORD, SENDGRID_KEY, MAILGUN_KEY)


def with_password(url: str, password: str) -> str:
    """Return the PostgreSQL URL with `password` added; trust authentication ignores it."""
    parts = urlsplit(url)
    user, _, host = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{user or 'postgres'}:{password}@{host}").geturl()


@pytest.fixture
async def echoing_sendgrid():
    """A fake SendGrid API that rejects every request and echoes its Authorization header back."""

    async def reject(request: web.Request) -> web.Response:
        message = f"invalid credentials: {request.headers.get('Authorization')}"
        return web.json_response({"errors": [{"message": message}]}, status=401)

    app = web.Application()
    app.router.add_post("/v3/mail/send", reject)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
def redis_with_password(tmp_path):
    server = PrivateRedis(tmp_path / "redis", password=REDIS_PASSWORD).start()
    yield server
    server.close()


def secret_environment(database_url: str, redis_url: str, sendgrid_url: str, smtp_port: int, provider: str):
    return serve_environment(
        with_password(database_url, POSTGRES_PASSWORD),
        redis_url,
        EMAIL_PROVIDER=provider,
        SMTP_URL=f"smtp://mailer:{SMTP_PASSWORD}@127.0.0.1:{smtp_port}",
        SENDGRID_API_KEY=SENDGRID_KEY,
        SENDGRID_API_URL=sendgrid_url,
        MAILGUN_API_KEY=MAILGUN_KEY,
        MAILGUN_DOMAIN="mg.example.com",
        FROM_ADDRESS="sender@example.com",
        EMAIL_SEND_TIMEOUT_SECONDS="3",
    )


async def every_page(service) -> list[str]:
    pages = []
    for path in ("/health", "/jobs", "/metrics"):
        status, body = await service.get(path)
        assert status in (200, 503), path
        pages.append(body if isinstance(body, str) else json.dumps(body))
    return pages


async def run_failing_sends(service, own_pool) -> None:
    """Start `service`, give it 3 Email states that its provider fails, and wait for the ERRORs."""
    service.start()
    await service.wait_until_serving()
    campaign = await seed_email_campaign(own_pool, 3)

    async def all_errored() -> bool:
        return (await email_state_counts(own_pool, campaign)).get("ERROR", 0) == 3

    await wait_for(all_errored, 20, interval_s=0.2, message="3 Email states ERROR")


@pytest.mark.slow
async def test_no_secret_in_pages_or_logs(
    own_database, own_pool, redis_with_password, echoing_sendgrid, smtp_sink, service_processes
):
    texts: list[str] = []
    for provider in ("sendgrid", "smtp"):
        env = secret_environment(own_database, redis_with_password.url, echoing_sendgrid, smtp_sink.port, provider)
        service = service_processes(provider, env)
        await run_failing_sends(service, own_pool)
        texts += await every_page(service)
        if provider == "smtp":
            # Redis errors too, from a client that has the password.
            redis_with_password.stop()
            await wait_for(lambda: service.get("/health"), 5)
            await asyncio.sleep(2.5)
            texts += await every_page(service)
        service.stop()
        assert service.process.returncode == 0
        texts += [service.stdout(), service.stderr()]
        assert "sequence-cron stopped" in service.stderr()

    reasons = await own_pool.fetch("SELECT reason FROM cron_state_errors")
    texts += [row["reason"] for row in reasons]
    texts += [row["error"] or "" for row in await own_pool.fetch("SELECT error FROM sent_emails")]

    # The failures did reach the text that is checked.
    everything = "\n".join(texts)
    assert "invalid credentials: Bearer ***" in everything
    assert "SMTP connection to" in everything
    assert "Redis is unavailable" in everything
    assert "postgresql://postgres:***@" in everything
    for secret in SECRETS:
        assert secret not in everything


@pytest.mark.slow
async def test_unknown_paths_methods_and_large_bodies(own_database, redis_url, service_processes):
    service = service_processes("service", serve_environment(own_database, redis_url)).start()
    await service.wait_until_serving()

    cases = [
        ("GET", "/nowhere", None, 404),
        ("GET", "/health/../jobs/x", None, 404),
        ("POST", "/health", None, 405),
        ("DELETE", "/jobs", None, 405),
        ("PUT", "/metrics", None, 405),
        ("POST", "/health", b"x" * (1024 * 1024), 413),
        ("GET", "/jobs", b"x" * 4096, 413),
    ]
    for method, path, body, expected in cases:
        status, _ = await service.get(path, method=method, data=body)
        assert status == expected, (method, path)
    assert (await service.get("/health"))[0] == 200
    assert service.running()
