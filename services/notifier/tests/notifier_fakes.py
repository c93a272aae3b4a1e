"""In-memory fakes of the notifier's ports, for unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage

from devstack.fakes import FakeDeadLetters, FakePublisher
from notifier.ports import LedgerEntry, ScheduledRetry, TransientMailError
from shared.contracts.directory import DEMO_ACCOUNTS, AccountRecord
from shared.contracts.events import Envelope


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
    parked: list[tuple[Envelope, str, int]] = field(default_factory=list)

    async def dead_letter(self, source: Envelope, error: str, attempts: int) -> None:
        self.parked.append((source, error, attempts))


__all__ = [
    "FakeDeadLetters",
    "FakeDirectory",
    "FakeFailedDeliveries",
    "FakeLedger",
    "FakeMailer",
    "FakePublisher",
    "FakeRetryQueue",
    "TransientMailError",
]
