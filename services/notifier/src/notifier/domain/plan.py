"""Which notifications an event calls for (pure). Each has a key that makes it happen once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.contracts.events import (
    AgentReplied,
    Envelope,
    InformationRequested,
    NotificationKind,
    StatusChanged,
    TicketRouted,
    TicketSubmitted,
)
from shared.contracts.statuses import Status


@dataclass(frozen=True, slots=True)
class PlannedNotification:
    notification_id: str
    kind: NotificationKind
    source: Envelope
    context: dict[str, Any] = field(default_factory=dict)


def _planned(event: Envelope, kind: NotificationKind, **context: Any) -> PlannedNotification:
    return PlannedNotification(f"{event.event_id}:{kind.value}", kind, event, context)


def _documents_needed(event: Envelope) -> PlannedNotification:
    # One per request, whether intake or the router noticed first.
    return PlannedNotification(
        f"{event.ticket_id}:{NotificationKind.DOCUMENTS_NEEDED.value}",
        NotificationKind.DOCUMENTS_NEEDED,
        event,
    )


def plan(event: Envelope) -> list[PlannedNotification]:
    match event:
        case TicketSubmitted():
            planned = [_planned(event, NotificationKind.ACKNOWLEDGEMENT, subject=event.subject)]
            if event.required_documents_missing:
                planned.append(_documents_needed(event))
            return planned
        case TicketRouted(required_documents_missing=True):
            return [_documents_needed(event)]
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
            return [_planned(event, NotificationKind.SOLVED)]
        case StatusChanged(status_change=change) if change.to_status is Status.CLOSED:
            return [_planned(event, NotificationKind.CLOSED)]
        case _:
            return []
