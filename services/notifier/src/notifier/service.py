"""Delivering notifications exactly once in effect.

Order per notification: claim in the ledger -> look up the account's own address -> send ->
mark sent -> publish NotificationSent. A redelivered event finds the claim and sends nothing
(it re-publishes the recorded outcome, whose event id is derived, so history ignores the copy).
The one window left: the process dies after the SMTP server accepted the mail and before the
ledger write (one round trip, milliseconds). The claim then reads "sending" and we send again:
a rare duplicate with the same Message-ID, which mail clients fold, rather than a lost reply.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment

from notifier.domain.compose import MailSettings, UnsendableError, compose
from notifier.domain.plan import PlannedNotification, plan
from notifier.ports import (
    AccountDirectory,
    EventPublisher,
    LedgerEntry,
    Mailer,
    NotificationLedger,
    PermanentMailError,
    TransientMailError,
)
from shared.events import (
    Envelope,
    NotificationFailed,
    NotificationSent,
    derived_event_id,
)
from shared.kafka import TransientError
from shared.logging import get_logger
from shared.topics import Topics

log = get_logger(__name__)


@dataclass
class NotificationService:
    directory: AccountDirectory
    mailer: Mailer
    ledger: NotificationLedger
    publisher: EventPublisher
    templates: Environment
    mail_settings: MailSettings
    topics: Topics

    async def handle(self, event: Envelope) -> None:
        for planned in plan(event):
            await self._deliver(planned)

    async def _deliver(self, planned: PlannedNotification) -> None:
        existing = await self.ledger.claim(planned.notification_id)
        if existing is not None and existing.state != "sending":
            log.info("notification already handled", notification_id=planned.notification_id)
            await self._publish_outcome(planned, existing)
            return
        account = await self.directory.get(planned.source.account_id)
        try:
            message = compose(planned, account, self.templates, self.mail_settings)
            await self.mailer.send(message)
        except (UnsendableError, PermanentMailError) as exc:
            await self.ledger.mark_failed(planned.notification_id, str(exc))
            log.warning("notification failed", kind=planned.kind.value, reason=str(exc))
            await self._publish_outcome(planned, LedgerEntry("failed", reason=str(exc)))
            return
        except TransientMailError as exc:
            await self.ledger.release(planned.notification_id)
            raise TransientError(str(exc)) from exc
        message_id = str(message["Message-ID"])
        await self.ledger.mark_sent(planned.notification_id, message_id)
        log.info(
            "notification sent", kind=planned.kind.value, notification_id=planned.notification_id
        )
        await self._publish_outcome(planned, LedgerEntry("sent", message_id=message_id))

    async def _publish_outcome(self, planned: PlannedNotification, entry: LedgerEntry) -> None:
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
            outcome = NotificationFailed(**common, reason=entry.reason or "", permanent=True)
        await self.publisher.publish(self.topics.notifications, outcome)
