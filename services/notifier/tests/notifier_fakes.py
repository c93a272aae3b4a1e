"""In-memory fakes of the notifier's ports, for unit tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage

from devstack.fakes import FakeDeadLetters, FakePublisher
from notifier.domain.backoff import RetryPolicy
from notifier.domain.compose import MailSettings
from notifier.domain.plan import MailSource
from notifier.domain.templates import mail_templates
from notifier.ports import LedgerEntry, ScheduledRetry, TransientMailError
from notifier.service import NotificationService
from shared.contracts.directory import DEMO_ACCOUNTS, AccountRecord
from shared.contracts.topics import Topics
from shared.kafka.publishing import event_key
from shared.kafka.records import InboundRecord


@dataclass
class FakeDirectory:
    accounts: dict[str, AccountRecord] = field(
        default_factory=lambda: {a.account_id: a for a in DEMO_ACCOUNTS}
    )

    async def get(self, account_id: str) -> AccountRecord | None:
        return self.accounts.get(account_id)

    async def get_many(self, account_ids: Sequence[str]) -> dict[str, AccountRecord | None]:
        return {a: self.accounts.get(a) for a in account_ids}


@dataclass
class FakeMailer:
    sent: list[EmailMessage] = field(default_factory=list)
    fail_next: list[Exception] = field(default_factory=list)

    async def send(self, message: EmailMessage) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.sent.append(message)


@dataclass
class FakeLedger:
    entries: dict[str, LedgerEntry] = field(default_factory=dict)

    async def claim(
        self, notification_id: str, *, retake_failed: bool = False
    ) -> LedgerEntry | None:
        existing = self.entries.get(notification_id)
        if existing is not None and not (retake_failed and existing.state == "failed"):
            return existing
        self.entries[notification_id] = LedgerEntry("sending")
        return None

    async def claim_many(self, notification_ids: Sequence[str]) -> dict[str, LedgerEntry | None]:
        return {i: await self.claim(i) for i in notification_ids}

    async def mark_sent(self, notification_id: str, message_id: str) -> None:
        self.entries[notification_id] = LedgerEntry("sent", message_id=message_id)

    async def mark_sent_many(self, marks: Mapping[str, str]) -> None:
        for notification_id, message_id in marks.items():
            await self.mark_sent(notification_id, message_id)

    async def mark_failed(self, notification_id: str, reason: str) -> None:
        self.entries[notification_id] = LedgerEntry("failed", reason=reason)

    async def release(self, notification_id: str) -> None:
        if self.entries.get(notification_id) == LedgerEntry("sending"):
            del self.entries[notification_id]


@dataclass
class FakeRetryQueue:
    scheduled: dict[str, tuple[ScheduledRetry, float]] = field(default_factory=dict)

    async def schedule(self, retry: ScheduledRetry, due_in_seconds: float, error: str) -> None:
        self.scheduled[retry.notification_id] = (retry, due_in_seconds)

    async def take_due(self, limit: int) -> list[ScheduledRetry]:
        return [retry for retry, _ in list(self.scheduled.values())[:limit]]

    async def done(self, notification_id: str) -> None:
        self.scheduled.pop(notification_id, None)


@dataclass
class FakeFailedDeliveries:
    parked: list[tuple[MailSource, str, int]] = field(default_factory=list)

    async def dead_letter(self, source: MailSource, error: str, attempts: int) -> None:
        self.parked.append((source, error, attempts))


@dataclass
class FakeLocales:
    """The requests' languages, first write wins (as MongoRequestLocales' $setOnInsert)."""

    locales: dict[str, str] = field(default_factory=dict)
    writes: int = 0
    reads: int = 0

    async def remember(self, locales: Mapping[str, str]) -> None:
        self.writes += 1
        for ticket_id, locale in locales.items():
            self.locales.setdefault(ticket_id, locale)

    async def get_many(self, ticket_ids: Sequence[str]) -> dict[str, str]:
        self.reads += 1
        return {t: self.locales[t] for t in ticket_ids if t in self.locales}


@dataclass
class Harness:
    service: NotificationService
    mailer: FakeMailer
    ledger: FakeLedger
    publisher: FakePublisher
    retries: FakeRetryQueue
    failed: FakeFailedDeliveries
    locales: FakeLocales

    def outcomes(self) -> list[object]:
        return [event for _, event in self.publisher.published]


BASE_URL = "http://help.example"


def harness(max_attempts: int = 3) -> Harness:
    """The service on fakes of every port, its mails linking to BASE_URL's pages."""
    mailer, ledger, publisher = FakeMailer(), FakeLedger(), FakePublisher()
    retries, failed, locales = FakeRetryQueue(), FakeFailedDeliveries(), FakeLocales()
    service = NotificationService(
        directory=FakeDirectory(),
        mailer=mailer,
        ledger=ledger,
        publisher=publisher,
        retries=retries,
        failed=failed,
        templates=mail_templates(),
        mail_settings=MailSettings("Help <s@h.example>", "h.example", "r.h.example", BASE_URL),
        topics=Topics(),
        dead_letters=FakeDeadLetters(),
        locales=locales,
        retry_policy=RetryPolicy(max_attempts=max_attempts),
    )
    return Harness(service, mailer, ledger, publisher, retries, failed, locales)


def record_of(
    event: MailSource, offset: int, topic: str = "tickets.submitted", **headers: str
) -> InboundRecord:
    """The event as the consumer receives it from `topic`."""
    return InboundRecord(
        topic=topic,
        partition=0,
        offset=offset,
        key=event_key(event).encode(),
        value=event.model_dump_json().encode(),
        headers={"event_type": event.event_type, **headers},
    )


__all__ = [
    "BASE_URL",
    "FakeDeadLetters",
    "FakeDirectory",
    "FakeFailedDeliveries",
    "FakeLedger",
    "FakeLocales",
    "FakeMailer",
    "FakePublisher",
    "FakeRetryQueue",
    "Harness",
    "TransientMailError",
    "harness",
    "record_of",
]
