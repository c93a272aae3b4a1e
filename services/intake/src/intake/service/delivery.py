"""Publishing what the requests' outboxes hold.

A use case writes its event into the request's record first (with the status change it
makes, in one atomic write), then asks for it to be published here: once the broker
acknowledged (acks=all) it leaves the outbox. What is not acknowledged in time stays, and the
relay publishes it once it is due (a grace period after it was written, long enough for the
use case's own attempt), so neither a crash nor a late acknowledgement loses an event. A
re-published event has the same id, which every consumer recognises as applied.

Taking acknowledged events out of the outbox can wait (`defer_clears`): the answer does not
depend on it, and the clears that queue up while one bulk write is under way go together in
the next, so under load they cost a fraction of a round trip each. A crash before the write
only makes the relay publish those events again after the grace period.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from intake.domain.outbox import OutboxEntry
from intake.ports import EventPublisher, TicketRecord, TicketStore
from intake.service.errors import PublishFailedError
from shared.contracts.events import Envelope, any_event_adapter, utcnow
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass
class EventDelivery:
    store: TicketStore
    publisher: EventPublisher
    timeout_seconds: float = 5.0  # no acknowledgement within this: the caller answers 503
    grace: timedelta = timedelta(seconds=30)  # the relay leaves a fresh event to its writer
    lease: timedelta = timedelta(seconds=60)  # a relay's hold on a record it publishes
    now: Callable[[], datetime] = utcnow
    defer_clears: bool = False
    # How long a deferred clear waits for others to share its write (the answer is not held).
    clear_linger_seconds: float = 0.02
    _clears: dict[str, list[str]] = field(default_factory=dict, init=False, repr=False)
    _clearing: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    # Acknowledged, their clear not written yet: not published again meanwhile.
    _acknowledged: set[str] = field(default_factory=set, init=False, repr=False)

    def due_at(self) -> datetime:
        return self.now() + self.grace

    async def publish(self, ticket_id: str, events: Sequence[tuple[str, Envelope]]) -> None:
        """Publish and take out of the outbox; PublishFailedError when not acknowledged in
        time (the events stay in the outbox for the relay)."""
        # Bounded: a dead broker must give the client a prompt answer, not a hung request.
        try:
            async with asyncio.timeout(self.timeout_seconds):
                for topic, event in events:
                    await self.publisher.publish(topic, event)
        except Exception as exc:
            log.warning("publish not confirmed; left in the outbox", error=repr(exc))
            raise PublishFailedError(str(exc) or type(exc).__name__) from exc
        await self._delivered(ticket_id, [str(e.event_id) for _, e in events])

    async def publish_pending(
        self, record: TicketRecord, then: Sequence[tuple[str, Envelope]] = ()
    ) -> None:
        """What the record's outbox holds from attempts that gave up (their own publish timed
        out, or they died), in the order recorded, then `then`: one request's events keep
        their order. Entries whose writer may still be publishing are left to it."""
        now, timeout = self.now(), timedelta(seconds=self.timeout_seconds)
        stale = [_decoded(e) for e in self._waiting(record) if e.given_up(now, timeout)]
        events = [*stale, *then]
        if events:
            await self.publish(record.ticket_id, events)

    async def publish_all(self, record: TicketRecord) -> None:
        """Everything the record's outbox holds (the relay: every entry is due)."""
        waiting = self._waiting(record)
        if waiting:
            await self.publish(record.ticket_id, [_decoded(e) for e in waiting])

    async def relay_once(self, limit: int = 100) -> int:
        """Publish the due outbox entries of up to `limit` requests; returns how many records
        were leased. A failure leaves them for a later pass (their lease runs out)."""
        now = self.now()
        leased = await self.store.lease_due(now, now + self.lease, limit)
        for record in leased:
            try:
                await self.publish_all(record)
            except PublishFailedError:
                log.warning("relay could not publish", ticket_id=record.ticket_id)
                break  # the broker is away: the rest waits for the next pass
            if record.outbox:
                log.info("relay published", ticket_id=record.ticket_id, events=len(record.outbox))
        return len(leased)

    async def run_relay(self, interval_seconds: float) -> None:
        """Relay until cancelled; an error is logged, never fatal to the loop."""
        while True:
            try:
                busy = await self.relay_once()
            except Exception:
                log.exception("relay pass failed")
                busy = 0
            if not busy:
                await asyncio.sleep(interval_seconds)

    def _waiting(self, record: TicketRecord) -> list[OutboxEntry]:
        return [e for e in record.outbox if e.event_id not in self._acknowledged]

    async def flush(self) -> None:
        """Wait until every deferred clear is written (at shutdown; in tests)."""
        while self._clearing is not None:
            await asyncio.shield(self._clearing)

    async def _delivered(self, ticket_id: str, event_ids: list[str]) -> None:
        if not self.defer_clears:
            await self._clear({ticket_id: event_ids})
            return
        self._clears.setdefault(ticket_id, []).extend(event_ids)
        self._acknowledged.update(event_ids)
        if self._clearing is None:
            self._clearing = asyncio.create_task(self._clear_queued())

    async def _clear_queued(self) -> None:
        try:
            while self._clears:
                await asyncio.sleep(self.clear_linger_seconds)  # a batching window
                batch, self._clears = self._clears, {}
                await self._clear(batch)
                for event_ids in batch.values():
                    self._acknowledged.difference_update(event_ids)
        finally:
            self._clearing = None

    async def _clear(self, deliveries: dict[str, list[str]]) -> None:
        # The events are out; a failure here only makes the relay publish them again later,
        # which consumers recognise as applied.
        try:
            await self.store.delivered(deliveries)
        except Exception as exc:
            log.warning("could not clear the outbox", error=repr(exc), requests=len(deliveries))


def _decoded(entry: OutboxEntry) -> tuple[str, Envelope]:
    return entry.topic, any_event_adapter.validate_json(entry.payload)
