"""The workloads, each run in a child process of its own so that its peak RSS is its own.

Each workload copies the run's base database, adds a campaign and its due states, and runs one
tick through run_campaign_tick with services from open_services, as `sequence-cron run
campaign-cron` does. It returns a dict of figures that run.py prints.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import asyncpg
from aiohttp import web

from sequence_cron.config import load_settings
from sequence_cron.engine.tick import run_campaign_tick
from sequence_cron.http.app import create_app
from sequence_cron.services import open_services

import database
import probes

RUN_SCRIPT = Path(__file__).with_name("run.py")
# Settings a caller may set in the environment to try other values; everything else is fixed here.
TUNING_VARIABLES = (
    "CAMPAIGN_BATCH_SIZE",
    "EMAIL_BATCH_SIZE",
    "EMAIL_CONCURRENCY",
    "DB_POOL_MAX_SIZE",
    "MAX_TICK_SECONDS",
)
IDLE_TICKS = 20
HEALTH_RATE = 100.0
FINISHED_DUE_STATES = 10_000
FINISHED_REPEATS = 3

WAIT_NODES = [("first", "Wait", {"days": 1}), ("next", "Wait", {"days": 1})]
WAIT_EDGES = [("first", "next", "Default")]

# The one statement per batch that the Wait workload is held against: the same due-state scan and
# row locks as lock_due_states, the same completion with its state check, and the same next states,
# with no round trip to Python. Returns the number of states finished.
FLOOR_SQL = """
WITH due AS (
    SELECT s.id
    FROM campaign_node_states s
    JOIN campaigns c ON c.id = s."campaignId"
    JOIN campaign_nodes n ON n.id = s."campaignNodeId"
    JOIN product_users p ON p.id = s."productUserId"
    WHERE s.state = 'PENDING'
      AND s.attempts = 0
      AND s."runAt" <= $1::timestamptz
      AND s."deletedAt" IS NULL
      AND c.state = 'RUNNING'
      AND c."isDraft" IS NOT TRUE
      AND c."deletedAt" IS NULL
      AND n."deletedAt" IS NULL
      AND n.kind = 'Wait'
    ORDER BY s."runAt"
    LIMIT $2::int
    FOR UPDATE OF s SKIP LOCKED
), finished AS (
    UPDATE campaign_node_states s
    SET state = 'COMPLETED', "didTimeout" = false, attempts = s.attempts + 1,
        "completedAt" = $1::timestamptz, "updatedAt" = $1::timestamptz
    FROM due
    WHERE s.id = due.id AND s.state = 'PENDING'
    RETURNING s."campaignNodeId", s."campaignId", s."productUserId", s."userId"
), inserted AS (
    INSERT INTO campaign_node_states
        (id, "campaignNodeId", "campaignId", "productUserId", "userId", name, state, "didTimeout",
         attempts, "runAt", "timeoutAt", "createdAt", "updatedAt")
    SELECT gen_random_uuid(), e."toId", f."campaignId", f."productUserId", f."userId", coalesce(n.name, n.kind),
           'PENDING', false, 0, $1::timestamptz + make_interval(days => (n.json ->> 'days')::int), NULL,
           $1::timestamptz, $1::timestamptz
    FROM finished f
    JOIN campaign_node_edges e ON e."fromId" = f."campaignNodeId" AND e."edgeKind" = 'Default' AND e."deletedAt" IS NULL
    JOIN campaign_nodes n ON n.id = e."toId" AND n."deletedAt" IS NULL
    RETURNING 1
)
SELECT (SELECT count(*) FROM finished) AS finished, (SELECT count(*) FROM inserted) AS inserted
"""


class Workload:
    def __init__(self, admin_url: str, base: str, states: int, customers: int):
        self.admin_url = admin_url
        self.base = base
        self.states = states
        self.customers = customers

    def settings(self, url: str, **variables: str):
        environment = {name: os.environ[name] for name in TUNING_VARIABLES if name in os.environ}
        environment.setdefault("MAX_TICK_SECONDS", "86400")
        environment.update(DATABASE_URL=url, EMAIL_PROVIDER="log", LOG_LEVEL="INFO", LOG_FORMAT="text")
        environment.update(variables)
        return load_settings(environment)

    async def copy_base(self, name: str, nodes, edges, states: int, finished: int = 0) -> tuple[str, dict]:
        """Copy the base database as `name`, add a campaign and its states, and vacuum.

        Returns the database's URL and the ids of the campaign and its nodes.
        """
        url = await database.create_database(self.admin_url, name, template=self.base)
        connection = await asyncpg.connect(url)
        try:
            ids = await database.add_campaign(connection, nodes, edges)
            first = nodes[0][0]
            if finished:
                await database.add_states(
                    connection, ids[first], ids["campaign"], finished, self.customers, finished=True
                )
            await database.add_states(connection, ids[first], ids["campaign"], states, self.customers)
            await connection.execute("VACUUM ANALYZE")
        finally:
            await connection.close()
        return url, ids

    async def timed_tick(self, services) -> dict:
        reset = probes.reset_peak_rss()
        started = time.perf_counter()
        summary = await run_campaign_tick(services)
        seconds = time.perf_counter() - started
        return {
            "summary": summary,
            "seconds": seconds,
            "rate": self.states / seconds,
            "peak_rss": probes.peak_rss_bytes(),
            "peak_rss_reset": reset,
        }

    async def wait(self) -> dict:
        """Wait → Wait through the engine, the floor on a copy of the same data, then idle ticks."""
        url, _ = await self.copy_base(f"{self.base}_wait", WAIT_NODES, WAIT_EDGES, self.states)
        floor_url = await database.create_database(self.admin_url, f"{self.base}_wait_floor", template=f"{self.base}_wait")

        settings = self.settings(url)
        floor = await run_floor(floor_url, settings.batch_size)
        await database.drop_database(self.admin_url, f"{self.base}_wait_floor")

        async with open_services(settings) as services:
            result = await self.timed_tick(services)
            idle = []
            for _ in range(IDLE_TICKS):
                started = time.perf_counter()
                summary = await run_campaign_tick(services)
                idle.append((time.perf_counter() - started) * 1000)
                if summary["completed"]:
                    result.setdefault("problems", []).append(f"an idle tick completed {summary['completed']} states")
        result["floor_seconds"] = floor["seconds"]
        result["floor_rate"] = floor["finished"] / floor["seconds"]
        result["floor_batches"] = floor["batches"]
        result["idle_ms_median"] = statistics.median(idle)
        result["idle_ms_max"] = max(idle)
        check(result, "completed", self.states, result["summary"]["completed"])
        check(result, "next states", self.states, result["summary"]["next_states"])
        check(result, "floor finished", self.states, floor["finished"])
        return result

    async def email(self, provider: str) -> dict:
        nodes = [("email", "Email", {"emailId": str(database.TEMPLATE_ID)}), ("next", "Wait", {"days": 1})]
        url, _ = await self.copy_base(f"{self.base}_email_{provider}", nodes, [("email", "next", "Default")], self.states)
        if provider == "log":
            async with open_services(self.settings(url)) as services:
                result = await self.timed_tick(services)
        else:
            server = SmtpServer()
            port = await server.start()
            variables = {
                "EMAIL_PROVIDER": "smtp",
                "SMTP_URL": f"smtp://127.0.0.1:{port}",
                "FROM_ADDRESS": "bench@example.com",
            }
            try:
                async with open_services(self.settings(url, **variables)) as services:
                    result = await self.timed_tick(services)
            finally:
                received = await server.stop()
            check(result, "messages accepted by the SMTP server", self.states, received)
        check(result, "emails sent", self.states, result["summary"]["emails_sent"])
        check(result, "next states", self.states, result["summary"]["next_states"])
        return result

    async def filter(self) -> dict:
        nodes = [
            ("filter", "Filter", {"audienceId": str(database.AUDIENCE_ID), "waitValue": 0}),
            ("matched", "Wait", {"days": 1}),
            ("unmatched", "Wait", {"days": 2}),
        ]
        edges = [("filter", "matched", "Default"), ("filter", "unmatched", "Timeout")]
        url, ids = await self.copy_base(f"{self.base}_filter", nodes, edges, self.states)
        async with open_services(self.settings(url)) as services:
            result = await self.timed_tick(services)
            matched = await services.pool.fetchval(
                'SELECT count(*) FROM campaign_node_states WHERE "campaignNodeId" = $1', ids["matched"]
            )
        # Unmatched states leave by the Timeout edge, which the summary counts as completed too.
        check(result, "states finished", self.states, result["summary"]["completed"])
        # Customer i matches when i is even (DE) and divisible by 3 (activated).
        expected_matches = sum(1 for i in range(self.states) if (i % self.customers) % 6 == 0)
        check(result, "matched states", expected_matches, matched)
        result["matched"] = matched
        return result

    async def health(self) -> dict:
        """Run a Wait tick while a separate process requests /health of the app served in this loop."""
        url, _ = await self.copy_base(f"{self.base}_health", WAIT_NODES, WAIT_EDGES, self.states)
        async with open_services(self.settings(url)) as services:
            runner = web.AppRunner(create_app(services, []), access_log=None, handle_signals=False)
            await runner.setup()
            try:
                site = web.TCPSite(runner, "127.0.0.1", 0)
                await site.start()
                port = runner.addresses[0][1]
                client = await start_child("--health-client", f"http://127.0.0.1:{port}/health")
                await asyncio.sleep(1.0)
                started = time.monotonic()
                result = await self.timed_tick(services)
                ended = time.monotonic()
                await asyncio.sleep(0.5)
                samples = (await stop_child(client))["samples"]
            finally:
                await runner.cleanup()
        during = [sample for sample in samples if started <= sample[0] <= ended]
        latencies = [sample[1] * 1000 for sample in during]
        result["health_requests"] = len(during)
        result["health_failures"] = sum(1 for sample in during if sample[2] != 200)
        result["health_p50_ms"] = probes.percentile(latencies, 0.50) if latencies else None
        result["health_p99_ms"] = probes.percentile(latencies, 0.99) if latencies else None
        result["health_max_ms"] = max(latencies) if latencies else None
        check(result, "completed", self.states, result["summary"]["completed"])
        return result

    async def large(self) -> dict:
        """Drain a large Wait backlog in one tick, to show that memory stays flat."""
        url, _ = await self.copy_base(f"{self.base}_large", WAIT_NODES, WAIT_EDGES, self.states)
        async with open_services(self.settings(url)) as services:
            result = await self.timed_tick(services)
        check(result, "completed", self.states, result["summary"]["completed"])
        return result

    async def finished(self, finished_states: int) -> dict:
        """Time a 10,000-state tick with `finished_states` COMPLETED states in the table, and without them."""
        self.states = FINISHED_DUE_STATES
        with_name, without_name = f"{self.base}_finished_with", f"{self.base}_finished_without"
        await self.copy_base(with_name, WAIT_NODES, WAIT_EDGES, FINISHED_DUE_STATES, finished=finished_states)
        await self.copy_base(without_name, WAIT_NODES, WAIT_EDGES, FINISHED_DUE_STATES)
        seconds = {with_name: [], without_name: []}
        floor_seconds = {with_name: [], without_name: []}
        result = {}
        for repeat in range(FINISHED_REPEATS):
            for template in (without_name, with_name):
                name = f"{template}_{repeat}"
                url = await database.create_database(self.admin_url, name, template=template)
                settings = self.settings(url)
                async with open_services(settings) as services:
                    tick = await self.timed_tick(services)
                await database.drop_database(self.admin_url, name)
                seconds[template].append(tick["seconds"])
                check(result, f"completed in {name}", FINISHED_DUE_STATES, tick["summary"]["completed"])

                # The floor on the same data shows how much of the difference the database itself makes.
                url = await database.create_database(self.admin_url, name, template=template)
                floor = await run_floor(url, settings.batch_size)
                await database.drop_database(self.admin_url, name)
                floor_seconds[template].append(floor["seconds"])
        result["with_seconds"] = statistics.median(seconds[with_name])
        result["without_seconds"] = statistics.median(seconds[without_name])
        result["ratio"] = result["with_seconds"] / result["without_seconds"]
        result["floor_with_seconds"] = statistics.median(floor_seconds[with_name])
        result["floor_without_seconds"] = statistics.median(floor_seconds[without_name])
        result["floor_ratio"] = result["floor_with_seconds"] / result["floor_without_seconds"]
        result["finished_states"] = finished_states
        result["states"] = FINISHED_DUE_STATES
        return result


def check(result: dict, description: str, expected: int, actual: int) -> None:
    """Record a mismatch in result["problems"], which run.py prints under the workload's line."""
    if expected != actual:
        result.setdefault("problems", []).append(f"{description}: expected {expected}, got {actual}")


