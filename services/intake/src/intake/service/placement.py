"""Where each request is: the router's decisions, as tickets.routed announces them, recorded
so that an agent's transfer knows the team it moves the request from and hands the new team
the decision along with the request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import TypeAdapter

from intake.ports import TicketStore
from shared.contracts.events import TicketRouted
from shared.kafka.records import DeadLetterSink, InboundRecord, decode_batch

_ROUTED: TypeAdapter[TicketRouted] = TypeAdapter(TicketRouted)


@dataclass
class Placement:
    store: TicketStore
    dead_letters: DeadLetterSink

    async def record(self, records: Sequence[InboundRecord]) -> None:
        """One batch of decisions, one round trip; a record that does not decode is parked."""
        decisions = await decode_batch(records, _ROUTED, self.dead_letters)
        await self.store.record_decisions(decisions)
