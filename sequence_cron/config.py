"""Settings read once from the environment at start.

Names follow the Sequence API where it has one (DATABASE_URL, DB_*, REDIS_*, PORT, NODE_ENV, and the
email keys); the rest are this service's own. Every problem raises ConfigError with one line that
names the variable, what is wrong with its value and an example of a valid one.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from cronsim import CronSim, CronSimError

from sequence_cron.email.settings import EmailSettings, load_email_settings
from sequence_cron.engine.timing import load_zone
from sequence_cron.exceptions import ConfigError

LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
NODE_ENVS = ("development", "production", "test")


@dataclass(frozen=True)
class DatabaseSettings:
    dsn: str = field(repr=False)
    ssl: bool
    pool_max_size: int
    statement_timeout_ms: int
    connect_timeout_s: float

    @property
    def display(self) -> str:
        """The DSN without its password, for logs and status pages."""
        return mask_url_password(self.dsn)


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings | None
    redis_url: str | None = field(repr=False)
    port: int
    http_host: str
    node_env: str
    redis_key_prefix: str
    shutdown_grace_s: float
    campaign_cron_schedule: str
    node_timeout_cron_schedule: str
    campaign_node_timeout_s: int
    batch_size: int
    email_batch_size: int
    max_tick_s: float
    default_timezone: str
    graph_cache_size: int
    graph_cache_ttl_s: float
    log_level: str
    log_format: str
    email: EmailSettings

    @property
    def redis_display(self) -> str | None:
        return mask_url_password(self.redis_url) if self.redis_url else None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read every setting from `env` (the process environment by default)."""
    env = os.environ if env is None else env
    node_env = _choice(env, "NODE_ENV", "development", NODE_ENVS)
    return Settings(
        database=load_database_settings(env),
        redis_url=load_redis_url(env),
        port=read_integer(env, "PORT", 3001, 1, 65535),
        http_host=_value(env, "HTTP_HOST") or "0.0.0.0",
        node_env=node_env,
        redis_key_prefix=_value(env, "REDIS_KEY_PREFIX") or "sequence-cron:",
        shutdown_grace_s=_number(env, "SHUTDOWN_GRACE_SECONDS", 8.0, 0.0, 3600.0),
        campaign_cron_schedule=_cron(env, "CAMPAIGN_CRON_SCHEDULE", "* * * * *"),
        node_timeout_cron_schedule=_cron(env, "NODE_TIMEOUT_CRON_SCHEDULE", "* * * * *"),
        campaign_node_timeout_s=read_integer(env, "CAMPAIGN_NODE_TIMEOUT_SECONDS", 600, 1, 7 * 86400),
        batch_size=read_integer(env, "CAMPAIGN_BATCH_SIZE", 2000, 1, 100_000),
        email_batch_size=read_integer(env, "EMAIL_BATCH_SIZE", 100, 1, 10_000),
        max_tick_s=_number(env, "MAX_TICK_SECONDS", 50.0, 1.0, 86400.0),
        default_timezone=load_default_timezone(env),
        graph_cache_size=read_integer(env, "GRAPH_CACHE_SIZE", 10_000, 1, 10_000_000),
        graph_cache_ttl_s=_number(env, "GRAPH_CACHE_TTL_SECONDS", 3600.0, 1.0, 7 * 86400.0),
        log_level=load_log_settings(env)[0],
        log_format=load_log_settings(env)[1],
        email=load_email_settings(env),
    )


def load_log_settings(env: Mapping[str, str]) -> tuple[str, str]:
    """Return LOG_LEVEL and LOG_FORMAT; the format defaults to json when NODE_ENV is production."""
    node_env = _choice(env, "NODE_ENV", "development", NODE_ENVS)
    level = _choice(env, "LOG_LEVEL", "INFO", LOG_LEVELS, upper=True)
    log_format = _choice(env, "LOG_FORMAT", "json" if node_env == "production" else "text", LOG_FORMATS)
    return level, log_format


def load_default_timezone(env: Mapping[str, str]) -> str:
    return _timezone(env, "DEFAULT_TIMEZONE", "UTC")


