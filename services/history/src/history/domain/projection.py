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
from typing import Any

from pydantic import Field

from history.domain.clock_state import SlaClock
from history.domain.timeline import TimelineEntry, entry_for
from shared.contracts.events import (
    AgentReplied,
    AssigneeChanged,
    AttachmentRef,
    CommentAdded,
    DocumentsUploaded,
    Envelope,
    FollowUpOpened,
    InformationRequested,
    Model,
    Priority,
    RoutingDecision,
    StatusChanged,
    StatusTransition,
    TicketRouted,
    TicketSubmitted,
    TicketTransferred,
    UtcDatetime,
)
from shared.contracts.statuses import Status, public_name


class AttachedFile(AttachmentRef):
    """A file of the request, with when and by which event it came."""

    at: UtcDatetime
    event_id: str
    position: int = 0


def _with_files(
    view: RequestView, refs: tuple[AttachmentRef, ...], at: datetime, event_id: str
) -> dict[str, Any]:
    """Files kept in the order they came (time, event, position): any arrival order, one view."""
    added = [
        AttachedFile(**ref.model_dump(), at=at, event_id=event_id, position=n)
        for n, ref in enumerate(refs)
    ]
    files = sorted((*view.attachments, *added), key=lambda f: (f.at, f.event_id, f.position))
    return {"attachments": tuple(files)}


class TransferRecord(Model):
    """An agent moved the request: from where, to where, why, and what it had been decided on."""

    event_id: str
    at: UtcDatetime
    from_team: str
    to_team: str
    reason: str
    agent_id: str
    original_reason: str = Field(description="The reason of the decision it was moved from")
    routed_at: UtcDatetime | None = None


class StatusMark(Model):
    """The request entered `status` at `at` by event `event_id` (time rules count from it)."""

    at: UtcDatetime
    event_id: str
    status: Status


class RequestView(Model):
    ticket_id: str
    account_id: str
    subject: str | None = None
    description: str | None = None
    category: str | None = None
    locale: str = "en"
    attachments: tuple[AttachedFile, ...] = Field(
        default=(), description="Submitted with the request and uploaded since, in order"
    )
    follow_up_of: str | None = None
    follow_ups: tuple[str, ...] = ()
    team: str | None = Field(default=None, description="Where it is: the latest placement")
    priority: Priority = Priority.NORMAL
    status: Status = Status.NEW
    # The latest explicit status change; without one a request is new, or open once routed.
    status_changed_to: Status | None = None
    status_changed_at: UtcDatetime | None = None
    status_change_event_id: str | None = None
    status_history: tuple[StatusMark, ...] = Field(
        default=(), description="Every explicit status change, in order"
    )
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime
    routed_at: UtcDatetime | None = Field(default=None, description="First routing decision")
    decision_at: UtcDatetime | None = Field(
        default=None, description="Latest routing decision: team and priority come from it"
    )
    decision_event_id: str | None = None
    decision: RoutingDecision | None = Field(
        default=None, description="The latest routing decision, whole (agents read its why)"
    )
    placed_at: UtcDatetime | None = Field(
        default=None, description="The latest routing decision or transfer: `team` is its team"
    )
    placed_event_id: str | None = None
    transfers: tuple[TransferRecord, ...] = ()
    assignee: str | None = None
    assignee_at: UtcDatetime | None = None
    assignee_event_id: str | None = None
    last_customer_activity_at: UtcDatetime | None = None
    first_reply_at: UtcDatetime | None = None
    rerouted_from: str | None = None
    routing_reason: str | None = None
    documents_requested_at: UtcDatetime | None = None
    documents_uploaded_at: UtcDatetime | None = None
    required_documents_missing: bool = False
    timeline: tuple[TimelineEntry, ...] = ()
    sla: tuple[SlaClock, ...] = Field(
        default=(), description="The SLA clocks as the time rules see them (history.service)"
    )
    applied_event_ids: tuple[str, ...] = Field(default=(), description="Sorted: the dedup set")
    version: int = 0

    @property
    def public_status(self) -> str:
        return public_name(self.status)

    @property
    def first_transferred_at(self) -> datetime | None:
        return self.transfers[0].at if self.transfers else None

    @property
    def public_timeline(self) -> tuple[TimelineEntry, ...]:
        """What the customer reads: public entries, public details."""
        return tuple(e.for_customer() for e in self.timeline if e.visibility == "public")


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
    if change is None:
        return {}
    mark = StatusMark(at=at, event_id=event_id, status=change.to_status)
    history = tuple(sorted((*view.status_history, mark), key=lambda m: (m.at, m.event_id)))
    changes: dict[str, Any] = {"status_history": history}
    if _later(at, event_id, view.status_changed_at, view.status_change_event_id):
        changes |= {
            "status_changed_to": change.to_status,
            "status_changed_at": at,
            "status_change_event_id": event_id,
        }
    return changes


