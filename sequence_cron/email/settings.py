"""Email settings read from environment variables.

Each problem raises ConfigError with one line: the variable, what is wrong with its value
and an example of a valid one. Messages and reprs never contain a password or API key.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import NoReturn
from urllib.parse import SplitResult, unquote, urlsplit

from sequence_cron.email.addresses import check_address
from sequence_cron.exceptions import ConfigError

PROVIDERS = ("log", "smtp", "sendgrid", "mailgun")

DEFAULT_FROM_ADDRESS = "sequence@localhost"
DEFAULT_SENDGRID_API_URL = "https://api.sendgrid.com"
DEFAULT_MAILGUN_API_URL = "https://api.mailgun.net"
DEFAULT_SEND_TIMEOUT_SECONDS = 10.0
DEFAULT_CONCURRENCY = 20
MAX_CONCURRENCY = 500
SMTP_DEFAULT_PORT = 25
SMTPS_DEFAULT_PORT = 465

_SMTP_URL_EXAMPLE = "smtp://user:password@mail.example.com:587"
_HOSTNAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]+")
_DOMAIN = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")
_WHITESPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


class Secret:
    """A password or API key that shows as '***' in repr, str and f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        """Return the secret itself, for the one call that sends it to the server."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class SmtpSettings:
    """SMTP server address, credentials and TLS mode, parsed from SMTP_URL."""

    host: str
    port: int
    username: str | None = None
    password: Secret | None = None
    # True for smtps:// (TLS from the first byte). For smtp:// the connection is upgraded
    # with STARTTLS only when the server offers it.
    implicit_tls: bool = False


@dataclass(frozen=True)
class EmailSettings:
    """Email provider choice, credentials and limits.

    `smtp` is set only when `provider` is "smtp", the SendGrid key only for "sendgrid",
    and the Mailgun key and domain only for "mailgun".
    """

    provider: str
    from_address: str
    send_timeout_seconds: float = DEFAULT_SEND_TIMEOUT_SECONDS
    concurrency: int = DEFAULT_CONCURRENCY
    smtp: SmtpSettings | None = None
    sendgrid_api_key: Secret | None = None
    sendgrid_api_url: str = DEFAULT_SENDGRID_API_URL
    mailgun_api_key: Secret | None = None
    mailgun_domain: str | None = None
    mailgun_api_url: str = DEFAULT_MAILGUN_API_URL

    def describe(self) -> dict[str, object]:
        """Return the settings a status page may show: provider, host, port and limits.

        The result has no user name, password or API key, and it can be encoded as JSON.
        """
        description: dict[str, object] = {
            "provider": self.provider,
            "from_address": self.from_address,
            "send_timeout_seconds": self.send_timeout_seconds,
            "concurrency": self.concurrency,
        }
        if self.provider == "smtp" and self.smtp is not None:
            description["host"] = self.smtp.host
            description["port"] = self.smtp.port
            description["tls"] = "implicit" if self.smtp.implicit_tls else "starttls when offered"
        elif self.provider == "sendgrid":
            description.update(_describe_url(self.sendgrid_api_url))
        elif self.provider == "mailgun":
            description.update(_describe_url(self.mailgun_api_url))
            description["domain"] = self.mailgun_domain
        return description


def load_email_settings(env: Mapping[str, str]) -> EmailSettings:
    """Read the email settings from `env`, usually os.environ.

    EMAIL_PROVIDER picks the provider. When it is unset, the provider is sendgrid if
    SENDGRID_API_KEY is set, else mailgun if MAILGUN_API_KEY and MAILGUN_DOMAIN are set,
    else smtp if SMTP_URL is set, else log. Only the chosen provider's variables are read.
    An empty or blank value counts as unset.

    Raises:
        ConfigError: a required variable is missing or a value is invalid.
    """
    provider = _read_provider(env)
    settings = EmailSettings(
        provider=provider,
        from_address=_read_from_address(env, provider),
        send_timeout_seconds=_read_send_timeout(env),
        concurrency=_read_concurrency(env),
    )

    if provider == "smtp":
        url = _require(env, "SMTP_URL", provider, _SMTP_URL_EXAMPLE)
        return replace(settings, smtp=parse_smtp_url(url))
    if provider == "sendgrid":
        return replace(
            settings,
            sendgrid_api_key=_read_api_key(env, "SENDGRID_API_KEY", provider, "SG.xxxxxxxx.yyyyyyyy"),
            sendgrid_api_url=_read_api_url(env, "SENDGRID_API_URL", DEFAULT_SENDGRID_API_URL),
        )
    if provider == "mailgun":
        return replace(
            settings,
            mailgun_api_key=_read_api_key(env, "MAILGUN_API_KEY", provider, "key-xxxxxxxx"),
            mailgun_domain=_read_mailgun_domain(env, provider),
            mailgun_api_url=_read_api_url(env, "MAILGUN_API_URL", DEFAULT_MAILGUN_API_URL),
        )
    return settings


def parse_smtp_url(url: str) -> SmtpSettings:
    """Parse an SMTP_URL such as smtp://user:password@mail.example.com:587.

    smtps:// means implicit TLS. The default ports are 25 for smtp and 465 for smtps.
    The user and password are optional and percent-decoded.

    Raises:
        ConfigError: the URL is invalid. The message never contains the password.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not scheme:
        _fail("SMTP_URL", "missing scheme, expected smtp:// or smtps://", _SMTP_URL_EXAMPLE)
    if scheme not in ("smtp", "smtps"):
        _fail("SMTP_URL", f"invalid scheme {_quote(scheme)}, expected smtp:// or smtps://", _SMTP_URL_EXAMPLE)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        # Not echoed: a password with an unencoded '/', '?' or '#' ends up in these parts.
        _fail(
            "SMTP_URL",
            "unexpected path, query or fragment after the host "
            "(percent-encode '/', '?' and '#' in the user and password)",
            _SMTP_URL_EXAMPLE,
        )

    host = _read_smtp_host(parts)
    implicit_tls = scheme == "smtps"
    port = _read_smtp_port(parts) or (SMTPS_DEFAULT_PORT if implicit_tls else SMTP_DEFAULT_PORT)
    username = unquote(parts.username) if parts.username else None
    password = Secret(unquote(parts.password)) if parts.password else None
    if password is not None and username is None:
        _fail("SMTP_URL", "password given without a user", _SMTP_URL_EXAMPLE)
    return SmtpSettings(host=host, port=port, username=username, password=password, implicit_tls=implicit_tls)


