"""The Kafka record as a service layer sees it, with no framework behind it: a consumed
record, the sink that parks a record it cannot process, and decoding a batch record by record
(one that does not decode goes to the sink alone). Imports pydantic only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pydantic import TypeAdapter, ValidationError

T = TypeVar("T")

# Set by an operator's re-drive of a dead letter (shared.kafka.dlq): how often it was re-driven.
REDRIVE_HEADER = "x-redrive-count"


class TransientError(Exception):
    """A failure of something outside the message (a server down): retry, never dead-letter."""


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """One consumed Kafka record, as a handler that decodes for itself sees it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @classmethod
    def from_consumer_record(cls, record: Any) -> InboundRecord:
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value or b"",
            headers={k: v.decode(errors="replace") for k, v in record.headers},
        )

    @property
    def source(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}

    @property
    def redrives(self) -> int:
        """How often an operator re-drove this record from its DLQ (0: never; -1: garbled)."""
        try:
            return int(self.headers.get(REDRIVE_HEADER) or 0)
        except ValueError:
            return -1


class DeadLetterSink(Protocol):
    """Where a consumer parks the records it cannot process."""

    async def send(
        self, record: InboundRecord, error: BaseException, attempts: int = 1
    ) -> None: ...


class DeadLetters(DeadLetterSink, Protocol):
    """The sink, with the consumer's failure policy for one record of a batch."""

    async def isolate(self, record: InboundRecord, handle: Callable[[], Awaitable[None]]) -> None:
        """Run `handle` for this record alone: poison, or a failure that persists, parks the
        record and returns (the rest of its batch goes on); a transient failure of the
        infrastructure propagates, so the batch is retried."""


async def decode_records(
    records: Iterable[InboundRecord],
    adapter: TypeAdapter[T],
    dead_letters: DeadLetterSink,
) -> list[tuple[InboundRecord, T]]:
    """Each record with its decoded event; a record that does not decode goes to the DLQ alone."""
    decoded = []
    for record in records:
        try:
            decoded.append((record, adapter.validate_json(record.value)))
        except ValidationError as exc:
            await dead_letters.send(record, exc)
    return decoded


async def decode_batch(
    records: Iterable[InboundRecord],
    adapter: TypeAdapter[T],
    dead_letters: DeadLetterSink,
) -> list[T]:
    """The decoded events; a record that does not decode goes to the DLQ alone."""
    return [event for _, event in await decode_records(records, adapter, dead_letters)]
