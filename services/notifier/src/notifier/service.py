"""Delivering notifications exactly once in effect.

Order per notification: claim in the ledger -> look up the account's own address -> send ->
mark sent -> publish NotificationSent. A redelivered event finds the claim and sends nothing
(it re-publishes the recorded outcome, whose event id is derived, so history ignores the copy).
The one window left: the process dies after the SMTP server accepted the mail and before the
ledger write. The claim then reads "sending" and we send again: a rare duplicate with the same
Message-ID, which mail clients fold, rather than a lost reply. A batch serves up to
`concurrency` requests at once (one request's mails in order); each sender waits for its
mail's mark before its next send (notifier.batch.SentMarks), so a crash can send at most
`concurrency` mails twice, each once more: with 1, at most the one mail in flight.

A transient failure (server unreachable, 4xx) releases the claim and schedules a retry with
backoff outside the Kafka partition; the consumer goes on with the next event. A permanent
failure (5xx) or the last failed retry records NotificationFailed and dead-letters the event.

Language: every mail of a request is in the request's locale (TicketSubmitted.locale). The
activity events that later mails answer do not carry it, so the notifier remembers it per
ticket in its own store when the submission arrives (before any of that batch's mails); a
request it never saw a submission of is written to in English.

The account-recovery mail (AccountRecoveryRequested, an account's event with no request) goes
through the same claim, retries and dead letters; it is in the event's own locale and, having
no ticket, is recorded in the ledger and the metrics but not announced on `notifications`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from notifier.batch import (
    OutcomeBuffer,
    PreclaimedLedger,
    PrefetchedDirectory,
    PrefetchedLocales,
)
from notifier.domain.backoff import RetryPolicy
from notifier.domain.compose import MailSettings, UnsendableError, compose
from notifier.domain.events import NotifiableEvent, notifiable_event
from notifier.domain.plan import MailSource, PlannedNotification, ordering_key, plan
from notifier.domain.templates import MailTemplates
from notifier.ports import (
    AccountDirectory,
    EventPublisher,
    FailedDeliveries,
    LedgerEntry,
    Mailer,
    NotificationLedger,
    PermanentMailError,
    RequestLocales,
    RetryQueue,
    ScheduledRetry,
    TransientMailError,
)
from shared.contracts.events import (
    Envelope,
    NotificationFailed,
    NotificationKind,
    NotificationSent,
    TicketSubmitted,
    derived_event_id,
)
from shared.contracts.topics import Topics
from shared.i18n import DEFAULT_LOCALE, normalise_locale
from shared.kafka.records import DeadLetters, InboundRecord, decode_records
from shared.keyed import in_key_order
from shared.logging import get_logger

log = get_logger(__name__)

__all__ = ["NotifiableEvent", "NotificationService"]

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
    templates: MailTemplates
    mail_settings: MailSettings
    topics: Topics
    dead_letters: DeadLetters
    locales: RequestLocales
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    on_outcome: OutcomeObserver = _ignore_outcome
    # Requests whose mails go out at once; one request's mails are always sent in order.
    concurrency: int = 1

    async def handle_records(self, records: Sequence[InboundRecord]) -> None:
        """A consumed batch: each record decoded alone (poison to the DLQ), the batch's accounts
        and claims read up front, then every event's mails, under the dead-letter policy of
        its own record."""
        decoded = await decode_records(records, notifiable_event, self.dead_letters)
        outcomes = OutcomeBuffer(self.publisher)
        batch = replace(await self.for_batch([event for _, event in decoded]), publisher=outcomes)

        async def deliver(item: tuple[InboundRecord, NotifiableEvent]) -> None:
            record, event = item
            redriven = record.redrives > 0
            await self.dead_letters.isolate(record, lambda: batch.handle(event, redriven=redriven))

        await in_key_order(
            decoded,
            key=lambda item: ordering_key(item[1]),
            work=deliver,
            concurrency=self.concurrency,
        )
        await outcomes.flush()  # before the batch's offsets are committed

    async def handle(self, event: MailSource, *, redriven: bool = False) -> None:
        """redriven: an operator re-drove the event from its DLQ after a fix, so notifications
        that failed are tried again (a plain redelivery leaves them failed)."""
        if submitted := _languages([event]):
            await self.locales.remember(submitted)
        for planned in plan(event):
            await self._deliver(planned, 1, retake_failed=redriven)

    async def for_batch(self, events: Sequence[MailSource]) -> NotificationService:
        """This service for one batch of events: the languages of its new requests remembered,
        its accounts and the other requests' languages read and its notifications claimed up
        front (notifier.batch), one round trip each instead of one per mail."""
        planned = [p for event in events for p in plan(event)]
        if not planned:
            return self
        submitted = _languages(events)
        if submitted:  # before any of the batch's mails, which may be the same request's
            await self.locales.remember(submitted)
        asked = sorted(
            {p.ticket_id for p in planned if p.locale is None and p.ticket_id} - set(submitted)
        )
        known = await self.locales.get_many(asked) if asked else {}
        accounts = await self.directory.get_many(sorted({p.source.account_id for p in planned}))
        claims = await self.ledger.claim_many([p.notification_id for p in planned])
        return replace(
            self,
            directory=PrefetchedDirectory(accounts, self.directory),
            ledger=PreclaimedLedger(claims, self.ledger),
            locales=PrefetchedLocales(
                known | submitted, frozenset(asked) | submitted.keys(), self.locales
            ),
        )

    async def locale_of(self, planned: PlannedNotification) -> str:
        """The event's own language (a submission, a recovery request), else the request's
        as its submission said, else English."""
        if planned.locale is not None:
            return planned.locale
        ticket_id = planned.ticket_id
        if ticket_id is None:
            return DEFAULT_LOCALE
        return (await self.locales.get_many([ticket_id])).get(ticket_id, DEFAULT_LOCALE)

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
        # Nothing claimed up front; the marks retried as a batch's are (notifier.batch).
        service = replace(self, ledger=PreclaimedLedger({}, self.ledger))
        for retry in due:
            planned = next(
                (p for p in plan(retry.source) if p.notification_id == retry.notification_id), None
            )
            deferred = planned is not None and await service._deliver(planned, retry.attempt + 1)
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
            self.on_outcome(planned.kind_name, "duplicate")
            await self._publish_outcome(planned, existing)
            return False
        account = await self.directory.get(planned.source.account_id)
        texts = self.templates(await self.locale_of(planned))
        try:
            message = compose(planned, account, texts, self.mail_settings)
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
            self.on_outcome(planned.kind_name, "deferred")
            log.warning(
                "notification deferred",
                kind=planned.kind_name,
                attempt=attempt,
                retry_in_seconds=round(delay, 1),
                error=str(exc),
            )
            return True
        message_id = str(message["Message-ID"])
        await self.ledger.mark_sent(planned.notification_id, message_id)
        self.on_outcome(planned.kind_name, "sent")
        log.info(
            "notification sent",
            kind=planned.kind_name,
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
        log.warning("notification failed", kind=planned.kind_name, reason=reason)
        self.on_outcome(planned.kind_name, "failed")
        if dead_letter:
            await self.failed.dead_letter(planned.source, reason, attempt)
        await self._publish_outcome(
            planned, LedgerEntry("failed", reason=reason), permanent=permanent
        )

    async def _publish_outcome(
        self, planned: PlannedNotification, entry: LedgerEntry, permanent: bool = True
    ) -> None:
        source, kind = planned.source, planned.kind
        if not isinstance(source, Envelope) or not isinstance(kind, NotificationKind):
            return  # an account's mail (recovery): the ledger and the metrics record it
        common = {
            "event_id": derived_event_id(planned.notification_id, entry.state),
            "ticket_id": source.ticket_id,
            "account_id": source.account_id,
            "correlation_id": source.correlation_id,
            "notification_id": planned.notification_id,
            "kind": kind,
            "source_event_id": source.event_id,
        }
        outcome: Envelope
        if entry.state == "sent":
            outcome = NotificationSent(**common, message_id=entry.message_id or "")
        else:
            outcome = NotificationFailed(**common, reason=entry.reason or "", permanent=permanent)
        await self.publisher.publish(self.topics.notifications, outcome)


def _languages(events: Sequence[MailSource]) -> dict[str, str]:
    """The language of each new request among `events`, as its submission asked."""
    return {
        e.ticket_id: normalise_locale(e.locale) for e in events if isinstance(e, TicketSubmitted)
    }
