"""What the intake keeps of each event it publishes (pure).

Every event is first written into its request's record, in the same atomic write as the
status change it makes, and published from there (the transactional-outbox pattern): a
crash after that write, a broker that acknowledges late or not at all, lose nothing, and a
re-publish carries the same event id, which every consumer recognises as already applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.contracts.events import Envelope, StatusTransition
from shared.contracts.statuses import Status

# How many events a request's record remembers, for recognising a retried action.
RECORDED_EVENTS_KEPT = 500


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """An event waiting for the broker's acknowledgement: its topic and its exact JSON."""

    event_id: str
    topic: str
    payload: str
    recorded_at: datetime

    @classmethod
    def of(cls, topic: str, event: Envelope, at: datetime) -> OutboxEntry:
        return cls(str(event.event_id), topic, event.model_dump_json(), at)

    def given_up(self, now: datetime, timeout: timedelta) -> bool:
        """Its writer's own publish attempt is over (it may still be at work before that)."""
        return self.recorded_at + timeout <= now


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event recorded against a request: enough to answer a retry of the same action."""

    event_id: str
    event_type: str
    status_change: StatusTransition | None = None

    @classmethod
    def of(cls, event: Envelope) -> RecordedEvent:
        change = getattr(event, "status_change", None)
        return cls(str(event.event_id), event.event_type, change)

    def to_document(self) -> dict[str, Any]:
        change = self.status_change
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "from": change.from_status.value if change else None,
            "to": change.to_status.value if change else None,
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> RecordedEvent:
        change = None
        if doc.get("from") and doc.get("to"):
            change = StatusTransition(from_status=Status(doc["from"]), to_status=Status(doc["to"]))
        return cls(doc["event_id"], doc.get("event_type", "?"), change)


@dataclass(frozen=True, slots=True)
class RecordChange:
    """What an action changes in the intake's record of a request, each only over the value
    it read (compare-and-set), in the same atomic write that queues its events."""

    status: StatusTransition | None = None
    team: tuple[str, str] | None = None  # (from, to)
    assignee: tuple[str | None, str | None] | None = None  # (from, to)

    @classmethod
    def of(cls, recorded: RecordedEvent) -> RecordChange:
        return cls(status=recorded.status_change)
