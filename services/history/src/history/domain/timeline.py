"""One timeline entry per event of a request, and who may read it (pure, no I/O).

Each entry is public (the customer's own words, the public replies, their documents, the
public statuses, a follow-up link) or internal (routing decisions, transfers, notes,
assignments, e-mail delivery records): the customer's view shows public entries only, and
of those only the details meant for them (PUBLIC_DETAILS); agents read everything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from shared.contracts.events import (
    AgentReplied,
    AssigneeChanged,
    CommentAdded,
    CustomerReminded,
    DocumentsUploaded,
    Envelope,
    FollowUpOpened,
    InboundMailRefused,
    InformationRequested,
    Model,
    NoteAdded,
    NotificationFailed,
    NotificationSent,
    SlaAlert,
    SlaBreached,
    StatusChanged,
    TicketRouted,
    TicketSubmitted,
    TicketTransferred,
    UtcDatetime,
)
from shared.contracts.statuses import public_name

Actor = Literal["customer", "agent", "system"]
Visibility = Literal["public", "internal"]

# Why a request went where it went, in words an agent reads at a glance (TicketRouted.reason).
ROUTING_REASONS: dict[str, str] = {
    "customer_category": "the category the customer chose",
    "model": "what the request says",
    "triage": "a person will choose the right team",
}

# The details of a public entry the customer may read; everything else stays with the agents.
PUBLIC_DETAILS = frozenset({"body", "documents", "attachments", "follow_up_id", "status"})


class TimelineEntry(Model):
    event_id: str
    at: UtcDatetime
    kind: str
    actor: Actor
    summary: str
    visibility: Visibility = "internal"
    details: dict[str, Any] = Field(default_factory=dict)

    def for_customer(self) -> TimelineEntry:
        details = {k: v for k, v in self.details.items() if k in PUBLIC_DETAILS}
        return self.model_copy(update={"details": details})


def _routing(event: TicketRouted, base: dict[str, Any]) -> TimelineEntry:
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


def _status(event: StatusChanged, base: dict[str, Any]) -> TimelineEntry:
    change = event.status_change
    # A move the customer cannot tell from the one before (open to on-hold: both "Open") is
    # the team's business.
    shown = public_name(change.from_status) != public_name(change.to_status)
    return TimelineEntry(
        **base,
        kind="status_changed",
        actor=event.actor_role,
        summary=f"Status: {public_name(change.to_status)}",
        visibility="public" if shown else "internal",
        details={
            "from": change.from_status.value,
            "to": change.to_status.value,
            "status": public_name(change.to_status),
            "rule_id": event.rule_id,
            "note": event.note if event.rule_id else None,
        },
    )


def _sla(event: SlaAlert, base: dict[str, Any]) -> TimelineEntry:
    breached = isinstance(event, SlaBreached)
    what = event.metric.value.replace("_", " ")
    return TimelineEntry(
        **base,
        kind="sla_breached" if breached else "sla_warning",
        actor="system",
        summary=f"SLA {'breached' if breached else 'warning'}: {what} target"
        f" ({event.priority.value}, {event.team})",
        details={
            "metric": event.metric.value,
            "cycle": event.cycle,
            "team": event.team,
            "priority": event.priority.value,
            "target_seconds": event.target_seconds,
            "due_at": event.due_at.isoformat(),
        },
    )


def entry_for(event: Envelope, at: datetime) -> TimelineEntry | None:
    base: dict[str, Any] = {"event_id": str(event.event_id), "at": at}
    match event:
        case TicketSubmitted():
            summary = "Request submitted"
            if event.follow_up_of:
                summary = f"Request submitted, following up request {event.follow_up_of}"
            if event.required_documents_missing:
                summary += "; ID confirmation photos are needed"
            return TimelineEntry(
                **base,
                kind="submitted",
                actor="customer",
                summary=summary,
                visibility="public",
                details={
                    "attachments": len(event.attachments),
                    "documents_needed": event.required_documents_missing,
                    "follow_up_of": event.follow_up_of,
                },
            )
        case TicketRouted():
            return _routing(event, base)
        case CommentAdded():
            by_mail = " (by e-mail)" if event.source == "email" else ""
            return TimelineEntry(
                **base,
                kind="comment",
                actor="customer",
                summary=f"Comment from the customer{by_mail}",
                visibility="public",
                details={"body": event.body, "source": event.source},
            )
        case AgentReplied():
            return TimelineEntry(
                **base,
                kind="reply",
                actor="agent",
                summary="Support replied",
                visibility="public",
                details={"body": event.body, "agent_id": event.agent_id},
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
                visibility="public",
                details={"body": event.body, "documents": documents, "agent_id": event.agent_id},
            )
        case DocumentsUploaded():
            return TimelineEntry(
                **base,
                kind="documents_uploaded",
                actor="customer",
                summary=f"{len(event.attachments)} document(s) uploaded",
                visibility="public",
                details={"attachments": len(event.attachments)},
            )
        case StatusChanged():
            return _status(event, base)
        case NoteAdded():
            return TimelineEntry(
                **base,
                kind="note",
                actor="agent",
                summary="Internal note",
                details={"body": event.body, "agent_id": event.agent_id},
            )
        case AssigneeChanged():
            summary = f"Taken by {event.assignee}" if event.assignee else "Released"
            return TimelineEntry(
                **base,
                kind="assignment",
                actor="agent",
                summary=summary,
                details={
                    "assignee": event.assignee,
                    "previous": event.previous,
                    "by": event.actor_id,
                    "team": event.team,
                },
            )
        case TicketTransferred():
            move = event.transfer
            return TimelineEntry(
                **base,
                kind="transferred",
                actor="agent",
                summary=f"Moved from {move.from_team} to {move.to_team}: {move.reason}",
                details={
                    "from_team": move.from_team,
                    "to_team": move.to_team,
                    "reason": move.reason,
                    "agent_id": move.agent_id,
                    "original_reason": event.decision.reason,
                },
            )
        case InboundMailRefused():
            return TimelineEntry(
                **base,
                kind="inbound_refused",
                actor="system",
                summary="An e-mail to this request was not added: "
                + event.reason.replace("_", " "),
                details={"reason": event.reason, "detail": event.detail},
            )
        case FollowUpOpened():
            return TimelineEntry(
                **base,
                kind="follow_up_opened",
                actor="customer",
                summary=f"The request was closed: follow-up request {event.follow_up_id} opened",
                visibility="public",
                details={"follow_up_id": event.follow_up_id},
            )
        case SlaAlert():
            return _sla(event, base)
        case CustomerReminded():
            return TimelineEntry(
                **base,
                kind="reminder",
                actor="system",
                summary="We reminded you that we are waiting for your reply",
                visibility="public",
                details={
                    "rule_id": event.rule_id,
                    "waiting_since": event.waiting_since.isoformat(),
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
