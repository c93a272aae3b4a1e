"""What the intake needs from the outside world, as protocols (adapters implement them)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from intake.domain.attachments import CheckedFile
from intake.domain.idempotency import IdempotencyRecord
from intake.domain.ratelimit import RateDecision
from shared.contracts.events import AttachmentRef, Envelope, TicketSubmitted
from shared.contracts.statuses import Status


class EventPublisher(Protocol):
    async def publish(self, topic: str, event: Envelope) -> None:
        """Return only once the broker acknowledged the event (acks=all)."""


@dataclass(frozen=True, slots=True)
class TicketRecord:
    ticket_id: str
    account_id: str
    status: Status


class TicketStore(Protocol):
    async def add(self, ticket: TicketSubmitted) -> None: ...

    async def remove(self, ticket_id: str) -> None: ...

    async def get(self, ticket_id: str) -> TicketRecord | None: ...

    async def set_status(self, ticket_id: str, expected: Status, new: Status) -> bool:
        """Compare-and-set: change only if the status is still `expected`; True if changed."""


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


class RateLimiter(Protocol):
    async def acquire(self, account_id: str, slot_id: str) -> RateDecision:
        """Take a slot atomically (several intake replicas share the limit) or say when one
        frees."""

    async def release(self, account_id: str, slot_id: str) -> None:
        """Give back a slot whose request was not created after all."""
