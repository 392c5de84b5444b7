"""Email providers and the factory that picks one from the settings."""

from sequence_cron.email.providers.base import EmailProvider
from sequence_cron.email.providers.log import LogProvider
from sequence_cron.email.providers.mailgun import MailgunProvider
from sequence_cron.email.providers.sendgrid import SendGridProvider
from sequence_cron.email.providers.smtp import SmtpProvider
from sequence_cron.email.settings import EmailSettings

__all__ = ["EmailProvider", "LogProvider", "MailgunProvider", "SendGridProvider", "SmtpProvider", "create_provider"]

_PROVIDER_CLASSES: dict[str, type[EmailProvider]] = {
    "log": LogProvider,
    "smtp": SmtpProvider,
    "sendgrid": SendGridProvider,
    "mailgun": MailgunProvider,
}


def create_provider(settings: EmailSettings) -> EmailProvider:
    """Create the provider that `settings.provider` names. It connects on its first send.

    Raises:
        ValueError: the provider name is unknown, or the settings lack its credentials.
            load_email_settings never returns such settings.
    """
    provider_class = _PROVIDER_CLASSES.get(settings.provider)
    if provider_class is None:
        expected = ", ".join(_PROVIDER_CLASSES)
        raise ValueError(f"unknown email provider {settings.provider!r}, expected one of {expected}")
    return provider_class(settings)
