"""A batch's MongoDB reads and writes, shared: the accounts of every event in one query, the
requests' languages in another, every planned notification claimed in one write up front;
the marks of mails sent at the same time written together (group commit), and the outcomes
announced together at the end. That matters most where MongoDB is the bottleneck (the
embedded stack: docs/performance.md): a batch of 200 mails sent 16 at a time makes a few
dozen round trips instead of 200 (notifier.mail_bench).

The wrappers answer from what was fetched and fall back to the real port for anything else,
so the service's per-notification logic (NotificationService._deliver) does not change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from notifier.ports import (
    AccountDirectory,
    EventPublisher,
    LedgerEntry,
    NotificationLedger,
    RequestLocales,
)
from shared.contracts.directory import AccountRecord
from shared.contracts.events import Envelope
from shared.kafka.errors import TRANSIENT_ERRORS, describe_error
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass
class PrefetchedDirectory:
    records: dict[str, AccountRecord | None]
    """Every prefetched id: its record, or None when the directory has none."""
    directory: AccountDirectory

    async def get(self, account_id: str) -> AccountRecord | None:
        if account_id in self.records:
            return self.records[account_id]
        return await self.directory.get(account_id)

    async def get_many(self, account_ids: Sequence[str]) -> dict[str, AccountRecord | None]:
        return await self.directory.get_many(account_ids)


@dataclass
class _Mark:
    notification_id: str
    message_id: str
    written: bool = False
    error: Exception | None = None


@dataclass
class SentMarks:
    """Group commit of "sent" marks. A sender waits until its own mark is written, so it never
    sends its next mail while the last one is unmarked: with C senders at most C mails are
    between the SMTP server's acceptance and their mark at any moment, and that is all a crash
    can send twice (docs/reliability.md). Marks that arrive while a write is in flight go
    together in the next one, so C senders share the round trips; a lone sender (concurrency
    1) writes each mark at once, as before."""

    ledger: NotificationLedger
    retry_delays: Sequence[float] = (0.2, 0.5, 1, 2, 5, 10)
    """Seconds between attempts of a write the store failed transiently. The mails are sent:
    a failed mark left to the batch's retry would send them again (a "sending" claim reads
    as a send that died mid-way), so the mark itself is retried first."""
    writes: int = 0
    _pending: list[_Mark] = field(default_factory=list)
    _writing: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def unwritten(self) -> int:
        """Marks waiting for the write in flight to finish (not counting that write's)."""
        return len(self._pending)

    async def mark_sent(self, notification_id: str, message_id: str) -> None:
        mark = _Mark(notification_id, message_id)
        self._pending.append(mark)
        async with self._writing:  # one write at a time; it takes every mark waiting
            if not mark.written and mark.error is None:
                taken, self._pending = self._pending, []
                try:
                    await self._write({m.notification_id: m.message_id for m in taken})
                except Exception as exc:
                    for m in taken:
                        m.error = exc
                except BaseException:
                    # Cancelled mid-write: the next writer writes them (marking is idempotent).
                    self._pending[:0] = taken
                    raise
                else:
                    self.writes += 1
                    for m in taken:
                        m.written = True
        if mark.error is not None:
            raise mark.error

    async def _write(self, marks: dict[str, str]) -> None:
        for delay in (*self.retry_delays, None):
            try:
                await self.ledger.mark_sent_many(marks)
                return
            except TRANSIENT_ERRORS as exc:
                if delay is None:
                    raise
                log.warning(
                    "marking sent mails failed, retrying",
                    mails=len(marks),
                    error=describe_error(exc),
                    retry_in_seconds=delay,
                )
                await asyncio.sleep(delay)


@dataclass
class OutcomeBuffer:
    """The batch's outcome events (NotificationSent, NotificationFailed), published together
    once its mails are done and before its offsets are committed: one produce request instead
    of one per mail, and no sender waits for Kafka's acknowledgement between two mails. An
    outcome lost with a crash is re-announced when the event is redelivered (the ledger holds
    it, and its event id is derived, so history ignores a copy)."""

    publisher: EventPublisher
    held: list[tuple[str, Envelope]] = field(default_factory=list)

    async def publish(self, topic: str, event: Envelope) -> None:
        self.held.append((topic, event))

    async def publish_many(self, items: Iterable[tuple[str, Envelope]]) -> None:
        self.held.extend(items)

    async def flush(self) -> None:
        held, self.held = self.held, []
        if held:
            await self.publisher.publish_many(held)


@dataclass
class PreclaimedLedger:
    claims: dict[str, LedgerEntry | None]
    """claim()'s answer per notification id, taken for the batch; each is used once."""
    ledger: NotificationLedger
    marks: SentMarks = field(init=False)

    def __post_init__(self) -> None:
        self.marks = SentMarks(self.ledger)

    async def claim(
        self, notification_id: str, *, retake_failed: bool = False
    ) -> LedgerEntry | None:
        if not retake_failed and notification_id in self.claims:
            return self.claims.pop(notification_id)
        return await self.ledger.claim(notification_id, retake_failed=retake_failed)

    async def claim_many(self, notification_ids: Sequence[str]) -> dict[str, LedgerEntry | None]:
        return await self.ledger.claim_many(notification_ids)

    async def mark_sent(self, notification_id: str, message_id: str) -> None:
        await self.marks.mark_sent(notification_id, message_id)

    async def mark_sent_many(self, marks: Mapping[str, str]) -> None:
        await self.ledger.mark_sent_many(marks)

    async def mark_failed(self, notification_id: str, reason: str) -> None:
        await self.ledger.mark_failed(notification_id, reason)

    async def release(self, notification_id: str) -> None:
        await self.ledger.release(notification_id)


@dataclass
class PrefetchedLocales:
    locales: dict[str, str]
    """The batch's requests' languages: remembered by it, or read for it."""
    asked: frozenset[str]
    """Every ticket id the batch read or wrote: one missing from `locales` is unknown."""
    store: RequestLocales

    async def remember(self, locales: Mapping[str, str]) -> None:
        fresh = {t: loc for t, loc in locales.items() if self.locales.get(t) != loc}
        if fresh:
            await self.store.remember(fresh)
            self.locales.update(fresh)

    async def get_many(self, ticket_ids: Sequence[str]) -> dict[str, str]:
        unknown = [t for t in ticket_ids if t not in self.asked]
        found = await self.store.get_many(unknown) if unknown else {}
        return {t: self.locales[t] for t in ticket_ids if t in self.locales} | found
