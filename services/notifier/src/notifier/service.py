"""Delivering notifications exactly once in effect.

Order per notification: claim in the ledger -> look up the account's own address -> send ->
mark sent -> publish NotificationSent. A redelivered event finds the claim and sends nothing
(it re-publishes the recorded outcome, whose event id is derived, so history ignores the copy).
The one window left: the process dies after the SMTP server accepted the mail and before the
ledger write (one round trip, milliseconds). The claim then reads "sending" and we send again:
a rare duplicate with the same Message-ID, which mail clients fold, rather than a lost reply.

A transient failure (server unreachable, 4xx) releases the claim and schedules a retry with
backoff outside the Kafka partition; the consumer goes on with the next event. A permanent
failure (5xx) or the last failed retry records NotificationFailed and dead-letters the event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Annotated

from jinja2 import Environment
from pydantic import Field, TypeAdapter

from notifier.batch import PreclaimedLedger, PrefetchedDirectory
from notifier.domain.backoff import RetryPolicy
from notifier.domain.compose import MailSettings, UnsendableError, compose
from notifier.domain.plan import PlannedNotification, plan
from notifier.ports import (
    AccountDirectory,
    EventPublisher,
    FailedDeliveries,
    LedgerEntry,
    Mailer,
    NotificationLedger,
    PermanentMailError,
    RetryQueue,
    ScheduledRetry,
    TransientMailError,
)
from shared.contracts.events import (
    AgentReplied,
    AssigneeChanged,
    CommentAdded,
    DocumentsUploaded,
    Envelope,
    FollowUpOpened,
    InboundMailRefused,
    InformationRequested,
    NoteAdded,
    NotificationFailed,
    NotificationSent,
    StatusChanged,
    TicketRouted,
    TicketSubmitted,
    TicketTransferred,
    derived_event_id,
)
from shared.contracts.topics import Topics
from shared.kafka.records import DeadLetters, InboundRecord, decode_records
from shared.keyed import in_key_order
from shared.logging import get_logger

log = get_logger(__name__)

# Everything on the three topics the notifier reads, decoded by event_type; plan() says which
# of them the customer is mailed about (notes, assignments and transfers are internal: none).
NotifiableEvent = Annotated[
    TicketSubmitted
    | TicketRouted
    | CommentAdded
    | AgentReplied
    | InformationRequested
    | DocumentsUploaded
    | StatusChanged
    | NoteAdded
    | AssigneeChanged
    | TicketTransferred
    | FollowUpOpened
    | InboundMailRefused,
    Field(discriminator="event_type"),
]
notifiable_event: TypeAdapter[NotifiableEvent] = TypeAdapter(NotifiableEvent)

# (notification kind, outcome: sent | duplicate | deferred | failed) -> None; metrics hook.
OutcomeObserver = Callable[[str, str], None]


def _ignore_outcome(kind: str, outcome: str) -> None:
    pass


@dataclass
class NotificationService:
    directory: AccountDirectory
    mailer: Mailer
    ledger: NotificationLedger
    publisher: EventPublisher
    retries: RetryQueue
    failed: FailedDeliveries
    templates: Environment
    mail_settings: MailSettings
    topics: Topics
    dead_letters: DeadLetters
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    on_outcome: OutcomeObserver = _ignore_outcome
    # Requests whose mails go out at once; one request's mails are always sent in order.
    concurrency: int = 1

    async def handle_records(self, records: Sequence[InboundRecord]) -> None:
        """A consumed batch: each record decoded alone (poison to the DLQ), the batch's accounts
        and claims read up front, then every event's mails, under the dead-letter policy of
        its own record."""
        decoded = await decode_records(records, notifiable_event, self.dead_letters)
        batch = await self.for_batch([event for _, event in decoded])

        async def deliver(item: tuple[InboundRecord, NotifiableEvent]) -> None:
            record, event = item
            redriven = record.redrives > 0
            await self.dead_letters.isolate(record, lambda: batch.handle(event, redriven=redriven))

        await in_key_order(
            decoded, key=lambda item: item[1].ticket_id, work=deliver, concurrency=self.concurrency
        )

    async def handle(self, event: Envelope, *, redriven: bool = False) -> None:
        """redriven: an operator re-drove the event from its DLQ after a fix, so notifications
        that failed are tried again (a plain redelivery leaves them failed)."""
        for planned in plan(event):
            await self._deliver(planned, 1, retake_failed=redriven)

    async def for_batch(self, events: Sequence[Envelope]) -> NotificationService:
        """This service for one batch of events: their accounts read and their notifications
        claimed up front (notifier.batch), one round trip each instead of one per mail."""
        planned = [p for event in events for p in plan(event)]
        if not planned:
            return self
        accounts = await self.directory.get_many(sorted({p.source.account_id for p in planned}))
        claims = await self.ledger.claim_many([p.notification_id for p in planned])
        return replace(
            self,
            directory=PrefetchedDirectory(accounts, self.directory),
            ledger=PreclaimedLedger(claims, self.ledger),
        )

    async def run_retries(self, poll_seconds: float) -> None:
        """Attempt due retries until cancelled; an error is logged, never fatal to the loop."""
        while True:
            try:
                attempted = await self.retry_due()
            except Exception:
                log.exception("retry pass failed")
                attempted = 0
            if not attempted:
                await asyncio.sleep(poll_seconds)

    async def retry_due(self, limit: int = 50) -> int:
        """Make the due retries' next attempt; returns how many were attempted."""
        due = await self.retries.take_due(limit)
        for retry in due:
            planned = next(
                (p for p in plan(retry.source) if p.notification_id == retry.notification_id), None
            )
            deferred = planned is not None and await self._deliver(planned, retry.attempt + 1)
            if not deferred:  # a deferred one was rescheduled under the same id
                await self.retries.done(retry.notification_id)
        return len(due)

    async def _deliver(
        self, planned: PlannedNotification, attempt: int, *, retake_failed: bool = False
    ) -> bool:
        """Returns True when the notification was deferred to a later retry."""
        existing = await self.ledger.claim(planned.notification_id, retake_failed=retake_failed)
        if existing is not None and existing.state != "sending":
            log.info("notification already handled", notification_id=planned.notification_id)
            self.on_outcome(planned.kind.value, "duplicate")
            await self._publish_outcome(planned, existing)
            return False
        account = await self.directory.get(planned.source.account_id)
        try:
            message = compose(planned, account, self.templates, self.mail_settings)
            await self.mailer.send(message)
        except UnsendableError as exc:
            await self._fail(planned, str(exc), attempt, dead_letter=False)
            return False
        except PermanentMailError as exc:
            await self._fail(planned, str(exc), attempt, dead_letter=True)
            return False
        except TransientMailError as exc:
            await self.ledger.release(planned.notification_id)
            if self.retry_policy.gives_up_after(attempt):
                await self._fail(
                    planned,
                    f"gave up after {attempt} attempts: {exc}",
                    attempt,
                    dead_letter=True,
                    permanent=False,
                )
                return False
            delay = self.retry_policy.delay(attempt)
            await self.retries.schedule(
                ScheduledRetry(planned.notification_id, planned.source, attempt), delay, str(exc)
            )
            self.on_outcome(planned.kind.value, "deferred")
            log.warning(
                "notification deferred",
                kind=planned.kind.value,
                attempt=attempt,
                retry_in_seconds=round(delay, 1),
                error=str(exc),
            )
            return True
        message_id = str(message["Message-ID"])
        await self.ledger.mark_sent(planned.notification_id, message_id)
        self.on_outcome(planned.kind.value, "sent")
        log.info(
            "notification sent",
            kind=planned.kind.value,
            attempt=attempt,
            notification_id=planned.notification_id,
        )
        await self._publish_outcome(planned, LedgerEntry("sent", message_id=message_id))
        return False

    async def _fail(
        self,
        planned: PlannedNotification,
        reason: str,
        attempt: int,
        *,
        dead_letter: bool,
        permanent: bool = True,
    ) -> None:
        # Claim first (a retry may arrive without one), so the failure is recorded once.
        await self.ledger.claim(planned.notification_id)
        await self.ledger.mark_failed(planned.notification_id, reason)
        log.warning("notification failed", kind=planned.kind.value, reason=reason)
        self.on_outcome(planned.kind.value, "failed")
        if dead_letter:
            await self.failed.dead_letter(planned.source, reason, attempt)
        await self._publish_outcome(
            planned, LedgerEntry("failed", reason=reason), permanent=permanent
        )

    async def _publish_outcome(
        self, planned: PlannedNotification, entry: LedgerEntry, permanent: bool = True
    ) -> None:
        source = planned.source
        common = {
            "event_id": derived_event_id(planned.notification_id, entry.state),
            "ticket_id": source.ticket_id,
            "account_id": source.account_id,
            "correlation_id": source.correlation_id,
            "notification_id": planned.notification_id,
            "kind": planned.kind,
            "source_event_id": source.event_id,
        }
        outcome: Envelope
        if entry.state == "sent":
            outcome = NotificationSent(**common, message_id=entry.message_id or "")
        else:
            outcome = NotificationFailed(**common, reason=entry.reason or "", permanent=permanent)
        await self.publisher.publish(self.topics.notifications, outcome)
