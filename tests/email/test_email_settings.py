import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sequence_cron.email.settings import EmailSettings, Secret, SmtpSettings, load_email_settings
from sequence_cron.exceptions import ConfigError

SMTP_EXAMPLE = "for example SMTP_URL=smtp://user:password@mail.example.com:587"


def load_error(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_email_settings(env)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_empty_env_gives_log_defaults():
    settings = load_email_settings({})

    assert settings == EmailSettings(provider="log", from_address="sequence@localhost")
    assert settings.send_timeout_seconds == 10
    assert settings.concurrency == 20
    assert settings.smtp is None


def test_blank_values_count_as_unset():
    settings = load_email_settings({"EMAIL_PROVIDER": " ", "SMTP_URL": "", "FROM_ADDRESS": "  "})

    assert settings.provider == "log"
    assert settings.from_address == "sequence@localhost"


@pytest.mark.parametrize(
    ("env", "provider"),
    [
        ({}, "log"),
        ({"SMTP_URL": "smtp://mail.test"}, "smtp"),
        ({"MAILGUN_API_KEY": "key-1", "MAILGUN_DOMAIN": "mg.test"}, "mailgun"),
        ({"MAILGUN_DOMAIN": "mg.test", "SMTP_URL": "smtp://mail.test"}, "smtp"),
        ({"SENDGRID_API_KEY": "SG.1"}, "sendgrid"),
        (
            {
                "SENDGRID_API_KEY": "SG.1",
                "MAILGUN_API_KEY": "key-1",
                "MAILGUN_DOMAIN": "mg.test",
                "SMTP_URL": "smtp://mail.test",
            },
            "sendgrid",
        ),
        ({"MAILGUN_API_KEY": "key-1", "MAILGUN_DOMAIN": "mg.test", "SMTP_URL": "smtp://mail.test"}, "mailgun"),
    ],
)
def test_provider_inferred_when_unset(env, provider):
    settings = load_email_settings({"FROM_ADDRESS": "news@shop.example", **env})

    assert settings.provider == provider


@pytest.mark.parametrize("value", ["log", "smtp", "sendgrid", "mailgun", "SMTP", " Log "])
def test_provider_explicit(value):
    env = {
        "EMAIL_PROVIDER": value,
        "FROM_ADDRESS": "news@shop.example",
        "SMTP_URL": "smtp://mail.test",
        "SENDGRID_API_KEY": "SG.1",
        "MAILGUN_API_KEY": "key-1",
        "MAILGUN_DOMAIN": "mg.test",
    }

    assert load_email_settings(env).provider == value.strip().lower()


def test_provider_explicit_overrides_keys():
    env = {"EMAIL_PROVIDER": "log", "SENDGRID_API_KEY": "SG.1"}

    settings = load_email_settings(env)

    assert settings.provider == "log"
    assert settings.sendgrid_api_key is None


def test_provider_invalid():
    message = load_error({"EMAIL_PROVIDER": "ses"})

    assert message == (
        "EMAIL_PROVIDER: invalid value 'ses', expected log, smtp, sendgrid or mailgun, for example EMAIL_PROVIDER=smtp"
    )


@pytest.mark.parametrize(
    ("env", "provider"),
    [
        ({"EMAIL_PROVIDER": "smtp", "SMTP_URL": "smtp://mail.test"}, "smtp"),
        ({"SENDGRID_API_KEY": "SG.1"}, "sendgrid"),
        ({"MAILGUN_API_KEY": "key-1", "MAILGUN_DOMAIN": "mg.test"}, "mailgun"),
    ],
)
def test_from_address_required_except_log(env, provider):
    message = load_error(env)

    assert message == (
        f"FROM_ADDRESS: missing, required when the email provider is {provider}, for example FROM_ADDRESS=noreply@example.com"
    )


def test_from_address_read():
    settings = load_email_settings({"FROM_ADDRESS": " news@shop.example "})

    assert settings.from_address == "news@shop.example"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("Shop <news@shop.example>", "not a single plain address"),
        ("a@shop.example, b@shop.example", "not a single plain address"),
        ("news", "not a single plain address"),
        ("news@shop.example\r\nBcc: x@evil.example", "contains a line break or control character at position 17"),
    ],
)
def test_from_address_invalid(value, problem):
    message = load_error({"FROM_ADDRESS": value})

    assert message == f"FROM_ADDRESS: invalid value {value!r}, {problem}, for example FROM_ADDRESS=noreply@example.com"


def test_smtp_url_full():
    env = {"SMTP_URL": "smtp://user%40shop:p%3Ass%2Fw@mail.test:587", "FROM_ADDRESS": "news@shop.example"}

    smtp = load_email_settings(env).smtp

    assert smtp == SmtpSettings(
        host="mail.test", port=587, username="user@shop", password=Secret("p:ss/w"), implicit_tls=False
    )
    assert smtp.password.reveal() == "p:ss/w"