def _earliest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate < current else current


def _latest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate > current else current


def _placement(view: RequestView, team: str, at: datetime, event_id: str) -> dict[str, Any]:
    """The team follows the latest routing decision or transfer, whatever the arrival order."""
    if not _later(at, event_id, view.placed_at, view.placed_event_id):
        return {}
    return {"team": team, "placed_at": at, "placed_event_id": event_id}


def _routing(view: RequestView, event: TicketRouted, at: datetime) -> dict[str, Any]:
    event_id = str(event.event_id)
    changes: dict[str, Any] = {"routed_at": _earliest(view.routed_at, at)}
    if event.required_documents_missing:
        changes["documents_requested_at"] = _latest(view.documents_requested_at, at)
    # A later decision (a re-routing, say) wins whatever the arrival order.
    if _later(at, event_id, view.decision_at, view.decision_event_id):
        decision = RoutingDecision.model_validate(
            event.model_dump(include=set(RoutingDecision.model_fields))
        )
        changes |= {
            "priority": event.priority,
            "rerouted_from": event.rerouted_from,
            "routing_reason": event.reason,
            "decision": decision,
            "decision_at": at,
            "decision_event_id": event_id,
        }
    return changes | _placement(view, event.team, at, event_id)


def _transfer(view: RequestView, event: TicketTransferred, at: datetime) -> dict[str, Any]:
    event_id = str(event.event_id)
    move = event.transfer
    record = TransferRecord(
        event_id=event_id,
        at=at,
        from_team=move.from_team,
        to_team=move.to_team,
        reason=move.reason,
        agent_id=move.agent_id,
        original_reason=event.decision.reason,
        routed_at=to_millis(event.routed_at) if event.routed_at else None,
    )
    changes: dict[str, Any] = {
        "transfers": tuple(sorted((*view.transfers, record), key=lambda t: (t.at, t.event_id))),
        **_placement(view, move.to_team, at, event_id),
    }
    # The old team's assignee lets go of a request that left the team.
    if _later(at, event_id, view.assignee_at, view.assignee_event_id):
        changes |= {"assignee": None, "assignee_at": at, "assignee_event_id": event_id}
    return changes


def _assignment(view: RequestView, event: AssigneeChanged, at: datetime) -> dict[str, Any]:
    event_id = str(event.event_id)
    if not _later(at, event_id, view.assignee_at, view.assignee_event_id):
        return {}
    return {"assignee": event.assignee, "assignee_at": at, "assignee_event_id": event_id}


def _customer_activity(view: RequestView, at: datetime) -> dict[str, Any]:
    return {"last_customer_activity_at": _latest(view.last_customer_activity_at, at)}


def _changes(view: RequestView, event: Envelope, at: datetime) -> dict[str, Any]:
    event_id = str(event.event_id)
    match event:
        case TicketSubmitted():
            changes: dict[str, Any] = {
                "subject": event.subject,
                "description": event.description,
                "category": event.category,
                "locale": event.locale,
                "follow_up_of": event.follow_up_of,
                **_with_files(view, event.attachments, at, event_id),
                "created_at": at,
                **_customer_activity(view, at),
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
        case CommentAdded():
            return {
                **_transition(view, event.status_change, at, event_id),
                **_customer_activity(view, at),
            }
        case StatusChanged():
            return _transition(view, event.status_change, at, event_id)
        case DocumentsUploaded():
            return {
                "documents_uploaded_at": _latest(view.documents_uploaded_at, at),
                **_with_files(view, event.attachments, at, event_id),
                **_transition(view, event.status_change, at, event_id),
                **_customer_activity(view, at),
            }
        case TicketTransferred():
            return _transfer(view, event, at)
        case AssigneeChanged():
            return _assignment(view, event, at)
        case FollowUpOpened():
            return {"follow_ups": tuple(sorted({*view.follow_ups, event.follow_up_id}))}
        case _:
            return {}


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
    entry = entry_for(event, at)
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