async def run_floor(url: str, batch_size: int) -> dict:
    """Run FLOOR_SQL in autocommit, one transaction per batch, until no state is due."""
    connection = await asyncpg.connect(url)
    try:
        statement = await connection.prepare(FLOOR_SQL)
        finished = batches = 0
        started = time.perf_counter()
        while True:
            row = await statement.fetchrow(datetime.now(timezone.utc), batch_size)
            if row["finished"] == 0:
                break
            finished += row["finished"]
            batches += 1
        return {"finished": finished, "batches": batches, "seconds": time.perf_counter() - started}
    finally:
        await connection.close()


async def start_child(*arguments: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(RUN_SCRIPT), *arguments, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )


async def stop_child(process: asyncio.subprocess.Process) -> dict:
    """Close the child's standard input, its signal to stop, and return the JSON report it prints."""
    process.stdin.close()
    output, _ = await process.communicate()
    return json.loads(output.decode().strip().splitlines()[-1])


class SmtpServer:
    """The counting SMTP server of probes.serve_smtp, run as a child process."""

    def __init__(self):
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> int:
        """Start the server and return its port."""
        self.process = await start_child("--smtp-server")
        return int((await self.process.stdout.readline()).decode())

    async def stop(self) -> int:
        """Stop the server and return the number of messages it accepted."""
        return (await stop_child(self.process))["messages"]
