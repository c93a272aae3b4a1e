"""What the intake needs from the outside world, as protocols (adapters implement them)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from intake.domain.attachments import CheckedFile
from intake.domain.idempotency import IdempotencyRecord
from intake.domain.outbox import OutboxEntry, RecordChange, RecordedEvent
from intake.domain.ratelimit import RateDecision
from intake.domain.recovery import RecoveryGrant
from intake.domain.submission_gate import GateRequest, GateState
from shared.contracts.classification import Classification, ClassifyRequest
from shared.contracts.directory import AccountRecord
from shared.contracts.events import (
    AccountRecoveryRequested,
    AttachmentRef,
    Envelope,
    RequestContent,
    RoutingDecision,
    TicketRouted,
    TicketSubmitted,
)
from shared.contracts.statuses import Status


class Classifier(Protocol):
    async def classify(self, request: ClassifyRequest) -> Classification | None:
        """The router's classification, or None when it did not answer in time."""


class RecoveryStore(Protocol):
    async def add(self, grant: RecoveryGrant) -> None: ...

    async def get(self, recovery_id: str) -> RecoveryGrant | None: ...

    async def claim(self, recovery_id: str, now: datetime, lease: timedelta) -> bool:
        """Take the grant for one submission, atomically: only if it has no request, has not
        expired and nobody holds a live claim on it."""

    async def complete(self, recovery_id: str, ticket_id: str) -> None:
        """The request was filed: the grant is used for good."""

    async def release(self, recovery_id: str) -> None:
        """The submission was refused (a mistake in the form): the link works again."""


class AccountEvents(Protocol):
    async def publish(self, topic: str, event: AccountRecoveryRequested) -> None:
        """Return only once the broker acknowledged the event (acks=all)."""


class AccountLookup(Protocol):
    async def find_by_email(self, email: str) -> AccountRecord | None: ...


class EventPublisher(Protocol):
    async def publish(self, topic: str, event: Envelope) -> None:
        """Return only once the broker acknowledged the event (acks=all)."""


@dataclass(frozen=True, slots=True)
class TicketRecord:
    """The intake's own record of a request: owner and status for the state machine, the
    events recorded against it, and those still waiting for the broker (the outbox)."""

    ticket_id: str
    account_id: str
    status: Status
    events: tuple[RecordedEvent, ...] = ()
    outbox: tuple[OutboxEntry, ...] = ()
    receipt: dict[str, Any] | None = None  # the answer to its submission
    content: RequestContent | None = None  # what a team needs to work on it
    team: str | None = None  # where it is now: the router's decision, then transfers
    decision: RoutingDecision | None = None  # the router's decision, as tickets.routed said
    routed_at: datetime | None = None
    assignee: str | None = None

    def recorded(self, event_id: str) -> RecordedEvent | None:
        return next((e for e in self.events if e.event_id == event_id), None)


class TicketStore(Protocol):
    async def add(
        self,
        ticket: TicketSubmitted,
        entry: OutboxEntry,
        receipt: dict[str, Any],
        due_at: datetime,
    ) -> bool:
        """Record a new request with its TicketSubmitted in the outbox (published by the relay
        from `due_at` unless delivered before); False if a request with this id exists."""

    async def get(self, ticket_id: str) -> TicketRecord | None: ...

    async def append(
        self,
        ticket_id: str,
        events: Sequence[tuple[RecordedEvent, OutboxEntry]],
        change: RecordChange,
        due_at: datetime,
    ) -> bool:
        """In one atomic write: apply `change` and queue the events, only if every changed
        field still holds the change's `from` and the first event is not recorded yet; else
        False (nothing written)."""

    async def record_decisions(self, decisions: Sequence[TicketRouted]) -> None:
        """The router's decisions, as tickets.routed announces them, in one round trip: the
        team of a request no agent has moved yet, and the decision a transfer carries on."""

    async def delivered(self, deliveries: Mapping[str, Sequence[str]]) -> None:
        """The broker acknowledged these events (by request): out of their outboxes, in one
        round trip."""

    async def lease_due(self, now: datetime, until: datetime, limit: int) -> list[TicketRecord]:
        """Records whose outbox is due, each leased to this caller until `until` (so relays
        of several replicas do not publish the same at once)."""


@dataclass(frozen=True, slots=True)
class StoredAttachment:
    ref: AttachmentRef
    chunks: AsyncIterator[bytes]


class AttachmentStore(Protocol):
    async def save(self, ticket_id: str, account_id: str, file: CheckedFile) -> AttachmentRef: ...

    async def delete(self, attachment_ids: Iterable[str]) -> None:
        """Remove stored files; ids that do not exist are ignored."""

    async def open(self, ticket_id: str, attachment_id: str) -> StoredAttachment | None:
        """The file if it belongs to `ticket_id`, else None."""


class IdempotencyStore(Protocol):
    async def insert(self, record: IdempotencyRecord) -> bool:
        """Claim: True if no record with this id existed (unique _id), False otherwise."""

    async def get(self, record_id: str) -> IdempotencyRecord | None: ...

    async def replace(self, record_id: str, old_token: str, record: IdempotencyRecord) -> bool:
        """Take over a claim, only if `old_token` still holds it."""

    async def complete(
        self, record_id: str, token: str, response: dict[str, Any], expires_at: datetime
    ) -> bool: ...

    async def release(self, record_id: str, token: str) -> None: ...

    async def abandon(self, record_id: str, token: str, lease_until: datetime) -> None:
        """End the claim's lease now but keep its plan, so the next attempt takes it over and
        carries the same plan out."""


class SubmissionGate(Protocol):
    async def admit(self, request: GateRequest) -> GateState:
        """`intake.domain.submission_gate.admit` in one atomic write; the state after it."""

    async def abandon(self, account_id: str, token: str) -> None:
        """The attempt recorded its request but could not publish it: its retry will."""


class RateLimiter(Protocol):
    async def acquire(self, account_id: str, slot_id: str) -> RateDecision:
        """Take a slot atomically (several intake replicas share the limit) or say when one
        frees."""

    async def release(self, account_id: str, slot_id: str) -> None:
        """Give back a slot whose request was not created after all."""


class AccountDirectory(Protocol):
    async def get(self, account_id: str) -> AccountRecord | None:
        """The account's directory record: kind, and an agent's teams."""
