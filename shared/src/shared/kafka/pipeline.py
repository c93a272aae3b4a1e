"""Pipelined batch consumption: the next batch is read and handled while the broker still
acknowledges what the previous batches published. Offsets are committed in order, each batch's
only once its own publishes and every earlier batch's are acknowledged.

`pipelined_batch_subscriber` declares a consumer as `batch_subscriber` does (its own group, the
broker's middlewares, dead letters, the AsyncAPI entry), except that the handler returns as
soon as its events are handed to the producer, with an awaitable that completes when the broker
acknowledged them all (`shared.kafka.publishing.send_events`). A `CommitWindow` holds at most
`depth` batches whose acknowledgements are outstanding; depth 1 commits each batch before the
next is read, which is what `batch_subscriber` does.

What the window guarantees, and how:

- In order: each batch's commit waits for the previous batch's to finish (a chain of tasks),
  and commits that batch's own offsets (its last record + 1 per partition).
- A failure (a publish not acknowledged, a commit refused) commits nothing from that batch on:
  every partition of it and of the later outstanding batches is rewound to its first
  uncommitted record, so they are read again in this process and published again under the
  same event ids (the consumers downstream are idempotent), and the later batches, read
  before the rewind, are dropped.
- A batch handled while its partition moved (a rewind, a rebalance) is not committed: its
  partition's position is no longer past it. Its other partitions are rewound to it.
- FastStream's acknowledgement of the message goes through the window (the message's
  `consumer` is the window's): an ack (handled, or dead-lettered by the middleware) enters
  the batch, a nack (transient retries exhausted) rewinds it, as for any consumer.
- On revocation (a rebalance) and on stop, the window is drained first: every outstanding
  batch is acknowledged and committed, or rewound, before the partitions go.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError
from faststream.kafka import KafkaBroker
from pydantic import SkipValidation

from shared.kafka.broker import consumer_options, declare_dead_letters
from shared.kafka.context import batch_records, current_message, raw_body
from shared.kafka.errors import describe_error
from shared.kafka.records import InboundRecord
from shared.logging import get_logger
from shared.settings import BatchConsumerSettings

log = get_logger(__name__)

Acknowledgement = Awaitable[None]
"""Completes once the broker acknowledged everything one batch published; raises otherwise."""

PipelinedHandler = Callable[[list[InboundRecord]], Awaitable[Acknowledgement | None]]
"""Handles a batch and returns once its events are handed to the producer, with their
acknowledgement (None: nothing left to wait for)."""


class WindowConsumer(Protocol):
    """What the window needs of the Kafka consumer (aiokafka's AIOKafkaConsumer)."""

    async def commit(self, offsets: dict[TopicPartition, int]) -> None: ...

    async def position(self, partition: TopicPartition) -> int: ...

    def seek(self, partition: TopicPartition, offset: int) -> None: ...


def _span(
    records: Sequence[InboundRecord],
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """Per partition: the batch's first offset, and the offset to commit (last + 1)."""
    first: dict[TopicPartition, int] = {}
    after: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        first[tp] = min(first.get(tp, record.offset), record.offset)
        after[tp] = max(after.get(tp, 0), record.offset + 1)
    return first, after


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Done callback: a dropped batch's failed acknowledgement is not an unretrieved error."""
    if not task.cancelled():
        task.exception()


@dataclass(eq=False)
class _Batch:
    first: dict[TopicPartition, int]
    after: dict[TopicPartition, int]
    epoch: int
    settled: asyncio.Task[bool] = field(init=False)


class CommitWindow:
    """The batches read and handled whose offsets are not committed yet, oldest first."""

    def __init__(
        self, depth: int, consumer: Callable[[], WindowConsumer | None], name: str = ""
    ) -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self.depth = depth
        self.name = name
        self._consumer = consumer
        self._outstanding: deque[_Batch] = deque()
        self._epoch = 0  # one more at every rewind: a batch entered before it is not committed
        self._closing = False
        self.committed: dict[TopicPartition, int] = {}
        """The offsets this window committed last, per partition (for tests and logs)."""
        self.rewinds = 0
        self.dropped = 0

    @property
    def outstanding(self) -> int:
        return len(self._outstanding)

    async def enter(
        self, records: Sequence[InboundRecord], acknowledged: Acknowledgement | None
    ) -> None:
        """The batch was handled (its publishes are on their way): commit it once they and
        every earlier batch are acknowledged. Returns when fewer than `depth` batches are
        outstanding (none while closing)."""
        if not records:
            return
        first, after = _span(records)
        acks = asyncio.ensure_future(acknowledged) if acknowledged is not None else None
        consumer = self._consumer()
        if consumer is not None:
            while True:  # a rewind while the positions are read: read them again
                epoch = self._epoch
                moved = await self._moved(consumer, first, after)
                if epoch == self._epoch:
                    break
            if moved:
                self._drop(consumer, first, moved, acks)
                return
        batch = _Batch(first, after, self._epoch)
        previous = self._outstanding[-1].settled if self._outstanding else None
        batch.settled = asyncio.create_task(self._settle(batch, acks, previous))
        batch.settled.add_done_callback(lambda _: self._outstanding.remove(batch))
        self._outstanding.append(batch)
        await self._wait_below(0 if self._closing else self.depth - 1)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        """FastStream's nack of a batch: read it again from `offset`."""
        consumer = self._consumer()
        if consumer is not None:
            consumer.seek(partition, offset)

    async def drain(self) -> None:
        """Until no batch is outstanding (each committed, or rewound)."""
        await self._wait_below(0)

    async def close(self) -> None:
        """From now on every batch entered is drained before `enter` returns; drain now."""
        self._closing = True
        await self.drain()

    def reopen(self) -> None:
        self._closing = False

    async def _wait_below(self, limit: int) -> None:
        while len(self._outstanding) > limit:
            # asyncio.wait: a cancelled caller (shutdown) does not cancel the commit itself.
            await asyncio.wait({self._outstanding[0].settled})

    async def _moved(
        self,
        consumer: WindowConsumer,
        first: dict[TopicPartition, int],
        after: dict[TopicPartition, int],
    ) -> set[TopicPartition]:
        """The batch's partitions whose position is no longer past it: rewound, or reassigned
        (they restart from the committed offset), or not ours any more."""
        moved = set()
        for tp, end in after.items():
            try:
                position = await consumer.position(tp)
            except IllegalStateError:
                moved.add(tp)
                continue
            if position < end:
                moved.add(tp)
        return moved

    def _drop(
        self,
        consumer: WindowConsumer,
        first: dict[TopicPartition, int],
        moved: set[TopicPartition],
        acks: asyncio.Future[None] | None,
    ) -> None:
        """A batch read before its partitions moved: not committed; the partitions that did
        not move are rewound to it, so none of its records is skipped."""
        self.dropped += 1
        if acks is not None:
            acks.add_done_callback(_retrieve)
        for tp in first.keys() - moved:
            self._seek(consumer, tp, first[tp])
        log.info(
            "batch read before a rewind or rebalance: not committed, read again",
            consumer=self.name,
            partitions=sorted(f"{tp.topic}:{tp.partition}@{first[tp]}" for tp in first),
        )

    async def _settle(
        self,
        batch: _Batch,
        acks: asyncio.Future[None] | None,
        previous: asyncio.Task[bool] | None,
    ) -> bool:
        """Wait for the batch's acknowledgements, then for the previous batch's commit, then
        commit; True once committed."""
        error: BaseException | None = None
        if acks is not None:
            await asyncio.wait({acks})
            error = None if acks.cancelled() else acks.exception()
            if acks.cancelled():
                error = asyncio.CancelledError()
        if previous is not None:
            await asyncio.wait({previous})
        consumer = self._consumer()
        if batch.epoch != self._epoch:
            return False  # an earlier batch failed: this one was rewound with it
        if error is not None:
            log.warning(
                "publish not acknowledged: nothing committed from this batch on, read again",
                consumer=self.name,
                error=describe_error(error),
                error_type=type(error).__name__,
            )
            self._rewind(consumer)
            return False
        if consumer is None:  # FastStream's in-memory test broker: nothing to commit to
            return True
        try:
            await consumer.commit(dict(batch.after))
        except (KafkaError, IllegalStateError) as exc:
            if batch.epoch != self._epoch:
                return False
            log.warning(
                "commit failed: read again from the last commit",
                consumer=self.name,
                error=describe_error(exc),
                error_type=type(exc).__name__,
            )
            self._rewind(consumer)
            return False
        self.committed.update(batch.after)
        return True

    def _rewind(self, consumer: WindowConsumer | None) -> None:
        """Every partition of the outstanding batches of this epoch back to its first
        uncommitted record; those batches are not committed (the epoch moves on)."""
        targets: dict[TopicPartition, int] = {}
        for batch in self._outstanding:
            if batch.epoch != self._epoch or batch.settled.done():
                continue  # rewound before, or committed
            for tp, offset in batch.first.items():
                targets[tp] = min(targets.get(tp, offset), offset)
        self._epoch += 1
        self.rewinds += 1
        if consumer is None:
            return
        for tp, offset in targets.items():
            self._seek(consumer, tp, offset)

    def _seek(self, consumer: WindowConsumer, tp: TopicPartition, offset: int) -> None:
        # Not ours any more: its next owner reads from the commit.
        with contextlib.suppress(IllegalStateError):
            consumer.seek(tp, offset)


class _WindowAck:
    """Stands in for the consumer on a FastStream message: its ack (`commit`) enters the batch
    into the window, its nack (`seek`) reads the batch again."""

    def __init__(self, window: CommitWindow, records: list[InboundRecord]) -> None:
        self._window = window
        self._records = records
        self.acknowledged: Acknowledgement | None = None

    async def commit(self) -> None:
        await self._window.enter(self._records, self.acknowledged)

    def seek(self, partition: Any, offset: int) -> None:
        self._window.seek(TopicPartition(partition.topic, partition.partition), offset)


class _DrainOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, window: CommitWindow) -> None:
        self._window = window

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if self._window.outstanding:
            log.info("partitions revoked: draining", consumer=self._window.name)
        await self._window.drain()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        return None


def pipelined_batch_subscriber(
    broker: KafkaBroker,
    *topics: str,
    group_id: str,
    title: str,
    settings: BatchConsumerSettings,
    payload: Any,
    depth: int,
    description: str = "",
) -> Callable[[PipelinedHandler], CommitWindow]:
    """Declare `handle` as the consumer of `topics` in batches, pipelined `depth` deep (see
    the module). As `batch_subscriber`, the handler gets the raw records and decodes each
    itself; it returns its publishes' acknowledgement instead of waiting for it. Returns the
    window (its counters and last commits are what tests look at)."""

    def declare(handle: PipelinedHandler) -> CommitWindow:
        subscriber: Any = None
        window = CommitWindow(depth, lambda: subscriber.consumer if subscriber else None, title)

        async def consume(batch: Any) -> None:
            message = current_message()
            ack = _WindowAck(window, batch_records(message))
            # FastStream's ack/nack of this message (KafkaAckableMessage) go to the window.
            message.consumer = ack  # type: ignore[attr-defined]
            ack.acknowledged = await handle(ack._records)

        consume.__annotations__ = {"batch": list[SkipValidation[payload]], "return": None}
        subscriber = broker.subscriber(
            *topics,
            batch=True,
            max_records=settings.batch_max_records,
            batch_timeout_ms=settings.batch_timeout_ms,
            decoder=raw_body,
            title=title,
            description=description or None,
            listener=_DrainOnRevoke(window),
            **consumer_options(group_id),
        )
        subscriber(consume)
        stop = subscriber.stop

        async def drain_then_stop() -> None:
            await window.close()  # what is in flight commits before the consumer closes
            try:
                await stop()  # the batch being handled is drained on its ack (closing)
            finally:
                window.reopen()

        subscriber.stop = drain_then_stop
        declare_dead_letters(broker, topics, title=title, group_id=group_id)
        return window

    return declare
