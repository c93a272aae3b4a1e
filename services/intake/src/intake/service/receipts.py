"""What a use case answers, and how a stored answer is repeated to a retry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from intake.domain.outbox import RecordedEvent
from shared.contracts.events import AttachmentRef, StatusTransition
from shared.contracts.statuses import Status


def _refs(docs: list[dict[str, Any]]) -> tuple[AttachmentRef, ...]:
    return tuple(AttachmentRef.model_validate(a) for a in docs)


@dataclass(frozen=True, slots=True)
class SubmissionReceipt:
    ticket_id: str
    required_documents_missing: bool
    attachments: tuple[AttachmentRef, ...] = ()

    def to_document(self) -> dict[str, Any]:
        return {
            "ticket_id": self.ticket_id,
            "required_documents_missing": self.required_documents_missing,
            "attachments": [a.model_dump(mode="json") for a in self.attachments],
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> SubmissionReceipt:
        return cls(
            ticket_id=doc["ticket_id"],
            required_documents_missing=doc["required_documents_missing"],
            attachments=_refs(doc["attachments"]),
        )


@dataclass(frozen=True, slots=True)
class Submitted:
    receipt: SubmissionReceipt
    replayed: bool = False  # the answer to an earlier, identical request


@dataclass(frozen=True, slots=True)
class ActivityReceipt:
    ticket_id: str
    event_id: UUID
    event_type: str
    status: Status
    status_change: StatusTransition | None
    attachments: tuple[AttachmentRef, ...] = ()
    replayed: bool = False
    follow_up_id: str | None = None  # the request a message on a closed one opened

    @classmethod
    def of(
        cls,
        ticket_id: str,
        recorded: RecordedEvent,
        status: Status,
        attachments: tuple[AttachmentRef, ...] = (),
    ) -> ActivityReceipt:
        return cls(
            ticket_id=ticket_id,
            event_id=UUID(recorded.event_id),
            event_type=recorded.event_type,
            status=status,
            status_change=recorded.status_change,
            attachments=attachments,
        )

    def to_document(self) -> dict[str, Any]:
        change = self.status_change
        return {
            "ticket_id": self.ticket_id,
            "event_id": str(self.event_id),
            "event_type": self.event_type,
            "status": self.status.value,
            "status_change": change.model_dump(mode="json") if change else None,
            "attachments": [a.model_dump(mode="json") for a in self.attachments],
            "follow_up_id": self.follow_up_id,
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> ActivityReceipt:
        change = doc.get("status_change")
        return cls(
            ticket_id=doc["ticket_id"],
            event_id=UUID(doc["event_id"]),
            event_type=doc["event_type"],
            status=Status(doc["status"]),
            status_change=StatusTransition.model_validate(change) if change else None,
            attachments=_refs(doc.get("attachments", [])),
            replayed=True,
            follow_up_id=doc.get("follow_up_id"),
        )
