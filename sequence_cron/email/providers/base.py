"""The interface that every email provider implements."""

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

from sequence_cron.email.message import OutgoingEmail


class EmailProvider(ABC):
    """Sends OutgoingEmail messages through one delivery service.

    A provider may be used by many tasks at once. It opens its connections on the first
    send, and close releases them. It can also be used as an async context manager.
    """

    name: str

    @abstractmethod
    async def send(self, email: OutgoingEmail) -> None:
        """Hand `email` to the service and return once the service has accepted it.

        `email` must come from build_email, which validates the header values.

        Raises:
            DeliveryError: the service rejected the message, failed or did not respond in time.
        """

    async def close(self) -> None:
        """Close the provider's open connections. Sending after close is not supported."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
