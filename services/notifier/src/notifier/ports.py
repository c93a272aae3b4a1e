from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal, Protocol

from notifier.domain.plan import MailSource
from shared.contracts.directory import AccountRecord
from shared.contracts.events import Envelope


class AccountDirectory(Protocol):
    async def get(self, account_id: str) -> AccountRecord | None: ...

    async def get_many(self, account_ids: Sequence[str]) -> dict[str, AccountRecord | None]:
        """Every asked id, with its record or None when the directory has none."""


class RequestLocales(Protocol):
    """The language of each request, remembered from its TicketSubmitted: the activity events
    that later mails answer do not carry it."""

    async def remember(self, locales: Mapping[str, str]) -> None:
        """Ticket id -> locale; idempotent (a redelivered submission writes the same)."""

    async def get_many(self, ticket_ids: Sequence[str]) -> dict[str, str]:
        """The known ones only: a request never seen has no entry."""


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
    async def claim(
        self, notification_id: str, *, retake_failed: bool = False
    ) -> LedgerEntry | None:
        """Claim a notification before sending. None: claimed now, go ahead. Otherwise the
        entry that was already there ("sending" means an earlier attempt died mid-way).
        retake_failed: claim a failed one again (an operator re-drove its dead letter)."""

    async def claim_many(self, notification_ids: Sequence[str]) -> dict[str, LedgerEntry | None]:
        """claim() for many in one round trip. An id may be missing from the answer (its
        entry vanished between the write and the read): claim it alone."""

    async def mark_sent(self, notification_id: str, message_id: str) -> None: ...

    async def mark_sent_many(self, marks: Mapping[str, str]) -> None:
        """mark_sent() for many (notification id -> Message-ID) in one round trip."""

    async def mark_failed(self, notification_id: str, reason: str) -> None: ...

    async def release(self, notification_id: str) -> None:
        """Forget a claim whose send failed transiently, so the retry may claim it again."""


class EventPublisher(Protocol):
    async def publish(self, topic: str, event: Envelope) -> None: ...

    async def publish_many(self, items: Iterable[tuple[str, Envelope]]) -> None:
        """Publish all at once, in order, and return once every one is acknowledged."""


@dataclass(frozen=True, slots=True)
class ScheduledRetry:
    notification_id: str
    source: MailSource  # the event that asked for the notification
    attempt: int  # attempts made so far


class RetryQueue(Protocol):
    """Transiently failed notifications, waiting for their next attempt outside the partition
    they came from, so one unreachable mail server does not hold up the events behind."""

    async def schedule(self, retry: ScheduledRetry, due_in_seconds: float, error: str) -> None: ...

    async def take_due(self, limit: int) -> list[ScheduledRetry]:
        """Due retries, each leased to this caller for a while (replicas do not share one)."""

    async def done(self, notification_id: str) -> None: ...


class FailedDeliveries(Protocol):
    async def dead_letter(self, source: MailSource, error: str, attempts: int) -> None:
        """Park the event that asked for an undeliverable notification in its topic's DLQ."""
