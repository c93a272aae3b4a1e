"""What the history's JSON API answers, one model per audience.

A customer reads their own words, the public replies, their documents and the public status:
never a team name, a priority, a routing decision or its confidence, a note, an assignee or an
e-mail delivery record (tests/security/test_audiences.py checks every one of them). An agent
reads the whole request. A dashboard reads aggregates only (domain/stats.py).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from history.domain.clock_state import ClockStatus, SlaClock
from history.domain.projection import AttachedFile, RequestView, TransferRecord
from history.domain.timeline import TimelineEntry
from shared.contracts.events import RoutingDecision, SlaMetric
from shared.contracts.statuses import Status


class AttachmentOut(BaseModel):
    attachment_id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    url: str = Field(description="Where its owner and agents download it (the intake)")

    @classmethod
    def of(cls, ticket_id: str, file: AttachedFile, intake_url: str) -> AttachmentOut:
        return cls(
            attachment_id=file.attachment_id,
            filename=file.filename,
            content_type=file.content_type,
            size=file.size,
            sha256=file.sha256,
            uploaded_at=file.at,
            url=f"{intake_url}/v1/tickets/{ticket_id}/attachments/{file.attachment_id}",
        )


# --- customers -------------------------------------------------------------------------------


class ActivityItem(BaseModel):
    """One of the customer's requests, as My activities lists it."""

    ticket_id: str
    subject: str | None
    category: str | None
    public_status: str
    created_at: datetime | None
    updated_at: datetime
    follow_up_of: str | None = None

    @classmethod
    def of(cls, view: RequestView) -> ActivityItem:
        return cls(
            ticket_id=view.ticket_id,
            subject=view.subject,
            category=view.category,
            public_status=view.public_status,
            created_at=view.created_at,
            updated_at=view.updated_at,
            follow_up_of=view.follow_up_of,
        )


class ActivityList(BaseModel):
    items: list[ActivityItem]
    next_cursor: str | None = Field(
        description="Pass as `cursor` (with the same sort and order) for the next page; "
        "null on the last page"
    )


class CustomerRequest(ActivityItem):
    """One request, as its owner reads it: the public conversation only."""

    audience: str = Field(default="customer", description="Whose view this is")
    description: str | None
    attachments: list[AttachmentOut]
    required_documents_missing: bool
    follow_ups: list[str]
    timeline: list[TimelineEntry] = Field(description="Public entries, public details")

    @classmethod
    def of_view(cls, view: RequestView, intake_url: str) -> CustomerRequest:
        return cls(
            **ActivityItem.of(view).model_dump(),
            description=view.description,
            attachments=[AttachmentOut.of(view.ticket_id, f, intake_url) for f in view.attachments],
            required_documents_missing=view.required_documents_missing,
            follow_ups=list(view.follow_ups),
            timeline=list(view.public_timeline),
        )


# --- agents ----------------------------------------------------------------------------------


class SlaOut(BaseModel):
    """One SLA clock, for agents: where it stands and how long is left."""

    metric: SlaMetric
    status: ClockStatus
    target_seconds: int
    business_hours: bool = Field(description="The target counts working hours only")
    due_at: datetime | None = Field(description="When the target is reached if it keeps running")
    time_left_seconds: float | None = Field(
        description="Until due_at (negative: overdue); null when paused or stopped"
    )
    breached: bool = Field(description="The target passed (an alert went to the team)")

    @classmethod
    def of(cls, clock: SlaClock, now: datetime) -> SlaOut:
        left = (clock.due_at - now).total_seconds() if clock.due_at else None
        overdue = clock.status == "running" and left is not None and left < 0
        return cls(
            metric=clock.metric,
            status=clock.status,
            target_seconds=clock.target_seconds,
            business_hours=clock.business_hours,
            due_at=clock.due_at,
            time_left_seconds=round(left, 3) if left is not None else None,
            breached=clock.status == "breached" or overdue,
        )


def sla_of(view: RequestView, now: datetime) -> list[SlaOut]:
    return [SlaOut.of(c, now) for c in view.sla]


class AgentRequest(BaseModel):
    """The whole request, for agents: what it says, where it is and why, who works on it,
    and every comment, reply, note, document request, status change, transfer and e-mail."""

    audience: str = Field(default="agent", description="Whose view this is")
    ticket_id: str
    account_id: str
    subject: str | None
    description: str | None
    category: str | None
    locale: str
    status: Status
    public_status: str
    priority: str
    team: str | None
    assignee: str | None
    decision: RoutingDecision | None = Field(
        description="The router's latest decision: intent, confidence, reasons, runner-up teams"
    )
    rerouted_from: str | None
    routing_reason: str | None
    transfers: list[TransferRecord]
    attachments: list[AttachmentOut]
    required_documents_missing: bool
    follow_up_of: str | None
    follow_ups: list[str]
    created_at: datetime | None
    updated_at: datetime
    routed_at: datetime | None
    first_reply_at: datetime | None
    last_customer_activity_at: datetime | None
    sla: list[SlaOut] = Field(description="First reply, next reply and resolution clocks")
    timeline: list[TimelineEntry]

    @classmethod
    def of_view(cls, view: RequestView, intake_url: str, now: datetime) -> AgentRequest:
        return cls(
            ticket_id=view.ticket_id,
            account_id=view.account_id,
            subject=view.subject,
            description=view.description,
            category=view.category,
            locale=view.locale,
            status=view.status,
            public_status=view.public_status,
            priority=view.priority.value,
            team=view.team,
            assignee=view.assignee,
            decision=view.decision,
            rerouted_from=view.rerouted_from,
            routing_reason=view.routing_reason,
            transfers=list(view.transfers),
            attachments=[AttachmentOut.of(view.ticket_id, f, intake_url) for f in view.attachments],
            required_documents_missing=view.required_documents_missing,
            follow_up_of=view.follow_up_of,
            follow_ups=list(view.follow_ups),
            created_at=view.created_at,
            updated_at=view.updated_at,
            routed_at=view.routed_at,
            first_reply_at=view.first_reply_at,
            last_customer_activity_at=view.last_customer_activity_at,
            sla=sla_of(view, now),
            timeline=list(view.timeline),
        )


class QueueItem(BaseModel):
    ticket_id: str
    subject: str | None
    status: Status
    priority: str
    assignee: str | None
    created_at: datetime | None
    age_seconds: float | None = Field(description="Since it was submitted")
    last_customer_activity_at: datetime | None
    transfers: int = Field(description="How often agents moved it: it came from elsewhere")
    required_documents_missing: bool
    sla: list[SlaOut]
    sla_breached: bool = Field(description="A target of it has passed")
    sla_next_due_at: datetime | None = Field(description="The nearest target still running")

    @classmethod
    def of(cls, view: RequestView, now: datetime) -> QueueItem:
        created = view.created_at
        clocks = sla_of(view, now)
        return cls(
            ticket_id=view.ticket_id,
            subject=view.subject,
            status=view.status,
            priority=view.priority.value,
            assignee=view.assignee,
            created_at=created,
            age_seconds=round((now - created).total_seconds(), 3) if created else None,
            last_customer_activity_at=view.last_customer_activity_at,
            transfers=len(view.transfers),
            required_documents_missing=view.required_documents_missing,
            sla=clocks,
            sla_breached=any(c.breached for c in clocks),
            sla_next_due_at=min(
                (c.due_at for c in clocks if c.due_at and c.status == "running"), default=None
            ),
        )


class QueuePage(BaseModel):
    team: str
    items: list[QueueItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")
