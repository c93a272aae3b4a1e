"""The My-activities view of one request, folded from its events (pure, no I/O).

Applying an event twice is a no-op (its id is remembered). Events may arrive in any order
across topics: fields merge, the timeline is kept sorted by time, and the status is the one
set by the latest status-bearing event, so a late, older event never rolls it back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from shared.events import (
    AgentReplied,
    CommentAdded,
    DocumentsUploaded,
    Envelope,
    InformationRequested,
    Model,
    NotificationFailed,
    NotificationSent,
    Priority,
    StatusChanged,
    StatusTransition,
    TicketRouted,
    TicketSubmitted,
    UtcDatetime,
)
from shared.statuses import Status, public_name

Actor = Literal["customer", "agent", "system"]


class TimelineEntry(Model):
    event_id: str
    at: UtcDatetime
    kind: str
    actor: Actor
    summary: str
    details: dict[str, Any] = Field(default_factory=dict)


class RequestView(Model):
    ticket_id: str
    account_id: str
    subject: str | None = None
    category: str | None = None
    team: str | None = None
    priority: Priority = Priority.NORMAL
    status: Status = Status.NEW
    status_at: UtcDatetime | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime
    routed_at: UtcDatetime | None = None
    first_reply_at: UtcDatetime | None = None
    rerouted_from: str | None = None
    routing_reason: str | None = None
    required_documents_missing: bool = False
    timeline: tuple[TimelineEntry, ...] = ()
    applied_event_ids: tuple[str, ...] = ()
    version: int = 0

    @property
    def public_status(self) -> str:
        return public_name(self.status)


def _status(view: RequestView, status: Status, at: datetime) -> dict[str, Any]:
    if view.status_at is None or at >= view.status_at:
        return {"status": status, "status_at": at}
    return {}


def _transition(view: RequestView, change: StatusTransition | None, at: datetime) -> dict[str, Any]:
    return _status(view, change.to_status, at) if change else {}


def _earliest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate < current else current


def _changes(view: RequestView, event: Envelope) -> tuple[dict[str, Any], TimelineEntry | None]:
    at = event.occurred_at
    entry = _entry_for(event)
    match event:
        case TicketSubmitted():
            changes: dict[str, Any] = {
                "subject": event.subject,
                "category": event.category,
                "created_at": at,
                "required_documents_missing": view.required_documents_missing
                or event.required_documents_missing,
            }
            if view.status_at is None:
                changes |= {"status": Status.NEW, "status_at": at}
            return changes, entry
        case TicketRouted():
            changes = {
                "team": event.team,
                "priority": event.priority,
                "routed_at": at,
                "rerouted_from": event.rerouted_from,
                "routing_reason": event.reason,
                "required_documents_missing": view.required_documents_missing
                or event.required_documents_missing,
            }
            if view.status is Status.NEW:
                changes |= _status(view, Status.OPEN, at)
            return changes, entry
        case AgentReplied():
            return {
                "first_reply_at": _earliest(view.first_reply_at, at),
                **_transition(view, event.status_change, at),
            }, entry
        case CommentAdded() | InformationRequested() | StatusChanged():
            return _transition(view, event.status_change, at), entry
        case DocumentsUploaded():
            return {
                "required_documents_missing": False,
                **_transition(view, event.status_change, at),
            }, entry
        case _:
            return {}, entry


def _entry_for(event: Envelope) -> TimelineEntry | None:
    base = {"event_id": str(event.event_id), "at": event.occurred_at}
    match event:
        case TicketSubmitted():
            return TimelineEntry(
                **base,
                kind="submitted",
                actor="customer",
                summary="Request submitted",
                details={"attachments": len(event.attachments)},
            )
        case TicketRouted():
            moved = f" (moved from {event.rerouted_from})" if event.rerouted_from else ""
            return TimelineEntry(
                **base,
                kind="rerouted" if event.rerouted_from else "routed",
                actor="system",
                summary=f"Assigned to the {event.team} team{moved}",
                details={
                    "team": event.team,
                    "reason": event.reason,
                    "confidence": event.confidence,
                    "priority": event.priority.value,
                },
            )
        case CommentAdded():
            return TimelineEntry(
                **base,
                kind="comment",
                actor="customer",
                summary="You added a comment",
                details={"body": event.body},
            )
        case AgentReplied():
            return TimelineEntry(
                **base,
                kind="reply",
                actor="agent",
                summary="Support replied",
                details={"body": event.body},
            )
        case InformationRequested():
            return TimelineEntry(
                **base,
                kind="information_requested",
                actor="agent",
                summary="Support needs more information",
                details={"body": event.body, "documents": list(event.documents_requested)},
            )
        case DocumentsUploaded():
            return TimelineEntry(
                **base,
                kind="documents_uploaded",
                actor="customer",
                summary=f"{len(event.attachments)} document(s) uploaded",
            )
        case StatusChanged():
            return TimelineEntry(
                **base,
                kind="status_changed",
                actor=event.actor_role,
                summary=f"Status: {public_name(event.status_change.to_status)}",
                details={"to": event.status_change.to_status.value},
            )
        case NotificationSent():
            return TimelineEntry(
                **base,
                kind="email_sent",
                actor="system",
                summary=f"E-mail sent: {event.kind.value.replace('_', ' ')}",
                details={"kind": event.kind.value},
            )
        case NotificationFailed():
            return TimelineEntry(
                **base,
                kind="email_failed",
                actor="system",
                summary=f"E-mail not sent: {event.reason}",
                details={"kind": event.kind.value, "reason": event.reason},
            )
        case _:
            return None


def apply(view: RequestView | None, event: Envelope) -> RequestView | None:
    """The view after `event`, or None when the event was already applied."""
    if view is None:
        view = RequestView(
            ticket_id=event.ticket_id, account_id=event.account_id, updated_at=event.occurred_at
        )
    event_id = str(event.event_id)
    if event_id in view.applied_event_ids:
        return None
    changes, entry = _changes(view, event)
    timeline = view.timeline
    if entry is not None:
        timeline = tuple(sorted((*timeline, entry), key=lambda e: (e.at, e.event_id)))
    return view.model_copy(
        update={
            **changes,
            "timeline": timeline,
            "updated_at": max(view.updated_at, event.occurred_at),
            "applied_event_ids": (*view.applied_event_ids, event_id),
        }
    )
