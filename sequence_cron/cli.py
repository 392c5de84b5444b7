"""The `sequence-cron` command: serve, run one tick, migrate, launch a campaign, or start the demo."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import orjson
from loguru import logger

from sequence_cron import __version__
from sequence_cron.clock import Clock, FixedClock, parse_instant
from sequence_cron.config import (
    DatabaseSettings,
    Settings,
    load_database_settings,
    load_default_timezone,
    load_log_settings,
    load_settings,
    read_integer,
)
from sequence_cron.exceptions import ConfigError, MigrationError
from sequence_cron.logs import configure_logging

DATABASE_VARIABLES = """\
database: DATABASE_URL, or DB_HOST, DB_PORT, DB_USERNAME, DB_PASSWORD, DB_DATABASE, DB_SSL;
  DB_POOL_MAX_SIZE (10), DB_STATEMENT_TIMEOUT_MS (30000), DB_CONNECT_TIMEOUT_SECONDS (5)"""
REDIS_VARIABLES = "Redis: REDIS_URL, or REDIS_HOST, REDIS_PORT, REDIS_PASSWORD; REDIS_KEY_PREFIX (sequence-cron:)"
JOB_VARIABLES = """\
jobs: CAMPAIGN_BATCH_SIZE (2000), EMAIL_BATCH_SIZE (100), MAX_TICK_SECONDS (50),
  CAMPAIGN_NODE_TIMEOUT_SECONDS (600), DEFAULT_TIMEZONE (UTC), GRAPH_CACHE_SIZE (10000),
  GRAPH_CACHE_TTL_SECONDS (3600)"""
EMAIL_VARIABLES = """\
email: EMAIL_PROVIDER (log, smtp, sendgrid, mailgun), FROM_ADDRESS, SMTP_URL, SENDGRID_API_KEY,
  SENDGRID_API_URL, MAILGUN_API_KEY, MAILGUN_DOMAIN, MAILGUN_API_URL, EMAIL_CONCURRENCY (20),
  EMAIL_SEND_TIMEOUT_SECONDS (10)"""
MIGRATION_VARIABLES = "migrations: MIGRATIONS_DIR (the migrations/ folder of the source tree)"
SERVICE_VARIABLES = """\
service: PORT (3001), HTTP_HOST (0.0.0.0), NODE_ENV (development), CAMPAIGN_CRON_SCHEDULE and
  NODE_TIMEOUT_CRON_SCHEDULE (cron expressions, '* * * * *'; a sixth leading field is seconds),
  SHUTDOWN_GRACE_SECONDS (8), LOG_LEVEL (INFO), LOG_FORMAT (text, or json)"""
JOB_NAMES = ("campaign-cron", "node-timeout")


def environment_help(*groups: str) -> str:
    return "environment variables (defaults in brackets):\n" + "\n".join(groups)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sequence-cron",
        description="Background jobs of the Sequence marketing-automation app.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=environment_help(DATABASE_VARIABLES, REDIS_VARIABLES, SERVICE_VARIABLES, JOB_VARIABLES, EMAIL_VARIABLES),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, *groups: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=summary,
            description=summary,
            epilog=environment_help(*groups),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    serve = command(
        "serve",
        "Run the campaign cron and node timeout jobs on their schedules and serve /health, /jobs and /metrics "
        "on PORT.",
        DATABASE_VARIABLES, REDIS_VARIABLES, SERVICE_VARIABLES, JOB_VARIABLES, EMAIL_VARIABLES, MIGRATION_VARIABLES,
    )
    serve.add_argument("--migrate", action="store_true", help="apply pending migrations before serving")
    serve.add_argument("--reload", action="store_true", help="restart when a source file changes (development)")

    run = command(
        "run",
        "Run one tick of a job now and print its summary as one JSON object on standard output.",
        DATABASE_VARIABLES, REDIS_VARIABLES, JOB_VARIABLES, EMAIL_VARIABLES,
    )
    run.add_argument("job", choices=JOB_NAMES, help="the job to run")
    run.add_argument("--now", metavar="INSTANT", help="run as of this ISO 8601 instant, e.g. 2026-03-08T06:59:00Z")

    command(
        "migrate",
        "Create the tables this service needs where they are missing, and add its own indexes and tables.",
        DATABASE_VARIABLES, MIGRATION_VARIABLES,
    )

    launch = command(
        "launch",
        "Set a campaign RUNNING and enroll the customers that match its entry nodes' audiences.",
        DATABASE_VARIABLES, "time: DEFAULT_TIMEZONE (UTC)",
    )
    launch.add_argument("campaign_id", metavar="CAMPAIGN_ID", help="the campaign's id (a UUID)")
    launch.add_argument("--now", metavar="INSTANT", help="launch as of this ISO 8601 instant")

    demo = command(
        "demo",
        "Start embedded PostgreSQL and Redis (unless configured), seed an onboarding campaign and serve it "
        "with the log email provider.",
        DATABASE_VARIABLES, REDIS_VARIABLES, SERVICE_VARIABLES,
    )
    demo.add_argument("--data-dir", type=Path, default=Path(".demo-data"), help="folder for the embedded servers' files")
    demo.add_argument("--port", type=int, default=None, help="HTTP port (default: PORT, else 3001)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            configure_logging()
            from sequence_cron.demo import run_demo

            return asyncio.run(run_demo(args.data_dir, demo_port(args.port)))
        if args.command in ("migrate", "launch"):
            # These two need only the database, so unrelated settings cannot stop them.
            configure_logging(*load_log_settings(os.environ))
            database = require_database(load_database_settings(os.environ))
            if args.command == "migrate":
                return asyncio.run(command_migrate(database))
            zone = load_default_timezone(os.environ)
            return asyncio.run(command_launch(database, zone, args.campaign_id, clock_from(args.now)))
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        if args.command == "serve":
            return command_serve(settings, args)
        return asyncio.run(command_run(settings, args.job, clock_from(args.now)))
    except ConfigError as error:
        print(f"sequence-cron: configuration error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def demo_port(requested: int | None) -> int:
    """Return --port, else PORT, else 3001; the demo sets every other variable itself."""
    if requested is None:
        return read_integer(os.environ, "PORT", 3001, 1, 65535)
    if not 1 <= requested <= 65535:
        raise ConfigError(f"--port: {requested} is outside 1..65535, for example --port 3001")
    return requested


def clock_from(now: str | None) -> Clock:
    if now is None:
        return Clock()
    try:
        instant = parse_instant(now)
    except (ValueError, OverflowError):
        raise ConfigError(f"--now: invalid instant {now!r}, for example --now 2026-03-08T06:59:00Z") from None
    # Run times are computed up to 100 years ahead of now, which must stay within datetime's range.
    if not 1970 <= instant.year <= 2200:
        raise ConfigError(f"--now: {now!r} is outside the years 1970 to 2200, for example --now 2026-03-08T06:59:00Z")
    return FixedClock(instant)


def command_serve(settings: Settings, args) -> int:
    if args.reload:
        import watchfiles

        package = Path(__file__).parent
        command = [sys.executable, "-m", "sequence_cron", "serve"] + (["--migrate"] if args.migrate else [])
        logger.info("serving with reload: watching {}", package)
        watchfiles.run_process(package, target=" ".join(command), target_type="command")
        return 0
    from sequence_cron.service import serve

    async def migrate_then_serve() -> int:
        if args.migrate and await command_migrate(require_database(settings.database)) != 0:
            return 1
        return await serve(settings)

    return asyncio.run(migrate_then_serve())


async def command_run(settings: Settings, job: str, clock: Clock) -> int:
    from sequence_cron.service import TICKS
    from sequence_cron.services import open_services

    started = time.perf_counter()
    try:
        async with open_services(settings, clock) as services:
            # SIGTERM or SIGINT ends the tick after its current batch, as in `serve`.
            loop = asyncio.get_running_loop()
            for signal_number in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signal_number, services.stopping.set)
            summary = await TICKS[job](services)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
        print(f"sequence-cron: {job} tick failed: {type(error).__name__}: {error}{schema_hint(error)}", file=sys.stderr)
        return 1
    summary = {"job": job, **summary, "duration_ms": round((time.perf_counter() - started) * 1000, 1)}
    print(orjson.dumps(summary, default=str).decode())
    return 0


async def command_migrate(database: DatabaseSettings) -> int:
    from sequence_cron.storage.migrate import migrate

    try:
        connection = await asyncpg.connect(database.dsn, timeout=database.connect_timeout_s)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        print(f"sequence-cron: cannot connect to {database.display}: {error}", file=sys.stderr)
        return 1
    try:
        applied = await migrate(connection)
    except MigrationError as error:
        print(f"sequence-cron: {error}", file=sys.stderr)
        return 1
    finally:
        await connection.close()
    print(orjson.dumps({"applied": applied}).decode())
    return 0


async def command_launch(database: DatabaseSettings, default_timezone: str, campaign_id: str, clock: Clock) -> int:
    from sequence_cron.engine.launch import CampaignNotFoundError, launch_campaign
    from sequence_cron.engine.timing import load_zone
    from sequence_cron.filters import FilterError
    from sequence_cron.storage.pool import create_pool

    try:
        parsed = uuid.UUID(campaign_id)
    except ValueError:
        raise ConfigError(f"CAMPAIGN_ID: {campaign_id!r} is not a UUID, for example 3f6c2a9e-8d1b-4c55-9a7e-2b1f0c4d5e6a") from None
    try:
        pool = await create_pool(database)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        print(f"sequence-cron: cannot connect to {database.display}: {error}", file=sys.stderr)
        return 1
    try:
        problem = await launch_problem(pool, parsed)
        if problem is not None:
            print(f"sequence-cron: launch failed, nothing was changed: campaign {parsed} {problem}", file=sys.stderr)
            return 1
        entries = await launch_campaign(pool, parsed, clock.now(), load_zone(default_timezone))
    except (CampaignNotFoundError, FilterError, asyncpg.PostgresError) as error:
        print(f"sequence-cron: launch failed, nothing was changed: {error}{schema_hint(error)}", file=sys.stderr)
        return 1
    finally:
        await pool.close()
    result = {
        "campaign_id": str(parsed),
        "entry_nodes": [
            {
                "node_id": str(node_id),
                "audience_id": None if entry.audience_id is None else str(entry.audience_id),
                "enrolled": entry.enrolled,
                "skipped_reason": entry.skipped_reason,
            }
            for node_id, entry in entries.items()
        ],
    }
    print(orjson.dumps(result).decode())
    return 0


async def launch_problem(pool, campaign_id: uuid.UUID) -> str | None:
    """Return why a campaign's graph cannot be launched (broken, or no usable entry node), or None."""
    from sequence_cron.engine.graph import compile_graph
    from sequence_cron.storage import store

    async with pool.acquire() as connection:
        nodes = await store.campaign_nodes(connection, [campaign_id])
        edges = await store.campaign_edges(connection, [campaign_id])
    if not nodes:
        async with pool.acquire() as connection:
            exists = await connection.fetchval(
                'SELECT true FROM campaigns WHERE id = $1 AND "deletedAt" IS NULL', campaign_id
            )
        # launch_campaign reports a missing or deleted campaign itself.
        return "has no nodes" if exists else None
    graph = compile_graph(campaign_id, (), nodes, edges)
    if graph.broken_reason is not None:
        return f"has a broken graph: {graph.broken_reason}"
    entries = [node for node in graph.nodes.values() if node.is_entry]
    if not entries:
        return "has no Trigger or Audience node to enroll customers on"
    invalid = [node.invalid_reason for node in entries if node.invalid_reason is not None]
    if invalid:
        return f"has an invalid entry node: {invalid[0]}"
    return None


def schema_hint(error: BaseException) -> str:
    if isinstance(error, asyncpg.UndefinedTableError | asyncpg.UndefinedFunctionError):
        return "; the schema is missing or incomplete, run `sequence-cron migrate` first"
    return ""


def require_database(database: DatabaseSettings | None) -> DatabaseSettings:
    if database is None:
        raise ConfigError(
            "DATABASE_URL: missing, and no DB_HOST/DB_DATABASE either, "
            "for example DATABASE_URL=postgresql://postgres@localhost:5432/sequence"
        )
    return database