def _read_smtp_host(parts: SplitResult) -> str:
    host = parts.hostname
    if not host:
        _fail("SMTP_URL", "missing host", _SMTP_URL_EXAMPLE)
    # urlsplit drops the brackets of an IPv6 address such as [::1].
    if not (_HOSTNAME.fullmatch(host) or (":" in host and _IPV6.fullmatch(host))):
        _fail("SMTP_URL", f"invalid host {_quote(host)}", _SMTP_URL_EXAMPLE)
    return host


def _read_smtp_port(parts: SplitResult) -> int | None:
    """Return the URL's port, or None when it has none."""
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        # Not echoed: with an unencoded '/' in the password, the "port" is part of the password.
        _fail(
            "SMTP_URL",
            "invalid port, expected 1 to 65535 (percent-encode '/', '?' and '#' in the user and password)",
            _SMTP_URL_EXAMPLE,
        )
    return port


def _read_provider(env: Mapping[str, str]) -> str:
    value = _read(env, "EMAIL_PROVIDER")
    if value is None:
        if _read(env, "SENDGRID_API_KEY"):
            return "sendgrid"
        if _read(env, "MAILGUN_API_KEY"):
            # A key without a domain is a half-done Mailgun set-up: the domain check fails loudly
            # rather than letting the service fall back to the log provider unnoticed.
            return "mailgun"
        if _read(env, "SMTP_URL"):
            return "smtp"
        return "log"

    provider = value.lower()
    if provider not in PROVIDERS:
        _fail("EMAIL_PROVIDER", f"invalid value {_quote(value)}, expected log, smtp, sendgrid or mailgun", "smtp")
    return provider


def _read_from_address(env: Mapping[str, str], provider: str) -> str:
    if provider == "log":
        value = _read(env, "FROM_ADDRESS") or DEFAULT_FROM_ADDRESS
    else:
        value = _require(env, "FROM_ADDRESS", provider, "noreply@example.com")
    problem = check_address(value)
    if problem is not None:
        _fail("FROM_ADDRESS", f"invalid value {_quote(value)}, {problem}", "noreply@example.com")
    return value


def _read_send_timeout(env: Mapping[str, str]) -> float:
    value = _read(env, "EMAIL_SEND_TIMEOUT_SECONDS")
    if value is None:
        return DEFAULT_SEND_TIMEOUT_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        problem = f"invalid value {_quote(value)}, expected a positive number of seconds"
        _fail("EMAIL_SEND_TIMEOUT_SECONDS", problem, "10")
    return seconds


def _read_concurrency(env: Mapping[str, str]) -> int:
    value = _read(env, "EMAIL_CONCURRENCY")
    if value is None:
        return DEFAULT_CONCURRENCY
    try:
        concurrency = int(value)
    except ValueError:
        concurrency = 0
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        problem = f"invalid value {_quote(value)}, expected an integer from 1 to {MAX_CONCURRENCY}"
        _fail("EMAIL_CONCURRENCY", problem, "20")
    return concurrency


def _read_api_key(env: Mapping[str, str], name: str, provider: str, example: str) -> Secret:
    value = _require(env, name, provider, example)
    if _WHITESPACE_OR_CONTROL.search(value):
        # A line break in a key would end the Authorization header early.
        _fail(name, "invalid value, contains whitespace or control characters", example)
    return Secret(value)


def _read_api_url(env: Mapping[str, str], name: str, default: str) -> str:
    value = _read(env, name)
    if value is None:
        return default
    parts = urlsplit(value)
    if "@" in parts.netloc:
        # Not echoed: the user information may hold a credential.
        _fail(name, "unexpected user or password in the URL", default)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        _fail(name, f"invalid value {_quote(value)}, expected an http:// or https:// URL", default)
    if parts.query or parts.fragment:
        _fail(name, f"invalid value {_quote(value)}, expected no query or fragment", default)
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        _fail(name, f"invalid value {_quote(value)}, expected a port from 1 to 65535", default)
    return value.rstrip("/")


def _read_mailgun_domain(env: Mapping[str, str], provider: str) -> str:
    value = _require(env, "MAILGUN_DOMAIN", provider, "mg.example.com")
    if not _DOMAIN.fullmatch(value):
        _fail("MAILGUN_DOMAIN", f"invalid value {_quote(value)}, expected a domain name", "mg.example.com")
    return value


def _read(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _require(env: Mapping[str, str], name: str, provider: str, example: str) -> str:
    value = _read(env, name)
    if value is None:
        _fail(name, f"missing, required when the email provider is {provider}", example)
    return value


def _fail(name: str, problem: str, example: str) -> NoReturn:
    raise ConfigError(f"{name}: {problem}, for example {name}={example}")


def _quote(value: str) -> str:
    """Return `value` quoted on one line and cut to 80 characters."""
    if len(value) > 80:
        value = value[:77] + "..."
    return repr(value)


def _describe_url(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    default_port = 443 if parts.scheme == "https" else 80
    return {"api_url": url, "host": parts.hostname, "port": parts.port or default_port}
