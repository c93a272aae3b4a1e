"""Event contracts, version 1.

Every event is a frozen pydantic model with the same envelope. Consumers ignore fields they
do not know, so adding an optional field is a compatible change; anything else is a new
schema_version. The schema snapshot tests (shared/tests/test_event_schemas.py) pin each one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

from shared.contracts.statuses import Status

TICKET_ID_PATTERN = r"^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$"
ACCOUNT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"

TicketId = Annotated[str, Field(pattern=TICKET_ID_PATTERN, examples=["7KQ2-M9XD-4TRA"])]
AccountId = Annotated[str, Field(pattern=ACCOUNT_ID_PATTERN, examples=["acc-1001"])]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Model(BaseModel):
    """Frozen value object; unknown fields are ignored so that producers may add optional ones."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Envelope(Model):
    event_id: UUID = Field(default_factory=uuid4, description="Unique per event; the dedup key")
    event_type: str
    schema_version: Literal[1] = 1
    occurred_at: UtcDatetime = Field(default_factory=utcnow)
    ticket_id: TicketId
    account_id: AccountId = Field(description="Owner of the request")
    correlation_id: str = Field(min_length=1, max_length=128)


class AttachmentRef(Model):
    """A stored attachment, referenced by id and content hash; the bytes never travel in events."""

    attachment_id: str = Field(min_length=1, max_length=64)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size: int = Field(ge=0)
    sha256: Sha256Hex


class Priority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class TeamScore(Model):
    team: str
    probability: float = Field(ge=0.0, le=1.0)


# --- tickets.submitted -------------------------------------------------------------------


class TicketSubmitted(Envelope):
    event_type: Literal["TicketSubmitted"] = "TicketSubmitted"
    category: str = Field(description="The drop-down value the customer picked")
    subject: str
    description: str
    attachments: tuple[AttachmentRef, ...] = ()
    required_documents_missing: bool = Field(
        default=False,
        description="The category needs ID confirmation photos and none were attached",
    )
    locale: str = "en"
    follow_up_of: TicketId | None = Field(
        default=None,
        description="The closed request this one follows up (the customer wrote on it again)",
    )


# --- tickets.routed and team.<team> ------------------------------------------------------


class RoutingDecision(Model):
    """Why a request went where it went: `reason` is customer_category, model or rule:<id>."""

    team: str
    intent: str | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    priority: Priority = Priority.NORMAL
    customer_category: str
    customer_team: str | None = Field(default=None, description="Team the customer's pick maps to")
    rerouted_from: str | None = None
    reason: str = Field(pattern=r"^(customer_category|model|triage|rule:[a-z0-9_-]+)$")
    explanation: str = ""
    model_version: str
    runner_up: tuple[TeamScore, ...] = ()
    required_documents_missing: bool = False
    required_documents: tuple[str, ...] = Field(
        default=(),
        description="Ids (catalog `documents`) of what the request needs, when it needs any",
    )
    flags: tuple[str, ...] = Field(default=(), description="Guidance flags, e.g. several_accounts")
    language: str | None = Field(
        default=None, description="The request's language (ISO 639-1), when detected"
    )
    contributions: tuple[str, ...] = Field(
        default=(),
        description="What each matching policy rule added (routing, priority, documents, flags,"
        " guidance) and by which evidence (text, intent or the customer's pick)",
    )


class TicketRouted(Envelope, RoutingDecision):
    event_type: Literal["TicketRouted"] = "TicketRouted"


class Transfer(Model):
    """Why a request came to a team from another: an agent moved it."""

    from_team: str
    to_team: str
    reason: str = Field(description="The agent's words, for the receiving team")
    agent_id: str


class TicketAssigned(Envelope, RoutingDecision):
    """What a team topic carries: the request itself, ready to work on, with its decision."""

    event_type: Literal["TicketAssigned"] = "TicketAssigned"
    subject: str
    description: str
    attachments: tuple[AttachmentRef, ...] = ()
    submitted_at: UtcDatetime
    transfer: Transfer | None = Field(
        default=None, description="Set when an agent moved the request here from another team"
    )


class TicketWithdrawn(Envelope):
    """What the old team's topic carries when a request leaves the team: drop it."""

    event_type: Literal["TicketWithdrawn"] = "TicketWithdrawn"
    team: str = Field(description="The team the request left")
    transfer: Transfer


# SlaWarning and SlaBreached (tickets.sla) reach the team's topic too: defined below.


# --- tickets.activity --------------------------------------------------------------------


class StatusTransition(Model):
    from_status: Status
    to_status: Status


Channel = Literal["web", "email"]


class CommentAdded(Envelope):
    event_type: Literal["CommentAdded"] = "CommentAdded"
    body: str
    status_change: StatusTransition | None = None
    source: Channel = Field(default="web", description="How the customer wrote it")


class AgentReplied(Envelope):
    event_type: Literal["AgentReplied"] = "AgentReplied"
    agent_id: str
    body: str
    status_change: StatusTransition | None = None