@pytest.mark.parametrize(
    ("url", "port", "implicit_tls"),
    [
        ("smtp://mail.test", 25, False),
        ("smtps://mail.test", 465, True),
        ("SMTPS://mail.test:2465/", 2465, True),
        ("smtp://[::1]:2525", 2525, False),
    ],
)
def test_smtp_url_default_ports_and_tls(url, port, implicit_tls):
    smtp = load_email_settings({"SMTP_URL": url, "FROM_ADDRESS": "news@shop.example"}).smtp

    assert smtp.port == port
    assert smtp.implicit_tls is implicit_tls
    assert smtp.username is None
    assert smtp.password is None


def test_smtp_url_user_without_password():
    smtp = load_email_settings({"SMTP_URL": "smtp://apikey@mail.test", "FROM_ADDRESS": "news@shop.example"}).smtp

    assert smtp.username == "apikey"
    assert smtp.password is None


def test_smtp_url_missing():
    message = load_error({"EMAIL_PROVIDER": "smtp", "FROM_ADDRESS": "news@shop.example"})

    assert message == f"SMTP_URL: missing, required when the email provider is smtp, {SMTP_EXAMPLE}"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://user:secret@mail.test", "invalid scheme 'http', expected smtp:// or smtps://"),
        ("//user:secret@mail.test", "missing scheme, expected smtp:// or smtps://"),
        ("smtp://user:secret@", "missing host"),
        ("smtp://user:secret@mail test", "invalid host 'mail test'"),
        (
            "smtp://user:secret@mail.test:0",
            "invalid port, expected 1 to 65535 (percent-encode '/', '?' and '#' in the user and password)",
        ),
        (
            "smtp://user:secret@mail.test:99999",
            "invalid port, expected 1 to 65535 (percent-encode '/', '?' and '#' in the user and password)",
        ),
        (
            "smtp://user:secret@mail.test:smtp",
            "invalid port, expected 1 to 65535 (percent-encode '/', '?' and '#' in the user and password)",
        ),
        (
            "smtp://user:sec/ret@mail.test",
            "unexpected path, query or fragment after the host "
            "(percent-encode '/', '?' and '#' in the user and password)",
        ),
        (
            "smtp://user:secret@mail.test?tls=1",
            "unexpected path, query or fragment after the host "
            "(percent-encode '/', '?' and '#' in the user and password)",
        ),
        ("smtp://:secret@mail.test", "password given without a user"),
    ],
)
def test_smtp_url_invalid(url, problem):
    message = load_error({"SMTP_URL": url, "FROM_ADDRESS": "news@shop.example"})

    assert message == f"SMTP_URL: {problem}, {SMTP_EXAMPLE}"
    assert "secret" not in message
    assert "sec/ret" not in message


def test_sendgrid_settings():
    env = {"SENDGRID_API_KEY": " SG.abc.def ", "FROM_ADDRESS": "news@shop.example"}

    settings = load_email_settings(env)

    assert settings.sendgrid_api_key.reveal() == "SG.abc.def"
    assert settings.sendgrid_api_url == "https://api.sendgrid.com"


def test_sendgrid_api_url_custom():
    env = {
        "SENDGRID_API_KEY": "SG.1",
        "FROM_ADDRESS": "news@shop.example",
        "SENDGRID_API_URL": "http://127.0.0.1:8025/proxy/",
    }

    assert load_email_settings(env).sendgrid_api_url == "http://127.0.0.1:8025/proxy"


def test_sendgrid_key_missing():
    message = load_error({"EMAIL_PROVIDER": "sendgrid", "FROM_ADDRESS": "news@shop.example"})

    assert message == (
        "SENDGRID_API_KEY: missing, required when the email provider is sendgrid, for example SENDGRID_API_KEY=SG.xxxxxxxx.yyyyyyyy"
    )


def test_sendgrid_key_with_whitespace():
    message = load_error({"SENDGRID_API_KEY": "SG.se cret", "FROM_ADDRESS": "news@shop.example"})

    assert message == (
        "SENDGRID_API_KEY: invalid value, contains whitespace or control characters, "
        "for example SENDGRID_API_KEY=SG.xxxxxxxx.yyyyyyyy"
    )
    assert "cret" not in message


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://api.test", "invalid value 'ftp://api.test', expected an http:// or https:// URL"),
        ("api.test", "invalid value 'api.test', expected an http:// or https:// URL"),
        ("https://api.test/?x=1", "invalid value 'https://api.test/?x=1', expected no query or fragment"),
        ("https://api.test:0x", "invalid value 'https://api.test:0x', expected a port from 1 to 65535"),
        ("https://api.test:0", "invalid value 'https://api.test:0', expected a port from 1 to 65535"),
        ("https://user:secret@api.test", "unexpected user or password in the URL"),
    ],
)
def test_sendgrid_api_url_invalid(url, problem):
    env = {"SENDGRID_API_KEY": "SG.1", "FROM_ADDRESS": "news@shop.example", "SENDGRID_API_URL": url}

    message = load_error(env)

    assert message == f"SENDGRID_API_URL: {problem}, for example SENDGRID_API_URL=https://api.sendgrid.com"
    assert "secret" not in message


