import pytest
from loguru import logger

from sequence_cron.email.providers import (
    EmailProvider,
    LogProvider,
    MailgunProvider,
    SendGridProvider,
    SmtpProvider,
    create_provider,
)
from sequence_cron.email.settings import EmailSettings, load_email_settings


@pytest.fixture
def log_records():
    records = []
    sink_id = logger.add(lambda message: records.append(message.record), level="INFO")
    yield records
    logger.remove(sink_id)


async def test_log_provider_writes_one_line(log_records, outgoing):
    provider = create_provider(load_email_settings({}))
    assert isinstance(provider, LogProvider)

    async with provider:
        await provider.send(outgoing)

    assert len(log_records) == 1
    record = log_records[0]
    assert record["level"].name == "INFO"
    assert record["extra"]["event"] == "email_sent"
    assert record["extra"]["to"] == "ann@example.com"
    assert record["extra"]["subject"] == "Hello Ann ✓"
    assert "ann@example.com" in record["message"]
    assert "\n" not in record["message"]


@pytest.mark.parametrize(
    ("env", "provider_class"),
    [
        ({}, LogProvider),
        ({"SMTP_URL": "smtp://mail.test", "FROM_ADDRESS": "a@shop.example"}, SmtpProvider),
        ({"SENDGRID_API_KEY": "SG.1", "FROM_ADDRESS": "a@shop.example"}, SendGridProvider),
        ({"MAILGUN_API_KEY": "k", "MAILGUN_DOMAIN": "mg.test", "FROM_ADDRESS": "a@shop.example"}, MailgunProvider),
    ],
)
async def test_create_provider_picks_class(env, provider_class):
    settings = load_email_settings(env)

    provider = create_provider(settings)

    assert type(provider) is provider_class
    assert isinstance(provider, EmailProvider)
    assert provider.name == settings.provider
    await provider.close()


def test_create_provider_unknown_name():
    with pytest.raises(ValueError, match="unknown email provider 'ses'"):
        create_provider(EmailSettings(provider="ses", from_address="a@shop.example"))


@pytest.mark.parametrize("provider", ["smtp", "sendgrid", "mailgun"])
def test_create_provider_missing_credentials(provider):
    with pytest.raises(ValueError, match="needs settings"):
        create_provider(EmailSettings(provider=provider, from_address="a@shop.example"))
