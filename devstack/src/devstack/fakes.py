"""In-memory fakes of the ports every service shares, for service-level unit tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from shared.contracts.events import Envelope
from shared.kafka.records import InboundRecord, TransientError


@dataclass
class FakeDeadLetters:
    """Parks what it is sent; `isolate` applies the consumer's policy to one record without
    the in-place retries: a transient failure propagates, anything else parks the record."""

    parked: list[tuple[InboundRecord, BaseException]] = field(default_factory=list)

    async def send(self, record: InboundRecord, error: BaseException, attempts: int = 1) -> None:
        self.parked.append((record, error))

    async def isolate(self, record: InboundRecord, handle: Callable[[], Awaitable[None]]) -> None:
        try:
            await handle()
        except TransientError:
            raise
        except Exception as exc:
            await self.send(record, exc)


@dataclass
class FakePublisher:
    """Records what was published, in order; `publish_many` publishes each in turn."""

    published: list[tuple[str, Envelope]] = field(default_factory=list)

    async def publish(self, topic: str, event: Envelope) -> None:
        self.published.append((topic, event))

    async def publish_many(self, items: Iterable[tuple[str, Envelope]]) -> None:
        for topic, event in items:
            await self.publish(topic, event)
