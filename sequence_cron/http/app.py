"""The HTTP port: GET /health for probes, GET /jobs for operators, GET /metrics for Prometheus."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web
from loguru import logger
from prometheus_client import CONTENT_TYPE_LATEST
from redis.exceptions import RedisError

from sequence_cron.http.metrics import Metrics
from sequence_cron.jobs.runner import Job
from sequence_cron.services import Services

SERVICES = web.AppKey("services", Services)
JOBS = web.AppKey("jobs", list)
CHECK_TIMEOUT_S = 1.0
# The port serves GET only; any request body larger than this is rejected with 413.
MAX_BODY_BYTES = 1024


def json_response(body: dict, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def check_postgres(services: Services) -> str | None:
    """Return None when PostgreSQL runs a trivial query in time, else the problem."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            async with services.pool.acquire() as connection:
                await connection.fetchval("SELECT 1")
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_S:g} s"
    except Exception as error:  # Any failure is reported as the check result, never as a 500.
        return f"{type(error).__name__}: {error}"[:300]
    return None


async def check_redis(services: Services) -> str | None:
    if services.redis is None:
        return None
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await services.redis.ping()
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_S:g} s"
    except (RedisError, OSError) as error:
        return f"{type(error).__name__}: {error}"[:300]
    return None


class HealthLog:
    """Log a change of health once, not on every probe."""

    def __init__(self):
        self.last: dict[str, str | None] = {}

    def report(self, name: str, problem: str | None) -> None:
        if name in self.last and self.last[name] == problem:
            return
        if problem is None and name in self.last:
            logger.bind(event="health_recovered", check=name).info("{} is reachable again", name)
        elif problem is not None:
            logger.bind(event="health_failed", check=name).error("{} health check failed: {}", name, problem)
        self.last[name] = problem


HEALTH_LOG = web.AppKey("health_log", HealthLog)


async def health(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    postgres, redis = await asyncio.gather(check_postgres(services), check_redis(services))
    checks = {
        "postgres": _check_body(postgres),
        "redis": _check_body(redis) if services.redis is not None else {"status": "not configured"},
    }
    for name, problem in (("postgres", postgres), ("redis", redis)):
        request.app[HEALTH_LOG].report(name, problem)
    healthy = postgres is None and redis is None
    failed = [name for name, problem in (("postgres", postgres), ("redis", redis)) if problem is not None]
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    if failed:
        body["failed"] = failed
    return json_response(body, 200 if healthy else 503)


def _check_body(problem: str | None) -> dict:
    return {"status": "ok"} if problem is None else {"status": "failed", "error": problem}


async def jobs(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    return json_response(
        {
            "jobs": [job.describe() for job in request.app[JOBS]],
            "graph_cache": services.graphs.describe(),
            "email_provider": services.provider.name,
        }
    )


METRICS = web.AppKey("metrics", Metrics)


async def metrics(request: web.Request) -> web.Response:
    body = await request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@web.middleware
async def reject_large_bodies(request: web.Request, handler):
    """Reject a declared body over the limit before any handler runs; handlers here never read bodies."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=request.content_length)
    return await handler(request)


def create_app(services: Services, jobs_list: list[Job]) -> web.Application:
    """Build the application; it also becomes the metrics recorder of every job in `jobs_list`."""
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[reject_large_bodies])
    app[SERVICES] = services
    app[JOBS] = jobs_list
    app[HEALTH_LOG] = HealthLog()
    app[METRICS] = Metrics(services, [job.name for job in jobs_list])
    for job in jobs_list:
        job.recorder = app[METRICS]
    app.router.add_get("/health", health)
    app.router.add_get("/jobs", jobs)
    app.router.add_get("/metrics", metrics)
    return app
