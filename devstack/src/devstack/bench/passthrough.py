"""The physical reference: a raw aiokafka consumer that does the router's Kafka work and nothing
else. On the same broker, with the same partition counts (6 in, a 3-partition team topic and a
6-partition announcement topic out), it reads a pre-filled topic in batches of 500, writes each
record to both outputs (as the router writes team.<team> and tickets.routed), waits for the
acks, commits, and repeats. Its rate is what the router would reach with free classification.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from uuid import uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.contracts.events import TicketSubmitted
from shared.kafka.admin import EVENT_TOPIC_PARTITIONS, TEAM_TOPIC_PARTITIONS, create_topics
from shared.kafka.publishing import event_headers

BATCH = 500  # the router's batch_max_records


@dataclass(frozen=True)
class PassThroughResult:
    records: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


async def pass_through(
    bootstrap: str, events: list[TicketSubmitted], created: list[str] | None = None
) -> PassThroughResult:
    """`created` receives the names of the topics made for it (for --cleanup)."""
    run = uuid4().hex[:8]
    source, team, routed = (f"bench.passthrough.{run}.{n}" for n in ("in", "team", "routed"))
    if created is not None:
        created += [source, team, routed]
    await create_topics(
        bootstrap,
        {
            source: EVENT_TOPIC_PARTITIONS,
            team: TEAM_TOPIC_PARTITIONS,
            routed: EVENT_TOPIC_PARTITIONS,
        },
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        filled = [
            await producer.send(
                source,
                e.model_dump_json().encode(),
                key=e.ticket_id.encode(),
                headers=[(k, v.encode()) for k, v in event_headers(e).items()],
            )
            for e in events
        ]
        await asyncio.gather(*filled)
        consumer = AIOKafkaConsumer(
            source,
            bootstrap_servers=bootstrap,
            group_id=f"bench-passthrough-{run}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            done = 0
            started: float | None = None
            while done < len(events):
                batches = await consumer.getmany(timeout_ms=200, max_records=BATCH)
                records = [r for rs in batches.values() for r in rs]
                if not records:
                    continue
                started = started or time.perf_counter()
                sent = []
                for r in records:
                    for topic in (team, routed):
                        sent.append(
                            await producer.send(topic, r.value, key=r.key, headers=list(r.headers))
                        )
                await asyncio.gather(*sent)
                await consumer.commit()
                done += len(records)
            return PassThroughResult(done, time.perf_counter() - (started or 0.0))
        finally:
            await consumer.stop()
    finally:
        await producer.stop()
