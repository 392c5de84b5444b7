"""Run a job on its cron schedule, one tick at a time, and keep the status that /jobs reports."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

import aiocron
import asyncpg
from cronsim import CronSim
from loguru import logger
from redis.exceptions import RedisError

from sequence_cron.jobs.lock import LockUnavailable, TickLock
from sequence_cron.services import Services

TickFunction = Callable[[Services], Awaitable[dict]]
# Errors of an outage: logged as one line without a traceback, since the traceback adds nothing.
OPERATIONAL_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, RedisError)
# A tick lock held by a replica that died expires after this long; a live holder renews it.
LOCK_TTL_S = 15.0


class TickRecorder(Protocol):
    """Receiver of each tick's outcome, implemented by the HTTP app's Prometheus metrics."""

    def record_tick(self, job: str, outcome: str, duration_s: float | None, summary: dict | None) -> None:
        """Count a tick. `duration_s` is None for a skipped tick, `summary` is None unless it succeeded."""


@dataclass
class JobStatus:
    name: str
    schedule: str
    running: bool = False
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_duration_ms: float | None = None
    last_outcome: str | None = None  # succeeded, failed or skipped
    last_summary: dict | None = None
    last_error: str | None = None
    last_skip_reason: str | None = None
    last_tick_id: str | None = None
    runs: int = 0
    errors: int = 0
    skips: int = 0


class Job:
    def __init__(self, name: str, schedule: str, tick: TickFunction, services: Services):
        self.name = name
        self.schedule = schedule
        self.tick = tick
        self.services = services
        self.status = JobStatus(name=name, schedule=schedule)
        self._cron: aiocron.Cron | None = None
        self._task: asyncio.Task | None = None
        self._redis_warning_logged = False
        self.recorder: TickRecorder | None = None

    def start(self) -> None:
        self._cron = aiocron.Cron(self.schedule, func=self.trigger, start=True, tz=timezone.utc)

    def stop(self) -> None:
        if self._cron is not None:
            self._cron.stop()

    def trigger(self) -> None:
        """Start a tick in the background, or record a skip when the previous one is still running."""
        if self._task is not None and not self._task.done():
            self.record_skip("the previous tick is still running")
            return
        self._task = asyncio.create_task(self.run_once(), name=f"{self.name}-tick")

    async def wait_idle(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def cancel(self) -> None:
        """Cancel the running tick, if any, and wait until it has handled the cancellation."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def next_run_at(self) -> datetime | None:
        if self._cron is None:
            return None
        return next(CronSim(self.schedule, datetime.now(timezone.utc)))

    def record_skip(self, reason: str) -> None:
        self.status.skips += 1
        self.status.last_skip_reason = reason
        logger.bind(event="tick_skipped", job=self.name).info("{} tick skipped: {}", self.name, reason)
        self.report("skipped", None, None)

    def report(self, outcome: str, duration_s: float | None, summary: dict | None) -> None:
        """Pass a tick's outcome to the recorder, logging rather than raising what the recorder raises."""
        if self.recorder is None:
            return
        try:
            self.recorder.record_tick(self.name, outcome, duration_s, summary)
        except Exception as error:  # Metrics must never change what a tick did.
            logger.bind(event="metrics_failed", job=self.name).opt(exception=error).error(
                "recording the {} {} tick in the metrics failed", outcome, self.name
            )

    async def run_once(self) -> dict | None:
        """Run one tick under the Redis lock; return its summary, or None when skipped or failed.

        Every record logged during the tick, in this task and in the tasks it starts, carries the
        job name and a new `tick_id`.
        """
        if self.status.running:
            self.record_skip("the previous tick is still running")
            return None
        tick_id = uuid.uuid4().hex
        with logger.contextualize(job=self.name, tick_id=tick_id):
            lock = self.make_lock()
            if lock is not None and not await self.take_lock(lock):
                return None
            self.status.running = True
            self.status.last_tick_id = tick_id
            try:
                return await self.run_tick()
            finally:
                self.status.running = False
                if lock is not None:
                    await lock.release()

    def make_lock(self) -> TickLock | None:
        if self.services.redis is None:
            return None
        key = f"{self.services.redis_key_prefix}lock:{self.name}"
        return TickLock(self.services.redis, key, LOCK_TTL_S)

    async def take_lock(self, lock: TickLock) -> bool:
        try:
            if await lock.acquire():
                self._redis_warning_logged = False
                return True
        except LockUnavailable as error:
            if not self._redis_warning_logged:
                logger.bind(event="redis_unavailable", job=self.name).warning(
                    "Redis is unavailable ({}); {} ticks run on PostgreSQL alone until it is back", error, self.name
                )
                self._redis_warning_logged = True
            return True
        self.record_skip("another replica holds the tick lock")
        self.status.last_outcome = "skipped"
        return False

    async def run_tick(self) -> dict | None:
        status = self.status
        status.runs += 1
        status.last_started_at = datetime.now(timezone.utc)
        started = time.perf_counter()
        log = logger.bind(job=self.name)
        log.bind(event="tick_started").info("{} tick started", self.name)
        try:
            summary = await self.tick(self.services)
        except OPERATIONAL_ERRORS as error:
            self.record_failure(started, f"{type(error).__name__}: {error}")
            log.bind(event="tick_failed").error("{} tick failed: {}: {}", self.name, type(error).__name__, error)
            return None
        except Exception as error:  # A bug must not stop the loop or the other job.
            self.record_failure(started, f"{type(error).__name__}: {error}")
            log.bind(event="tick_failed").opt(exception=error).error("{} tick failed with an unexpected error", self.name)
            return None
        duration_s = time.perf_counter() - started
        duration_ms = duration_s * 1000
        summary = {**summary, "duration_ms": round(duration_ms, 1)}
        status.last_finished_at = datetime.now(timezone.utc)
        status.last_duration_ms = round(duration_ms, 1)
        status.last_outcome = "succeeded"
        status.last_summary = summary
        status.last_error = None
        log.bind(event="tick_finished", **_flat_counts(summary)).info(
            "{} tick finished in {:.0f} ms: {}", self.name, duration_ms, _describe(summary)
        )
        self.report("succeeded", duration_s, summary)
        return summary

    def record_failure(self, started: float, message: str) -> None:
        status = self.status
        duration_s = time.perf_counter() - started
        status.errors += 1
        status.last_finished_at = datetime.now(timezone.utc)
        status.last_duration_ms = round(duration_s * 1000, 1)
        status.last_outcome = "failed"
        status.last_error = message[:1000]
        self.report("failed", duration_s, None)

    def describe(self) -> dict:
        status = self.status
        return {
            "name": status.name,
            "schedule": status.schedule,
            "running": status.running,
            "last_started_at": _iso(status.last_started_at),
            "last_finished_at": _iso(status.last_finished_at),
            "last_duration_ms": status.last_duration_ms,
            "last_outcome": status.last_outcome,
            "last_summary": status.last_summary,
            "last_error": status.last_error,
            "last_skip_reason": status.last_skip_reason,
            "last_tick_id": status.last_tick_id,
            "next_run_at": _iso(self.next_run_at()),
            "runs": status.runs,
            "errors": status.errors,
            "skips": status.skips,
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _flat_counts(summary: dict) -> dict:
    return {key: value for key, value in summary.items() if isinstance(value, int | float)}


def _describe(summary: dict) -> str:
    parts = [f"{key} {value}" for key, value in summary.items() if isinstance(value, int) and value]
    blocked = summary.get("blocked_campaigns")
    if blocked:
        parts.append(f"blocked campaigns {len(blocked)}")
    return ", ".join(parts) or "nothing to do"
