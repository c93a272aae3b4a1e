"""The pipelined batch subscriber on a real broker (the session's Tansu): batches are handled
while earlier batches' acknowledgements are outstanding, offsets are committed in order and
never past a record whose publishes were not acknowledged; a failed acknowledgement mid-window
commits nothing past it and the records are read again (nothing lost); stopping drains."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaTimeoutError
from faststream.kafka import KafkaBroker

from devstack.stack import EmbeddedStack
from shared.kafka.admin import create_topics
from shared.kafka.broker import create_broker
from shared.kafka.pipeline import CommitWindow, pipelined_batch_subscriber
from shared.kafka.records import InboundRecord
from shared.settings import BatchConsumerSettings, ServiceSettings
from shared.waiting import wait_until

pytestmark = pytest.mark.integration

DEADLINE = 30.0
RECORDS = 30
BATCH = 10


@dataclass
class Handled:
    """One handled batch: its offsets and the acknowledgement the test completes."""

    offsets: list[tuple[int, int]]  # (partition, offset)
    gate: asyncio.Future[None]


@dataclass
class Probe:
    batches: list[Handled] = field(default_factory=list)
    # (partition, offset) of the records whose publishes were acknowledged
    acked: set[tuple[int, int]] = field(default_factory=set)
    commits: list[int] = field(default_factory=list)  # partition 0's, in order
    last: dict[int, int] = field(default_factory=dict)  # the last commit, by partition
    floor: dict[int, int] = field(default_factory=dict)  # committed before this consumer
    violations: list[str] = field(default_factory=list)

    def handled(self) -> list[int]:
        return [o for b in self.batches for _, o in b.offsets]

    def acked_offsets(self) -> set[int]:
        return {o for _, o in self.acked}

    def succeed(self, batch: Handled) -> None:
        if not batch.gate.done():
            self.acked.update(batch.offsets)  # before the window sees it complete
            batch.gate.set_result(None)

    def fail(self, batch: Handled) -> None:
        batch.gate.set_exception(KafkaTimeoutError("injected: publish not acknowledged"))


async def fill(bootstrap: str, topic: str, count: int) -> None:
    await create_topics(bootstrap, {topic: 1})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sent = [await producer.send(topic, f"r{i}".encode(), key=b"k") for i in range(count)]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def committed(bootstrap: str, group: str, topic: str) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        offset: int | None = await consumer.committed(TopicPartition(topic, 0))
        return offset
    finally:
        await consumer.stop()


async def committed_total(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        found = [await consumer.committed(TopicPartition(topic, p)) for p in range(partitions)]
        return sum(o or 0 for o in found)
    finally:
        await consumer.stop()


def broker_for(stack: EmbeddedStack) -> KafkaBroker:
    settings = ServiceSettings(
        kafka_bootstrap_servers=stack.config.kafka_bootstrap, kafka_enable_idempotence=False
    )
    return create_broker(settings, "pipeline-test")


@asynccontextmanager
async def consuming(
    stack: EmbeddedStack, topic: str, group: str, depth: int, probe: Probe, partitions: int = 1
) -> AsyncIterator[CommitWindow]:
    """A pipelined consumer of `topic` whose every commit is checked against what was
    acknowledged when it was made."""
    broker = broker_for(stack)

    @pipelined_batch_subscriber(
        broker,
        topic,
        group_id=group,
        title="pipeline-test",
        settings=BatchConsumerSettings(batch_max_records=BATCH, batch_timeout_ms=50),
        payload=bytes,
        depth=depth,
    )
    async def handle(records: list[InboundRecord]) -> asyncio.Future[None]:
        offsets = [(r.partition, r.offset) for r in records]
        batch = Handled(offsets, asyncio.get_running_loop().create_future())
        probe.batches.append(batch)
        return batch.gate

    window = handle
    await broker.start()
    consumer = broker.subscribers[0].consumer  # type: ignore[attr-defined]
    # What the group committed before this consumer (another member's work) is not ours.
    for p in range(partitions):
        probe.floor[p] = (await consumer.committed(TopicPartition(topic, p))) or 0
    commit = consumer.commit

    async def checked_commit(offsets: dict[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            missing = {(tp.partition, o) for o in range(offset)} - probe.acked
            if missing and offset > probe.floor.get(tp.partition, 0):
                probe.violations.append(f"commit {tp}@{offset} with {sorted(missing)} unacked")
            if offset < probe.last.get(tp.partition, 0):
                probe.violations.append(f"commit {tp}@{offset} after {probe.last[tp.partition]}")
        await commit(offsets)
        for tp, offset in offsets.items():
            probe.last[tp.partition] = offset
            if tp.partition == 0:
                probe.commits.append(offset)

    consumer.commit = checked_commit
    try:
        yield window
    finally:
        await broker.stop()


async def until(condition: Callable[[], Any], what: str) -> Any:
    async def probe() -> Any:
        return condition()

    return await wait_until(probe, timeout=DEADLINE, what=what, interval=0.02)


@pytest.fixture
def names() -> tuple[str, str]:
    run = uuid4().hex[:8]
    return f"test.pipeline.{run}", f"pipeline-test-{run}"


async def test_batches_overlap_and_commit_in_order(
    infra: EmbeddedStack, names: tuple[str, str]
) -> None:
    topic, group = names
    bootstrap = infra.config.kafka_bootstrap
    await fill(bootstrap, topic, RECORDS)
    probe = Probe()
    async with consuming(infra, topic, group, depth=3, probe=probe) as window:
        # Three batches handled while none is acknowledged: the window is full.
        await until(lambda: len(probe.batches) >= 3 and window.outstanding == 3, "a full window")
        assert probe.commits == []
        newest_first = list(reversed(probe.batches))
        for batch in newest_first[:-1]:  # the later ones first: nothing may commit yet
            probe.succeed(batch)
        probe.succeed(newest_first[-1])  # the oldest: now all commit, in order
        await until(lambda: len(probe.handled()) >= RECORDS, "every record handled")
        for batch in probe.batches:
            probe.succeed(batch)
        await until(lambda: probe.commits and probe.commits[-1] == RECORDS, "the last commit")
    assert probe.violations == []
    assert sorted(probe.handled()) == list(range(RECORDS))  # each once: nothing read again
    assert probe.commits == sorted(probe.commits)
    assert await committed(bootstrap, group, topic) == RECORDS


async def test_a_failed_acknowledgement_commits_nothing_past_it_and_is_read_again(
    infra: EmbeddedStack, names: tuple[str, str]
) -> None:
    topic, group = names
    bootstrap = infra.config.kafka_bootstrap
    await fill(bootstrap, topic, RECORDS)
    probe = Probe()
    async with consuming(infra, topic, group, depth=3, probe=probe) as window:
        await until(lambda: window.outstanding == 3, "a full window")
        first, second, third = probe.batches[:3]
        probe.succeed(third)  # acknowledged, but after the failure: must not be committed
        probe.fail(second)
        probe.succeed(first)
        await until(lambda: window.rewinds == 1, "the rewind")
        # From here every acknowledgement succeeds, the redelivered batches' too.
        await until(lambda: len(probe.batches) > 3, "the records read again")

        def all_acked() -> bool:
            for batch in probe.batches:
                probe.succeed(batch)
            return bool(probe.commits) and probe.commits[-1] == RECORDS

        await until(all_acked, "every record committed")
    assert probe.violations == []
    assert probe.acked_offsets() == set(range(RECORDS))  # nothing lost
    redelivered = {o for b in probe.batches[3:] for o in b.offsets}
    assert redelivered >= set(second.offsets) | set(third.offsets)
    assert min(redelivered) == second.offsets[0]  # from the failure on, not before
    assert probe.commits[0] == first.offsets[-1][1] + 1  # the first batch's, then none to 30
    assert await committed(bootstrap, group, topic) == RECORDS


async def test_stopping_commits_what_is_in_flight_first(
    infra: EmbeddedStack, names: tuple[str, str]
) -> None:
    topic, group = names
    bootstrap = infra.config.kafka_bootstrap
    await fill(bootstrap, topic, RECORDS)
    probe = Probe()
    stopped = asyncio.Event()
    async with consuming(infra, topic, group, depth=3, probe=probe) as window:
        await until(lambda: window.outstanding == 3, "a full window")
        handled = list(probe.batches)

        async def acknowledge_once_stopping() -> None:
            await until(lambda: window._closing, "the stop to begin")

            def release() -> bool:
                for batch in probe.batches:
                    probe.succeed(batch)
                return stopped.is_set()

            await until(release, "the stop to end")

        releasing = asyncio.create_task(acknowledge_once_stopping())
    stopped.set()
    await releasing
    assert probe.violations == []
    last = max(o for b in handled for _, o in b.offsets) + 1
    assert probe.commits[-1] >= last  # committed before the consumer closed
    assert await committed(bootstrap, group, topic) == probe.commits[-1]


async def test_a_rebalance_drains_the_window_before_the_partitions_go(
    infra: EmbeddedStack, names: tuple[str, str]
) -> None:
    """A second consumer joins while the first holds unacknowledged batches: the first
    commits them (once acknowledged) before giving its partitions up; between the two every
    record is acknowledged and committed, and no commit passes an unacknowledged record."""
    topic, group = names
    bootstrap = infra.config.kafka_bootstrap
    await create_topics(bootstrap, {topic: 2})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sent = [await producer.send(topic, f"r{i}".encode(), partition=i % 2) for i in range(40)]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    first = Probe()
    second = Probe(acked=first.acked)  # a commit by either must be covered by the acks of both

    def release(probe: Probe) -> None:
        for batch in probe.batches:
            probe.succeed(batch)

    async with consuming(infra, topic, group, depth=3, probe=first, partitions=2) as window:
        await until(lambda: window.outstanding == 3, "a full window")
        held = {o for b in first.batches for o in b.offsets}
        stop = asyncio.Event()

        async def acknowledge() -> None:
            """The broker, acknowledging every publish from here on (the drain waits for it)."""

            def done() -> bool:
                release(first)
                release(second)
                return stop.is_set()

            await until(done, "the test's end")

        acknowledging = asyncio.create_task(acknowledge())
        try:
            async with consuming(infra, topic, group, depth=3, probe=second, partitions=2):

                async def settled() -> bool:
                    done = await committed_total(bootstrap, group, topic, 2)
                    return done == 40 and window.outstanding == 0

                await wait_until(settled, timeout=DEADLINE, what="everything committed")
        finally:
            stop.set()
            await acknowledging
    assert first.violations == []
    assert second.violations == []
    assert {o for b in first.batches[:3] for o in b.offsets} == held
    assert await committed_total(bootstrap, group, topic, 2) == 40