class InformationRequested(Envelope):
    event_type: Literal["InformationRequested"] = "InformationRequested"
    agent_id: str
    body: str
    documents_requested: tuple[str, ...] = ()
    status_change: StatusTransition | None = None


class DocumentsUploaded(Envelope):
    event_type: Literal["DocumentsUploaded"] = "DocumentsUploaded"
    attachments: tuple[AttachmentRef, ...]
    status_change: StatusTransition | None = None
    source: Channel = Field(default="web", description="How the customer sent them")


class StatusChanged(Envelope):
    event_type: Literal["StatusChanged"] = "StatusChanged"
    actor_id: str
    actor_role: Literal["customer", "agent", "system"]
    status_change: StatusTransition
    note: str | None = None
    rule_id: str | None = Field(
        default=None, description="The automation rule that made the change (actor_role system)"
    )


class NoteAdded(Envelope):
    """An agent's note on a request: agents read it, the customer never does, nobody is mailed."""

    event_type: Literal["NoteAdded"] = "NoteAdded"
    agent_id: str
    body: str


class AssigneeChanged(Envelope):
    event_type: Literal["AssigneeChanged"] = "AssigneeChanged"
    actor_id: str = Field(description="The agent who took or gave the request")
    team: str
    assignee: str | None = Field(description="The agent who works on it now; None: released")
    previous: str | None = None


class RequestContent(Model):
    """The request as a team needs it to work on it."""

    category: str
    subject: str
    description: str
    attachments: tuple[AttachmentRef, ...] = ()
    locale: str = "en"
    submitted_at: UtcDatetime


class TicketTransferred(Envelope):
    """An agent moved a request to another team (a triage agent routing by hand, too): the
    router hands the whole request to the new team and withdraws it from the old one."""

    event_type: Literal["TicketTransferred"] = "TicketTransferred"
    transfer: Transfer
    request: RequestContent
    decision: RoutingDecision = Field(description="The routing decision the request had")
    status: Status = Field(description="The request's status when it was moved")
    routed_at: UtcDatetime | None = Field(
        default=None, description="When the router placed it: the time a misroute cost runs from"
    )


class InboundMailRefused(Envelope):
    """An e-mail to the request's reply address that was not added (agents only): who may
    add to a request is the account's own address; the sender is told nothing."""

    event_type: Literal["InboundMailRefused"] = "InboundMailRefused"
    reason: str = Field(
        description="wrong_sender, not_authenticated, executable_attachment, too_large,"
        " rate_limited, no_text, closed"
    )
    detail: str = Field(default="", description="What was wrong, without any address")


class FollowUpOpened(Envelope):
    """The customer wrote on a closed request: a new request follows it up."""

    event_type: Literal["FollowUpOpened"] = "FollowUpOpened"
    follow_up_id: TicketId


class CustomerReminded(Envelope):
    """An automation reminded the customer that the team waits for their answer (e-mailed)."""

    event_type: Literal["CustomerReminded"] = "CustomerReminded"
    rule_id: str = Field(description="The automation rule that fired")
    waiting_since: UtcDatetime = Field(description="Since when the request waits (pending)")


ActivityEvent = Annotated[
    CommentAdded
    | AgentReplied
    | InformationRequested
    | DocumentsUploaded
    | StatusChanged
    | NoteAdded
    | AssigneeChanged
    | TicketTransferred
    | FollowUpOpened
    | InboundMailRefused
    | CustomerReminded,
    Field(discriminator="event_type"),
]

# --- tickets.sla -------------------------------------------------------------------------


class SlaMetric(StrEnum):
    """What a team is measured on: its first answer, each next answer, the solution."""

    FIRST_REPLY = "first_reply"
    NEXT_REPLY = "next_reply"
    RESOLUTION = "resolution"


class SlaAlert(Envelope):
    """A request's SLA clock reached a share of its target (warning) or the target (breach).
    Published on tickets.sla and on the team's topic, once per clock run (`cycle`)."""

    metric: SlaMetric
    cycle: str = Field(
        description="Which run of the clock: the metric, or next_reply:<event id of the"
        " customer's message that started it>"
    )
    team: str
    priority: Priority
    target_seconds: int = Field(ge=1)
    due_at: UtcDatetime = Field(description="When the target is (was) reached")
    business_hours: bool = Field(description="Whether the target counts business hours only")


class SlaWarning(SlaAlert):
    event_type: Literal["SlaWarning"] = "SlaWarning"
    share: float = Field(gt=0.0, lt=1.0, description="The share of the target that has passed")


class SlaBreached(SlaAlert):
    event_type: Literal["SlaBreached"] = "SlaBreached"


AutomationAction = Literal["remind", "solve", "close"]


class AutomationDue(Envelope):
    """A time rule's moment came: the intake (the only writer of a request) applies it if the
    request is still where the rule found it (status set by `since_event_id`), else drops it."""

    event_type: Literal["AutomationDue"] = "AutomationDue"
    rule_id: str
    action: AutomationAction
    status: Status = Field(description="The status the rule waits on (pending, solved)")
    since_event_id: str = Field(description="The event that put the request in that status")
    waiting_since: UtcDatetime
    note: str = Field(default="", description="The rule's words for the timeline")


