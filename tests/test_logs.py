"""LOG_FORMAT=json: one JSON object per line, with the job, the tick id and the state's ids when bound."""

from __future__ import annotations

import io
import sys
from datetime import datetime, timedelta

import orjson
import pytest
from loguru import logger

from sequence_cron.clock import FixedClock
from sequence_cron.config import load_settings
from sequence_cron.engine.tick import run_campaign_tick
from sequence_cron.jobs.runner import Job
from sequence_cron.logs import configure_logging
from sequence_cron.services import open_services

STATE_IDS = ("state_id", "node_id", "campaign_id", "customer_id")


@pytest.fixture
def json_stream(make_settings):
    """The stream of the JSON sink that LOG_FORMAT=json sets up; stderr logging is restored afterwards.

    Tests list it after `services`, so that the line logged when the services open is not in it.
    """
    settings = make_settings(LOG_FORMAT="json", LOG_LEVEL="DEBUG")
    stream = io.StringIO()
    configure_logging(settings.log_level, settings.log_format, stream)
    yield stream
    logger.remove()
    logger.add(sys.stderr)


def parse_lines(stream: io.StringIO) -> list[dict]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return [orjson.loads(line) for line in text.splitlines()]


async def seed_campaign(factory, now):
    """A due Wait state, and a due Email state whose customer has no address; return the Email state's ids."""
    tenant = await factory.tenant()
    campaign_id = await factory.campaign(tenant)
    wait = await factory.node(campaign_id, "Wait", {"days": 1})
    template = await factory.template(tenant)
    email = await factory.node(campaign_id, "Email", {"emailId": str(template), "scheduling": "Immediately"})
    with_address = await factory.customer(tenant)
    without_address = await factory.customer(tenant, email=None)
    await factory.state(wait, with_address, runAt=now - timedelta(minutes=1))
    state_id = await factory.state(email, without_address, runAt=now - timedelta(minutes=1))
    return {"state_id": state_id, "node_id": email, "campaign_id": campaign_id, "customer_id": without_address}


async def test_tick_lines_are_json(services, factory, now, json_stream):
    ids = await seed_campaign(factory, now)
    job = Job("campaign-cron", "* * * * *", run_campaign_tick, services)

    summary = await job.run_once()
    lines = parse_lines(json_stream)

    assert summary["completed"] == 1
    assert summary["errored"] == 1
    assert len(lines) >= 3
    for line in lines:
        assert isinstance(line, dict)
        assert datetime.fromisoformat(line["time"]).tzinfo is not None
        assert line["level"] in ("DEBUG", "INFO", "WARNING", "ERROR")
        assert isinstance(line["message"], str)
        assert line["job"] == "campaign-cron"
        assert line["tick_id"] == job.status.last_tick_id
    events = [line.get("event") for line in lines]
    assert events[0] == "tick_started"
    assert events[-1] == "tick_finished"
    [error] = [line for line in lines if line.get("event") == "state_error"]
    for key in STATE_IDS:
        assert error[key] == str(ids[key])
    assert error["level"] == "WARNING"
    assert lines[-1]["completed"] == 1
    assert lines[-1]["errored"] == 1


async def test_each_tick_has_its_own_id(services, json_stream):
    async def empty_tick(_services):
        return {}

    job = Job("empty", "* * * * *", empty_tick, services)
    await job.run_once()
    first_id = job.status.last_tick_id
    await job.run_once()
    second_id = job.status.last_tick_id

    tick_ids = [line["tick_id"] for line in parse_lines(json_stream)]
    assert first_id != second_id
    assert tick_ids == [first_id, first_id, second_id, second_id]


async def test_tick_id_ends_with_tick(services, json_stream):
    async def empty_tick(_services):
        return {}

    await Job("empty", "* * * * *", empty_tick, services).run_once()
    logger.bind(event="after").info("after the tick")

    after = parse_lines(json_stream)[-1]
    assert after["event"] == "after"
    assert "tick_id" not in after
    assert "job" not in after


async def test_failed_tick_line_has_traceback(services, json_stream):
    async def broken_tick(_services):
        raise RuntimeError("boom")

    job = Job("broken", "* * * * *", broken_tick, services)
    await job.run_once()

    [failed] = [line for line in parse_lines(json_stream) if line.get("event") == "tick_failed"]
    assert failed["level"] == "ERROR"
    assert failed["job"] == "broken"
    assert failed["tick_id"] == job.status.last_tick_id
    assert failed["exception"] == "RuntimeError('boom')"
    assert "Traceback (most recent call last)" in failed["traceback"]
    assert "broken_tick" in failed["traceback"]


async def test_multiline_message_stays_one_line(json_stream):
    logger.bind(state_id="s1").warning("first\nsecond")

    [line] = parse_lines(json_stream)
    assert line["message"] == "first\nsecond"
    assert line["state_id"] == "s1"


async def test_production_defaults_to_json(environment, db, now):
    settings = load_settings({**environment, "NODE_ENV": "production"})
    stream = io.StringIO()
    configure_logging(settings.log_level, settings.log_format, stream)
    try:
        async with open_services(settings, FixedClock(now)):
            pass
    finally:
        logger.remove()
        logger.add(sys.stderr)

    [line] = parse_lines(stream)
    assert settings.log_format == "json"
    assert line["event"] == "services_opened"
    assert line["level"] == "INFO"



def test_malformed_request_logs_one_line(logs):
    import logging

    from aiohttp.http_exceptions import LineTooLong

    from sequence_cron.logs import StandardLoggingHandler

    try:
        raise LineTooLong("GET /xxxx", "8190")
    except LineTooLong:
        record = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "Error handling request", (), sys.exc_info())

    StandardLoggingHandler().emit(record)

    [(level, message, extra)] = logs
    assert level == "WARNING"
    assert message.startswith("rejected a malformed HTTP request: ")
    assert extra["logger_name"] == "aiohttp.server"


def test_library_records_reach_loguru(logs):
    import logging

    from sequence_cron.logs import StandardLoggingHandler

    record = logging.LogRecord("asyncpg.pool", logging.WARNING, __file__, 1, "pool %s is slow", ("main",), None)

    StandardLoggingHandler().emit(record)

    assert logs == [("WARNING", "pool main is slow", {"logger_name": "asyncpg.pool"})]
