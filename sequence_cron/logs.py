"""Loguru set-up: readable text in development, one JSON object per line with LOG_FORMAT=json."""

from __future__ import annotations

import logging
import sys
import traceback

import orjson
from aiohttp.http_exceptions import HttpProcessingError
from loguru import logger

ID_FIELDS = ("job", "tick_id", "state_id", "node_id", "campaign_id", "customer_id")
TEXT_FORMAT = "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> <level>{level: <7}</level> {message}"


def configure_logging(level: str = "INFO", log_format: str = "text", stream=None) -> None:
    """Send every record to `stream` (standard error by default) in the chosen format."""
    stream = stream or sys.stderr
    logger.remove()
    if log_format == "json":
        logger.add(lambda message: _write_json(stream, message), level=level, format="{message}")
    else:
        logger.add(stream, level=level, format=TEXT_FORMAT, colorize=None)
    # Libraries such as asyncio, aiohttp and asyncpg log through the standard logging module. Their
    # records go through loguru too, so they share the format and the level.
    logging.basicConfig(handlers=[StandardLoggingHandler()], level=logging.WARNING, force=True)


class StandardLoggingHandler(logging.Handler):
    """Hand records of the standard logging module to loguru, keeping their level and logger name."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        exc_info = record.exc_info
        if exc_info and isinstance(exc_info[1], HttpProcessingError):
            # A malformed request (an over-long line or header) is the client's error. aiohttp has
            # already responded with 400, so one line without a traceback is enough.
            level, exc_info = "WARNING", None
            message = f"rejected a malformed HTTP request: {record.exc_info[1]}"
        else:
            message = record.getMessage()
        logger.bind(logger_name=record.name).opt(exception=exc_info).log(level, message)


def json_record(record: dict) -> dict:
    """Turn a loguru record into the JSON object of one line: time, level, message and the extra fields.

    `record["extra"]` contains both the fields bound with `logger.bind` and those set with
    `logger.contextualize` (such as `tick_id`), so every one of them is written.
    """
    body = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "message": record["message"],
    }
    extra = record["extra"]
    for key in ID_FIELDS:
        if key in extra:
            body[key] = extra[key]
    for key, value in extra.items():
        if key not in body:
            body[key] = value
    exception = record["exception"]
    if exception is not None and exception.value is not None:
        body["exception"] = repr(exception.value)
        body["traceback"] = "".join(traceback.format_exception(exception.type, exception.value, exception.traceback))
    return body


def _write_json(stream, message) -> None:
    stream.write(orjson.dumps(json_record(message.record), default=str).decode() + "\n")
    stream.flush()