SlaEvent = Annotated[SlaWarning | SlaBreached | AutomationDue, Field(discriminator="event_type")]

TeamMessage = Annotated[
    TicketAssigned | TicketWithdrawn | SlaWarning | SlaBreached, Field(discriminator="event_type")
]

# --- notifications -----------------------------------------------------------------------


class NotificationKind(StrEnum):
    ACKNOWLEDGEMENT = "acknowledgement"
    DOCUMENTS_NEEDED = "documents_needed"
    AGENT_REPLY = "agent_reply"
    INFORMATION_REQUESTED = "information_requested"
    SOLVED = "solved"
    CLOSED = "closed"
    REMINDER = "reminder"


class NotificationSent(Envelope):
    event_type: Literal["NotificationSent"] = "NotificationSent"
    notification_id: str = Field(description="source event id + kind: the idempotency key")
    kind: NotificationKind
    source_event_id: UUID
    message_id: str


class NotificationFailed(Envelope):
    event_type: Literal["NotificationFailed"] = "NotificationFailed"
    notification_id: str
    kind: NotificationKind
    source_event_id: UUID
    reason: str
    permanent: bool


NotificationEvent = Annotated[
    NotificationSent | NotificationFailed, Field(discriminator="event_type")
]

# --- accounts.recovery -------------------------------------------------------------------


class AccountRecoveryRequested(Model):
    """Someone who cannot sign in (2FA lost) asked for a recovery link for this account: the
    notifier mails a one-time link to the account's own address. An account event, not a
    ticket's (no request exists yet): keyed by account id, on its own topic. The link itself
    never travels: the notifier signs `recovery_id` (shared.contracts.recovery)."""

    event_id: UUID = Field(default_factory=uuid4, description="Unique per event; the dedup key")
    event_type: Literal["AccountRecoveryRequested"] = "AccountRecoveryRequested"
    schema_version: Literal[1] = 1
    occurred_at: UtcDatetime = Field(default_factory=utcnow)
    account_id: AccountId
    correlation_id: str = Field(min_length=1, max_length=128)
    recovery_id: str = Field(pattern=r"^[A-Za-z0-9_-]{22,64}$")
    expires_at: UtcDatetime
    locale: str = "en"


AnyEvent = Annotated[
    TicketSubmitted
    | TicketRouted
    | TicketAssigned
    | TicketWithdrawn
    | CommentAdded
    | AgentReplied
    | InformationRequested
    | DocumentsUploaded
    | StatusChanged
    | NoteAdded
    | AssigneeChanged
    | TicketTransferred
    | FollowUpOpened
    | InboundMailRefused
    | CustomerReminded
    | SlaWarning
    | SlaBreached
    | AutomationDue
    | NotificationSent
    | NotificationFailed,
    Field(discriminator="event_type"),
]

ALL_EVENT_TYPES: tuple[type[Model], ...] = (
    TicketSubmitted,
    TicketRouted,
    TicketAssigned,
    TicketWithdrawn,
    CommentAdded,
    AgentReplied,
    InformationRequested,
    DocumentsUploaded,
    StatusChanged,
    NoteAdded,
    AssigneeChanged,
    TicketTransferred,
    FollowUpOpened,
    InboundMailRefused,
    CustomerReminded,
    SlaWarning,
    SlaBreached,
    AutomationDue,
    NotificationSent,
    NotificationFailed,
    AccountRecoveryRequested,
)

any_event_adapter: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)
activity_event_adapter: TypeAdapter[ActivityEvent] = TypeAdapter(ActivityEvent)
notification_event_adapter: TypeAdapter[NotificationEvent] = TypeAdapter(NotificationEvent)
team_message_adapter: TypeAdapter[TeamMessage] = TypeAdapter(TeamMessage)
sla_event_adapter: TypeAdapter[SlaEvent] = TypeAdapter(SlaEvent)
recovery_event_adapter: TypeAdapter[AccountRecoveryRequested] = TypeAdapter(
    AccountRecoveryRequested
)

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud on the phone


def new_ticket_id() -> str:
    """A request number customers can read out: 12 symbols of 32 (60 bits), grouped by four."""
    raw = uuid4().int
    symbols = []
    for _ in range(12):
        raw, index = divmod(raw, len(_ALPHABET))
        symbols.append(_ALPHABET[index])
    s = "".join(symbols)
    return f"{s[0:4]}-{s[4:8]}-{s[8:12]}"


_HEADER_UNSAFE = re.compile(r"[\r\n\x00]")


def header_safe(value: str) -> str:
    """Remove characters that could break out of a header line (Kafka or e-mail)."""
    return _HEADER_UNSAFE.sub(" ", value)


def derived_event_id(source: UUID | str, purpose: str) -> UUID:
    """The same input yields the same output event id, so an effect of a redelivered event is
    recognised downstream as one already applied."""
    return uuid5(NAMESPACE_URL, f"urn:helpdesk:{source}:{purpose}")
