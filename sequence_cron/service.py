"""`sequence-cron serve`: both jobs on their schedules and the HTTP port, in one event loop."""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web
from loguru import logger

from sequence_cron.config import Settings
from sequence_cron.engine.tick import run_campaign_tick
from sequence_cron.http.app import create_app
from sequence_cron.jobs.node_timeout import run_node_timeout_tick
from sequence_cron.jobs.runner import Job
from sequence_cron.services import Services, open_services

CAMPAIGN_CRON = "campaign-cron"
NODE_TIMEOUT = "node-timeout"
TICKS = {CAMPAIGN_CRON: run_campaign_tick, NODE_TIMEOUT: run_node_timeout_tick}
# How long cancelled ticks get to write what they did before the pool closes anyway.
CANCEL_GRACE_S = 1.5


def create_jobs(services: Services) -> list[Job]:
    settings = services.settings
    return [
        Job(CAMPAIGN_CRON, settings.campaign_cron_schedule, run_campaign_tick, services),
        Job(NODE_TIMEOUT, settings.node_timeout_cron_schedule, run_node_timeout_tick, services),
    ]


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> int:
    """Run until SIGTERM or SIGINT (or until `stop` is set), then shut down cleanly; return the exit code."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)

    async with open_services(settings) as services:
        jobs = create_jobs(services)
        runner = web.AppRunner(create_app(services, jobs), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, settings.http_host, settings.port)
            try:
                await site.start()
            except OSError as error:
                logger.bind(event="service_failed").error(
                    "cannot listen on {}:{}: {}; set PORT or HTTP_HOST to a free address",
                    settings.http_host,
                    settings.port,
                    error.strerror or error,
                )
                return 1
            for job in jobs:
                job.start()
            logger.bind(event="service_started").info(
                "sequence-cron started: HTTP on {}:{}, {} every '{}', {} every '{}'",
                settings.http_host,
                settings.port,
                CAMPAIGN_CRON,
                settings.campaign_cron_schedule,
                NODE_TIMEOUT,
                settings.node_timeout_cron_schedule,
            )
            await stop.wait()
            logger.bind(event="service_stopping").info("stop signal received; finishing the running ticks")
            await shut_down(services, jobs)
        finally:
            await runner.cleanup()
    logger.bind(event="service_stopped").info("sequence-cron stopped")
    return 0


async def shut_down(services: Services, jobs: list[Job]) -> None:
    """Stop the triggers, let running ticks finish their batch, and cancel what outlives the grace period."""
    for job in jobs:
        job.stop()
    services.stopping.set()
    idle = asyncio.gather(*(job.wait_idle() for job in jobs))
    try:
        await asyncio.wait_for(idle, services.settings.shutdown_grace_s)
    except TimeoutError:
        logger.bind(event="shutdown_timeout").warning(
            "ticks still running after {:g} s; cancelling them", services.settings.shutdown_grace_s
        )
        # A cancelled Email batch still records its finished sends and releases its unstarted
        # ones, which needs the pool: wait for that before the pool closes.
        try:
            await asyncio.wait_for(asyncio.gather(*(job.cancel() for job in jobs)), CANCEL_GRACE_S)
        except TimeoutError:
            logger.bind(event="shutdown_timeout").error(
                "ticks still running {:g} s after they were cancelled; stopping without them", CANCEL_GRACE_S
            )
