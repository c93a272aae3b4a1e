from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal, Protocol

from shared.directory import AccountRecord
from shared.events import Envelope


class AccountDirectory(Protocol):
    async def get(self, account_id: str) -> AccountRecord | None: ...


class TransientMailError(Exception):
    """The mail server could not take it now (connection, timeout, 4xx): try again later."""


class PermanentMailError(Exception):
    """The mail server refused it for good (5xx): do not retry."""


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Deliver to the message's To; raise TransientMailError or PermanentMailError."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    state: Literal["sending", "sent", "failed"]
    message_id: str | None = None
    reason: str | None = None


class NotificationLedger(Protocol):
    async def claim(self, notification_id: str) -> LedgerEntry | None:
        """Claim a notification before sending. None: claimed now, go ahead. Otherwise the
        entry that was already there ("sending" means an earlier attempt died mid-way)."""

    async def mark_sent(self, notification_id: str, message_id: str) -> None: ...

    async def mark_failed(self, notification_id: str, reason: str) -> None: ...

    async def release(self, notification_id: str) -> None:
        """Forget a claim whose send failed transiently, so the retry may claim it again."""


class EventPublisher(Protocol):
    async def publish(self, topic: str, event: Envelope) -> None: ...
