"""The My-activities view of one request, folded from its events (pure, no I/O).

Applying an event twice is a no-op (its id is remembered). Events may arrive in any order
across topics, so every field is merged with an order-free rule: the latest event of a kind
wins (by time, then event id), earliest-ever times keep the minimum, flags are derived from
the times of the events that set and cleared them, and the timeline is kept sorted. Folding
the same set of events in any order gives the same view, which is what makes a replay
comparable with the live projection.

Times are truncated to milliseconds, the precision MongoDB stores, so a view read back from
the store compares equal to one folded in memory.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from shared.contracts.events import (
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
from shared.contracts.statuses import Status, public_name

Actor = Literal["customer", "agent", "system"]

# Why a request went where it went, in words a customer understands (TicketRouted.reason).
ROUTING_REASONS: dict[str, str] = {
    "customer_category": "the category you chose",
    "model": "what your request says",
    "triage": "a person will choose the right team",
}


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
    # The latest explicit status change; without one a request is new, or open once routed.
    status_changed_to: Status | None = None
    status_changed_at: UtcDatetime | None = None
    status_change_event_id: str | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime
    routed_at: UtcDatetime | None = Field(default=None, description="First routing decision")
    decision_at: UtcDatetime | None = Field(
        default=None, description="Latest routing decision: team and priority come from it"
    )
    decision_event_id: str | None = None
    first_reply_at: UtcDatetime | None = None
    rerouted_from: str | None = None
    routing_reason: str | None = None
    documents_requested_at: UtcDatetime | None = None
    documents_uploaded_at: UtcDatetime | None = None
    required_documents_missing: bool = False
    timeline: tuple[TimelineEntry, ...] = ()
    applied_event_ids: tuple[str, ...] = Field(default=(), description="Sorted: the dedup set")
    version: int = 0

    @property
    def public_status(self) -> str:
        return public_name(self.status)


def to_millis(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _later(
    at: datetime, event_id: str, current_at: datetime | None, current_id: str | None
) -> bool:
    """Whether (at, event_id) comes after the current one: a total order, so ties between
    events of the same millisecond resolve the same way whatever the arrival order."""
    return current_at is None or (at, event_id) > (current_at, current_id or "")


def _transition(
    view: RequestView, change: StatusTransition | None, at: datetime, event_id: str
) -> dict[str, Any]:
    if change is None or not _later(
        at, event_id, view.status_changed_at, view.status_change_event_id
    ):
        return {}
    return {
        "status_changed_to": change.to_status,
        "status_changed_at": at,
        "status_change_event_id": event_id,
    }


def _earliest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate < current else current


def _latest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate > current else current


def _routing(view: RequestView, event: TicketRouted, at: datetime) -> dict[str, Any]:
    changes: dict[str, Any] = {"routed_at": _earliest(view.routed_at, at)}
    if event.required_documents_missing:
        changes["documents_requested_at"] = _latest(view.documents_requested_at, at)
    # A later decision (a human re-routing from triage, say) wins whatever the arrival order.
    if _later(at, str(event.event_id), view.decision_at, view.decision_event_id):
        changes |= {
            "team": event.team,
            "priority": event.priority,
            "rerouted_from": event.rerouted_from,
            "routing_reason": event.reason,
            "decision_at": at,
            "decision_event_id": str(event.event_id),
        }
    return changes


def _changes(view: RequestView, event: Envelope, at: datetime) -> dict[str, Any]:
    event_id = str(event.event_id)
    match event:
        case TicketSubmitted():
            changes: dict[str, Any] = {
                "subject": event.subject,
                "category": event.category,
                "created_at": at,
            }
            if event.required_documents_missing:
                changes["documents_requested_at"] = _latest(view.documents_requested_at, at)
            return changes
        case TicketRouted():
            return _routing(view, event, at)
        case AgentReplied():
            return {
                "first_reply_at": _earliest(view.first_reply_at, at),
                **_transition(view, event.status_change, at, event_id),
            }
        case InformationRequested():
            # Asking the customer for information is the agent's first answer too.
            changes = {
                "first_reply_at": _earliest(view.first_reply_at, at),
                **_transition(view, event.status_change, at, event_id),
            }
            if event.documents_requested:
                changes["documents_requested_at"] = _latest(view.documents_requested_at, at)
            return changes
        case CommentAdded() | StatusChanged():
            return _transition(view, event.status_change, at, event_id)
        case DocumentsUploaded():
            return {
                "documents_uploaded_at": _latest(view.documents_uploaded_at, at),
                **_transition(view, event.status_change, at, event_id),
            }
        case _:
            return {}


def _routing_entry(event: TicketRouted, base: dict[str, Any]) -> TimelineEntry:
    why = event.explanation or ROUTING_REASONS.get(event.reason, event.reason)
    if event.rerouted_from:
        summary = f"Moved from the {event.rerouted_from} team to the {event.team} team ({why})"
    else:
        summary = f"Assigned to the {event.team} team ({why})"
    if event.required_documents_missing:
        summary += "; ID confirmation photos are needed"
    return TimelineEntry(
        **base,
        kind="rerouted" if event.rerouted_from else "routed",
        actor="system",
        summary=summary,
        details={
            "team": event.team,
            "rerouted_from": event.rerouted_from,
            "reason": event.reason,
            "explanation": event.explanation,
            "confidence": event.confidence,
            "priority": event.priority.value,
            "documents_needed": event.required_documents_missing,
        },
    )


def _entry_for(event: Envelope, at: datetime) -> TimelineEntry | None:
    base: dict[str, Any] = {"event_id": str(event.event_id), "at": at}
    match event:
        case TicketSubmitted():
            return TimelineEntry(
                **base,
                kind="submitted",
                actor="customer",
                summary="Request submitted",
                details={
                    "attachments": len(event.attachments),
                    "documents_needed": event.required_documents_missing,
                },
            )
        case TicketRouted():
            return _routing_entry(event, base)
        case CommentAdded():
            return TimelineEntry(
                **base,
                kind="comment",
                actor="customer",
                summary="Comment from the customer",
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
            documents = list(event.documents_requested)
            return TimelineEntry(
                **base,
                kind="documents_requested" if documents else "information_requested",
                actor="agent",
                summary=(
                    f"Support asked for documents: {', '.join(documents)}"
                    if documents
                    else "Support needs more information"
                ),
                details={"body": event.body, "documents": documents},
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
                details={
                    "from": event.status_change.from_status.value,
                    "to": event.status_change.to_status.value,
                },
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
            # The SMTP reason stays in details: the summary is what a customer reads.
            return TimelineEntry(
                **base,
                kind="email_failed",
                actor="system",
                summary=f"E-mail not sent: {event.kind.value.replace('_', ' ')}",
                details={
                    "kind": event.kind.value,
                    "reason": event.reason,
                    "permanent": event.permanent,
                },
            )
        case _:
            return None


def _derived(view: RequestView) -> dict[str, Any]:
    """Fields computed from the merged ones, never merged themselves."""
    asked, uploaded = view.documents_requested_at, view.documents_uploaded_at
    if view.status_changed_to is not None:
        status = view.status_changed_to
    else:
        status = Status.OPEN if view.routed_at is not None else Status.NEW
    return {
        "status": status,
        "required_documents_missing": asked is not None and (uploaded is None or uploaded < asked),
    }


def apply(view: RequestView | None, event: Envelope) -> RequestView | None:
    """The view after `event`, or None when the event was already applied."""
    at = to_millis(event.occurred_at)
    if view is None:
        view = RequestView(ticket_id=event.ticket_id, account_id=event.account_id, updated_at=at)
    event_id = str(event.event_id)
    applied = view.applied_event_ids
    position = bisect.bisect_left(applied, event_id)
    if position < len(applied) and applied[position] == event_id:
        return None
    changes = _changes(view, event, at)
    timeline = view.timeline
    entry = _entry_for(event, at)
    if entry is not None:
        timeline = tuple(sorted((*timeline, entry), key=lambda e: (e.at, e.event_id)))
    updated = view.model_copy(
        update={
            **changes,
            "timeline": timeline,
            "updated_at": max(view.updated_at, at),
            "applied_event_ids": (*applied[:position], event_id, *applied[position:]),
        }
    )
    return updated.model_copy(update=_derived(updated))


def fold(view: RequestView | None, events: Iterable[Envelope]) -> tuple[RequestView | None, int]:
    """The view after all `events` (in the order given; any order gives the same view), and
    how many of them were new to it."""
    applied = 0
    for event in events:
        updated = apply(view, event)
        if updated is not None:
            view, applied = updated, applied + 1
    return view, applied
