"""Which notifications an event calls for (pure). Each has a key that makes it happen once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from shared.contracts.events import (
    AccountRecoveryRequested,
    AgentReplied,
    CustomerReminded,
    Envelope,
    InformationRequested,
    NotificationKind,
    StatusChanged,
    TicketRouted,
    TicketSubmitted,
)
from shared.contracts.statuses import Status
from shared.i18n import normalise_locale

# The events a mail is about: a request's (keyed by ticket id, announced on `notifications`)
# or an account's (the recovery link: no request exists, so nothing is announced).
MailSource = Envelope | AccountRecoveryRequested

# A mail that is not a request's: recorded in the ledger and counted, never announced
# (NotificationSent names a ticket; history has no request to show it on).
ACCOUNT_RECOVERY: Literal["account_recovery"] = "account_recovery"
MailKind = NotificationKind | Literal["account_recovery"]


@dataclass(frozen=True, slots=True)
class PlannedNotification:
    notification_id: str
    kind: MailKind
    source: MailSource
    context: dict[str, Any] = field(default_factory=dict)
    locale: str | None = None
    """The language the event itself asks for; None: the request's (remembered from its
    TicketSubmitted, see NotificationService)."""

    @property
    def kind_name(self) -> str:
        return str(self.kind)

    @property
    def ticket_id(self) -> str | None:
        return self.source.ticket_id if isinstance(self.source, Envelope) else None


def ordering_key(event: MailSource) -> str:
    """Whose mails must go out in order: a request's, or an account's."""
    if isinstance(event, Envelope):
        return event.ticket_id
    return f"account:{event.account_id}"


def _planned(event: Envelope, kind: NotificationKind, **context: Any) -> PlannedNotification:
    return PlannedNotification(f"{event.event_id}:{kind.value}", kind, event, context)


def _documents_needed(
    event: Envelope, category: str, documents: tuple[str, ...], locale: str | None
) -> PlannedNotification:
    # One per request, whether intake or the router noticed first.
    return PlannedNotification(
        f"{event.ticket_id}:{NotificationKind.DOCUMENTS_NEEDED.value}",
        NotificationKind.DOCUMENTS_NEEDED,
        event,
        {"category": category, "document_ids": documents},
        locale,
    )


def plan(event: MailSource) -> list[PlannedNotification]:
    match event:
        case TicketSubmitted():
            locale = normalise_locale(event.locale)
            ack = PlannedNotification(
                f"{event.event_id}:{NotificationKind.ACKNOWLEDGEMENT.value}",
                NotificationKind.ACKNOWLEDGEMENT,
                event,
                {
                    "subject": event.subject,
                    "category": event.category,
                    "follow_up_of": event.follow_up_of,
                    "documents_missing": event.required_documents_missing,
                },
                locale,
            )
            if event.required_documents_missing:
                return [ack, _documents_needed(event, event.category, (), locale)]
            return [ack]
        case TicketRouted(required_documents_missing=True):
            return [
                _documents_needed(
                    event, event.customer_category, event.required_documents, locale=None
                )
            ]
        case AgentReplied():
            to = event.status_change.to_status if event.status_change else None
            return [
                _planned(
                    event, NotificationKind.AGENT_REPLY, body=event.body, solved=to is Status.SOLVED
                )
            ]
        case InformationRequested():
            return [
                _planned(
                    event,
                    NotificationKind.INFORMATION_REQUESTED,
                    body=event.body,
                    documents=list(event.documents_requested),
                )
            ]
        case StatusChanged(status_change=change) if change.to_status is Status.SOLVED:
            # An automation solved it (no answer from the customer): the mail says why. Only
            # the fact travels; the rule's id is internal.
            automatic = event.rule_id is not None
            return [_planned(event, NotificationKind.SOLVED, by_automation=automatic)]
        case StatusChanged(status_change=change) if change.to_status is Status.CLOSED:
            return [_planned(event, NotificationKind.CLOSED)]
        case CustomerReminded():
            # In the request's language, as every activity mail; the rule's id stays internal.
            return [_planned(event, NotificationKind.REMINDER)]
        case AccountRecoveryRequested():
            return [
                PlannedNotification(
                    f"{event.event_id}:{ACCOUNT_RECOVERY}",
                    ACCOUNT_RECOVERY,
                    event,
                    {"recovery_id": event.recovery_id, "expires_at": event.expires_at},
                    normalise_locale(event.locale),
                )
            ]
        case _:
            return []
