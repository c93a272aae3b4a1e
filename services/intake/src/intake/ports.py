"""What the intake needs from the outside world, as protocols (adapters implement them)."""

from __future__ import annotations

from typing import Protocol

from shared.events import Envelope, TicketSubmitted


class EventPublisher(Protocol):
    async def publish(self, topic: str, event: Envelope) -> None:
        """Return only once the broker acknowledged the event (acks=all)."""


class TicketStore(Protocol):
    async def add(self, ticket: TicketSubmitted) -> None: ...

    async def remove(self, ticket_id: str) -> None: ...
