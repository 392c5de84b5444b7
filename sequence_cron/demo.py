"""`sequence-cron demo`: a small onboarding campaign running on embedded servers, for a first look."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime
from pathlib import Path

import asyncpg
from loguru import logger

from sequence_cron.config import load_settings
from sequence_cron.embedded import EmbeddedServers, start_postgres, start_redis
from sequence_cron.logs import configure_logging
from sequence_cron.service import serve
from sequence_cron.storage.migrate import migrate
from sequence_cron.storage.pool import init_connection

DEMO_TENANT_EMAIL = "demo@sequence.local"
DEMO_SCHEDULE = "*/10 * * * * *"  # every 10 seconds, so that the demo shows activity at once
CUSTOMERS = [
    ("Ada", "Lovelace", "ada@example.com", "Europe/London"),
    ("Grace", "Hopper", "grace@example.com", "America/New_York"),
    ("Alan", "Turing", "alan@example.com", None),
    ("Edsger", "Dijkstra", "edsger@example.com", "Europe/Amsterdam"),
    ("Nobody", "Without-Address", None, None),  # shows an ERROR state with its reason
]


def demo_environment(data_dir: Path, port: int, servers: EmbeddedServers) -> dict[str, str]:
    """Return the environment the demo serves with: embedded servers unless the user configured real ones."""
    env = dict(os.environ)
    if not any(env.get(name) for name in ("DATABASE_URL", "DB_HOST", "DB_DATABASE")):
        env["DATABASE_URL"] = start_postgres(data_dir / "postgres", servers)
    if not any(env.get(name) for name in ("REDIS_URL", "REDIS_HOST")):
        env["REDIS_URL"] = start_redis(data_dir / "redis", servers)
    env.setdefault("EMAIL_PROVIDER", "log")
    env.setdefault("CAMPAIGN_CRON_SCHEDULE", DEMO_SCHEDULE)
    env.setdefault("NODE_TIMEOUT_CRON_SCHEDULE", DEMO_SCHEDULE)
    env["PORT"] = str(port)
    env.setdefault("HTTP_HOST", "127.0.0.1")
    return env


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def run_demo(data_dir: Path, port: int) -> int:
    # Checked before seeding, so that a second try does not seed (and send) the campaign twice.
    if not port_is_free(port):
        logger.bind(event="demo_failed").error(
            "port {} is already in use; stop what uses it, or pick another port: sequence-cron demo --port {}",
            port,
            port + 1 if port < 65535 else 3001,
        )
        return 1
    servers = EmbeddedServers()
    try:
        settings = load_settings(demo_environment(data_dir, port, servers))
        configure_logging(settings.log_level, settings.log_format)
        connection = await asyncpg.connect(settings.database.dsn)
        try:
            await init_connection(connection)
            await migrate(connection)
            campaign_id = await seed(connection)
        finally:
            await connection.close()
        logger.bind(event="demo_ready", campaign_id=str(campaign_id)).info(
            "demo campaign {} is running; watch the emails below, and try: curl 127.0.0.1:{}/jobs",
            campaign_id,
            port,
        )
        return await serve(settings)
    finally:
        servers.close()


async def seed(connection: asyncpg.Connection) -> uuid.UUID:
    """Create the tenant, customers, templates and a campaign Trigger → Email → Wait → Email with due states."""
    now = await connection.fetchval("SELECT now()")
    async with connection.transaction():
        tenant_id = await connection.fetchval(
            """INSERT INTO users (email, "firstName") VALUES ($1, 'Demo')
               ON CONFLICT (email) DO UPDATE SET "updatedAt" = now()
               RETURNING id""",
            DEMO_TENANT_EMAIL,
        )
        welcome = await _template(connection, tenant_id, "Welcome, {{firstName}}!", WELCOME_BODY)
        tips = await _template(connection, tenant_id, "Three tips for your first week", TIPS_BODY)
        campaign_id = await connection.fetchval(
            """INSERT INTO campaigns ("userId", name, state, "isDraft", "launchedAt", "createdAt", "updatedAt")
               VALUES ($1, $2, 'RUNNING', false, $3, $3, $3) RETURNING id""",
            tenant_id,
            f"Onboarding demo {now:%Y-%m-%d %H:%M:%S}",
            now,
        )
        trigger = await _node(connection, tenant_id, campaign_id, "Trigger", "Signed up", {"audienceId": None}, now)
        first = await _node(connection, tenant_id, campaign_id, "Email", "Welcome email",
                            {"emailId": str(welcome), "scheduling": "Immediately"}, now)
        wait = await _node(connection, tenant_id, campaign_id, "Wait", "Wait a minute",
                           {"kind": "Relative", "minutes": 1}, now)
        second = await _node(connection, tenant_id, campaign_id, "Email", "Tips email",
                             {"emailId": str(tips), "scheduling": "Immediately"}, now)
        for from_id, to_id in ((trigger, first), (first, wait), (wait, second)):
            await connection.execute(
                """INSERT INTO campaign_node_edges ("fromId", "toId", "edgeKind", "createdAt", "updatedAt")
                   VALUES ($1, $2, 'Default', $3, $3)""",
                from_id, to_id, now,
            )
        for first_name, last_name, email, zone in CUSTOMERS:
            customer_id = await connection.fetchval(
                """INSERT INTO product_users ("userId", "externalId", "firstName", "lastName", email, traits)
                   VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
                tenant_id, str(uuid.uuid4()), first_name, last_name, email, {"timezone": zone} if zone else {},
            )
            await _state(connection, tenant_id, campaign_id, trigger, customer_id, "COMPLETED", now)
            await _state(connection, tenant_id, campaign_id, first, customer_id, "PENDING", now)
    return campaign_id


async def _template(connection, tenant_id, subject: str, body: str) -> uuid.UUID:
    return await connection.fetchval(
        """INSERT INTO emails ("userId", name, subject, "bodyHtml", "fromName", "from", "sentCount")
           VALUES ($1, $2, $2, $3, 'The Demo Team', 'team@demo.example', 0) RETURNING id""",
        tenant_id, subject, body,
    )


async def _node(connection, tenant_id, campaign_id, kind: str, name: str, json: dict, now: datetime) -> uuid.UUID:
    return await connection.fetchval(
        """INSERT INTO campaign_nodes ("userId", "campaignId", kind, name, json, "createdAt", "updatedAt")
           VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id""",
        tenant_id, campaign_id, kind, name, json, now,
    )


async def _state(connection, tenant_id, campaign_id, node_id, customer_id, state: str, now: datetime) -> None:
    completed = now if state == "COMPLETED" else None
    await connection.execute(
        """INSERT INTO campaign_node_states
               ("campaignNodeId", "campaignId", "productUserId", "userId", state, "didTimeout", attempts,
                "runAt", "completedAt", "createdAt", "updatedAt")
           VALUES ($1, $2, $3, $4, $5, false, $6, $7, $8, $7, $7)""",
        node_id, campaign_id, customer_id, tenant_id, state, 1 if completed else 0, now, completed,
    )


WELCOME_BODY = """<p>Hi {{firstName}},</p>
<p>Welcome aboard{{#companyName}} from everyone at {{companyName}}{{/companyName}}!</p>"""
TIPS_BODY = """<p>{{firstName}}, here are three tips for your first week:</p>
<ol><li>Invite your team.</li><li>Connect your data.</li><li>Launch a campaign.</li></ol>"""
