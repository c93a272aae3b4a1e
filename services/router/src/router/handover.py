"""Handing a transferred request over: when an agent moves a request to another team
(TicketTransferred on tickets.activity), the new team's topic receives the whole request,
ready to work on, with the transfer's reason, and the old team's topic a withdrawal so its
tools drop it. Output ids derive from the transfer's, so a redelivered transfer is recognised
downstream as one already handed over."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from router.ports import EventPublisher
from shared.contracts.events import (
    Envelope,
    TicketAssigned,
    TicketTransferred,
    TicketWithdrawn,
    activity_event_adapter,
    derived_event_id,
)
from shared.contracts.topics import Topics
from shared.kafka.records import DeadLetterSink, InboundRecord, decode_batch
from shared.logging import get_logger

log = get_logger(__name__)


def handover_events(moved: TicketTransferred, topics: Topics) -> list[tuple[str, Envelope]]:
    """What the two team topics receive for one transfer (pure)."""
    transfer = moved.transfer
    envelope = {
        "ticket_id": moved.ticket_id,
        "account_id": moved.account_id,
        "correlation_id": moved.correlation_id,
        "occurred_at": moved.occurred_at,
    }
    decision = moved.decision.model_copy(
        update={
            "team": transfer.to_team,
            "rerouted_from": transfer.from_team,
            "explanation": f"moved by an agent from {transfer.from_team}: {transfer.reason}",
        }
    )
    request = moved.request
    assigned = TicketAssigned(
        event_id=derived_event_id(moved.event_id, "assigned"),
        **envelope,
        **decision.model_dump(),
        subject=request.subject,
        description=request.description,
        attachments=request.attachments,
        submitted_at=request.submitted_at,
        transfer=transfer,
    )
    withdrawn = TicketWithdrawn(
        event_id=derived_event_id(moved.event_id, "withdrawn"),
        **envelope,
        team=transfer.from_team,
        transfer=transfer,
    )
    return [(topics.team(transfer.from_team), withdrawn), (topics.team(transfer.to_team), assigned)]


@dataclass
class HandoverService:
    topics: Topics
    publisher: EventPublisher
    dead_letters: DeadLetterSink

    async def hand_over(self, records: Sequence[InboundRecord]) -> list[TicketTransferred]:
        """The transfers of a batch of activity (the rest is not the router's business)."""
        events = await decode_batch(records, activity_event_adapter, self.dead_letters)
        moved = [e for e in events if isinstance(e, TicketTransferred)]
        outgoing = [item for m in moved for item in handover_events(m, self.topics)]
        if outgoing:
            await self.publisher.publish_many(outgoing)
        for m in moved:
            log.info(
                "request handed over",
                ticket_id=m.ticket_id,
                from_team=m.transfer.from_team,
                to_team=m.transfer.to_team,
            )
        return moved
