"""Everything on the topics the notifier reads, decoded by event_type: submissions, routing
decisions, every activity event (shared's ActivityEvent: a new kind arrives here too) and
account-recovery requests. plan() says which of them the customer is mailed about (notes,
assignments and transfers are internal: none)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from shared.contracts.events import (
    AccountRecoveryRequested,
    ActivityEvent,
    TicketRouted,
    TicketSubmitted,
)

NotifiableEvent = Annotated[
    TicketSubmitted | TicketRouted | ActivityEvent | AccountRecoveryRequested,
    Field(discriminator="event_type"),
]
notifiable_event: TypeAdapter[NotifiableEvent] = TypeAdapter(NotifiableEvent)