def test_mailgun_settings():
    env = {
        "EMAIL_PROVIDER": "mailgun",
        "MAILGUN_API_KEY": "key-abc",
        "MAILGUN_DOMAIN": "mg.shop.example",
        "FROM_ADDRESS": "news@shop.example",
    }

    settings = load_email_settings(env)

    assert settings.mailgun_api_key.reveal() == "key-abc"
    assert settings.mailgun_domain == "mg.shop.example"
    assert settings.mailgun_api_url == "https://api.mailgun.net"


def test_mailgun_api_url_custom():
    env = {
        "MAILGUN_API_KEY": "key-abc",
        "MAILGUN_DOMAIN": "mg.shop.example",
        "FROM_ADDRESS": "news@shop.example",
        "MAILGUN_API_URL": "https://api.eu.mailgun.net/",
    }

    assert load_email_settings(env).mailgun_api_url == "https://api.eu.mailgun.net"


def test_mailgun_api_url_invalid():
    env = {
        "MAILGUN_API_KEY": "key-abc",
        "MAILGUN_DOMAIN": "mg.shop.example",
        "FROM_ADDRESS": "news@shop.example",
        "MAILGUN_API_URL": "mailgun",
    }

    message = load_error(env)

    assert message == (
        "MAILGUN_API_URL: invalid value 'mailgun', expected an http:// or https:// URL, "
        "for example MAILGUN_API_URL=https://api.mailgun.net"
    )


def test_mailgun_key_missing():
    env = {"EMAIL_PROVIDER": "mailgun", "MAILGUN_DOMAIN": "mg.test", "FROM_ADDRESS": "news@shop.example"}

    message = load_error(env)

    assert message == "MAILGUN_API_KEY: missing, required when the email provider is mailgun, for example MAILGUN_API_KEY=key-xxxxxxxx"


def test_mailgun_domain_missing():
    env = {"EMAIL_PROVIDER": "mailgun", "MAILGUN_API_KEY": "key-1", "FROM_ADDRESS": "news@shop.example"}

    message = load_error(env)

    assert message == (
        "MAILGUN_DOMAIN: missing, required when the email provider is mailgun, for example MAILGUN_DOMAIN=mg.example.com"
    )


@pytest.mark.parametrize("domain", ["mg.test/../x", "mg test", "mg.test?x", ".mg.test"])
def test_mailgun_domain_invalid(domain):
    env = {"MAILGUN_API_KEY": "key-1", "MAILGUN_DOMAIN": domain, "FROM_ADDRESS": "news@shop.example"}

    message = load_error(env)

    assert message == f"MAILGUN_DOMAIN: invalid value {domain!r}, expected a domain name, for example MAILGUN_DOMAIN=mg.example.com"


@pytest.mark.parametrize(("value", "seconds"), [("10", 10.0), ("0.25", 0.25), (" 3 ", 3.0), ("1e1", 10.0)])
def test_send_timeout_valid(value, seconds):
    assert load_email_settings({"EMAIL_SEND_TIMEOUT_SECONDS": value}).send_timeout_seconds == seconds


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "inf", "10s"])
def test_send_timeout_invalid(value):
    message = load_error({"EMAIL_SEND_TIMEOUT_SECONDS": value})

    assert message == (
        f"EMAIL_SEND_TIMEOUT_SECONDS: invalid value {value!r}, expected a positive number of seconds, for example EMAIL_SEND_TIMEOUT_SECONDS=10"
    )


@pytest.mark.parametrize(("value", "concurrency"), [("1", 1), ("500", 500), (" 42 ", 42)])
def test_concurrency_valid(value, concurrency):
    assert load_email_settings({"EMAIL_CONCURRENCY": value}).concurrency == concurrency


@pytest.mark.parametrize("value", ["0", "501", "-3", "2.5", "many"])
def test_concurrency_invalid(value):
    message = load_error({"EMAIL_CONCURRENCY": value})

    assert message == (
        f"EMAIL_CONCURRENCY: invalid value {value!r}, expected an integer from 1 to 500, for example EMAIL_CONCURRENCY=20"
    )