def load_database_settings(env: Mapping[str, str]) -> DatabaseSettings | None:
    """Build the PostgreSQL DSN from DATABASE_URL or the DB_* variables; None when neither is set."""
    ssl = _boolean(env, "DB_SSL", False)
    dsn = _value(env, "DATABASE_URL")
    if dsn is not None:
        parts = _split_url("DATABASE_URL", dsn, "postgresql://postgres:secret@localhost:5432/sequence")
        if parts.scheme not in ("postgres", "postgresql"):
            raise ConfigError(
                f"DATABASE_URL: invalid scheme {parts.scheme!r}, expected postgresql://, "
                "for example postgresql://postgres:secret@localhost:5432/sequence"
            )
    elif any(_value(env, name) is not None for name in ("DB_HOST", "DB_DATABASE", "DB_USERNAME")):
        dsn = _dsn_from_parts(env)
    else:
        return None
    return DatabaseSettings(
        dsn=dsn,
        ssl=ssl,
        pool_max_size=read_integer(env, "DB_POOL_MAX_SIZE", 10, 2, 1000),
        statement_timeout_ms=read_integer(env, "DB_STATEMENT_TIMEOUT_MS", 30_000, 100, 3_600_000),
        connect_timeout_s=_number(env, "DB_CONNECT_TIMEOUT_SECONDS", 5.0, 0.1, 600.0),
    )


def _dsn_from_parts(env: Mapping[str, str]) -> str:
    host = _value(env, "DB_HOST") or "localhost"
    port = read_integer(env, "DB_PORT", 5432, 1, 65535)
    user = _value(env, "DB_USERNAME") or "postgres"
    password = _value(env, "DB_PASSWORD") or ""
    database = _value(env, "DB_DATABASE")
    if database is None:
        raise ConfigError("DB_DATABASE: missing while DB_HOST or DB_USERNAME is set, for example DB_DATABASE=sequence")
    credentials = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return f"postgresql://{credentials}@{host}:{port}/{quote(database, safe='')}"


def load_redis_url(env: Mapping[str, str]) -> str | None:
    """Build the Redis URL from REDIS_URL or REDIS_HOST/REDIS_PORT/REDIS_PASSWORD; None when unset."""
    url = _value(env, "REDIS_URL")
    if url is not None:
        scheme = _split_url("REDIS_URL", url, "redis://:secret@localhost:6379/0").scheme
        if scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(
                f"REDIS_URL: invalid scheme {scheme!r}, expected redis://, rediss:// or unix://, "
                "for example redis://:secret@localhost:6379/0"
            )
        return url
    host = _value(env, "REDIS_HOST")
    if host is None:
        return None
    port = read_integer(env, "REDIS_PORT", 6379, 1, 65535)
    password = _value(env, "REDIS_PASSWORD")
    credentials = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{credentials}{host}:{port}/0"


def _split_url(name: str, url: str, example: str):
    """Split a URL and read its port, so that a malformed one fails here with its variable's name."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading the port is the check: it raises for a bad or out-of-range one.
    except ValueError as error:
        raise ConfigError(f"{name}: invalid URL ({error}), for example {name}={example}") from None
    return parts


def mask_url_password(url: str) -> str:
    """Replace the password of a URL with '***' so that it can be logged."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return parts._replace(netloc=f"{user}:***@{netloc[1]}").geturl()


def _value(env: Mapping[str, str], name: str) -> str | None:
    """Return the variable stripped of white space, or None when it is unset or blank."""
    raw = env.get(name)
    if raw is None or not raw.strip():
        return None
    return raw.strip()


def read_integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = _value(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not a whole number, for example {name}={default}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: {value} is outside {low}..{high}, for example {name}={default}")
    return value


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = _value(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not a number, for example {name}={default:g}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: {raw} is outside {low:g}..{high:g}, for example {name}={default:g}")
    return value


def _boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _value(env, name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: {raw!r} is not a boolean, expected true or false, for example {name}=true")


def _choice(
    env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...], upper: bool = False
) -> str:
    raw = _value(env, name)
    if raw is None:
        return default
    value = raw.upper() if upper else raw.lower()
    if value not in choices:
        raise ConfigError(f"{name}: invalid value {raw!r}, expected one of {', '.join(choices)}, for example {name}={default}")
    return value


def _cron(env: Mapping[str, str], name: str, default: str) -> str:
    value = _value(env, name) or default
    try:
        CronSim(value, datetime(2000, 1, 1, tzinfo=timezone.utc))
    except (CronSimError, ValueError) as error:
        raise ConfigError(
            f"{name}: invalid cron expression {value!r} ({error}), for example {name}='* * * * *' "
            f"(every minute) or '*/10 * * * * *' (every 10 seconds)"
        ) from None
    return value


def _timezone(env: Mapping[str, str], name: str, default: str) -> str:
    value = _value(env, name) or default
    if load_zone(value) is None:
        raise ConfigError(f"{name}: unknown time zone {value!r}, expected an IANA name, for example {name}=Europe/Berlin")
    return value

