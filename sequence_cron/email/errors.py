"""Errors of the email package: one class for each stage that can fail a send."""

from sequence_cron.exceptions import SequenceCronError


class RenderError(SequenceCronError):
    """A template could not be compiled or rendered.

    `reason` is one short line that starts with "subject" or "body".
    """

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class InvalidEmailError(SequenceCronError):
    """A rendered email has a header value that must not be sent.

    `reason` is one short line that names the field, such as "subject" or "to".
    """

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class DeliveryError(SequenceCronError):
    """A provider did not accept a message.

    `reason` is one short line with the provider's message, the HTTP status or the timeout.
    It never contains a password or API key. `temporary` is true for failures that may pass
    on a later try: timeouts, connection failures, HTTP 429 and 5xx, and SMTP 4xx replies.
    """

    def __init__(self, reason: str, *, temporary: bool = False):
        self.reason = reason
        self.temporary = temporary
        super().__init__(reason)