def test_long_invalid_value_cut_in_message():
    message = load_error({"EMAIL_CONCURRENCY": "9" * 200})

    assert len(message) < 200
    assert "..." in message


def test_secrets_masked_in_repr_and_str():
    env = {
        "SMTP_URL": "smtp://user:smtp-secret@mail.test",
        "FROM_ADDRESS": "news@shop.example",
        "EMAIL_PROVIDER": "smtp",
    }
    smtp_settings = load_email_settings(env)
    sendgrid_settings = load_email_settings({"SENDGRID_API_KEY": "SG.sendgrid-secret", "FROM_ADDRESS": "a@b.test"})
    mailgun_settings = load_email_settings(
        {"MAILGUN_API_KEY": "mailgun-secret", "MAILGUN_DOMAIN": "mg.test", "FROM_ADDRESS": "a@b.test"}
    )

    for settings in (smtp_settings, sendgrid_settings, mailgun_settings):
        assert "secret" not in repr(settings)
        assert "secret" not in str(settings)
        assert "secret" not in f"{settings}"
    assert "Secret('***')" in repr(smtp_settings)


def test_describe_smtp():
    env = {"SMTP_URL": "smtps://user:smtp-secret@mail.test", "FROM_ADDRESS": "news@shop.example"}

    description = load_email_settings(env).describe()

    assert description == {
        "provider": "smtp",
        "from_address": "news@shop.example",
        "send_timeout_seconds": 10.0,
        "concurrency": 20,
        "host": "mail.test",
        "port": 465,
        "tls": "implicit",
    }


def test_describe_sendgrid():
    env = {"SENDGRID_API_KEY": "SG.sendgrid-secret", "FROM_ADDRESS": "news@shop.example"}

    description = load_email_settings(env).describe()

    assert description["provider"] == "sendgrid"
    assert description["host"] == "api.sendgrid.com"
    assert description["port"] == 443
    assert "secret" not in json.dumps(description)


def test_describe_mailgun():
    env = {
        "MAILGUN_API_KEY": "mailgun-secret",
        "MAILGUN_DOMAIN": "mg.shop.example",
        "FROM_ADDRESS": "news@shop.example",
        "MAILGUN_API_URL": "http://127.0.0.1:8080",
    }

    description = load_email_settings(env).describe()

    assert description["provider"] == "mailgun"
    assert description["domain"] == "mg.shop.example"
    assert description["host"] == "127.0.0.1"
    assert description["port"] == 8080
    assert "secret" not in json.dumps(description)


def test_describe_smtp_has_no_user():
    env = {"SMTP_URL": "smtp://login-name:pw@mail.test", "FROM_ADDRESS": "news@shop.example"}

    description = json.dumps(load_email_settings(env).describe())

    assert "login-name" not in description
    assert "pw" not in description
    assert '"tls": "starttls when offered"' in description


VARIABLES = [
    "EMAIL_PROVIDER",
    "SMTP_URL",
    "FROM_ADDRESS",
    "SENDGRID_API_KEY",
    "SENDGRID_API_URL",
    "MAILGUN_API_KEY",
    "MAILGUN_DOMAIN",
    "MAILGUN_API_URL",
    "EMAIL_SEND_TIMEOUT_SECONDS",
    "EMAIL_CONCURRENCY",
]


@given(st.dictionaries(st.sampled_from(VARIABLES), st.text(max_size=40)))
def test_fuzz_env_only_config_error(env):
    try:
        settings = load_email_settings(env)
    except ConfigError as error:
        assert "\n" not in str(error)
        assert str(error).split(":")[0] in VARIABLES
        return
    assert settings.provider in ("log", "smtp", "sendgrid", "mailgun")


@given(
    scheme=st.sampled_from(["smtp", "smtps", "http", ""]),
    password=st.text(alphabet="ABCDEFGH@:/?#%", min_size=4, max_size=12).map(lambda text: "Zq" + text),
    rest=st.sampled_from(["mail.test", "mail.test:25", "mail test", "mail.test:0", "", "mail.test/x"]),
)
def test_fuzz_smtp_url_never_shows_password(scheme, password, rest):
    url = f"{scheme}://user:{password}@{rest}"
    try:
        load_email_settings({"SMTP_URL": url, "FROM_ADDRESS": "news@shop.example"})
    except ConfigError as error:
        assert password not in str(error)
        assert password[2:] not in str(error)


def test_mailgun_key_without_domain_is_rejected():
    with pytest.raises(ConfigError) as caught:
        load_email_settings({"MAILGUN_API_KEY": "key-1", "FROM_ADDRESS": "noreply@example.com"})

    assert str(caught.value).startswith("MAILGUN_DOMAIN: missing")
    assert "key-1" not in str(caught.value)
