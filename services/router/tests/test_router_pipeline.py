"""The router's pipelined consumer on a real broker (the session's Tansu), in this process on
topics of its own: when the broker does not acknowledge one batch's events mid-window, nothing
is committed past it, the batch and those after it are routed again, and what comes out again
carries the same event ids (so the idempotent consumers downstream apply each once). In the
end every request is routed and every offset committed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaTimeoutError
from pydantic import SecretStr

from devstack.stack import EmbeddedStack
from router.app import build
from router.ports import EventPublisher
from router.settings import RouterSettings
from shared.contracts.catalog import load_catalog
from shared.contracts.events import Envelope, TicketSubmitted, new_ticket_id
from shared.contracts.topics import Topics
from shared.kafka.admin import create_topics, topic_plan
from shared.kafka.publishing import event_headers
from shared.waiting import wait_until

pytestmark = pytest.mark.integration

TICKETS = 40
DEADLINE = 40.0


class FailingOnce:
    """The real publisher, except that the `fail_at`-th batch's acknowledgement fails after
    its events went out: the broker has them, the router must not know it."""

    def __init__(self, inner: EventPublisher, fail_at: int = 2) -> None:
        self.inner = inner
        self.fail_at = fail_at
        self.calls = 0

    async def publish_many(self, items: Iterable[tuple[str, Envelope]]) -> None:
        await self.inner.publish_many(items)

    async def send_many(self, items: Iterable[tuple[str, Envelope]]) -> Awaitable[None]:
        self.calls += 1
        acknowledged = await self.inner.send_many(items)
        if self.calls != self.fail_at:
            return acknowledged

        async def lost() -> None:
            await acknowledged
            raise KafkaTimeoutError("injected: the acknowledgement never came")

        return asyncio.ensure_future(lost())


async def produce(
    bootstrap: str, topic: str, events: list[TicketSubmitted]
) -> dict[TopicPartition, int]:
    """The end offset of each partition written to (the last record's + 1)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sent = [
            await producer.send(
                topic,
                e.model_dump_json().encode(),
                key=e.ticket_id.encode(),
                headers=[(k, v.encode()) for k, v in event_headers(e).items()],
            )
            for e in events
        ]
        written = await asyncio.gather(*sent)
    finally:
        await producer.stop()
    ends: dict[TopicPartition, int] = {}
    for meta in written:
        tp = TopicPartition(meta.topic, meta.partition)
        ends[tp] = max(ends.get(tp, 0), meta.offset + 1)
    return ends


async def test_a_lost_acknowledgement_is_routed_again_under_the_same_event_ids(
    infra: EmbeddedStack,
) -> None:
    run = uuid4().hex[:8]
    topics = Topics(f"test.pipe.{run}.")
    group = f"router-pipeline-{run}"
    bootstrap = infra.config.kafka_bootstrap
    await create_topics(bootstrap, topic_plan(topics, load_catalog().teams))
    settings = RouterSettings(
        model_path=Path("/nonexistent"),  # rules and the customer's category: fast
        kafka_bootstrap_servers=bootstrap,
        kafka_enable_idempotence=False,
        mongo_url=SecretStr(infra.config.mongo_url),
        topic_prefix=topics.prefix,
        group_id=group,
        batch_max_records=10,
        pipeline_depth=3,
    )
    built = build(settings)
    service = built.http.state.routing_service
    failing = FailingOnce(service.publisher)
    service.publisher = failing
    events = [
        TicketSubmitted(
            ticket_id=new_ticket_id(),
            account_id="acc-1002",
            correlation_id=f"pipeline-{run}-{i}",
            category="cards",
            subject=f"Card #{i}",
            description="My card has not arrived.",
        )
        for i in range(TICKETS)
    ]
    ends = await produce(bootstrap, topics.submitted, events)

    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    offsets = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await offsets.start()
    routed: dict[str, list[str]] = {}
    await built.broker.start()
    try:
        partitions = await wait_until(
            lambda: _partitions(reader, topics.routed), timeout=DEADLINE, what="metadata"
        )
        reader.assign(partitions)
        await reader.seek_to_beginning()

        async def all_routed_and_committed() -> bool:
            for records in (await reader.getmany(timeout_ms=200)).values():
                for record in records:
                    key = (record.key or b"").decode()
                    headers = dict(record.headers)
                    routed.setdefault(key, []).append(headers["event_id"].decode())
            if len(routed) < TICKETS:
                return False
            return all([await offsets.committed(tp) == end for tp, end in ends.items()])

        await wait_until(
            all_routed_and_committed, timeout=DEADLINE, what="every request routed and committed"
        )
    finally:
        await built.broker.stop()
        await reader.stop()
        await offsets.stop()

    assert failing.calls > 3, "the failed batch and those after it were routed again"
    assert set(routed) == {e.ticket_id for e in events}  # nothing lost
    assert any(len(ids) > 1 for ids in routed.values()), "some were published twice"
    assert all(len(set(ids)) == 1 for ids in routed.values()), "each time under the same id"


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition] | None:
    await consumer.topics()
    found = consumer.partitions_for_topic(topic)
    return [TopicPartition(topic, p) for p in sorted(found)] if found else None
