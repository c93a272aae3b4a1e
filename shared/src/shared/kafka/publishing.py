"""Publishing events: the ticket id is the key (one request's events stay ordered in one
partition; an account event's key is its account id), and a publish returns only once the
broker acknowledged it (acks=all)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Iterable, Sequence

from faststream.kafka import KafkaBroker

from shared.contracts.events import AccountRecoveryRequested, Envelope, header_safe

Publishable = Envelope | AccountRecoveryRequested


def event_key(event: Publishable) -> str:
    return event.ticket_id if isinstance(event, Envelope) else event.account_id


def event_headers(event: Publishable) -> dict[str, str]:
    headers = {
        "event_type": event.event_type,
        "event_id": str(event.event_id),
        "correlation_id": header_safe(event.correlation_id),
        "schema_version": str(event.schema_version),
        "content-type": "application/json",
    }
    if isinstance(event, Envelope):
        headers["ticket_id"] = event.ticket_id
    return headers


async def send_events(
    broker: KafkaBroker, items: Iterable[tuple[str, Publishable]]
) -> asyncio.Future[None]:
    """Hand many events to the producer (it batches them) and return at once, with a future
    that completes once the broker acknowledged every one (and fails with the first error)."""
    futures = [
        await broker.publish(
            event.model_dump_json().encode(),
            topic=topic,
            key=event_key(event).encode(),
            headers=event_headers(event),
            correlation_id=event.correlation_id,
            no_confirm=True,
        )
        for topic, event in items
    ]
    # (FastStream's in-memory TestKafkaBroker delivers at once and returns no future.)
    pending = [f for f in futures if inspect.isawaitable(f)]
    return asyncio.ensure_future(_all(pending))


async def _all(pending: Sequence[Awaitable[object]]) -> None:
    if pending:
        await asyncio.gather(*pending)


async def publish_events(broker: KafkaBroker, items: Iterable[tuple[str, Publishable]]) -> None:
    """Publish many events at once (the producer batches them) and wait for every ack."""
    await (await send_events(broker, items))


class KafkaEventPublisher:
    """The EventPublisher port every service uses, on a FastStream Kafka broker."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def publish(self, topic: str, event: Publishable) -> None:
        await publish_events(self._broker, [(topic, event)])

    async def publish_many(self, items: Iterable[tuple[str, Publishable]]) -> None:
        await publish_events(self._broker, items)

    async def send_many(self, items: Iterable[tuple[str, Publishable]]) -> Awaitable[None]:
        """Hand all to the producer; the result completes once every one is acknowledged."""
        return await send_events(self._broker, items)
